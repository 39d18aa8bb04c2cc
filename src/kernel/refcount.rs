//! Reference counts (lib/refcount.c): the out-of-line half of
//! `refcount_t`. The fast paths (`refcount_inc`, `refcount_dec_and_test`,
//! `kref_get`, `kref_put`, ...) are inline in the module; they call
//! `refcount_warn_saturate` when a counter goes wrong, which saturates the
//! counter (`REFCOUNT_SATURATED`, `INT_MIN / 2`) so that it never moves
//! again, and WARNs once per kind, with the kernel's words. The
//! `refcount_dec_and_*lock*` helpers take the lock only when the count
//! would drop to zero, through the locking stubs (so kload's lock checks
//! see them).

use super::locking::{
    sys_mutex_lock, sys_mutex_unlock, sys_spin_lock, sys_spin_lock_irqsave, sys_spin_unlock,
    sys_spin_unlock_irqrestore,
};
use super::panic::warn_in_kernel;
use super::string::{read, write};
use super::symbols::Registry;
use crate::exec::dispatch::CallArgs;

/// `REFCOUNT_SATURATED`.
pub const REFCOUNT_SATURATED: i32 = i32::MIN / 2;

/// `enum refcount_saturation_type`, in order.
const MESSAGES: [&str; 5] = [
    "refcount_t: saturated; leaking memory.",
    "refcount_t: saturated; leaking memory.",
    "refcount_t: addition on 0; use-after-free.",
    "refcount_t: underflow; use-after-free.",
    "refcount_t: decrement hit 0; leaking memory.",
];
const UNKNOWN: &str = "refcount_t: unknown saturation event!?";
const REFCOUNT_SUB_UAF: usize = 3;

/// The line of each case's `REFCOUNT_WARN` in lib/refcount.c, indexed like
/// `MESSAGES`, then the default case: the same in 6.1 and 6.12 (the real
/// kernels' transcripts show 25 and 28; the cases are three lines apart).
const LINES: [u32; 6] = [19, 22, 25, 28, 31, 34];

fn rd(func: &str, r: u64) -> Option<i32> {
    let b = read(func, "a refcount_t", r, 4)?;
    Some(i32::from_le_bytes(b.try_into().ok()?))
}

fn wr(func: &str, r: u64, v: i32) -> Option<()> {
    write(func, "a refcount_t", r, &v.to_le_bytes()).then_some(())
}

/// The WARN_ONCE of one saturation kind, at the call `a`.
fn warn(a: &CallArgs, kind: usize) {
    let msg = MESSAGES.get(kind).copied().unwrap_or(UNKNOWN);
    let location = format!("lib/refcount.c:{}", LINES[kind.min(MESSAGES.len())]);
    // Each case is its own WARN_ONCE site.
    let once = format!("refcount_warn_saturate:{}", kind.min(MESSAGES.len()));
    warn_in_kernel(
        a,
        "refcount_warn_saturate",
        &location,
        Some(msg),
        Some(&once),
    );
}

/// `void refcount_warn_saturate(refcount_t *r, enum refcount_saturation_type t)`.
fn sys_refcount_warn_saturate(a: &mut CallArgs) -> u64 {
    const F: &str = "refcount_warn_saturate";
    if wr(F, a.arg(0), REFCOUNT_SATURATED).is_none() {
        return 0;
    }
    warn(a, a.arg(1) as u32 as usize);
    0
}

/// `bool refcount_dec_if_one(refcount_t *)`: 1 -> 0, else nothing.
fn sys_refcount_dec_if_one(a: &mut CallArgs) -> u64 {
    const F: &str = "refcount_dec_if_one";
    let r = a.arg(0);
    match rd(F, r) {
        Some(1) => u64::from(wr(F, r, 0).is_some()),
        _ => 0,
    }
}

/// `refcount_dec_not_one`'s body: false when the count is 1 (left alone);
/// true otherwise, having decremented it unless it is saturated.
fn dec_not_one(a: &CallArgs, func: &str, r: u64) -> Option<bool> {
    let val = rd(func, r)?;
    if val == REFCOUNT_SATURATED {
        return Some(true);
    }
    if val == 1 {
        return Some(false);
    }
    let new = (val as u32).wrapping_sub(1);
    if new > val as u32 {
        // WARN_ONCE(new > val, "refcount_t: underflow; use-after-free.\n")
        warn_in_kernel(
            a,
            "refcount_dec_not_one",
            "lib/refcount.c",
            Some(MESSAGES[REFCOUNT_SUB_UAF]),
            Some("refcount_dec_not_one"),
        );
        return Some(true);
    }
    wr(func, r, new as i32)?;
    Some(true)
}

fn sys_refcount_dec_not_one(a: &mut CallArgs) -> u64 {
    u64::from(dec_not_one(a, "refcount_dec_not_one", a.arg(0)).unwrap_or(false))
}

/// The inline `refcount_dec_and_test`: true when the count reaches 0.
fn dec_and_test(a: &CallArgs, func: &str, r: u64) -> Option<bool> {
    let old = rd(func, r)?;
    let new = old.wrapping_sub(1);
    wr(func, r, new)?;
    if old == 1 {
        return Some(true);
    }
    if old < 0 || new < 0 {
        let b = a.with_regs([r, REFCOUNT_SUB_UAF as u64, 0, 0, 0, 0]);
        wr(func, r, REFCOUNT_SATURATED)?;
        warn(&b, REFCOUNT_SUB_UAF);
    }
    Some(false)
}

/// The shape of every `refcount_dec_and_*lock*`: drop a reference; on the
/// last one, keep the lock `lock` took and return what it returned (the
/// saved flags of an irqsave lock); otherwise unlock and return `None`.
fn dec_and_lock(
    a: &CallArgs,
    func: &str,
    lock: impl FnOnce(&CallArgs) -> u64,
    unlock: impl FnOnce(&CallArgs, u64),
) -> Option<u64> {
    let r = a.arg(0);
    if dec_not_one(a, func, r)? {
        return None;
    }
    let saved = lock(a);
    if dec_and_test(a, func, r)? {
        return Some(saved);
    }
    unlock(a, saved);
    None
}

/// `bool refcount_dec_and_mutex_lock(refcount_t *, struct mutex *)`.
fn sys_refcount_dec_and_mutex_lock(a: &mut CallArgs) -> u64 {
    let lock = a.arg(1);
    let taken = dec_and_lock(
        a,
        "refcount_dec_and_mutex_lock",
        |a| sys_mutex_lock(&mut a.with_regs([lock, 0, 0, 0, 0, 0])),
        |a, _| {
            sys_mutex_unlock(&mut a.with_regs([lock, 0, 0, 0, 0, 0]));
        },
    );
    u64::from(taken.is_some())
}

/// `bool refcount_dec_and_lock(refcount_t *, spinlock_t *)`.
fn sys_refcount_dec_and_lock(a: &mut CallArgs) -> u64 {
    let lock = a.arg(1);
    let taken = dec_and_lock(
        a,
        "refcount_dec_and_lock",
        |a| sys_spin_lock(&mut a.with_regs([lock, 0, 0, 0, 0, 0])),
        |a, _| {
            sys_spin_unlock(&mut a.with_regs([lock, 0, 0, 0, 0, 0]));
        },
    );
    u64::from(taken.is_some())
}

/// `bool refcount_dec_and_lock_irqsave(refcount_t *, spinlock_t *,
/// unsigned long *flags)`: `*flags` gets the saved flags when it returns
/// true with the lock held.
fn sys_refcount_dec_and_lock_irqsave(a: &mut CallArgs) -> u64 {
    const F: &str = "refcount_dec_and_lock_irqsave";
    let (lock, flags) = (a.arg(1), a.arg(2));
    let taken = dec_and_lock(
        a,
        F,
        |a| sys_spin_lock_irqsave(&mut a.with_regs([lock, 0, 0, 0, 0, 0])),
        |a, saved| {
            sys_spin_unlock_irqrestore(&mut a.with_regs([lock, saved, 0, 0, 0, 0]));
        },
    );
    match taken {
        Some(saved) => u64::from(write(F, "the flags", flags, &saved.to_le_bytes())),
        None => 0,
    }
}

pub(super) fn register(r: &mut Registry) {
    r.func("refcount_warn_saturate", sys_refcount_warn_saturate);
    r.func("refcount_dec_if_one", sys_refcount_dec_if_one);
    r.func("refcount_dec_not_one", sys_refcount_dec_not_one);
    r.func(
        "refcount_dec_and_mutex_lock",
        sys_refcount_dec_and_mutex_lock,
    );
    r.func("refcount_dec_and_lock", sys_refcount_dec_and_lock);
    r.func(
        "refcount_dec_and_lock_irqsave",
        sys_refcount_dec_and_lock_irqsave,
    );
}
