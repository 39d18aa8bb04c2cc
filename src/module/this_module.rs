//! `__this_module`: its size against the kernel's `struct module`, and the
//! `init`/`exit` pointers modpost put into it.
//!
//! modpost initialises `.init = init_module` and `.exit = cleanup_module`
//! when the object defines them, so `.rela.gnu.linkonce.this_module` holds
//! one R_X86_64_64 per entry point, at the field's offset. kload takes the
//! offsets from those relocations, checks them against the profile's
//! measured `offsetof(struct module, init/exit)`, and reads the pointers
//! from the relocated struct, as the kernel does.

use super::error::{ElfDefect, LoadError};
use super::load_info::LoadInfo;
use crate::elf::defs::*;
use crate::kernel::Kernel;
use crate::profile::KernelProfile;

/// One entry point as found in `__this_module`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryField {
    /// Offset of the field in `struct module`.
    pub offset: u64,
    /// The symbol the relocation names (`init_module`, `cleanup_module`).
    pub symbol: String,
    /// Index of the relocation in its section.
    pub rela_index: usize,
}

/// The `init` and `exit` fields set by relocations, if any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryFields {
    pub init: Option<EntryField>,
    pub exit: Option<EntryField>,
}

/// `.gnu.linkonce.this_module` must be exactly the kernel's `struct module`
/// (6.12 checks this itself; 6.1 catches it through the module_layout CRC).
///
/// 6.4+ checks this while validating the ELF and says so in the log; on
/// older kernels kload checks it after the module_layout CRC (which is how
/// those kernels catch it) and reports only its own error.
pub fn check_this_module_size(kernel: &Kernel, info: &LoadInfo) -> Result<(), LoadError> {
    let expected = kernel
        .profile
        .field("sizeof(struct module)")
        .map_err(|source| LoadError::Profile {
            module: info.name.clone(),
            source,
        })?;
    let size = info.sections[info.index.mod_].size;
    if size != expected {
        if kernel.profile.version() >= (6, 4) {
            kernel.log.emit(
                crate::kernel::printk::LOGLEVEL_ERR,
                &format!(
                    "module {}: .gnu.linkonce.this_module section size must match the kernel's built struct module size at run time",
                    info.name
                ),
            );
        }
        return Err(LoadError::Elf {
            at: info.location(info.index.mod_, None),
            defect: ElfDefect::ThisModuleSize { size, expected },
        });
    }
    Ok(())
}

/// Find the R_X86_64_64 relocations of `__this_module` against
/// `init_module` and `cleanup_module`, and check their offsets against
/// the profile.
pub fn find_entry_fields(
    info: &LoadInfo,
    profile: &KernelProfile,
) -> Result<EntryFields, LoadError> {
    let mut fields = EntryFields::default();
    let rela_sec = info
        .sections
        .iter()
        .find(|s| s.sh_type == SHT_RELA && s.info as usize == info.index.mod_);
    let Some(rela_sec) = rela_sec else {
        return Ok(fields);
    };
    for (n, r) in info.relocations(rela_sec.index)?.iter().enumerate() {
        let Some(sym) = info.symbols.get(r.sym) else {
            continue;
        };
        if r.r_type != R_X86_64_64 {
            continue;
        }
        let (slot, key) = match sym.name.as_str() {
            "init_module" => (&mut fields.init, "module.init"),
            "cleanup_module" => (&mut fields.exit, "module.exit"),
            _ => continue,
        };
        let expected = profile.field(key).map_err(|source| LoadError::Profile {
            module: info.name.clone(),
            source,
        })?;
        if expected != r.offset {
            return Err(LoadError::EntryField {
                module: info.name.clone(),
                symbol: sym.name.clone(),
                offset: r.offset,
                expected,
            });
        }
        *slot = Some(EntryField {
            offset: r.offset,
            symbol: sym.name.clone(),
            rela_index: n,
        });
    }
    Ok(fields)
}
