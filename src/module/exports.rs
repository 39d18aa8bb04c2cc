//! Symbols modules export to each other (kernel/module/main.c
//! `find_symbol`, `resolve_symbol`, `ref_module`,
//! `verify_exported_symbols`), read from `__ksymtab`, `__ksymtab_gpl`,
//! `__kcrctab`, `__kcrctab_gpl` and `__ksymtab_strings`.

use std::collections::HashMap;

use super::error::{ElfDefect, LoadError};
use super::load_info::LoadInfo;
use crate::mm;

/// `struct kernel_symbol` with PREL32 fields: value, name and namespace
/// offsets, each relative to the field itself.
const KERNEL_SYMBOL_SIZE: u64 = 12;

/// One exported symbol of a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModExport {
    pub addr: u64,
    pub gpl: bool,
    pub crc: Option<u32>,
    /// Empty when the symbol is in no namespace.
    pub namespace: String,
}

/// A module's exports, by name.
pub type Exports = HashMap<String, ModExport>;

/// Read the module's export tables from its (relocated, copied) memory.
pub fn find_exports(info: &LoadInfo, sec_addr: &[Option<u64>]) -> Result<Exports, LoadError> {
    let mut exports = Exports::new();
    for (table, crcs, gpl) in [
        ("__ksymtab", "__kcrctab", false),
        ("__ksymtab_gpl", "__kcrctab_gpl", true),
    ] {
        let Some(idx) = info.find_sec(table) else {
            continue;
        };
        let base = sec_addr[idx].unwrap_or(0);
        let size = info.sections[idx].size;
        let bad = |off: u64| LoadError::Elf {
            at: info.location(idx, Some(off)),
            defect: ElfDefect::EntSize {
                entsize: KERNEL_SYMBOL_SIZE,
                size,
                expected: KERNEL_SYMBOL_SIZE,
            },
        };
        if size % KERNEL_SYMBOL_SIZE != 0 {
            return Err(bad(size - size % KERNEL_SYMBOL_SIZE));
        }
        let crc_base = info.find_sec(crcs).and_then(|i| sec_addr[i]);
        for i in 0..size / KERNEL_SYMBOL_SIZE {
            let entry = base + i * KERNEL_SYMBOL_SIZE;
            let field = |off: u64| -> Option<u64> {
                let b = mm::read_bytes(entry + off, 4)?;
                let rel = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                Some(if rel == 0 {
                    0
                } else {
                    (entry + off).wrapping_add(rel as i64 as u64)
                })
            };
            let (addr, name_at, ns_at) = (field(0), field(4), field(8));
            let (Some(addr), Some(name_at), Some(ns_at)) = (addr, name_at, ns_at) else {
                return Err(bad(i * KERNEL_SYMBOL_SIZE));
            };
            let name =
                mm::read_cstr(name_at, 256).ok_or_else(|| bad(i * KERNEL_SYMBOL_SIZE + 4))?;
            let namespace = if ns_at == 0 {
                Vec::new()
            } else {
                mm::read_cstr(ns_at, 256).unwrap_or_default()
            };
            let crc = crc_base
                .and_then(|c| mm::read_bytes(c + 4 * i, 4))
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            exports.insert(
                String::from_utf8_lossy(&name).into_owned(),
                ModExport {
                    addr,
                    gpl,
                    crc,
                    namespace: String::from_utf8_lossy(&namespace).into_owned(),
                },
            );
        }
    }
    Ok(exports)
}

/// Does the module import `namespace` (`MODULE_IMPORT_NS`, modinfo `import_ns=`)?
pub fn imports_namespace(info: &LoadInfo, namespace: &str) -> bool {
    namespace.is_empty() || info.modinfo.get_all("import_ns").any(|ns| ns == namespace)
}
