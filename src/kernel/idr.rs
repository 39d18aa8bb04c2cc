//! ID allocation (lib/idr.c, lib/radix-tree.c's IDR half): `idr_*` and
//! `ida_*` on top of the XArray store of `xarray.rs`.
//!
//! A `struct idr` is a radix tree root (an xarray: `idr_rt`) plus
//! `idr_base` and `idr_next` (offsets from the profile). The inline
//! `idr_init_base` sets the root's flags to `IDR_RT_MARKER` (`ROOT_IS_IDR`,
//! which is `XA_FLAGS_TRACK_FREE`, and the `IDR_FREE` root tag) and
//! `idr_is_empty` tests the head and that tag; both stay as the kernel keeps
//! them (the head non-NULL exactly while an id is allocated; the tag set
//! while ids are free). An id allocated with a NULL pointer is reserved: it
//! finds NULL and iteration skips it, as in the kernel.
//!
//! A `struct ida` is an xarray (`ida.xa`); the kernel stores bitmaps in it,
//! kload the allocated ids, with the same `xa_empty` answer. Errors are the
//! kernel's: `-ENOSPC` when the range is full, `-EINVAL` (and the kernel's
//! WARN) for a negative start, `-ENOENT` from `idr_replace`; `ida_free` of
//! an id that is not allocated is the kernel's WARN.
//!
//! `idr_preload` disables preemption (it takes the per-CPU
//! `radix_tree_preloads.lock`, a `local_lock`, which without PREEMPT_RT is
//! `preempt_disable()`), so that the inline `idr_preload_end`
//! (`preempt_enable()`) balances it; kload needs no preloaded nodes.

use super::locking::preempt_add;
use super::panic::warn_in_kernel;
use super::string::{kernel_bug, read, write};
use super::symbols::Registry;
use super::xarray::{Xa, ENOENT, ENOSPC};
use super::Kernel;
use crate::exec::dispatch::CallArgs;
use crate::exec::task;

const INT_MAX: u64 = i32::MAX as u64;
const EINVAL: i64 = 22;
/// What an ida stores for an allocated id (never read back by modules).
const IDA_PRESENT: u64 = 1 | (1 << 1);

fn kernel() -> Option<std::sync::Arc<Kernel>> {
    task::current_kernel()
}

/// The module's `struct idr` at `addr` during one call.
struct Idr<'k> {
    xa: Xa<'k>,
    base_at: u64,
    next_at: u64,
}

impl<'k> Idr<'k> {
    fn open(k: &'k Kernel, func: &'static str, addr: u64) -> Option<Idr<'k>> {
        let p = k.profile;
        let rt = p.field("idr.idr_rt").ok()?;
        let base_at = addr + p.field("idr.idr_base").ok()?;
        let next_at = addr + p.field("idr.idr_next").ok()?;
        Some(Idr {
            xa: Xa::open(k, func, addr + rt)?,
            base_at,
            next_at,
        })
    }

    fn read_u32(&self, at: u64) -> Option<u32> {
        let b = read(self.xa.func, "a struct idr", at, 4)?;
        Some(u32::from_le_bytes(b.try_into().ok()?))
    }

    fn base(&self) -> Option<u64> {
        self.read_u32(self.base_at).map(u64::from)
    }

    /// `idr_alloc_u32`'s body: the first free id in `[id, max]` (both
    /// including the base) gets `ptr`; the id, or `-ENOSPC`.
    fn alloc(&mut self, ptr: u64, id: u64, max: u64) -> Option<Result<u64, i64>> {
        let base = self.base()?;
        let from = id.saturating_sub(base);
        if max < base {
            return Some(Err(-ENOSPC));
        }
        let Some(index) = self.xa.first_free(from, max - base)? else {
            return Some(Err(-ENOSPC));
        };
        self.xa.store(index, ptr)?;
        Some(Ok(index + base))
    }

    /// The index of an id (`id - idr_base`, wrapping as unsigned long).
    fn index(&self, id: u64) -> Option<u64> {
        Some(id.wrapping_sub(self.base()?))
    }
}

/// `int idr_alloc_u32(idr, ptr, u32 *nextid, unsigned long max, gfp)`.
fn sys_idr_alloc_u32(a: &mut CallArgs) -> u64 {
    let Some(k) = kernel() else { return 0 };
    const F: &str = "idr_alloc_u32";
    let (ptr, nextid, max) = (a.arg(1), a.arg(2), a.arg(3));
    let r = (|| {
        let mut idr = Idr::open(&k, F, a.arg(0))?;
        let b = read(F, "an id", nextid, 4)?;
        let id = u64::from(u32::from_le_bytes(b.try_into().ok()?));
        match idr.alloc(ptr, id, max)? {
            Ok(id) => write(F, "an id", nextid, &(id as u32).to_le_bytes()).then_some(0),
            Err(e) => Some(e),
        }
    })();
    r.unwrap_or(-EINVAL) as u64
}

/// `int idr_alloc(idr, ptr, int start, int end, gfp)`: an id in
/// `[start, end)` (`end <= 0`: up to `INT_MAX`).
fn sys_idr_alloc(a: &mut CallArgs) -> u64 {
    let Some(k) = kernel() else { return 0 };
    const F: &str = "idr_alloc";
    let (ptr, start, end) = (a.arg(1), a.int(2), a.int(3));
    if start < 0 {
        warn_in_kernel(a, F, "lib/idr.c", None, Some("idr_alloc start"));
        return (-EINVAL) as u64;
    }
    let max = if end > 0 { end as u64 - 1 } else { INT_MAX };
    let r = (|| {
        let mut idr = Idr::open(&k, F, a.arg(0))?;
        Some(match idr.alloc(ptr, start as u64, max)? {
            Ok(id) => id as i64,
            Err(e) => e,
        })
    })();
    r.unwrap_or(-EINVAL) as u64
}

/// `int idr_alloc_cyclic(idr, ptr, int start, int end, gfp)`: from
/// `idr_next`, wrapping to `start` once.
fn sys_idr_alloc_cyclic(a: &mut CallArgs) -> u64 {
    let Some(k) = kernel() else { return 0 };
    const F: &str = "idr_alloc_cyclic";
    let (ptr, start, end) = (a.arg(1), a.int(2), a.int(3));
    let max = if end > 0 { end as u64 - 1 } else { INT_MAX };
    let r = (|| {
        let mut idr = Idr::open(&k, F, a.arg(0))?;
        let mut id = idr.read_u32(idr.next_at)?;
        if (id as i32) < start {
            id = start as u32;
        }
        let mut got = idr.alloc(ptr, u64::from(id), max)?;
        if got == Err(-ENOSPC) && i64::from(id) > i64::from(start) {
            got = idr.alloc(ptr, start as u32 as u64, max)?;
        }
        match got {
            Ok(id) => {
                let next = (id as u32).wrapping_add(1);
                write(F, "a struct idr", idr.next_at, &next.to_le_bytes()).then_some(())?;
                Some(id as i64)
            }
            Err(e) => Some(e),
        }
    })();
    r.unwrap_or(-EINVAL) as u64
}

/// `void *idr_find(const struct idr *, unsigned long id)`.
fn sys_idr_find(a: &mut CallArgs) -> u64 {
    let Some(k) = kernel() else { return 0 };
    (|| {
        let mut idr = Idr::open(&k, "idr_find", a.arg(0))?;
        let index = idr.index(a.arg(1))?;
        idr.xa.load(index)
    })()
    .unwrap_or(0)
}

/// `void *idr_remove(struct idr *, unsigned long id)`.
fn sys_idr_remove(a: &mut CallArgs) -> u64 {
    let Some(k) = kernel() else { return 0 };
    (|| {
        let mut idr = Idr::open(&k, "idr_remove", a.arg(0))?;
        let index = idr.index(a.arg(1))?;
        idr.xa
            .with(|arr, _| arr.entries.remove(&index).map_or(0, |s| s.entry))
            .map(|e| {
                if e == super::xarray::XA_ZERO_ENTRY {
                    0
                } else {
                    e
                }
            })
    })()
    .unwrap_or(0)
}

/// `void *idr_replace(struct idr *, void *ptr, unsigned long id)`: the old
/// pointer, or `ERR_PTR(-ENOENT)` if the id is not allocated.
fn sys_idr_replace(a: &mut CallArgs) -> u64 {
    let Some(k) = kernel() else { return 0 };
    const F: &str = "idr_replace";
    (|| {
        let mut idr = Idr::open(&k, F, a.arg(0))?;
        let index = idr.index(a.arg(2))?;
        let present = idr.xa.with(|arr, _| arr.entries.contains_key(&index))?;
        if !present {
            return Some((-ENOENT) as u64);
        }
        idr.xa.store(index, a.arg(1))
    })()
    .unwrap_or((-ENOENT) as u64)
}

/// `idr_get_next_ul`'s body: the first non-NULL entry at an id >= `*id`.
fn get_next(k: &Kernel, func: &'static str, idr: u64, id: u64) -> Option<Option<(u64, u64)>> {
    let mut idr = Idr::open(k, func, idr)?;
    let base = idr.base()?;
    let from = id.saturating_sub(base);
    Some(
        idr.xa
            .find(from, u64::MAX, 8)?
            .map(|(index, e)| (index + base, e)),
    )
}

/// `void *idr_get_next_ul(struct idr *, unsigned long *nextid)`.
fn sys_idr_get_next_ul(a: &mut CallArgs) -> u64 {
    let Some(k) = kernel() else { return 0 };
    const F: &str = "idr_get_next_ul";
    let p = a.arg(1);
    (|| {
        let b = read(F, "an id", p, 8)?;
        let id = u64::from_le_bytes(b.try_into().ok()?);
        let Some((id, e)) = get_next(&k, F, a.arg(0), id)? else {
            return Some(0);
        };
        write(F, "an id", p, &id.to_le_bytes()).then_some(e)
    })()
    .unwrap_or(0)
}

/// `void *idr_get_next(struct idr *, int *nextid)`.
fn sys_idr_get_next(a: &mut CallArgs) -> u64 {
    let Some(k) = kernel() else { return 0 };
    const F: &str = "idr_get_next";
    let p = a.arg(1);
    (|| {
        let b = read(F, "an id", p, 4)?;
        let id = i32::from_le_bytes(b.try_into().ok()?) as i64 as u64;
        let Some((id, e)) = get_next(&k, F, a.arg(0), id)? else {
            return Some(0);
        };
        if id > INT_MAX {
            warn_in_kernel(a, F, "lib/idr.c", None, Some("idr_get_next"));
            return Some(0);
        }
        write(F, "an id", p, &(id as u32).to_le_bytes()).then_some(e)
    })()
    .unwrap_or(0)
}

/// `int idr_for_each(const struct idr *, int (*fn)(int id, void *p, void
/// *data), void *data)`: `fn` on every non-NULL entry in id order, until
/// one returns non-zero (which is returned).
fn sys_idr_for_each(a: &mut CallArgs) -> u64 {
    let Some(k) = kernel() else { return 0 };
    const F: &str = "idr_for_each";
    let (func, data) = (a.arg(1), a.arg(2));
    let entries = (|| {
        let mut idr = Idr::open(&k, F, a.arg(0))?;
        let base = idr.base()?;
        idr.xa.with(|arr, _| {
            arr.entries
                .iter()
                .filter(|(_, s)| s.entry != 0 && s.entry != super::xarray::XA_ZERO_ENTRY)
                .map(|(&i, s)| (i + base, s.entry))
                .collect::<Vec<_>>()
        })
    })();
    for (id, e) in entries.unwrap_or_default() {
        if id > INT_MAX {
            warn_in_kernel(a, F, "lib/idr.c", None, Some("idr_for_each"));
            break;
        }
        match task::call_module(func, [id, e, data, 0, 0, 0]) {
            Ok(ret) if ret as u32 != 0 => return ret as u32 as i32 as i64 as u64,
            Ok(_) => {}
            Err(_) => return 0,
        }
    }
    0
}

/// `void idr_destroy(struct idr *)`.
fn sys_idr_destroy(a: &mut CallArgs) -> u64 {
    if let Some(k) = kernel() {
        Idr::open(&k, "idr_destroy", a.arg(0)).and_then(|mut idr| idr.xa.destroy());
    }
    0
}

/// `void idr_preload(gfp_t)`: preemption off until `idr_preload_end()`.
fn sys_idr_preload(_a: &mut CallArgs) -> u64 {
    preempt_add(1);
    0
}

fn open_ida<'k>(k: &'k Kernel, func: &'static str, ida: u64) -> Option<Xa<'k>> {
    Xa::open(k, func, ida + k.profile.field("ida.xa").ok()?)
}

/// `int ida_alloc_range(struct ida *, unsigned int min, unsigned int max,
/// gfp)`: the smallest free id in `[min, max]`, or `-ENOSPC`.
fn sys_ida_alloc_range(a: &mut CallArgs) -> u64 {
    let Some(k) = kernel() else { return 0 };
    const F: &str = "ida_alloc_range";
    let (min, mut max) = (a.arg(1) as u32, a.arg(2) as u32);
    if (min as i32) < 0 {
        return (-ENOSPC) as u64;
    }
    if (max as i32) < 0 {
        max = i32::MAX as u32;
    }
    (|| {
        let mut xa = open_ida(&k, F, a.arg(0))?;
        let Some(id) = xa.first_free(u64::from(min), u64::from(max))? else {
            return Some(-ENOSPC);
        };
        xa.store(id, IDA_PRESENT)?;
        Some(id as i64)
    })()
    .unwrap_or(-EINVAL) as u64
}

/// `void ida_free(struct ida *, unsigned int id)`.
fn sys_ida_free(a: &mut CallArgs) -> u64 {
    let Some(k) = kernel() else { return 0 };
    const F: &str = "ida_free";
    let id = a.arg(1) as u32;
    if (id as i32) < 0 {
        // BUG_ON((int)id < 0)
        kernel_bug("lib/idr.c", F);
        return 0;
    }
    let freed = (|| {
        let mut xa = open_ida(&k, F, a.arg(0))?;
        xa.with(|arr, _| arr.entries.remove(&u64::from(id)).is_some())
    })();
    if freed == Some(false) {
        let msg = format!(
            "ida_free called for id={} which is not allocated.",
            id as i32
        );
        warn_in_kernel(a, F, ida_free_location(&k), Some(&msg), None);
    }
    0
}

/// Where `ida_free`'s WARN is in lib/idr.c: line 527 in both 6.1 and 6.12
/// (the real kernels' transcripts).
fn ida_free_location(_k: &Kernel) -> &'static str {
    "lib/idr.c:527"
}

/// `void ida_destroy(struct ida *)`.
fn sys_ida_destroy(a: &mut CallArgs) -> u64 {
    if let Some(k) = kernel() {
        open_ida(&k, "ida_destroy", a.arg(0)).and_then(|mut xa| xa.destroy());
    }
    0
}

/// `int radix_tree_tagged(const struct radix_tree_root *, unsigned int
/// tag)`: whether any entry carries the tag, which the root's flags say
/// (`idr_is_empty` asks about `IDR_FREE`).
fn sys_radix_tree_tagged(a: &mut CallArgs) -> u64 {
    let Some(k) = kernel() else { return 0 };
    let tag = a.arg(1) & 0xffff_ffff;
    if tag >= 3 {
        return 0;
    }
    Xa::open(&k, "radix_tree_tagged", a.arg(0)).map_or(0, |x| {
        u64::from(x.flags & super::xarray::flags_mark(&k, tag) != 0)
    })
}

pub(super) fn register(r: &mut Registry) {
    r.func("radix_tree_tagged", sys_radix_tree_tagged);
    r.func("idr_alloc", sys_idr_alloc);
    r.func("idr_alloc_u32", sys_idr_alloc_u32);
    r.func("idr_alloc_cyclic", sys_idr_alloc_cyclic);
    r.func("idr_find", sys_idr_find);
    r.func("idr_remove", sys_idr_remove);
    r.func("idr_replace", sys_idr_replace);
    r.func("idr_get_next", sys_idr_get_next);
    r.func("idr_get_next_ul", sys_idr_get_next_ul);
    r.func("idr_for_each", sys_idr_for_each);
    r.func("idr_destroy", sys_idr_destroy);
    r.func("idr_preload", sys_idr_preload);
    r.func("ida_alloc_range", sys_ida_alloc_range);
    r.func("ida_free", sys_ida_free);
    r.func("ida_destroy", sys_ida_destroy);
}
