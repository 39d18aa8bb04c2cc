//! Module symbols for `%pS` (kernel/module/kallsyms.c): `add_kallsyms` keeps
//! every named, defined symbol of an allocated section; `find_kallsyms_symbol`
//! picks the closest symbol at or below an address, and sizes it up to the
//! next symbol or the end of the module's text.

use super::layout_sections::{MemType, Placement};
use super::load_info::LoadInfo;
use crate::elf::defs::*;

#[derive(Debug, Clone)]
struct KSym {
    addr: u64,
    name: String,
    init: bool,
}

/// A module's symbol table for lookups by address.
#[derive(Debug, Clone, Default)]
pub struct Kallsyms {
    syms: Vec<KSym>,
}

impl Kallsyms {
    /// `add_kallsyms`: `values` are the simplified symbol values.
    pub fn new(
        info: &LoadInfo,
        values: &[u64],
        placement: &[Option<Placement>],
        percpu: Option<usize>,
    ) -> Kallsyms {
        let syms = info
            .symbols
            .iter()
            .enumerate()
            .skip(1)
            .filter_map(|(i, s)| {
                let shndx = usize::from(s.shndx);
                if s.shndx == SHN_UNDEF || shndx >= info.sections.len() || s.name.is_empty() {
                    return None;
                }
                if s.sym_type == STT_SECTION || s.sym_type == STT_FILE {
                    return None;
                }
                let init = match placement[shndx] {
                    Some(p) => p.mem.is_init(),
                    None if Some(shndx) == percpu => false,
                    None => return None,
                };
                Some(KSym {
                    addr: values[i],
                    name: s.name.clone(),
                    init,
                })
            })
            .collect();
        Kallsyms { syms }
    }

    /// Forget the init symbols (after init, only the core table remains).
    pub fn drop_init(&mut self) {
        self.syms.retain(|s| !s.init);
    }

    /// `find_kallsyms_symbol`: (name, offset, size) of `addr`, with the size
    /// running to the next symbol above or to `text_end`.
    pub fn lookup(&self, addr: u64, text_end: u64) -> Option<(String, u64, u64)> {
        let mut best: Option<&KSym> = None;
        let mut next = text_end;
        for s in &self.syms {
            if s.addr <= addr && best.is_none_or(|b| s.addr > b.addr) {
                best = Some(s);
            }
            if s.addr > addr && s.addr < next {
                next = s.addr;
            }
        }
        best.map(|b| (b.name.clone(), addr - b.addr, next.saturating_sub(b.addr)))
    }

    /// The address of a named symbol (for `kload explain`).
    pub fn address_of(&self, name: &str) -> Option<u64> {
        self.syms.iter().find(|s| s.name == name).map(|s| s.addr)
    }
}

/// Is this region part of the module's init memory?
pub fn is_init(mem: MemType) -> bool {
    mem.is_init()
}
