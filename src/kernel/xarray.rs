//! The XArray (lib/xarray.c): the exported entry points of the normal API
//! (load, store, erase, find, marks, allocation), with the contents kept on
//! kload's side, keyed by the address of the module's `struct xarray`.
//!
//! What module code sees of a `struct xarray` is kept as the kernel keeps
//! it: `xa_lock` (a spinlock the module takes inline with `xa_lock()`),
//! `xa_flags` (set by the inline `xa_init_flags`; the mark bits
//! `XA_FLAGS_MARK(m)` say whether any entry carries mark `m`, which inline
//! `xa_marked()` reads), and `xa_head`, NULL exactly when the array is empty
//! (inline `xa_empty()`). A non-empty array's head is `KLOAD_XA_HEAD`, an
//! internal-node-looking value pointing at unmapped memory: nothing outside
//! lib/xarray.c dereferences the head, and if something did it would fault.
//! An array whose head a module reset to NULL (`xa_init` again, or a fresh
//! `kzalloc` at a recycled address) is empty here too.
//!
//! Entries are the kernel's: pointers, value entries (`xa_mk_value`, bit 0
//! set), and the internal ones: storing an "advanced" internal entry is
//! refused with `XA_ERROR(-EINVAL)` and a WARN, as the kernel does; in an
//! allocating array (`XA_FLAGS_TRACK_FREE`) a NULL store reserves the index
//! with `XA_ZERO_ENTRY`, which loads as NULL and which iteration skips.
//! Multi-index entries (`xa_store_range`, `xa_store_order`) are not
//! emulated: those symbols stay unresolved.
//!
//! `__GFP_BITS_SHIFT`, the base of the mark bits in `xa_flags`, is 27 on
//! Debian's 6.1 (no LOCKDEP) and 25 on 6.12 (no LOCKDEP, SLAB_OBJ_EXT), as
//! the profile probe measures it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use super::panic::warn_in_kernel;
use super::string::{read, write};
use super::symbols::Registry;
use super::Kernel;
use crate::exec::dispatch::CallArgs;
use crate::exec::task;

/// `xa_head` of a non-empty array (see the module documentation).
pub const KLOAD_XA_HEAD: u64 = 0x0bad_0002;
/// `XA_ZERO_ENTRY`: `xa_mk_internal(257)`.
pub const XA_ZERO_ENTRY: u64 = (257 << 2) | 2;
/// `XA_FLAGS_TRACK_FREE`.
pub const XA_FLAGS_TRACK_FREE: u32 = 4;
/// `XA_FLAGS_ZERO_BUSY`.
pub const XA_FLAGS_ZERO_BUSY: u32 = 8;
/// `XA_FLAGS_ALLOC_WRAPPED`.
const XA_FLAGS_ALLOC_WRAPPED: u32 = 16;
/// `XA_PRESENT`: the `xa_find` filter for "any entry".
const XA_PRESENT: u64 = 8;
/// `XA_MAX_MARKS`.
const XA_MAX_MARKS: u64 = 3;
/// `XA_FREE_MARK` (`XA_MARK_0`).
const XA_FREE_MARK: u64 = 0;

pub const EINVAL: i64 = 22;
pub const EBUSY: i64 = 16;
pub const ENOSPC: i64 = 28;
pub const ENOENT: i64 = 2;
pub const ENOMEM: i64 = 12;

/// `XA_ERROR(err)` for a negative errno: `xa_mk_internal(err)`.
pub fn xa_error(err: i64) -> u64 {
    ((err << 2) | 2) as u64
}

/// `xa_is_internal`.
fn is_internal(e: u64) -> bool {
    e & 3 == 2
}

/// `xa_is_advanced`: internal entries up to `xa_mk_internal(4095)`.
fn is_advanced(e: u64) -> bool {
    is_internal(e) && e <= (4095 << 2) | 2
}

/// `xa_zero_to_null`.
fn zero_to_null(e: u64) -> u64 {
    if e == XA_ZERO_ENTRY {
        0
    } else {
        e
    }
}

/// One present index.
#[derive(Debug, Clone, Copy, Default)]
pub struct Slot {
    pub entry: u64,
    /// Bit `m` set: the entry carries mark `m`.
    pub marks: u8,
}

/// The contents of one array.
#[derive(Debug, Default)]
pub struct Array {
    pub entries: BTreeMap<u64, Slot>,
}

/// Every array of one kernel, by the address of its `struct xarray`.
#[derive(Default)]
pub struct XaStore {
    arrays: Mutex<HashMap<u64, Array>>,
}

impl XaStore {
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Array>> {
        self.arrays.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Indices present in the array at `xa` (tests, reports).
    pub fn len(&self, xa: u64) -> usize {
        self.lock().get(&xa).map_or(0, |a| a.entries.len())
    }
}

/// `__GFP_BITS_SHIFT` of the kernel (see the module documentation).
fn gfp_bits_shift(k: &Kernel) -> u32 {
    // Measured by the profile probe: 27 on 6.1, 25 on 6.12.
    k.profile.get("__GFP_BITS_SHIFT").unwrap_or(27) as u32
}

/// `XA_FLAGS_MARK(mark)`.
pub fn flags_mark(k: &Kernel, mark: u64) -> u32 {
    (1u32 << gfp_bits_shift(k)) << mark
}

/// The module's `struct xarray` at `addr`, during one call.
pub struct Xa<'k> {
    pub k: &'k Kernel,
    pub func: &'static str,
    pub addr: u64,
    pub flags: u32,
    flags_off: u64,
    head_off: u64,
}

impl<'k> Xa<'k> {
    /// Open the array at `addr` (`None`: bad pointer, reported).
    pub fn open(k: &'k Kernel, func: &'static str, addr: u64) -> Option<Xa<'k>> {
        let flags_off = k.profile.field("xarray.xa_flags").ok()?;
        let head_off = k.profile.field("xarray.xa_head").ok()?;
        let b = read(func, "a struct xarray", addr + flags_off, 4)?;
        let flags = u32::from_le_bytes(b.try_into().ok()?);
        let h = read(func, "a struct xarray", addr + head_off, 8)?;
        let head = u64::from_le_bytes(h.try_into().ok()?);
        if head == 0 {
            // Re-initialised (or new) by the module: empty.
            k.xa.lock().remove(&addr);
        }
        Some(Xa {
            k,
            func,
            addr,
            flags,
            flags_off,
            head_off,
        })
    }

    /// Run `f` on the contents, then write back the head and flags.
    pub fn with<R>(&mut self, f: impl FnOnce(&mut Array, &mut u32) -> R) -> Option<R> {
        let mut all = self.k.xa.lock();
        let arr = all.entry(self.addr).or_default();
        let mut flags = self.flags;
        let r = f(arr, &mut flags);
        let empty = arr.entries.is_empty();
        if empty {
            all.remove(&self.addr);
        }
        drop(all);
        let head = if empty { 0 } else { KLOAD_XA_HEAD };
        if flags != self.flags {
            write(
                self.func,
                "a struct xarray",
                self.addr + self.flags_off,
                &flags.to_le_bytes(),
            )
            .then_some(())?;
            self.flags = flags;
        }
        write(
            self.func,
            "a struct xarray",
            self.addr + self.head_off,
            &head.to_le_bytes(),
        )
        .then_some(())?;
        Some(r)
    }

    pub fn track_free(&self) -> bool {
        self.flags & XA_FLAGS_TRACK_FREE != 0
    }

    /// Recompute the root's mark bits for marks other than the free mark
    /// of an allocating array (which the kernel keeps set while any index
    /// is free, that is practically always).
    fn sync_marks(k: &Kernel, arr: &Array, flags: &mut u32, track_free: bool) {
        for m in 0..XA_MAX_MARKS {
            if track_free && m == XA_FREE_MARK {
                continue;
            }
            let bit = flags_mark(k, m);
            if arr.entries.values().any(|s| s.marks & (1 << m) != 0) {
                *flags |= bit;
            } else {
                *flags &= !bit;
            }
        }
    }

    /// `xa_load`.
    pub fn load(&mut self, index: u64) -> Option<u64> {
        self.with(|a, _| a.entries.get(&index).map_or(0, |s| zero_to_null(s.entry)))
    }

    /// `__xa_store` after the advanced-entry check; returns the old entry.
    pub fn store(&mut self, index: u64, entry: u64) -> Option<u64> {
        let track = self.track_free();
        let k = self.k;
        let entry = if track && entry == 0 {
            XA_ZERO_ENTRY
        } else {
            entry
        };
        self.with(|a, flags| {
            let old = if entry == 0 {
                a.entries.remove(&index).map_or(0, |s| s.entry)
            } else {
                let slot = a.entries.entry(index).or_default();
                std::mem::replace(&mut slot.entry, entry)
            };
            Self::sync_marks(k, a, flags, track);
            zero_to_null(old)
        })
    }

    /// `xas_find` / `xas_find_marked` from `from` to `max`: the first
    /// non-zero entry carrying `filter` (a mark, or `XA_PRESENT`).
    pub fn find(&mut self, from: u64, max: u64, filter: u64) -> Option<Option<(u64, u64)>> {
        if from > max {
            return Some(None);
        }
        self.with(|a, _| {
            a.entries
                .range(from..=max)
                .find(|(_, s)| {
                    s.entry != XA_ZERO_ENTRY
                        && (filter >= XA_MAX_MARKS || s.marks & (1 << filter) != 0)
                })
                .map(|(&i, s)| (i, s.entry))
        })
    }

    pub fn set_mark(&mut self, index: u64, mark: u64, on: bool) -> Option<()> {
        if mark >= XA_MAX_MARKS {
            return Some(());
        }
        let (k, track) = (self.k, self.track_free());
        self.with(|a, flags| {
            if let Some(s) = a.entries.get_mut(&index) {
                if on {
                    s.marks |= 1 << mark;
                } else {
                    s.marks &= !(1 << mark);
                }
            }
            Self::sync_marks(k, a, flags, track);
        })
    }

    /// Erase everything (`xa_destroy`, `idr_destroy`).
    pub fn destroy(&mut self) -> Option<()> {
        let track = self.track_free();
        let k = self.k;
        self.with(|a, flags| {
            a.entries.clear();
            Self::sync_marks(k, a, flags, track);
        })
    }

    /// The first free index in `[min, max]`, if any (an index is free when
    /// nothing, not even a zero entry, is stored there).
    pub fn first_free(&mut self, min: u64, max: u64) -> Option<Option<u64>> {
        self.with(|a, _| {
            let mut want = min;
            for (&i, _) in a.entries.range(min..) {
                if i != want || want > max {
                    break;
                }
                want = match want.checked_add(1) {
                    Some(w) => w,
                    None => return None,
                };
            }
            (want <= max).then_some(want)
        })
    }
}

fn kernel() -> Option<std::sync::Arc<Kernel>> {
    task::current_kernel()
}

fn read_u32(func: &str, addr: u64) -> Option<u32> {
    let b = read(func, "an index", addr, 4)?;
    Some(u32::from_le_bytes(b.try_into().ok()?))
}

fn read_ulong(func: &str, addr: u64) -> Option<u64> {
    let b = read(func, "an index", addr, 8)?;
    Some(u64::from_le_bytes(b.try_into().ok()?))
}

fn write_u32(func: &str, addr: u64, v: u32) -> Option<()> {
    write(func, "an index", addr, &v.to_le_bytes()).then_some(())
}

fn write_ulong(func: &str, addr: u64, v: u64) -> Option<()> {
    write(func, "an index", addr, &v.to_le_bytes()).then_some(())
}

/// `void *xa_load(struct xarray *, unsigned long index)`.
fn sys_xa_load(a: &mut CallArgs) -> u64 {
    let Some(k) = kernel() else { return 0 };
    Xa::open(&k, "xa_load", a.arg(0))
        .and_then(|mut x| x.load(a.arg(1)))
        .unwrap_or(0)
}

fn store(a: &CallArgs, func: &'static str) -> u64 {
    let Some(k) = kernel() else { return 0 };
    let entry = a.arg(2);
    if is_advanced(entry) {
        warn_in_kernel(a, func, "lib/xarray.c", None, Some("__xa_store advanced"));
        return xa_error(-EINVAL);
    }
    Xa::open(&k, func, a.arg(0))
        .and_then(|mut x| x.store(a.arg(1), entry))
        .unwrap_or(0)
}

/// `void *xa_store(xa, index, entry, gfp)` and `__xa_store` (lock held).
fn sys_xa_store(a: &mut CallArgs) -> u64 {
    store(a, "xa_store")
}

fn sys_xa_store_locked(a: &mut CallArgs) -> u64 {
    store(a, "__xa_store")
}

fn erase(a: &CallArgs, func: &'static str) -> u64 {
    let Some(k) = kernel() else { return 0 };
    Xa::open(&k, func, a.arg(0))
        .and_then(|mut x| {
            let track = x.track_free();
            let index = a.arg(1);
            x.with(|arr, flags| {
                let old = arr.entries.remove(&index).map_or(0, |s| s.entry);
                Xa::sync_marks(&k, arr, flags, track);
                zero_to_null(old)
            })
        })
        .unwrap_or(0)
}

/// `void *xa_erase(xa, index)` and `__xa_erase`.
fn sys_xa_erase(a: &mut CallArgs) -> u64 {
    erase(a, "xa_erase")
}

fn sys_xa_erase_locked(a: &mut CallArgs) -> u64 {
    erase(a, "__xa_erase")
}

/// `void *xa_find(xa, unsigned long *indexp, max, xa_mark_t filter)`;
/// `after`: `xa_find_after`, which starts past `*indexp`.
fn find(a: &CallArgs, func: &'static str, after: bool) -> u64 {
    let Some(k) = kernel() else { return 0 };
    let (indexp, max, filter) = (a.arg(1), a.arg(2), a.arg(3) & 0xffff_ffff);
    let r = (|| {
        let mut x = Xa::open(&k, func, a.arg(0))?;
        let mut from = read_ulong(func, indexp)?;
        if after {
            from = match from.checked_add(1) {
                Some(f) => f,
                None => return Some(0),
            };
        }
        let filter = if filter < XA_MAX_MARKS {
            filter
        } else {
            XA_PRESENT
        };
        match x.find(from, max, filter)? {
            Some((i, e)) => {
                write_ulong(func, indexp, i)?;
                Some(e)
            }
            None => Some(0),
        }
    })();
    r.unwrap_or(0)
}

fn sys_xa_find(a: &mut CallArgs) -> u64 {
    find(a, "xa_find", false)
}

fn sys_xa_find_after(a: &mut CallArgs) -> u64 {
    find(a, "xa_find_after", true)
}

/// `void xa_destroy(struct xarray *)`.
fn sys_xa_destroy(a: &mut CallArgs) -> u64 {
    if let Some(k) = kernel() {
        Xa::open(&k, "xa_destroy", a.arg(0)).and_then(|mut x| x.destroy());
    }
    0
}

/// `struct xa_limit { u32 max; u32 min; }` passed by value in a register.
fn limit(v: u64) -> (u64, u64) {
    (v >> 32, v & 0xffff_ffff)
}

/// `__xa_alloc`'s body: the first free index in `[min, max]` gets
/// `entry`; 0, or `-EBUSY` when the range is full.
fn alloc_in(x: &mut Xa<'_>, id_ptr: u64, entry: u64, min: u64, max: u64) -> Option<i64> {
    let min = if x.flags & XA_FLAGS_ZERO_BUSY != 0 {
        min.max(1)
    } else {
        min
    };
    let Some(id) = x.first_free(min, max)? else {
        return Some(-EBUSY);
    };
    write_u32(x.func, id_ptr, id as u32)?;
    x.store(id, if entry == 0 { XA_ZERO_ENTRY } else { entry })?;
    Some(0)
}

/// `int __xa_alloc(xa, u32 *id, entry, struct xa_limit, gfp)`.
fn sys_xa_alloc(a: &mut CallArgs) -> u64 {
    let Some(k) = kernel() else { return 0 };
    const F: &str = "__xa_alloc";
    let entry = a.arg(2);
    let r = (|| {
        let mut x = Xa::open(&k, F, a.arg(0))?;
        if is_advanced(entry) || !x.track_free() {
            warn_in_kernel(a, F, "lib/xarray.c", None, Some("__xa_alloc"));
            return Some(-EINVAL);
        }
        let (min, max) = limit(a.arg(3));
        alloc_in(&mut x, a.arg(1), entry, min, max)
    })();
    r.unwrap_or(-EINVAL) as u64
}

/// `int __xa_alloc_cyclic(xa, u32 *id, entry, struct xa_limit, u32 *next,
/// gfp)`: from `*next`, wrapping to the limit's minimum once; 1 when it
/// wrapped.
fn sys_xa_alloc_cyclic(a: &mut CallArgs) -> u64 {
    let Some(k) = kernel() else { return 0 };
    const F: &str = "__xa_alloc_cyclic";
    let (entry, id_ptr, next_ptr) = (a.arg(2), a.arg(1), a.arg(4));
    let r = (|| {
        let mut x = Xa::open(&k, F, a.arg(0))?;
        if is_advanced(entry) || !x.track_free() {
            warn_in_kernel(a, F, "lib/xarray.c", None, Some("__xa_alloc"));
            return Some(-EINVAL);
        }
        let (min, max) = limit(a.arg(3));
        let next = u64::from(read_u32(F, next_ptr)?);
        let from = min.max(next);
        let mut ret = alloc_in(&mut x, id_ptr, entry, from, max)?;
        if x.flags & XA_FLAGS_ALLOC_WRAPPED != 0 && ret == 0 {
            x.with(|_, f| *f &= !XA_FLAGS_ALLOC_WRAPPED)?;
            ret = 1;
        }
        if ret < 0 && from > min {
            ret = alloc_in(&mut x, id_ptr, entry, min, max)?;
            if ret == 0 {
                ret = 1;
            }
        }
        if ret >= 0 {
            let id = read_u32(F, id_ptr)?;
            let next = id.wrapping_add(1);
            write_u32(F, next_ptr, next)?;
            if next == 0 {
                x.with(|_, f| *f |= XA_FLAGS_ALLOC_WRAPPED)?;
            }
        }
        Some(ret)
    })();
    r.unwrap_or(-EINVAL) as u64
}

/// `int __xa_insert(xa, index, entry, gfp)`: `-EBUSY` if occupied.
fn sys_xa_insert(a: &mut CallArgs) -> u64 {
    let Some(k) = kernel() else { return 0 };
    const F: &str = "__xa_insert";
    let (index, entry) = (a.arg(1), a.arg(2));
    if is_advanced(entry) {
        warn_in_kernel(a, F, "lib/xarray.c", None, Some("__xa_insert"));
        return (-EINVAL) as u64;
    }
    let r = (|| {
        let mut x = Xa::open(&k, F, a.arg(0))?;
        let occupied = x.with(|arr, _| arr.entries.contains_key(&index))?;
        if occupied {
            return Some(-EBUSY);
        }
        let entry = if entry == 0 { XA_ZERO_ENTRY } else { entry };
        x.store(index, entry)?;
        Some(0)
    })();
    r.unwrap_or(-EINVAL) as u64
}

/// `void *__xa_cmpxchg(xa, index, old, entry, gfp)`: the entry there
/// before; `entry` is stored only if that was `old`.
fn sys_xa_cmpxchg(a: &mut CallArgs) -> u64 {
    let Some(k) = kernel() else { return 0 };
    const F: &str = "__xa_cmpxchg";
    let (index, old, entry) = (a.arg(1), a.arg(2), a.arg(3));
    if is_advanced(entry) {
        warn_in_kernel(a, F, "lib/xarray.c", None, Some("__xa_cmpxchg"));
        return xa_error(-EINVAL);
    }
    let r = (|| {
        let mut x = Xa::open(&k, F, a.arg(0))?;
        let cur = x.with(|arr, _| arr.entries.get(&index).map_or(0, |s| s.entry))?;
        if zero_to_null(cur) == old {
            x.store(index, entry)?;
        }
        Some(zero_to_null(cur))
    })();
    r.unwrap_or(0)
}

/// `bool xa_get_mark(xa, index, mark)`.
fn sys_xa_get_mark(a: &mut CallArgs) -> u64 {
    let Some(k) = kernel() else { return 0 };
    let (index, mark) = (a.arg(1), a.arg(2) & 0xffff_ffff);
    Xa::open(&k, "xa_get_mark", a.arg(0))
        .and_then(|mut x| {
            x.with(|arr, _| {
                arr.entries
                    .get(&index)
                    .is_some_and(|s| mark < XA_MAX_MARKS && s.marks & (1 << mark) != 0)
            })
        })
        .map_or(0, u64::from)
}

fn mark(a: &CallArgs, func: &'static str, on: bool) -> u64 {
    if let Some(k) = kernel() {
        Xa::open(&k, func, a.arg(0))
            .and_then(|mut x| x.set_mark(a.arg(1), a.arg(2) & 0xffff_ffff, on));
    }
    0
}

/// `void xa_set_mark(xa, index, mark)` and `__xa_set_mark`; the clears.
fn sys_xa_set_mark(a: &mut CallArgs) -> u64 {
    mark(a, "xa_set_mark", true)
}

fn sys_xa_set_mark_locked(a: &mut CallArgs) -> u64 {
    mark(a, "__xa_set_mark", true)
}

fn sys_xa_clear_mark(a: &mut CallArgs) -> u64 {
    mark(a, "xa_clear_mark", false)
}

fn sys_xa_clear_mark_locked(a: &mut CallArgs) -> u64 {
    mark(a, "__xa_clear_mark", false)
}

pub(super) fn register(r: &mut Registry) {
    r.func("xa_load", sys_xa_load);
    r.func("xa_store", sys_xa_store);
    r.func("__xa_store", sys_xa_store_locked);
    r.func("xa_erase", sys_xa_erase);
    r.func("__xa_erase", sys_xa_erase_locked);
    r.func("xa_find", sys_xa_find);
    r.func("xa_find_after", sys_xa_find_after);
    r.func("xa_destroy", sys_xa_destroy);
    r.func("__xa_alloc", sys_xa_alloc);
    r.func("__xa_alloc_cyclic", sys_xa_alloc_cyclic);
    r.func("__xa_insert", sys_xa_insert);
    r.func("__xa_cmpxchg", sys_xa_cmpxchg);
    r.func("xa_get_mark", sys_xa_get_mark);
    r.func("xa_set_mark", sys_xa_set_mark);
    r.func("__xa_set_mark", sys_xa_set_mark_locked);
    r.func("xa_clear_mark", sys_xa_clear_mark);
    r.func("__xa_clear_mark", sys_xa_clear_mark_locked);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::task::run_task;
    use crate::mm::{self, LowRegion, Prot};
    use crate::profile::PROFILES;

    fn call(f: fn(&mut CallArgs) -> u64, args: &[u64]) -> u64 {
        CallArgs::call(f, args)
    }

    #[test]
    fn the_head_says_whether_the_array_is_empty() {
        for p in PROFILES {
            let k = Kernel::boot(p).unwrap();
            run_task(&k, "test", || {
                let r = LowRegion::alloc(4096, Prot::ReadWrite, "test").unwrap();
                let xa = r.addr();
                let head = xa + p.field("xarray.xa_head").unwrap();
                let flags = xa + p.field("xarray.xa_flags").unwrap();
                // xa_mk_value(5) at index 9.
                assert_eq!(call(sys_xa_store, &[xa, 9, 11, 0]), 0);
                assert_eq!(mm::read_u64(head), Some(KLOAD_XA_HEAD));
                assert_eq!(call(sys_xa_load, &[xa, 9]), 11);
                // An advanced internal entry is refused with XA_ERROR(-EINVAL).
                assert_eq!(call(sys_xa_store, &[xa, 1, 0x402, 0]), xa_error(-EINVAL));
                // A mark shows in the root's flags.
                call(sys_xa_set_mark, &[xa, 9, 2]);
                let f = u32::from_le_bytes(mm::read_bytes(flags, 4).unwrap().try_into().unwrap());
                assert_ne!(f & flags_mark(&k, 2), 0);
                assert_eq!(call(sys_xa_erase, &[xa, 9]), 11);
                assert_eq!(mm::read_u64(head), Some(0));
                let f = u32::from_le_bytes(mm::read_bytes(flags, 4).unwrap().try_into().unwrap());
                assert_eq!(f & flags_mark(&k, 2), 0);
                // The module re-initialises a non-empty array: it is empty.
                call(sys_xa_store, &[xa, 4, 13, 0]);
                mm::write_bytes(head, &0u64.to_le_bytes()).unwrap();
                assert_eq!(call(sys_xa_load, &[xa, 4]), 0);
                assert_eq!(k.xa.len(xa), 0);
            })
            .unwrap();
        }
    }
}
