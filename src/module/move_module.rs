//! `move_module`: allocate the module's memory below 2 GiB and give every
//! placed section its final address. Section contents are copied later, with
//! their relocations applied (`apply_relocate_add` works on images).

use super::error::LoadError;
use super::layout_sections::{allocation_groups, page_align, Layout, MemType};
use super::state::{Allocation, ModuleMemory};
use crate::mm::{LowRegion, Prot};

/// Allocate the regions of `layout` (grouped as 6.1 does, or one by one), zeroed and RW.
pub fn move_module(
    module: &str,
    grouped: bool,
    layout: &Layout,
) -> Result<ModuleMemory, LoadError> {
    let mut mem = ModuleMemory::default();
    for group in allocation_groups(grouped) {
        let mut parts = Vec::new();
        let mut total = 0u64;
        for m in group {
            let size = layout.size[m as usize];
            if size == 0 && !(grouped && m == MemType::Text) {
                continue;
            }
            parts.push((m, total, size));
            total += page_align(size);
        }
        if total == 0 {
            continue;
        }
        let region = LowRegion::alloc(total, Prot::ReadWrite, "module").map_err(|e| {
            LoadError::NoMemory {
                module: module.to_owned(),
                detail: e.to_string(),
            }
        })?;
        mem.allocs.push(Allocation { region, parts });
    }
    Ok(mem)
}

/// Final address of every section (None for sections not loaded).
pub fn section_addresses(layout: &Layout, mem: &ModuleMemory) -> Vec<Option<u64>> {
    layout
        .placement
        .iter()
        .map(|p| p.and_then(|p| mem.base(p.mem).map(|b| b + p.offset)))
        .collect()
}
