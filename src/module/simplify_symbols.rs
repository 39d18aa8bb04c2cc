//! `simplify_symbols` (kernel/module/main.c): give every symbol its final
//! value: undefined ones from the kernel's exports, defined ones from their
//! section's final address.

use std::sync::Arc;

use super::error::LoadError;
use super::load_info::LoadInfo;
use crate::elf::defs::*;
use crate::kernel::printk::LOGLEVEL_WARNING;
use crate::kernel::{symbols, Kernel};

/// How undefined symbols that nobody exports are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Missing {
    /// The kernel's way: the load fails with "Unknown symbol".
    #[default]
    Fail,
    /// Bind each to a trap that names the symbol when called (`--allow-missing`).
    Trap,
}

/// Resolve every symbol; returns the values indexed like the symbol table.
///
/// - SHN_COMMON: refused ("please compile with -fno-common"), except `__gnu_lto*`;
/// - SHN_ABS and SHN_LIVEPATCH: kept;
/// - SHN_UNDEF: looked up; a missing weak symbol or `_GLOBAL_OFFSET_TABLE_`
///   stays 0; any other missing one logs "Unknown symbol X (err -2)", and
///   every such symbol is reported before the load fails;
/// - a section index past the table is refused;
/// - symbols of `.data..percpu` get the module's per-CPU offset added;
/// - all others get their section's final address added.
pub fn simplify_symbols(
    kernel: &Arc<Kernel>,
    info: &LoadInfo,
    sec_addr: &[Option<u64>],
    percpu_base: Option<u64>,
    missing: Missing,
) -> Result<Vec<u64>, LoadError> {
    let mut values = vec![0u64; info.symbols.len()];
    let mut unknown = Vec::new();
    for (i, sym) in info.symbols.iter().enumerate().skip(1) {
        values[i] = match sym.shndx {
            SHN_COMMON if sym.name.starts_with("__gnu_lto") => sym.value,
            SHN_COMMON => {
                kernel.log.emit(
                    LOGLEVEL_WARNING,
                    &format!("{}: please compile with -fno-common", info.name),
                );
                return Err(LoadError::Common {
                    module: info.name.clone(),
                    symbol: sym.name.clone(),
                });
            }
            SHN_ABS | SHN_LIVEPATCH => sym.value,
            SHN_UNDEF => match resolve(kernel, &sym.name)? {
                Some(v) => v,
                None if sym.bind == STB_WEAK || sym.name == "_GLOBAL_OFFSET_TABLE_" => sym.value,
                None if missing == Missing::Trap => {
                    symbols::trap_for(&sym.name).map_err(|e| nomem(&info.name, e))?
                }
                None => {
                    kernel.log.emit(
                        LOGLEVEL_WARNING,
                        &format!("{}: Unknown symbol {} (err -2)", info.name, sym.name),
                    );
                    unknown.push(sym.name.clone());
                    0
                }
            },
            shndx if usize::from(shndx) >= info.sections.len() => {
                return Err(LoadError::SymbolSection {
                    module: info.name.clone(),
                    symbol: sym.name.clone(),
                    shndx,
                    max: info.sections.len() - 1,
                })
            }
            shndx if Some(usize::from(shndx)) == info.index.pcpu => {
                sym.value.wrapping_add(percpu_base.unwrap_or(0))
            }
            shndx => sym
                .value
                .wrapping_add(sec_addr[usize::from(shndx)].unwrap_or(0)),
        };
    }
    if !unknown.is_empty() {
        return Err(LoadError::UnknownSymbols {
            module: info.name.clone(),
            symbols: unknown,
        });
    }
    Ok(values)
}

fn nomem(module: &str, e: crate::mm::MmError) -> LoadError {
    LoadError::NoMemory {
        module: module.to_owned(),
        detail: e.to_string(),
    }
}

/// `resolve_symbol`: the stub kernel's exports (other modules' exports come
/// with module dependencies).
fn resolve(kernel: &Kernel, name: &str) -> Result<Option<u64>, LoadError> {
    kernel
        .resolve_kernel_symbol(name)
        .map_err(|e| nomem(name, e))
}
