//! Managed device resources (drivers/base/devres.c): `devm_kmalloc`,
//! `devm_kfree`, `devm_kstrdup`, `devm_kasprintf` (`devm_kzalloc` is
//! inline).
//!
//! In the kernel a devres allocation lives on its device's list and is
//! released when the driver detaches or the device is released. kload binds
//! no drivers and does not emulate device registration (`device_register`,
//! `put_device`, `platform_*` are named traps or missing), so nothing ever
//! releases a device's resources for it: a devm allocation lives until
//! `devm_kfree`, and one still live when its module is unloaded is reported
//! as the module's leak (the kmemleak-style report of `slab.rs`), which is
//! what it would be once the device outlived the module. The allocations
//! are ordinary checked kmalloc objects (redzones, poison, fault injection);
//! this file keeps which device owns which of them, so that `devm_kfree` of
//! a pointer the device does not own is the kernel's `WARN_ON(rc)`.

use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard};

use super::panic::warn_in_kernel;
use super::slab::{GFP_ZERO, ZERO_SIZE_PTR};
use super::symbols::Registry;
use super::vsprintf::vsnprintf;
use super::Kernel;
use crate::exec::dispatch::CallArgs;
use crate::exec::task;
use crate::mm;

/// (device, allocation) pairs of one kernel.
#[derive(Default)]
pub struct Devres {
    owned: Mutex<HashSet<(u64, u64)>>,
}

impl Devres {
    fn lock(&self) -> MutexGuard<'_, HashSet<(u64, u64)>> {
        self.owned.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Live devm allocations of `dev`.
    pub fn count(&self, dev: u64) -> usize {
        self.lock().iter().filter(|(d, _)| *d == dev).count()
    }
}

/// Allocate `size` bytes for `dev`, optionally filled from `init`.
fn devm_alloc(k: &Kernel, a: &CallArgs, dev: u64, size: u64, gfp: u64, init: Option<&[u8]>) -> u64 {
    if size == 0 {
        return ZERO_SIZE_PTR;
    }
    let p = k.slab.kmalloc_for(k, size, gfp, a.caller(), "devm_kmalloc");
    if p == 0 || p == ZERO_SIZE_PTR {
        return p;
    }
    if let Some(bytes) = init {
        if mm::write_bytes(p, bytes).is_err() {
            k.slab.kfree_for(k, p, a.caller());
            return 0;
        }
    }
    k.devres.lock().insert((dev, p));
    p
}

/// `void *devm_kmalloc(struct device *dev, size_t size, gfp_t gfp)`.
fn sys_devm_kmalloc(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    devm_alloc(&k, a, a.arg(0), a.arg(1), a.arg(2), None)
}

/// `void devm_kfree(struct device *dev, const void *p)`.
fn sys_devm_kfree(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let (dev, p) = (a.arg(0), a.arg(1));
    if p == 0 || p == ZERO_SIZE_PTR {
        return 0;
    }
    if !k.devres.lock().remove(&(dev, p)) {
        // devres_destroy() found no such resource: WARN_ON(rc).
        warn_in_kernel(a, "devm_kfree", "drivers/base/devres.c", None, None);
        return 0;
    }
    k.slab.kfree_for(&k, p, a.caller());
    0
}

/// `char *devm_kstrdup(struct device *dev, const char *s, gfp_t gfp)`.
fn sys_devm_kstrdup(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    if a.arg(1) == 0 {
        return 0;
    }
    let Some(mut s) = super::string::cstr("devm_kstrdup", "a string", a.arg(1), 1 << 24) else {
        return 0;
    };
    s.push(0);
    devm_alloc(
        &k,
        a,
        a.arg(0),
        s.len() as u64,
        a.arg(2) & !GFP_ZERO,
        Some(&s),
    )
}

/// `char *devm_kasprintf(struct device *dev, gfp_t gfp, const char *fmt, ...)`.
fn sys_devm_kasprintf(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let Some(fmt) = super::string::cstr("devm_kasprintf", "a format", a.arg(2), 4096) else {
        return 0;
    };
    let mut s = vsnprintf(&fmt, &mut a.va(3), &*k);
    s.push(0);
    devm_alloc(
        &k,
        a,
        a.arg(0),
        s.len() as u64,
        a.arg(1) & !GFP_ZERO,
        Some(&s),
    )
}

pub(super) fn register(r: &mut Registry) {
    r.func("devm_kmalloc", sys_devm_kmalloc);
    r.func("devm_kfree", sys_devm_kfree);
    r.func("devm_kstrdup", sys_devm_kstrdup);
    r.func("devm_kasprintf", sys_devm_kasprintf);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::task::run_task;
    use crate::profile::PROFILES;

    fn call(f: fn(&mut CallArgs) -> u64, args: &[u64]) -> u64 {
        CallArgs::call(f, args)
    }

    #[test]
    fn devm_allocations_belong_to_their_device() {
        for p in PROFILES {
            let k = Kernel::boot(p).unwrap();
            run_task(&k, "test", || {
                let (dev_a, dev_b) = (0x1000, 0x2000);
                let x = call(sys_devm_kmalloc, &[dev_a, 24, GFP_ZERO]);
                assert!(x != 0 && x != ZERO_SIZE_PTR);
                assert_eq!(mm::read_bytes(x, 24).unwrap(), vec![0; 24]);
                assert_eq!(call(sys_devm_kmalloc, &[dev_a, 0, 0]), ZERO_SIZE_PTR);
                let fmt = k.slab.kmalloc_internal(&k, 32).unwrap();
                mm::write_bytes(fmt, b"dev-%d\0").unwrap();
                let s = call(sys_devm_kasprintf, &[dev_b, 0, fmt, 42]);
                assert_eq!(mm::read_cstr(s, 64).unwrap(), b"dev-42");
                let d = call(sys_devm_kstrdup, &[dev_b, s, 0]);
                assert_eq!(mm::read_cstr(d, 64).unwrap(), b"dev-42");
                assert_eq!((k.devres.count(dev_a), k.devres.count(dev_b)), (1, 2));
                // Freeing through the wrong device is the kernel's WARN_ON
                // and frees nothing.
                call(sys_devm_kfree, &[dev_b, x]);
                let log: Vec<String> = k.log.records().iter().map(|r| r.text.clone()).collect();
                assert!(
                    log.iter()
                        .any(|l| l.contains("at drivers/base/devres.c devm_kfree")),
                    "{log:?}"
                );
                assert_eq!(k.devres.count(dev_a), 1);
                for (dev, p) in [(dev_a, x), (dev_b, s), (dev_b, d)] {
                    call(sys_devm_kfree, &[dev, p]);
                }
                assert_eq!((k.devres.count(dev_a), k.devres.count(dev_b)), (0, 0));
                k.slab.kfree_internal(&k, fmt);
                assert_eq!(k.slab.findings(), 0);
            })
            .unwrap();
        }
    }
}
