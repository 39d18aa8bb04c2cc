//! The ORC unwinder for module code (arch/x86/kernel/unwind_orc.c) and the
//! call trace every report prints (`show_trace_log_lvl`,
//! arch/x86/kernel/dumpstack.c).
//!
//! Each module keeps its relocated `.orc_unwind_ip` (s32 PC-relative
//! entries) and `.orc_unwind` (6-byte `struct orc_entry`) as an `OrcTable`,
//! sorted by address as `unwind_module_init` sorts them. The unwinder walks
//! from a fault's registers (or from a stub's caller) through module frames
//! with the kernel's rules; the call trace scans the task's stack like the
//! kernel does, printing every module text address it finds, reliable
//! (no `? `) exactly when the word is the return address the unwinder
//! expects next.
//!
//! Where the unwind leaves module code it returns into kload's own
//! `kload_enter` (the kernel's `do_one_initcall` and the syscall path
//! below it do not exist here): that frame is printed by kload's name and
//! the trace ends (docs/fidelity.md). An address with no ORC entry falls
//! back to the kernel's frame-pointer guess (`orc_fp_entry`); when that
//! fails too the rest of the trace is the stack scan, all `? `.

use std::sync::Arc;

use super::Kernel;
use crate::exec::signal::Regs;
use crate::exec::{entry, task};
use crate::mm;
use crate::module::Module;

/// `ORC_REG_*` (arch/x86/include/asm/orc_types.h, the same in 6.1 and 6.12).
pub const ORC_REG_UNDEFINED: u8 = 0;
pub const ORC_REG_PREV_SP: u8 = 1;
pub const ORC_REG_DX: u8 = 2;
pub const ORC_REG_DI: u8 = 3;
pub const ORC_REG_BP: u8 = 4;
pub const ORC_REG_SP: u8 = 5;
pub const ORC_REG_R10: u8 = 6;
pub const ORC_REG_R13: u8 = 7;
pub const ORC_REG_BP_INDIRECT: u8 = 8;
pub const ORC_REG_SP_INDIRECT: u8 = 9;

/// Size of one `struct orc_entry` (`__packed`: two s16 and a u16 of bits).
pub const ORC_ENTRY_SIZE: usize = 6;

/// What a frame is, in 6.4+ terms (`ORC_TYPE_*`); 6.1's entries are
/// mapped onto these when decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrcType {
    /// No unwind information: the unwind fails here.
    Undefined,
    /// The outermost frame of a task.
    EndOfStack,
    /// An ordinary function frame: the return address is below `prev_sp`.
    Call,
    /// An entry frame with a full `struct pt_regs`.
    Regs,
    /// An entry frame with the iret part of `struct pt_regs`.
    RegsPartial,
}

/// The two bitfield layouts of `struct orc_entry` after the two s16.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrcFormat {
    /// Before 6.4 (6.1): `sp_reg:4 bp_reg:4 type:2 end:1`, with
    /// `ORC_TYPE_CALL` 0, `REGS` 1, `REGS_PARTIAL` 2, and an undefined
    /// `sp_reg` meaning "end of stack" when `end` is set, "no data" when not.
    V2,
    /// 6.4+ (6.12): `sp_reg:4 bp_reg:4 type:3 signal:1`, with
    /// `ORC_TYPE_UNDEFINED` 0, `END_OF_STACK` 1, `CALL` 2, `REGS` 3,
    /// `REGS_PARTIAL` 4.
    V3,
}

impl OrcFormat {
    /// The layout a kernel release uses (objtool's ORC version 3 came with
    /// 6.4's "x86,objtool: Split UNWIND_HINT_EMPTY in two").
    pub fn for_version(version: (u32, u32)) -> OrcFormat {
        if version >= (6, 4) {
            OrcFormat::V3
        } else {
            OrcFormat::V2
        }
    }
}

/// One decoded `struct orc_entry`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrcEntry {
    pub sp_offset: i16,
    pub bp_offset: i16,
    pub sp_reg: u8,
    pub bp_reg: u8,
    pub kind: OrcType,
    /// The IP is exact (an interrupted instruction), not a return address.
    pub signal: bool,
}

impl OrcEntry {
    /// Decode the 6 bytes of one entry in `format`.
    pub fn decode(b: [u8; ORC_ENTRY_SIZE], format: OrcFormat) -> OrcEntry {
        let sp_offset = i16::from_le_bytes([b[0], b[1]]);
        let bp_offset = i16::from_le_bytes([b[2], b[3]]);
        let bits = u16::from_le_bytes([b[4], b[5]]);
        let sp_reg = (bits & 0xf) as u8;
        let bp_reg = ((bits >> 4) & 0xf) as u8;
        let (kind, signal) = match format {
            OrcFormat::V2 => {
                let end = bits >> 10 & 1 != 0;
                let kind = match (sp_reg, bits >> 8 & 3) {
                    (ORC_REG_UNDEFINED, _) if end => OrcType::EndOfStack,
                    (ORC_REG_UNDEFINED, _) => OrcType::Undefined,
                    (_, 0) => OrcType::Call,
                    (_, 1) => OrcType::Regs,
                    (_, 2) => OrcType::RegsPartial,
                    _ => OrcType::Undefined,
                };
                (kind, matches!(kind, OrcType::Regs | OrcType::RegsPartial))
            }
            OrcFormat::V3 => {
                let kind = match bits >> 8 & 7 {
                    1 => OrcType::EndOfStack,
                    2 => OrcType::Call,
                    3 => OrcType::Regs,
                    4 => OrcType::RegsPartial,
                    _ => OrcType::Undefined,
                };
                (kind, bits >> 11 & 1 != 0)
            }
        };
        OrcEntry {
            sp_offset,
            bp_offset,
            sp_reg,
            bp_reg,
            kind,
            signal,
        }
    }
}

/// The kernel's guess for code without ORC data (`orc_fp_entry`): a frame
/// pointer frame, `push %rbp; mov %rsp,%rbp`.
const ORC_FP_ENTRY: OrcEntry = OrcEntry {
    sp_offset: 16,
    bp_offset: -16,
    sp_reg: ORC_REG_BP,
    bp_reg: ORC_REG_PREV_SP,
    kind: OrcType::Call,
    signal: false,
};

/// A module's ORC data: (ip, entry) pairs sorted by ip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrcTable {
    ips: Vec<u64>,
    entries: Vec<OrcEntry>,
}

impl OrcTable {
    /// Build the table from the relocated sections: `ip_bytes` as found at
    /// `ip_addr` (each s32 is relative to its own address) and the entries.
    /// `None` when the sizes disagree, as `unwind_module_init` refuses them.
    pub fn from_sections(
        ip_addr: u64,
        ip_bytes: &[u8],
        orc_bytes: &[u8],
        format: OrcFormat,
    ) -> Option<OrcTable> {
        if ip_bytes.len() % 4 != 0
            || orc_bytes.len() % ORC_ENTRY_SIZE != 0
            || ip_bytes.len() / 4 != orc_bytes.len() / ORC_ENTRY_SIZE
        {
            return None;
        }
        let mut pairs: Vec<(u64, OrcEntry)> = ip_bytes
            .chunks_exact(4)
            .zip(orc_bytes.chunks_exact(ORC_ENTRY_SIZE))
            .enumerate()
            .map(|(i, (ip, orc))| {
                let disp = i32::from_le_bytes([ip[0], ip[1], ip[2], ip[3]]);
                let at = ip_addr.wrapping_add(4 * i as u64);
                let mut raw = [0u8; ORC_ENTRY_SIZE];
                raw.copy_from_slice(orc);
                (
                    at.wrapping_add_signed(i64::from(disp)),
                    OrcEntry::decode(raw, format),
                )
            })
            .collect();
        // `orc_sort_cmp`: by address; at equal addresses a terminator
        // (undefined entry) sorts first, so the real entry wins.
        pairs.sort_by_key(|(ip, e)| (*ip, e.kind != OrcType::Undefined));
        Some(OrcTable {
            ips: pairs.iter().map(|p| p.0).collect(),
            entries: pairs.iter().map(|p| p.1).collect(),
        })
    }

    pub fn len(&self) -> usize {
        self.ips.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ips.is_empty()
    }

    /// `__orc_find`: the entry of the last address at or below `ip`.
    pub fn find(&self, ip: u64) -> Option<OrcEntry> {
        let n = self.ips.partition_point(|&a| a <= ip);
        n.checked_sub(1).map(|i| self.entries[i])
    }
}

/// The unwinder's state (`struct unwind_state`).
#[derive(Debug, Clone)]
pub struct Unwinder {
    modules: Vec<Arc<Module>>,
    /// The task's stack, `[low, high)`.
    stack: (u64, u64),
    ip: u64,
    sp: u64,
    bp: u64,
    /// `ip` is exact (the faulting instruction), not a return address.
    signal: bool,
    /// The full registers of the first frame, while the unwind is in it.
    regs: Option<Regs>,
    /// Where on the stack the current `ip` was read from.
    ip_slot: Option<u64>,
    done: bool,
    /// The unwind went through a guess (`orc_fp_entry`).
    error: bool,
}

impl Unwinder {
    fn new(k: &Kernel, stack: (u64, u64)) -> Unwinder {
        Unwinder {
            modules: k.module_list(),
            stack,
            ip: 0,
            sp: 0,
            bp: 0,
            signal: false,
            regs: None,
            ip_slot: None,
            done: false,
            error: false,
        }
    }

    /// `unwind_start` from an exception's registers; like the kernel, it
    /// skips the registers' own frame (its RIP is printed already), so
    /// the first return address is the caller's.
    pub fn from_regs(k: &Kernel, regs: &Regs, stack: (u64, u64)) -> Unwinder {
        let mut u = Unwinder::new(k, stack);
        u.ip = regs.rip;
        u.sp = regs.rsp;
        u.bp = regs.rbp;
        u.signal = true;
        u.regs = Some(*regs);
        u.next_frame();
        u
    }

    /// `unwind_start` at a call into the stub kernel: `ret` is the module's
    /// return address, read from `ret_slot`; `bp` the caller's frame pointer.
    pub fn from_call(k: &Kernel, ret_slot: u64, bp: u64, stack: (u64, u64)) -> Unwinder {
        let mut u = Unwinder::new(k, stack);
        match mm::read_u64(ret_slot) {
            Some(ip) => {
                u.ip = ip;
                u.sp = ret_slot + 8;
                u.bp = bp;
                u.ip_slot = Some(ret_slot);
            }
            None => u.done = true,
        }
        u
    }

    pub fn done(&self) -> bool {
        self.done
    }

    /// The return address the unwinder expects next, and the stack slot it
    /// is in (`unwind_get_return_address_ptr`).
    pub fn return_address(&self) -> Option<(u64, u64)> {
        if self.done {
            return None;
        }
        Some((self.ip_slot?, self.ip))
    }

    /// Did the unwind rely on a guess?
    pub fn unreliable(&self) -> bool {
        self.error
    }

    fn module_text(&self, addr: u64) -> Option<&Arc<Module>> {
        self.modules.iter().find(|m| m.text_contains(addr))
    }

    fn on_stack(&self, addr: u64, len: u64) -> bool {
        addr >= self.stack.0 && addr.saturating_add(len) <= self.stack.1
    }

    fn deref(&self, addr: u64) -> Option<u64> {
        if !self.on_stack(addr, 8) {
            return None;
        }
        mm::read_u64(addr)
    }

    fn fail(&mut self) {
        self.error = true;
        self.done = true;
    }

    /// `unwind_next_frame`: from the current frame to its caller's.
    pub fn next_frame(&mut self) {
        if self.done {
            return;
        }
        let lookup = if self.signal {
            self.ip
        } else {
            self.ip.wrapping_sub(1)
        };
        let orc = match self.module_text(lookup) {
            Some(m) => m.orc.find(lookup),
            None => None,
        };
        let orc = match orc {
            Some(o) => o,
            None if mm::region_tag(lookup).is_some() => {
                // Low-memory code without ORC data (a module without the
                // tables, a stub trampoline): the kernel's guess.
                self.error = true;
                ORC_FP_ENTRY
            }
            None => {
                // Back in kload (or nowhere): the trace ends here.
                self.done = true;
                return;
            }
        };
        match orc.kind {
            OrcType::Undefined => return self.fail(),
            OrcType::EndOfStack => {
                self.done = true;
                return;
            }
            _ => {}
        }
        let full = |f: fn(&Regs) -> u64| self.regs.as_ref().map(f);
        let off = i64::from(orc.sp_offset);
        let prev_sp = match orc.sp_reg {
            ORC_REG_SP => Some(self.sp.wrapping_add_signed(off)),
            ORC_REG_BP => Some(self.bp.wrapping_add_signed(off)),
            ORC_REG_SP_INDIRECT => self.deref(self.sp).map(|v| v.wrapping_add_signed(off)),
            ORC_REG_BP_INDIRECT => self.deref(self.bp.wrapping_add_signed(off)),
            ORC_REG_R10 => full(|r| r.r10).map(|v| v.wrapping_add_signed(off)),
            ORC_REG_R13 => full(|r| r.r13).map(|v| v.wrapping_add_signed(off)),
            ORC_REG_DI => full(|r| r.rdi).map(|v| v.wrapping_add_signed(off)),
            ORC_REG_DX => full(|r| r.rdx).map(|v| v.wrapping_add_signed(off)),
            _ => None,
        };
        let Some(prev_sp) = prev_sp else {
            return self.fail();
        };
        if orc.kind != OrcType::Call {
            // Entry frames (pt_regs on the stack) exist only in the
            // kernel's entry code, never in a module's.
            return self.fail();
        }
        let slot = prev_sp.wrapping_sub(8);
        let Some(ip) = self.deref(slot) else {
            return self.fail();
        };
        let bp_off = i64::from(orc.bp_offset);
        let bp = match orc.bp_reg {
            ORC_REG_UNDEFINED => Some(self.bp),
            ORC_REG_PREV_SP => self.deref(prev_sp.wrapping_add_signed(bp_off)),
            ORC_REG_BP => self.deref(self.bp.wrapping_add_signed(bp_off)),
            _ => None,
        };
        let Some(bp) = bp else {
            return self.fail();
        };
        // The stack only grows down: a caller's frame lies above.
        if prev_sp <= self.sp || !self.on_stack(slot, 8) {
            return self.fail();
        }
        self.ip = ip;
        self.sp = prev_sp;
        self.bp = bp;
        self.ip_slot = Some(slot);
        self.signal = false;
        self.regs = None;
    }
}

/// Where a call trace starts.
#[derive(Debug, Clone, Copy)]
pub enum TraceFrom {
    /// An exception's registers; the stack scan starts at `scan_from`
    /// (RSP, or above a stack guard page).
    Regs { regs: Regs, scan_from: u64 },
    /// A call from module code into the stub kernel: the return address is
    /// at `ret_slot`, `bp` is the caller's frame pointer.
    Call { ret_slot: u64, bp: u64 },
}

/// At most this many frames are printed (a corrupt stack ends sooner).
const MAX_FRAMES: usize = 64;
/// Without a task (no known stack), this much is scanned.
const SCAN_WITHOUT_TASK: u64 = 4096;

/// The lines between `Call Trace:` and `</TASK>` (`show_trace_log_lvl`):
/// every word of the stack from the start up that is module text is a
/// frame, printed reliably when it is the unwinder's next return address
/// and with `? ` otherwise; the return into kload's `kload_enter` ends it.
pub fn trace_frames(k: &Kernel, from: TraceFrom) -> Vec<String> {
    let scan_from = match from {
        TraceFrom::Regs { scan_from, .. } => scan_from,
        TraceFrom::Call { ret_slot, .. } => ret_slot,
    };
    let stack = task::current_task()
        .map(|t| t.stack_range())
        .filter(|&(lo, hi)| scan_from >= lo && scan_from < hi)
        .unwrap_or((scan_from, scan_from.saturating_add(SCAN_WITHOUT_TASK)));
    let mut u = match from {
        TraceFrom::Regs { regs, .. } => Unwinder::from_regs(k, &regs, stack),
        TraceFrom::Call { ret_slot, bp } => Unwinder::from_call(k, ret_slot, bp, stack),
    };
    let (enter_lo, enter_hi) = entry::enter_range();
    let mut lines = Vec::new();
    let mut at = scan_from & !7;
    while at < stack.1 && lines.len() < MAX_FRAMES {
        let Some(word) = mm::read_u64(at) else {
            break;
        };
        let expected = u.return_address().is_some_and(|(slot, _)| slot == at);
        if expected && word > enter_lo && word <= enter_hi {
            lines.push(format!(
                " kload_enter+{:#x}/{:#x} (kload's call into module code)",
                word - enter_lo,
                enter_hi - enter_lo
            ));
            break;
        }
        let is_text = u.module_text(word).is_some();
        if is_text {
            let sym = k.symbolize_return_address(word);
            if expected {
                lines.push(format!(" {sym}"));
                u.next_frame();
            } else {
                lines.push(format!(" ? {sym}"));
            }
        }
        at += 8;
    }
    lines
}

/// `Call Trace:`, `<TASK>`, the frames and `</TASK>`.
pub fn call_trace(k: &Kernel, from: TraceFrom) -> Vec<String> {
    let mut lines = vec!["Call Trace:".to_owned(), " <TASK>".to_owned()];
    lines.extend(trace_frames(k, from));
    lines.push(" </TASK>".to_owned());
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(sp_off: i16, bp_off: i16, bits: u16) -> [u8; 6] {
        let mut b = [0u8; 6];
        b[..2].copy_from_slice(&sp_off.to_le_bytes());
        b[2..4].copy_from_slice(&bp_off.to_le_bytes());
        b[4..].copy_from_slice(&bits.to_le_bytes());
        b
    }

    #[test]
    fn decodes_both_layouts() {
        // sp = SP + 8, bp undefined, CALL: 6.1 type 0, 6.12 type 2.
        let v2 = OrcEntry::decode(raw(8, 0, ORC_REG_SP as u16), OrcFormat::V2);
        assert_eq!(v2.kind, OrcType::Call);
        assert_eq!((v2.sp_reg, v2.sp_offset, v2.signal), (ORC_REG_SP, 8, false));
        let v3 = OrcEntry::decode(raw(8, 0, ORC_REG_SP as u16 | 2 << 8), OrcFormat::V3);
        assert_eq!(v3, v2);
        // The same bits mean different things in the two layouts.
        let call_v3 = ORC_REG_SP as u16 | 2 << 8;
        assert_eq!(
            OrcEntry::decode(raw(8, 0, call_v3), OrcFormat::V2).kind,
            OrcType::RegsPartial
        );
        // Terminators: 6.1 an undefined sp_reg (end clear), 6.12 type 0.
        assert_eq!(
            OrcEntry::decode(raw(0, 0, 0), OrcFormat::V2).kind,
            OrcType::Undefined
        );
        assert_eq!(
            OrcEntry::decode(raw(0, 0, 1 << 10), OrcFormat::V2).kind,
            OrcType::EndOfStack
        );
        assert_eq!(
            OrcEntry::decode(raw(0, 0, 0), OrcFormat::V3).kind,
            OrcType::Undefined
        );
        let bp_frame = OrcEntry::decode(
            raw(
                16,
                -16,
                ORC_REG_BP as u16 | (ORC_REG_PREV_SP as u16) << 4 | 2 << 8 | 1 << 11,
            ),
            OrcFormat::V3,
        );
        assert_eq!(bp_frame.bp_reg, ORC_REG_PREV_SP);
        assert_eq!(bp_frame.bp_offset, -16);
        assert!(bp_frame.signal);
    }

    #[test]
    fn table_is_sorted_and_found_by_address() {
        // Three entries at 0x1000 + 4*i with displacements to 0x2010,
        // 0x2000 and 0x2020 (out of order).
        let ips: Vec<u8> = [0x1010i32, 0xffc, 0x1018]
            .iter()
            .flat_map(|d| d.to_le_bytes())
            .collect();
        let call = raw(8, 0, ORC_REG_SP as u16 | 2 << 8);
        let push = raw(16, 0, ORC_REG_SP as u16 | 2 << 8);
        let end = raw(0, 0, 0);
        let orcs: Vec<u8> = [push, call, end].concat();
        let t = OrcTable::from_sections(0x1000, &ips, &orcs, OrcFormat::V3).unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t.find(0x1fff), None);
        assert_eq!(t.find(0x2000).unwrap().sp_offset, 8);
        assert_eq!(t.find(0x200f).unwrap().sp_offset, 8);
        assert_eq!(t.find(0x2010).unwrap().sp_offset, 16);
        assert_eq!(t.find(0x2030).unwrap().kind, OrcType::Undefined);
        assert!(OrcTable::from_sections(0x1000, &ips[..8], &orcs, OrcFormat::V3).is_none());
    }
}
