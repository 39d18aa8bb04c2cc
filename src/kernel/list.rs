//! List debugging (lib/list_debug.c), and the library routines that call
//! back into modules: `sort`/`sort_r` (lib/sort.c), `bsearch`
//! (lib/bsearch.c) and `list_sort` (lib/list_sort.c).
//!
//! Debian builds with `CONFIG_DEBUG_LIST` and `CONFIG_BUG_ON_DATA_CORRUPTION`:
//! a corrupted list is reported with `pr_err` and then `BUG()`s, which kills
//! the task. 6.1 calls `__list_add_valid`/`__list_del_entry_valid` on every
//! list_add/list_del; 6.12 (`CONFIG_LIST_HARDENED`) checks inline and only
//! calls the `_or_report` versions when something looks wrong.
//!
//! `sort_r` is the kernel's bottom-up heapsort, step for step, so that the
//! order of equal elements and the sequence of comparisons are the kernel's.
//! `list_sort` is a stable merge sort, as the kernel's is (the result of a
//! stable sort is unique; the number of comparisons may differ).

use super::printk::LOGLEVEL_ERR;
use super::string::{kernel_bug, read, write};
use super::symbols::Registry;
use crate::exec::dispatch::CallArgs;
use crate::exec::task;

/// `LIST_POISON1`/`LIST_POISON2` with x86-64's `POISON_POINTER_DELTA`.
pub const LIST_POISON1: u64 = 0xdead_0000_0000_0100;
pub const LIST_POISON2: u64 = 0xdead_0000_0000_0122;

fn read_ptr(func: &str, addr: u64) -> Option<u64> {
    read(func, "a list_head", addr, 8).map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()))
}

/// `CHECK_DATA_CORRUPTION` that fired: `pr_err(text)`, then `BUG()`.
fn corruption(func: &str, text: &str) -> u64 {
    if let Some(k) = task::current_kernel() {
        k.log.emit(LOGLEVEL_ERR, text);
    }
    kernel_bug("lib/list_debug.c", func);
    0
}

/// The first failed check of `__list_add_valid`, as the kernel words it.
pub fn list_add_report(
    new: u64,
    prev: u64,
    next: u64,
    next_prev: u64,
    prev_next: u64,
) -> Option<String> {
    if prev == 0 {
        return Some("list_add corruption. prev is NULL.".into());
    }
    if next == 0 {
        return Some("list_add corruption. next is NULL.".into());
    }
    if next_prev != prev {
        return Some(format!(
            "list_add corruption. next->prev should be prev ({prev:016x}), but was {next_prev:016x}. (next={next:016x})."
        ));
    }
    if prev_next != next {
        return Some(format!(
            "list_add corruption. prev->next should be next ({next:016x}), but was {prev_next:016x}. (prev={prev:016x})."
        ));
    }
    if new == prev || new == next {
        return Some(format!(
            "list_add double add: new={new:016x}, prev={prev:016x}, next={next:016x}."
        ));
    }
    None
}

/// `bool __list_add_valid(new, prev, next)` and 6.12's `_or_report`.
fn list_add_valid(a: &CallArgs, func: &str) -> u64 {
    let (new, prev, next) = (a.arg(0), a.arg(1), a.arg(2));
    let next_prev = if next == 0 {
        0
    } else {
        read_ptr(func, next + 8).unwrap_or(0)
    };
    let prev_next = if prev == 0 {
        0
    } else {
        read_ptr(func, prev).unwrap_or(0)
    };
    if task::is_dying() {
        return 0;
    }
    match list_add_report(new, prev, next, next_prev, prev_next) {
        Some(text) => corruption(func, &text),
        None => 1,
    }
}

fn sys_list_add_valid(a: &mut CallArgs) -> u64 {
    list_add_valid(a, "__list_add_valid")
}

fn sys_list_add_valid_or_report(a: &mut CallArgs) -> u64 {
    list_add_valid(a, "__list_add_valid_or_report")
}

/// `bool __list_del_entry_valid(entry)` and 6.12's `_or_report`.
fn list_del_valid(a: &CallArgs, func: &str) -> u64 {
    let entry = a.arg(0);
    let (Some(next), Some(prev)) = (read_ptr(func, entry), read_ptr(func, entry + 8)) else {
        return 0;
    };
    let text = if next == 0 {
        format!("list_del corruption, {entry:016x}->next is NULL")
    } else if prev == 0 {
        format!("list_del corruption, {entry:016x}->prev is NULL")
    } else if next == LIST_POISON1 {
        format!("list_del corruption, {entry:016x}->next is LIST_POISON1 ({LIST_POISON1:016x})")
    } else if prev == LIST_POISON2 {
        format!("list_del corruption, {entry:016x}->prev is LIST_POISON2 ({LIST_POISON2:016x})")
    } else {
        let Some(prev_next) = read_ptr(func, prev) else {
            return 0;
        };
        let Some(next_prev) = read_ptr(func, next + 8) else {
            return 0;
        };
        if prev_next != entry {
            format!(
                "list_del corruption. prev->next should be {entry:016x}, but was {prev_next:016x}. (prev={prev:016x})"
            )
        } else if next_prev != entry {
            format!(
                "list_del corruption. next->prev should be {entry:016x}, but was {next_prev:016x}. (next={next:016x})"
            )
        } else {
            return 1;
        }
    };
    corruption(func, &text)
}

fn sys_list_del_entry_valid(a: &mut CallArgs) -> u64 {
    list_del_valid(a, "__list_del_entry_valid")
}

fn sys_list_del_entry_valid_or_report(a: &mut CallArgs) -> u64 {
    list_del_valid(a, "__list_del_entry_valid_or_report")
}

// ---------------------------------------------------------------------------
// sort
// ---------------------------------------------------------------------------

/// The task died inside a module callback: stop at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Died;

/// What the heapsort needs from its array: compare and swap elements by
/// byte offset. `Err` means the task died (stop at once).
pub trait SortOps {
    fn cmp(&mut self, a: u64, b: u64) -> Result<i32, Died>;
    fn swap(&mut self, a: u64, b: u64) -> Result<(), Died>;
}

/// lib/sort.c `parent()`.
fn parent(i: u64, lsbit: u64, size: u64) -> u64 {
    let mut i = i - size;
    i -= size & (i & lsbit).wrapping_neg();
    i / 2
}

/// lib/sort.c `sort_r`'s loop over byte offsets `[0, num * size)`.
pub fn heapsort(num: u64, size: u64, ops: &mut dyn SortOps) -> Result<(), Died> {
    let mut n = num * size;
    let mut a = (num / 2) * size;
    let lsbit = size & size.wrapping_neg();
    if a == 0 {
        return Ok(());
    }
    loop {
        if a != 0 {
            a -= size;
        } else {
            n -= size;
            if n == 0 {
                break;
            }
            ops.swap(0, n)?;
        }
        let mut b = a;
        let (mut c, mut d);
        loop {
            c = 2 * b + size;
            d = c + size;
            if d >= n {
                break;
            }
            b = if ops.cmp(c, d)? >= 0 { c } else { d };
        }
        if d == n {
            b = c;
        }
        while b != a && ops.cmp(a, b)? >= 0 {
            b = parent(b, lsbit, size);
        }
        let c = b;
        while b != a {
            b = parent(b, lsbit, size);
            ops.swap(b, c)?;
        }
    }
    Ok(())
}

/// The module's array, compared and swapped through its callbacks.
struct ModuleArray {
    base: u64,
    size: u64,
    cmp: u64,
    swap: u64,
    priv_: u64,
}

impl SortOps for ModuleArray {
    fn cmp(&mut self, a: u64, b: u64) -> Result<i32, Died> {
        task::call_module(
            self.cmp,
            [self.base + a, self.base + b, self.priv_, 0, 0, 0],
        )
        .map(|r| r as u32 as i32)
        .map_err(|_| Died)
    }

    fn swap(&mut self, a: u64, b: u64) -> Result<(), Died> {
        let (pa, pb) = (self.base + a, self.base + b);
        if self.swap != 0 {
            return task::call_module(self.swap, [pa, pb, self.size, self.priv_, 0, 0])
                .map(|_| ())
                .map_err(|_| Died);
        }
        let (Some(x), Some(y)) = (
            read("sort", "the array", pa, self.size),
            read("sort", "the array", pb, self.size),
        ) else {
            return Err(Died);
        };
        if write("sort", "the array", pa, &y) && write("sort", "the array", pb, &x) {
            Ok(())
        } else {
            Err(Died)
        }
    }
}

fn sort_common(a: &CallArgs, priv_: u64) {
    let (base, num, size, cmp, swap) = (a.arg(0), a.arg(1), a.arg(2), a.arg(3), a.arg(4));
    if num
        .checked_mul(size)
        .is_none_or(|n| n > super::string::MAX_RANGE)
    {
        super::string::bad_access("sort", "the array", base, num.wrapping_mul(size));
        return;
    }
    let mut arr = ModuleArray {
        base,
        size,
        cmp,
        swap,
        priv_,
    };
    let _ = heapsort(num, size, &mut arr);
}

/// `void sort(void *base, size_t num, size_t size, cmp_func_t, swap_func_t)`.
fn sys_sort(a: &mut CallArgs) -> u64 {
    sort_common(a, 0);
    0
}

/// `void sort_r(base, num, size, cmp_r_func_t, swap_r_func_t, const void *priv)`.
fn sys_sort_r(a: &mut CallArgs) -> u64 {
    sort_common(a, a.arg(5));
    0
}

/// `void *bsearch(const void *key, const void *base, size_t num, size_t
/// size, cmp_func_t cmp)`: the kernel's `__inline_bsearch`.
fn sys_bsearch(a: &mut CallArgs) -> u64 {
    let (key, mut base, mut num, size, cmp) = (a.arg(0), a.arg(1), a.arg(2), a.arg(3), a.arg(4));
    while num > 0 {
        let pivot = base.wrapping_add((num >> 1).wrapping_mul(size));
        let Ok(r) = task::call_module(cmp, [key, pivot, 0, 0, 0, 0]) else {
            return 0;
        };
        let r = r as u32 as i32;
        if r == 0 {
            return pivot;
        }
        if r > 0 {
            base = pivot.wrapping_add(size);
            num -= 1;
        }
        num >>= 1;
    }
    0
}

/// A stable merge sort of `items` with a fallible "a > b" comparison.
pub fn stable_sort<T: Copy>(
    items: &[T],
    cmp: &mut dyn FnMut(T, T) -> Result<i32, Died>,
) -> Result<Vec<T>, Died> {
    if items.len() <= 1 {
        return Ok(items.to_vec());
    }
    let mid = items.len() / 2;
    let l = stable_sort(&items[..mid], cmp)?;
    let r = stable_sort(&items[mid..], cmp)?;
    let mut out = Vec::with_capacity(items.len());
    let (mut i, mut j) = (0, 0);
    while i < l.len() && j < r.len() {
        // list_sort's merge: take from the left unless cmp(a, b) > 0.
        if cmp(l[i], r[j])? <= 0 {
            out.push(l[i]);
            i += 1;
        } else {
            out.push(r[j]);
            j += 1;
        }
    }
    out.extend_from_slice(&l[i..]);
    out.extend_from_slice(&r[j..]);
    Ok(out)
}

/// `void list_sort(void *priv, struct list_head *head, list_cmp_func_t cmp)`.
fn sys_list_sort(a: &mut CallArgs) -> u64 {
    let (priv_, head, cmp) = (a.arg(0), a.arg(1), a.arg(2));
    let mut nodes = Vec::new();
    let Some(mut at) = read_ptr("list_sort", head) else {
        return 0;
    };
    while at != head {
        if nodes.len() as u64 > super::string::MAX_RANGE / 16 {
            super::string::bad_access("list_sort", "a looping list", head, 16);
            return 0;
        }
        nodes.push(at);
        let Some(next) = read_ptr("list_sort", at) else {
            return 0;
        };
        at = next;
    }
    let sorted = stable_sort(&nodes, &mut |x, y| {
        task::call_module(cmp, [priv_, x, y, 0, 0, 0])
            .map(|r| r as u32 as i32)
            .map_err(|_| Died)
    });
    let Ok(sorted) = sorted else {
        return 0;
    };
    let mut prev = head;
    for &n in sorted.iter().chain(std::iter::once(&head)) {
        let ok = write("list_sort", "a list_head", prev, &n.to_le_bytes())
            && write("list_sort", "a list_head", n + 8, &prev.to_le_bytes());
        if !ok {
            return 0;
        }
        prev = n;
    }
    0
}

pub(super) fn register(r: &mut Registry) {
    r.func("__list_add_valid", sys_list_add_valid);
    r.func("__list_del_entry_valid", sys_list_del_entry_valid);
    r.func("__list_add_valid_or_report", sys_list_add_valid_or_report);
    r.func(
        "__list_del_entry_valid_or_report",
        sys_list_del_entry_valid_or_report,
    );
    r.func("sort", sys_sort);
    r.func("sort_r", sys_sort_r);
    r.func("bsearch", sys_bsearch);
    r.func("list_sort", sys_list_sort);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An in-memory array of (key, tag) pairs, 8-byte elements.
    struct Vec8 {
        v: Vec<(i32, u32)>,
        cmps: usize,
    }

    impl SortOps for Vec8 {
        fn cmp(&mut self, a: u64, b: u64) -> Result<i32, Died> {
            self.cmps += 1;
            let (x, y) = (self.v[a as usize / 8].0, self.v[b as usize / 8].0);
            Ok(x.cmp(&y) as i32)
        }
        fn swap(&mut self, a: u64, b: u64) -> Result<(), Died> {
            self.v.swap(a as usize / 8, b as usize / 8);
            Ok(())
        }
    }

    #[test]
    fn heapsort_sorts() {
        for n in 0..40u32 {
            let v: Vec<(i32, u32)> = (0..n).map(|i| (((i * 7919) % 23) as i32, i)).collect();
            let mut arr = Vec8 {
                v: v.clone(),
                cmps: 0,
            };
            heapsort(n as u64, 8, &mut arr).unwrap();
            let keys: Vec<i32> = arr.v.iter().map(|x| x.0).collect();
            let mut want: Vec<i32> = v.iter().map(|x| x.0).collect();
            want.sort();
            assert_eq!(keys, want, "n={n}");
        }
        let mut arr = Vec8 {
            v: vec![(3, 0), (1, 1), (2, 2)],
            cmps: 0,
        };
        heapsort(3, 8, &mut arr).unwrap();
        assert_eq!(arr.v, [(1, 1), (2, 2), (3, 0)]);
    }

    #[test]
    fn parent_of_odd_sizes() {
        // Element size 12 (lsbit 4): the parent of element i is (i-1)/2.
        for i in 1..50u64 {
            assert_eq!(parent(i * 12, 4, 12), ((i - 1) / 2) * 12);
        }
    }

    #[test]
    fn stable_sort_keeps_equal_order() {
        let items: Vec<(u8, u8)> = vec![(2, 0), (1, 1), (2, 2), (1, 3), (0, 4)];
        let s = stable_sort(&items, &mut |a, b| Ok(i32::from(a.0) - i32::from(b.0))).unwrap();
        assert_eq!(s, [(0, 4), (1, 1), (1, 3), (2, 0), (2, 2)]);
    }

    #[test]
    fn list_reports() {
        assert_eq!(list_add_report(1, 2, 3, 2, 3), None);
        assert_eq!(
            list_add_report(0x10, 0x20, 0x30, 0x20, 0x99).unwrap(),
            "list_add corruption. prev->next should be next (0000000000000030), but was 0000000000000099. (prev=0000000000000020)."
        );
        assert_eq!(
            list_add_report(0x20, 0x20, 0x30, 0x20, 0x30).unwrap(),
            "list_add double add: new=0000000000000020, prev=0000000000000020, next=0000000000000030."
        );
    }
}
