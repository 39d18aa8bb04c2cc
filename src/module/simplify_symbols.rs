//! `simplify_symbols` (kernel/module/main.c): give every symbol its final
//! value: undefined ones through `resolve_symbol` (the kernel's exports,
//! then other modules'), defined ones from their section's final address.

use std::sync::Arc;

use super::error::LoadError;
use super::exports::{imports_namespace, ModExport};
use super::load_info::LoadInfo;
use super::state::{Module, ModuleState};
use super::version::{check_version, Versions};
use crate::elf::defs::*;
use crate::kernel::panic::TAINT_PROPRIETARY_MODULE;
use crate::kernel::printk::{LOGLEVEL_ERR, LOGLEVEL_WARNING};
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

/// The result: symbol values, and the modules whose exports were used.
pub struct Resolved {
    pub values: Vec<u64>,
    pub uses: Vec<Arc<Module>>,
}

/// What resolving one symbol needs besides the kernel.
pub struct SymbolContext<'a> {
    pub info: &'a LoadInfo,
    pub sec_addr: &'a [Option<u64>],
    pub percpu_base: Option<u64>,
    pub versions: &'a Versions,
    pub missing: Missing,
}

/// Resolve every symbol; returns the values indexed like the symbol table.
///
/// - SHN_COMMON: refused ("please compile with -fno-common"), except `__gnu_lto*`;
/// - SHN_ABS and SHN_LIVEPATCH: kept;
/// - SHN_UNDEF: `resolve_symbol`; a missing weak symbol or
///   `_GLOBAL_OFFSET_TABLE_` stays 0; any other failure logs
///   "Unknown symbol X (err N)", and every failing symbol is reported
///   before the load fails with the last error;
/// - a section index past the table is refused;
/// - symbols of `.data..percpu` get the module's per-CPU offset added;
/// - all others get their section's final address added.
pub fn simplify_symbols(
    kernel: &Arc<Kernel>,
    cx: &SymbolContext<'_>,
    taints: &mut u32,
) -> Result<Resolved, LoadError> {
    let info = cx.info;
    let mut values = vec![0u64; info.symbols.len()];
    let mut uses: Vec<Arc<Module>> = Vec::new();
    let mut failed = Vec::new();
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
            SHN_UNDEF => match resolve_symbol(kernel, cx, &sym.name, taints, &mut uses)? {
                Ok(v) => v,
                Err(-2) if sym.bind == STB_WEAK || sym.name == "_GLOBAL_OFFSET_TABLE_" => sym.value,
                Err(-2) if cx.missing == Missing::Trap => {
                    symbols::trap_for(&sym.name).map_err(|e| nomem(&info.name, e))?
                }
                Err(err) => {
                    let msg = format!("{}: Unknown symbol {} (err {err})", info.name, sym.name);
                    kernel.log.emit(LOGLEVEL_WARNING, &msg);
                    failed.push((sym.name.clone(), err));
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
                sym.value.wrapping_add(cx.percpu_base.unwrap_or(0))
            }
            shndx => sym
                .value
                .wrapping_add(cx.sec_addr[usize::from(shndx)].unwrap_or(0)),
        };
    }
    if !failed.is_empty() {
        return Err(LoadError::UnknownSymbols {
            module: info.name.clone(),
            symbols: failed,
        });
    }
    Ok(Resolved { values, uses })
}

fn nomem(module: &str, e: crate::mm::MmError) -> LoadError {
    LoadError::NoMemory {
        module: module.to_owned(),
        detail: e.to_string(),
    }
}

/// Where `find_symbol` found a name.
enum Found {
    Kernel(u64, crate::profile::ExportInfo),
    Module(Arc<Module>, ModExport),
}

/// `find_symbol`: the stub kernel's exports, then every formed module's.
/// GPL-only exports are invisible to modules without a GPL-compatible licence.
/// A kernel symbol resolves only if this kernel exports it (its
/// Module.symvers, in the profile) and kload implements it; per-CPU
/// variables are exports too.
fn find_symbol(kernel: &Kernel, name: &str, gplok: bool) -> Result<Option<Found>, LoadError> {
    if let Some(export) = kernel.profile.export(name).filter(|e| gplok || !e.gpl) {
        if let Some(addr) = kernel
            .resolve_kernel_symbol(name)
            .map_err(|e| nomem(name, e))?
        {
            return Ok(Some(Found::Kernel(addr, export)));
        }
    }
    for m in kernel.module_list() {
        if m.state() == ModuleState::Unformed {
            continue;
        }
        if let Some(e) = m.exports.get(name).filter(|e| gplok || !e.gpl) {
            return Ok(Some(Found::Module(Arc::clone(&m), e.clone())));
        }
    }
    Ok(None)
}

/// `resolve_symbol`: find the symbol, check its version and namespace, and
/// take a reference on the module that exports it. `Ok(Err(errno))` is a
/// symbol-level failure (negative errno, as the kernel prints it).
fn resolve_symbol(
    kernel: &Kernel,
    cx: &SymbolContext<'_>,
    name: &str,
    taints: &mut u32,
    uses: &mut Vec<Arc<Module>>,
) -> Result<Result<u64, i32>, LoadError> {
    let info = cx.info;
    let gplok = *taints & (1 << TAINT_PROPRIETARY_MODULE) == 0;
    let Some(found) = find_symbol(kernel, name, gplok)? else {
        return Ok(Err(-libc::ENOENT));
    };
    let (addr, crc, namespace, owner) = match found {
        Found::Kernel(addr, e) => (addr, Some(e.crc), e.namespace.to_owned(), None),
        Found::Module(m, e) => (e.addr, e.crc, e.namespace, Some(m)),
    };
    if !check_version(kernel, &info.name, cx.versions, name, crc, taints) {
        return Ok(Err(-libc::EINVAL));
    }
    if !imports_namespace(info, &namespace) {
        kernel.log.emit(
            LOGLEVEL_ERR,
            &format!("{}: module uses symbol ({name}) from namespace {namespace}, but does not import it.", info.name),
        );
        return Ok(Err(-libc::EINVAL));
    }
    if let Some(owner) = owner {
        match owner.state() {
            ModuleState::Coming => {
                kernel.log.emit(
                    LOGLEVEL_WARNING,
                    &format!(
                        "{}: gave up waiting for init of module {}.",
                        info.name, owner.name
                    ),
                );
                return Ok(Err(-libc::EBUSY));
            }
            ModuleState::Going => return Ok(Err(-libc::ENOENT)),
            _ => {}
        }
        if !uses.iter().any(|u| Arc::ptr_eq(u, &owner)) {
            uses.push(owner);
        }
    }
    Ok(Ok(addr))
}
