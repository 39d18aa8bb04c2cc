//! Workqueues (kernel/workqueue.c): not emulated yet. Queueing, flushing
//! and cancelling work are named traps (src/kernel/unemulated.rs); the
//! system workqueues exist so that the hundreds of modules that name them
//! (`schedule_work()` inlines `queue_work(system_wq, ...)`) load, and a
//! call that would use one reports itself.

use super::symbols::{Access, DataCtx, Registry};
use crate::profile::MissingField;

/// The pointer, then a zeroed stand-in for the kernel's private
/// `struct workqueue_struct` (modules never look inside it).
fn system_workqueue(_: &DataCtx<'_>) -> Result<Vec<u8>, MissingField> {
    Ok(vec![0u8; 8 + 64])
}

pub(super) fn register(r: &mut Registry) {
    for name in [
        "system_wq",
        "system_percpu_wq",
        "system_highpri_wq",
        "system_long_wq",
        "system_unbound_wq",
        "system_dfl_wq",
        "system_freezable_wq",
        "system_power_efficient_wq",
        "system_freezable_power_efficient_wq",
        "system_bh_wq",
        "system_bh_highpri_wq",
    ] {
        r.data_pointer_to_opaque(name, Access::ReadOnly, system_workqueue);
    }
}

#[cfg(test)]
mod tests {
    use crate::kernel::data::KernelData;
    use crate::profile::PROFILES;

    /// `system_wq` holds the address of the object right after it.
    #[test]
    fn system_workqueues_point_at_their_objects() {
        for p in PROFILES {
            let data = KernelData::build(p, 0).unwrap();
            for name in ["system_wq", "system_percpu_wq", "system_long_wq"] {
                let at = data.lookup(name).unwrap();
                assert_eq!(crate::mm::read_u64(at), Some(at + 8), "{name}");
            }
        }
    }
}
