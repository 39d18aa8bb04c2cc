//! The disassembly of a report's `Code:` bytes (`kload run -v`): what
//! the kernel's scripts/decodecode does by hand with a report, done by
//! kload with iced-x86 while it has the memory.
//!
//! Decoding starts at an instruction boundary: the start of the function
//! RIP lies in (from kallsyms), decoding forward to the bytes `Code:`
//! shows; without a symbol, at RIP itself, and the bytes before it are
//! shown raw. Each line is `address: bytes  instruction`; the faulting
//! instruction is marked like decodecode marks it.

use std::collections::HashMap;

use iced_x86::{
    Decoder, DecoderOptions, Formatter, GasFormatter, Instruction, SymbolResolver, SymbolResult,
};

use super::panic::{OPCODE_EPILOGUE, OPCODE_PROLOGUE};
use super::Kernel;
use crate::mm;

/// The longest x86 instruction.
const MAX_INSN: u64 = 15;
/// How far back a function start is looked for.
const MAX_FUNCTION_PREFIX: u64 = 64 * 1024;
/// The marker of the faulting instruction (scripts/decodecode's).
pub const TRAPPING: &str = "<-- trapping instruction";

/// Names branch targets with kload's symbols (`call _printk`), looked
/// up before formatting (the formatter wants an owned resolver).
struct BranchTargets(HashMap<u64, String>);

impl BranchTargets {
    fn collect(k: &Kernel, insns: &[Instruction]) -> BranchTargets {
        let mut map = HashMap::new();
        for insn in insns.iter().filter(|i| !i.is_invalid()) {
            let mut targets = vec![insn.near_branch_target()];
            if insn.is_ip_rel_memory_operand() {
                targets.push(insn.ip_rel_memory_address());
            }
            for target in targets {
                if target == 0 || map.contains_key(&target) {
                    continue;
                }
                if let Some(name) = label(k, target) {
                    map.insert(target, name);
                }
            }
        }
        BranchTargets(map)
    }
}

/// `name` or `name+0xoff` of an address kload has a symbol for.
fn label(k: &Kernel, addr: u64) -> Option<String> {
    let mut name = None;
    k.with_symbol(addr, &mut |hit| {
        if let Some(h) = hit {
            name = Some(match h.offset {
                0 => h.name.to_owned(),
                off => format!("{}+{off:#x}", h.name),
            });
        }
    });
    name
}

impl SymbolResolver for BranchTargets {
    fn symbol(
        &mut self,
        instruction: &Instruction,
        _operand: u32,
        _instruction_operand: Option<u32>,
        address: u64,
        _address_size: u32,
    ) -> Option<SymbolResult<'_>> {
        let wanted = instruction.near_branch_target() == address
            || (instruction.is_ip_rel_memory_operand()
                && instruction.ip_rel_memory_address() == address);
        if !wanted {
            return None;
        }
        self.0
            .get(&address)
            .map(|name| SymbolResult::with_str(address, name.as_str()))
    }
}

/// `label` or the bare address.
fn label_of(k: &Kernel, addr: u64) -> String {
    label(k, addr).unwrap_or_else(|| format!("{addr:#x}"))
}

/// Where decoding starts for `rip`: the function start when kallsyms knows
/// it (and it is not too far back), with the label base for addresses.
fn decode_start(k: &Kernel, rip: u64) -> Option<(u64, String)> {
    let mut start = None;
    k.with_symbol(rip, &mut |hit| {
        if let Some(h) = hit {
            if h.offset <= MAX_FUNCTION_PREFIX && h.offset < h.size {
                start = Some((rip - h.offset, h.name.to_owned()));
            }
        }
    });
    start
}

/// The disassembly lines (without the `kload: ` prefix) of the code
/// around `rip`, or one line saying why there is none.
pub fn code_disassembly(k: &Kernel, rip: u64) -> Vec<String> {
    let window_start = rip.wrapping_sub(OPCODE_PROLOGUE);
    let window_end = rip + 1 + OPCODE_EPILOGUE as u64;
    let (start, label) = match decode_start(k, rip) {
        Some((s, name)) => (s, Some(name)),
        None => (rip, None),
    };
    // Read to the end of the last instruction that starts in the window;
    // a shorter read when the end of the mapping is near.
    let bytes = (0..=MAX_INSN)
        .rev()
        .find_map(|extra| mm::read_bytes(start, (window_end + extra - start) as usize));
    let Some(bytes) = bytes else {
        return vec![format!(
            "Code: cannot disassemble: the bytes at {rip:#x} are unreadable"
        )];
    };
    let at = |ip: u64| label_of(k, ip);
    let mut lines = vec![match &label {
        Some(name) => format!("Code: disassembly from {name} (RIP {})", at(rip)),
        None => format!(
            "Code: disassembly from RIP {rip:#x} (no symbol: the {OPCODE_PROLOGUE} bytes before it are not decoded)"
        ),
    }];
    let mut decoder = Decoder::with_ip(64, &bytes, start, DecoderOptions::NONE);
    let mut shown = Vec::new();
    while decoder.can_decode() {
        let insn = decoder.decode();
        if insn.ip() >= window_end {
            break;
        }
        if insn.next_ip() > window_start {
            shown.push(insn);
        }
    }
    let resolver = BranchTargets::collect(k, &shown);
    let mut formatter = GasFormatter::with_options(Some(Box::new(resolver)), None);
    formatter.options_mut().set_uppercase_hex(false);
    let mut text = String::new();
    let mut saw_rip = false;
    for insn in &shown {
        let ip = insn.ip();
        text.clear();
        if insn.is_invalid() {
            text.push_str("(bad)");
        } else {
            formatter.format(insn, &mut text);
        }
        let off = (ip - start) as usize;
        let raw: Vec<String> = bytes[off..off + insn.len()]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let here = ip == rip;
        saw_rip |= here;
        let mark = if here { ">" } else { " " };
        let tail = if here {
            format!("   {TRAPPING}")
        } else {
            String::new()
        };
        lines.push(format!(
            "{mark} {}: {:<24} {text}{tail}",
            at(ip),
            raw.join(" ")
        ));
    }
    if !saw_rip {
        lines.push(format!(
            "Code: RIP {} is not on an instruction boundary decoded from {}",
            at(rip),
            at(start)
        ));
    }
    lines
}
