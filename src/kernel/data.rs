//! The stub kernel's exported data objects of one kernel instance: every
//! symbol registered with `Registry::data`, laid out in two low-memory
//! regions (read-only and writable) and initialised for the kernel's profile.

use crate::host::NameMap;

use std::sync::Mutex;

use super::symbols::{self, Access, DataCtx, DataInit};
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
    by_name: NameMap<&'static str, u64>,
    _regions: Vec<LowRegion>,
    profile: &'static KernelProfile,
    percpu_base: u64,
    /// Lazy objects not built yet: their address and initialiser.
    pending: Mutex<NameMap<&'static str, (u64, DataInit)>>,
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
        let mut by_name = NameMap::default();
        let mut pending = NameMap::default();
        let mut regions = Vec::new();
        for access in [Access::ReadOnly, Access::ReadWrite] {
            let mut image = Vec::new();
            let mut offsets = Vec::new();
            let mut self_pointers = Vec::new();
            let mut lazy = Vec::new();
            // Lazy objects go last, and only the bytes before them are
            // written: their pages stay untouched (never faulted in) until
            // a module links against them.
            let mut eager_end = 0;
            let ordered = defs
                .iter()
                .filter(|d| d.access == access && d.lazy_size.is_none())
                .chain(
                    defs.iter()
                        .filter(|d| d.access == access && d.lazy_size.is_some()),
                );
            for d in ordered {
                let profile_error = |source| DataError::Profile {
                    name: d.name,
                    source,
                };
                let bytes = match d.lazy_size {
                    Some(size) => {
                        lazy.push((d.name, d.init));
                        vec![0; size(&ctx).map_err(profile_error)? as usize]
                    }
                    None => (d.init)(&ctx).map_err(profile_error)?,
                };
                if d.lazy_size.is_none() {
                    eager_end = image.len().div_ceil(ALIGN as usize) * ALIGN as usize + bytes.len();
                }
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
            // A fresh mapping reads as zeros: the lazy tail needs no write.
            region.write(0, &image[..eager_end])?;
            if access == Access::ReadOnly {
                region.protect(0, None, Prot::Read)?;
            }
            for (name, off) in offsets {
                by_name.insert(name, region.addr() + off);
            }
            for (name, init) in lazy {
                pending.insert(name, (by_name[name], init));
            }
            regions.push(region);
        }
        Ok(KernelData {
            by_name,
            _regions: regions,
            profile,
            percpu_base,
            pending: Mutex::new(pending),
        })
    }

    /// The address of data symbol `name`; a lazy object is built now, the
    /// first time a module links against it.
    pub fn lookup(&self, name: &str) -> Option<u64> {
        let addr = self.by_name.get(name).copied()?;
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, init)) = pending.remove(name) {
            let resolve = |n: &str| symbols::function_address(n).ok().flatten();
            let ctx = DataCtx {
                profile: self.profile,
                resolve: &resolve,
                percpu_base: self.percpu_base,
            };
            match init(&ctx) {
                Ok(bytes) => {
                    if let Err(e) = crate::mm::write_bytes(at, &bytes) {
                        log::warn!("building data symbol {name}: {e}");
                    }
                }
                // The size came from the same profile; a missing key here
                // would be a registration bug, caught by the test that
                // builds every object.
                Err(e) => log::warn!("building data symbol {name}: {e}"),
            }
        }
        Some(addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::PROFILES;

    /// A lazy object reads as zero until looked up, then as built.
    #[test]
    fn lazy_objects_are_built_on_first_lookup() {
        for p in PROFILES {
            let data = KernelData::build(p, 0).unwrap();
            let at = *data.by_name.get("boot_cpu_data").unwrap();
            let vendor = at + p.field("cpuinfo_x86.x86_vendor_id").unwrap();
            assert_eq!(crate::mm::read_bytes(vendor, 4), Some(vec![0; 4]));
            assert_eq!(data.lookup("boot_cpu_data"), Some(at));
            assert_ne!(crate::mm::read_bytes(vendor, 4), Some(vec![0; 4]));
        }
    }
}
