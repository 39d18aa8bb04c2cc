//! Version checks (kernel/module/version.c and `check_modinfo`): the
//! module's vermagic against the kernel's, and the CRCs its `__versions`
//! section records for the kernel symbols it was built against.

use std::collections::HashMap;

use super::error::{LoadError, Location};
use super::load_info::LoadInfo;
use crate::kernel::panic::TAINT_FORCED_MODULE;
use crate::kernel::printk::{LOGLEVEL_ERR, LOGLEVEL_WARNING};
use crate::kernel::Kernel;

/// Size of one `struct modversion_info` (u64 crc, char name[56]).
const MODVERSION_INFO_SIZE: usize = 64;

/// The CRCs of `__versions`, by symbol name; `None` when the section is
/// absent or ignored (`MODULE_INIT_IGNORE_MODVERSIONS`).
pub struct Versions {
    crcs: Option<HashMap<String, u32>>,
}

impl Versions {
    /// Read `__versions`. A size that is not a whole number of entries is an
    /// error naming the section.
    pub fn read(info: &LoadInfo, ignore: bool) -> Result<Versions, LoadError> {
        let Some(idx) = info.index.vers.filter(|_| !ignore) else {
            return Ok(Versions { crcs: None });
        };
        let data = info.section_data(idx);
        if data.len() % MODVERSION_INFO_SIZE != 0 {
            return Err(LoadError::Elf {
                at: info.location(
                    idx,
                    Some((data.len() - data.len() % MODVERSION_INFO_SIZE) as u64),
                ),
                defect: super::error::ElfDefect::EntSize {
                    entsize: MODVERSION_INFO_SIZE as u64,
                    size: data.len() as u64,
                    expected: MODVERSION_INFO_SIZE as u64,
                },
            });
        }
        let crcs = data
            .chunks_exact(MODVERSION_INFO_SIZE)
            .map(|e| {
                let crc = u32::from_le_bytes([e[0], e[1], e[2], e[3]]);
                (super::elf_validity::cstr_at(&e[8..], 0), crc)
            })
            .collect();
        Ok(Versions { crcs: Some(crcs) })
    }

    pub fn present(&self) -> bool {
        self.crcs.is_some()
    }
}

/// `try_to_force_load`: with MODULE_FORCE_LOAD (Debian has it) the load
/// goes on, tainting the kernel and the module with F.
pub fn try_to_force_load(kernel: &Kernel, module: &str, reason: &str, taints: &mut u32) {
    if kernel.taint.add(TAINT_FORCED_MODULE) {
        kernel.log.emit(
            LOGLEVEL_WARNING,
            &format!("{module}: {reason}: kernel tainted."),
        );
    }
    *taints |= 1 << TAINT_FORCED_MODULE;
}

/// `check_version`: does the module's recorded CRC of `symbol` match the
/// exporter's `crc`? Exporters without CRCs always match; a module without
/// `__versions` is force-loaded; a symbol missing from `__versions` is
/// warned about once and accepted.
pub fn check_version(
    kernel: &Kernel,
    module: &str,
    versions: &Versions,
    symbol: &str,
    crc: Option<u32>,
    taints: &mut u32,
) -> bool {
    let Some(crc) = crc else { return true };
    let Some(crcs) = &versions.crcs else {
        try_to_force_load(kernel, module, symbol, taints);
        return true;
    };
    match crcs.get(symbol) {
        Some(&have) if have == crc => true,
        Some(_) => {
            kernel.log.emit(
                LOGLEVEL_WARNING,
                &format!("{module}: disagrees about version of symbol {symbol}"),
            );
            false
        }
        None => {
            if kernel.note_once(&format!("no symbol version for {symbol}")) {
                kernel.log.emit(
                    LOGLEVEL_WARNING,
                    &format!("{module}: no symbol version for {symbol}"),
                );
            }
            true
        }
    }
}

/// `check_modstruct_version`: the module must agree with the kernel about
/// `struct module`, through the CRC of `module_layout`.
pub fn check_modstruct_version(
    kernel: &Kernel,
    info: &LoadInfo,
    versions: &Versions,
    taints: &mut u32,
) -> Result<(), LoadError> {
    let crc = Some(kernel.profile.module_layout_crc);
    if check_version(kernel, &info.name, versions, "module_layout", crc, taints) {
        return Ok(());
    }
    Err(LoadError::Version {
        at: Location::file(info.file()),
        detail: format!(
            "{}: disagrees about version of symbol module_layout",
            info.name
        ),
    })
}

/// `same_magic`: with modversions the kernel release (up to the first
/// space) is not compared.
fn same_magic(module: &str, kernel: &str, has_crcs: bool) -> bool {
    if has_crcs {
        let tail = |s: &str| s.find(' ').map_or(String::new(), |i| s[i..].to_owned());
        tail(module) == tail(kernel)
    } else {
        module == kernel
    }
}

/// The vermagic part of `check_modinfo`.
pub fn check_vermagic(
    kernel: &Kernel,
    info: &LoadInfo,
    versions: &Versions,
    ignore: bool,
    taints: &mut u32,
) -> Result<(), LoadError> {
    let modmagic = info.modinfo.get("vermagic").filter(|_| !ignore);
    let Some(modmagic) = modmagic else {
        try_to_force_load(kernel, &info.name, "bad vermagic", taints);
        return Ok(());
    };
    let vermagic = kernel.profile.vermagic;
    if same_magic(modmagic, vermagic, versions.present()) {
        return Ok(());
    }
    let msg = format!(
        "{}: version magic '{modmagic}' should be '{vermagic}'",
        info.name
    );
    kernel.log.emit(LOGLEVEL_ERR, &msg);
    Err(LoadError::Version {
        at: Location::file(info.file()),
        detail: msg,
    })
}

#[cfg(test)]
mod tests {
    use super::same_magic;

    #[test]
    fn same_magic_ignores_the_release_only_with_modversions() {
        let k = "6.1.0-56-amd64 SMP preempt mod_unload modversions ";
        assert!(same_magic(
            "6.1.0-57-amd64 SMP preempt mod_unload modversions ",
            k,
            true
        ));
        assert!(!same_magic(
            "6.1.0-57-amd64 SMP preempt mod_unload modversions ",
            k,
            false
        ));
        assert!(!same_magic(
            "6.1.0-56-amd64 SMP mod_unload modversions ",
            k,
            true
        ));
    }
}
