//! The stub kernel's exported data objects of one kernel instance: every
//! symbol registered with `Registry::data`, laid out in two low-memory
//! regions (read-only and writable) and initialised for the kernel's profile.

use std::collections::HashMap;

use super::symbols::{self, Access, DataCtx};
use crate::mm::{LowRegion, MmError, Prot};
use crate::profile::{KernelProfile, MissingField};

/// Alignment of every data object (a cache line, as the kernel often uses).
const ALIGN: u64 = 64;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error(transparent)]
    Mm(#[from] MmError),
    #[error("building data symbol {name}: {source}")]
    Profile {
        name: &'static str,
        source: MissingField,
    },
}

/// The data symbols of one kernel.
pub struct KernelData {
    by_name: HashMap<&'static str, u64>,
    _regions: Vec<LowRegion>,
}

impl KernelData {
    pub fn build(
        profile: &'static KernelProfile,
        percpu_base: u64,
    ) -> Result<KernelData, DataError> {
        let defs = symbols::data_defs()?;
        let resolve = |name: &str| symbols::function_address(name).ok().flatten();
        let ctx = DataCtx {
            profile,
            resolve: &resolve,
            percpu_base,
        };
        let mut by_name = HashMap::new();
        let mut regions = Vec::new();
        for access in [Access::ReadOnly, Access::ReadWrite] {
            let mut image = Vec::new();
            let mut offsets = Vec::new();
            let mut self_pointers = Vec::new();
            for d in defs.iter().filter(|d| d.access == access) {
                let bytes = (d.init)(&ctx).map_err(|source| DataError::Profile {
                    name: d.name,
                    source,
                })?;
                let off = (image.len() as u64).div_ceil(ALIGN) * ALIGN;
                image.resize(off as usize, 0);
                image.extend_from_slice(&bytes);
                offsets.push((d.name, off));
                if d.points_past_itself && bytes.len() >= 8 {
                    self_pointers.push(off);
                }
            }
            if image.is_empty() {
                continue;
            }
            let region = LowRegion::alloc(image.len() as u64, Prot::ReadWrite, "kernel-data")?;
            for off in self_pointers {
                let target = region.addr() + off + 8;
                image[off as usize..off as usize + 8].copy_from_slice(&target.to_le_bytes());
            }
            region.write(0, &image)?;
            if access == Access::ReadOnly {
                region.protect(0, None, Prot::Read)?;
            }
            for (name, off) in offsets {
                by_name.insert(name, region.addr() + off);
            }
            regions.push(region);
        }
        Ok(KernelData {
            by_name,
            _regions: regions,
        })
    }

    pub fn lookup(&self, name: &str) -> Option<u64> {
        self.by_name.get(name).copied()
    }
}
