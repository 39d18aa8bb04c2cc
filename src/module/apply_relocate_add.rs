//! `apply_relocations` and x86-64 `apply_relocate_add`
//! (arch/x86/kernel/module.c), applied to the section images before they are
//! copied into module memory.

use super::error::{LoadError, RelocDefect};
use super::layout_sections::{Layout, MemType};
use super::load_info::LoadInfo;
use crate::elf::defs::*;
use crate::kernel::printk::LOGLEVEL_ERR;
use crate::kernel::vsprintf::FormatContext;
use crate::kernel::Kernel;

/// The contents of every region, built in memory and relocated there.
pub struct Images {
    pub data: [Vec<u8>; 7],
}

impl Images {
    /// Copy each placed section's file contents into its region image.
    pub fn new(info: &LoadInfo, layout: &Layout) -> Images {
        let mut data: [Vec<u8>; 7] = Default::default();
        for (m, d) in data.iter_mut().enumerate() {
            d.resize(usize::try_from(layout.size[m]).unwrap_or(0), 0);
        }
        for (i, p) in layout.placement.iter().enumerate() {
            let Some(p) = p else { continue };
            let bytes = info.section_data(i);
            let start = p.offset as usize;
            data[p.mem as usize][start..start + bytes.len()].copy_from_slice(bytes);
        }
        Images { data }
    }

    pub fn get(&self, mem: MemType) -> &[u8] {
        &self.data[mem as usize]
    }
}

/// What relocation needs to know: the kernel (for its log and profile), the
/// module, where its sections went and its resolved symbol values.
#[derive(Clone, Copy)]
pub struct Relocator<'a> {
    pub kernel: &'a Kernel,
    pub info: &'a LoadInfo,
    pub layout: &'a Layout,
    pub sec_addr: &'a [Option<u64>],
    pub values: &'a [u64],
}

/// Apply every RELA section whose target section is loaded.
///
/// A relocation section is skipped when its target is not SHF_ALLOC (debug
/// info, `.modinfo`, `__versions`, `.data..percpu`); a REL section is refused.
pub fn apply_relocations(rel: &Relocator<'_>, images: &mut Images) -> Result<(), LoadError> {
    let Relocator {
        kernel,
        info,
        layout,
        ..
    } = *rel;
    for s in info.sections.iter().skip(1) {
        if s.sh_type != SHT_RELA && s.sh_type != SHT_REL {
            continue;
        }
        let target = s.info as usize;
        if target >= info.sections.len()
            || layout.placement[target].is_none()
            || s.flags & SHF_RELA_LIVEPATCH != 0
        {
            continue;
        }
        if s.sh_type == SHT_REL {
            kernel.log.emit(
                LOGLEVEL_ERR,
                &format!("module {}: REL relocation unsupported", info.name),
            );
            return Err(LoadError::Relocation {
                at: info.location(s.index, None),
                defect: RelocDefect::Rel,
            });
        }
        let relas = info.relocations(s.index)?;
        for (n, r) in relas.iter().enumerate() {
            let at = || info.location(s.index, Some((n * SIZEOF_RELA) as u64));
            apply_one(rel, images, target, r)
                .map_err(|defect| LoadError::Relocation { at: at(), defect })?;
        }
    }
    Ok(())
}

/// Apply one relocation. Checks:
/// - the symbol index is inside the symbol table;
/// - the type is one the x86-64 loader knows;
/// - the place lies inside the target section;
/// - the place is still zero (the kernel's "existing value is nonzero");
/// - R_X86_64_32/32S values fit their sign/zero extension;
/// - PC32/PLT32 targets are within ±2 GiB (the kernel does not check this).
fn apply_one(
    rel: &Relocator<'_>,
    images: &mut Images,
    target: usize,
    r: &super::load_info::Rela,
) -> Result<(), RelocDefect> {
    let Relocator {
        kernel,
        info,
        layout,
        sec_addr,
        values,
    } = *rel;
    let sym = *values
        .get(r.sym)
        .ok_or(RelocDefect::BadSymbol(r.sym as u64))?;
    let width: u64 = match r.r_type {
        R_X86_64_NONE => return Ok(()),
        R_X86_64_64 | R_X86_64_PC64 => 8,
        R_X86_64_32 | R_X86_64_32S | R_X86_64_PC32 | R_X86_64_PLT32 => 4,
        other => {
            kernel.log.emit(
                LOGLEVEL_ERR,
                &format!("module: {}: Unknown rela relocation: {other}", info.name),
            );
            return Err(RelocDefect::UnknownType(other));
        }
    };
    let size = info.sections[target].size;
    if r.offset.checked_add(width).is_none_or(|end| end > size) {
        return Err(RelocDefect::OffsetOutOfRange { size });
    }
    // Placed sections always have an address and a placement (checked by the caller).
    let (Some(p), Some(base)) = (layout.placement[target], sec_addr[target]) else {
        return Ok(());
    };
    let loc = base + r.offset;
    let val = sym.wrapping_add(r.addend as u64);
    let pos = (p.offset + r.offset) as usize;
    let place = &mut images.data[p.mem as usize][pos..pos + width as usize];
    if place.iter().any(|&b| b != 0) {
        let verb = if kernel.profile.version() < (6, 4) {
            "Skipping invalid"
        } else {
            "Invalid"
        };
        kernel.log.emit(
            LOGLEVEL_ERR,
            &format!(
                "module: x86/modules: {verb} relocation target, existing value is nonzero for type {}, loc {:016x}, val {val:x}",
                r.r_type,
                kernel.hash_pointer(loc).unwrap_or(0)
            ),
        );
        let existing = place
            .iter()
            .rev()
            .fold(0u64, |acc, &b| acc << 8 | u64::from(b));
        return Err(RelocDefect::NonZeroTarget {
            r_type: r.r_type,
            value: existing,
        });
    }
    let written: u64 = match r.r_type {
        R_X86_64_64 => val,
        R_X86_64_32 if val != u64::from(val as u32) => {
            return Err(overflow(kernel, info, r.r_type, val))
        }
        R_X86_64_32S if val != (val as i32) as i64 as u64 => {
            return Err(overflow(kernel, info, r.r_type, val))
        }
        R_X86_64_32 | R_X86_64_32S => val,
        R_X86_64_PC64 => val.wrapping_sub(loc),
        _ => {
            let rel = val.wrapping_sub(loc);
            if rel != (rel as i32) as i64 as u64 {
                return Err(RelocDefect::OutOfReach {
                    r_type_name: r_type_name(r.r_type),
                    target: val,
                    place: loc,
                });
            }
            rel
        }
    };
    place.copy_from_slice(&written.to_le_bytes()[..width as usize]);
    Ok(())
}

fn overflow(kernel: &Kernel, info: &LoadInfo, r_type: u32, val: u64) -> RelocDefect {
    kernel.log.emit(
        LOGLEVEL_ERR,
        &format!("module: overflow in relocation type {r_type} val {val:x}"),
    );
    kernel.log.emit(
        LOGLEVEL_ERR,
        &format!(
            "module: `{}' likely not compiled with -mcmodel=kernel",
            info.name
        ),
    );
    RelocDefect::Overflow { r_type, value: val }
}
