//! Locks on the one emulated CPU (kernel/locking/): mutexes, spinlocks
//! (with the virtual interrupt flag and the preempt count), and rw
//! semaphores.
//!
//! The lock words in module memory change the way the kernel's inline code
//! expects (Debian: no `DEBUG_MUTEXES`, `DEBUG_SPINLOCK` or lockdep):
//! - `struct mutex`: `atomic_long_t owner` holds the owning `task_struct`
//!   (low 3 bits are flags), 0 when free; then `wait_list`.
//! - `spinlock_t` is a qspinlock: a `u32` whose low byte is the locked byte.
//! - `struct rw_semaphore`: `atomic_long_t count` (bit 0: writer locked,
//!   each reader adds 0x100), `owner` (`current`, | 1 for readers),
//!   `wait_list`.
//!
//! Field offsets come from the kernel's profile (`layout`).
//!
//! Spinlocks disable preemption (`preempt_count` + 1, `_bh` adds
//! `SOFTIRQ_LOCK_OFFSET`), `_irq`/`_irqsave` clear the virtual IF.
//!
//! A mutex held by another task (a kthread or worker that blocked holding
//! it) is waited for: the waiter blocks on the one CPU until `mutex_unlock`
//! wakes it. A lock the task itself holds, a mutex of a task that is gone,
//! and a taken spinlock (its holder cannot run while the waiter spins on
//! the one CPU) would hang the real kernel (a soft lockup for a spinlock, a
//! hung task for a mutex): kload reports the deadlock like lockdep and
//! kills the task instead.
//!
//! Held locks are tracked per task (`held_locks`), so the loader can report
//! an init that returned with a lock held.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, OnceLock};

use super::printk::LOGLEVEL_WARNING;
use super::string::{read, write};
use super::symbols::Registry;
use super::Kernel;
use crate::exec::dispatch::CallArgs;
use crate::exec::percpu::IRQS_OFF_OFFSET;
use crate::exec::task;

/// `X86_EFLAGS_IF`.
pub const X86_EFLAGS_IF: u64 = 0x200;
/// `SOFTIRQ_DISABLE_OFFSET` (2 * SOFTIRQ_OFFSET).
const SOFTIRQ_DISABLE_OFFSET: u32 = 0x200;
/// `MUTEX_FLAGS`.
const MUTEX_FLAGS: u64 = 0x07;

/// Field offsets of the lock structs, from the running kernel's profile
/// (measured by the kbuild probe, never guessed).
#[derive(Clone, Copy)]
struct LockLayout {
    mutex_owner: u64,
    mutex_wait_list: u64,
    rwsem_count: u64,
    rwsem_owner: u64,
    rwsem_wait_list: u64,
}

fn layout() -> Option<LockLayout> {
    let k = task::current_kernel()?;
    let p = k.profile;
    Some(LockLayout {
        mutex_owner: p.get("mutex.owner")?,
        mutex_wait_list: p.get("mutex.wait_list")?,
        rwsem_count: p.get("rw_semaphore.count")?,
        rwsem_owner: p.get("rw_semaphore.owner")?,
        rwsem_wait_list: p.get("rw_semaphore.wait_list")?,
    })
}
const RWSEM_WRITER_LOCKED: u64 = 1;
const RWSEM_READER_BIAS: u64 = 0x100;
const RWSEM_READER_OWNED: u64 = 1;

/// One kernel's lock state.
#[derive(Default)]
struct KernelLocks {
    /// Held locks by task pid: (lock address, acquire site), oldest first.
    held: HashMap<u32, Vec<(u64, u64)>>,
}

fn all() -> MutexGuard<'static, HashMap<usize, KernelLocks>> {
    static S: OnceLock<Mutex<HashMap<usize, KernelLocks>>> = OnceLock::new();
    S.get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

fn key(k: &Kernel) -> usize {
    k as *const Kernel as usize
}

fn with_state<R>(f: impl FnOnce(&mut KernelLocks) -> R) -> R {
    let id = task::current_kernel().as_deref().map_or(0, key);
    f(all().entry(id).or_default())
}

/// The locks task `pid` holds in the kernel running on this thread (or,
/// off a task thread, in any kernel): (lock address, acquire site).
pub fn held_locks(task_pid: u32) -> Vec<(u64, u64)> {
    let current = task::current_kernel().as_deref().map(key);
    let s = all();
    s.iter()
        .filter(|(id, _)| current.is_none_or(|c| c == **id))
        .flat_map(|(_, l)| l.held.get(&task_pid).cloned().unwrap_or_default())
        .collect()
}

/// The locks task `pid` holds in kernel `k`.
pub fn held_locks_in(k: &Kernel, task_pid: u32) -> Vec<(u64, u64)> {
    all()
        .get(&key(k))
        .and_then(|l| l.held.get(&task_pid).cloned())
        .unwrap_or_default()
}

/// Whether kernel `k`'s CPU runs with interrupts enabled (the virtual IF).
pub fn irqs_enabled(k: &Kernel) -> bool {
    k.percpu
        .read_u32(IRQS_OFF_OFFSET)
        .is_ok_and(|v| v & 0xff == 0)
}

fn pid() -> u32 {
    task::current_task().map_or(0, |t| t.pid)
}

fn current() -> u64 {
    task::current_task().map_or(0, |t| t.task_struct)
}

fn acquired(addr: u64, site: u64) {
    let pid = pid();
    with_state(|s| s.held.entry(pid).or_default().push((addr, site)));
}

/// Forget the newest hold of `addr` (by any task: the kernel lets another
/// task release a mutex without `DEBUG_MUTEXES`).
fn released(addr: u64) {
    let pid = pid();
    with_state(|s| {
        let mine = s
            .held
            .get(&pid)
            .is_some_and(|v| v.iter().any(|h| h.0 == addr));
        let owner = if mine {
            Some(pid)
        } else {
            s.held
                .iter()
                .find(|(_, v)| v.iter().any(|h| h.0 == addr))
                .map(|(p, _)| *p)
        };
        if let Some(v) = owner.and_then(|p| s.held.get_mut(&p)) {
            if let Some(i) = v.iter().rposition(|h| h.0 == addr) {
                v.remove(i);
            }
        }
    });
}

fn held_site(addr: u64) -> Option<(u32, u64)> {
    with_state(|s| {
        s.held
            .iter()
            .find_map(|(p, v)| v.iter().rev().find(|h| h.0 == addr).map(|h| (*p, h.1)))
    })
}

/// A deadlock on the one CPU: report it in lockdep's words and kill the task.
fn deadlock(func: &str, addr: u64, site: u64, what: &str) {
    if let Some(k) = task::current_kernel() {
        let t = task::current_task();
        let (comm, p) = t
            .as_ref()
            .map_or(("?".to_owned(), 0), |t| (t.comm.clone(), t.pid));
        let holder = held_site(addr);
        let recursive = holder.is_some_and(|(hp, _)| hp == p);
        let log = |s: &str| k.log.emit(LOGLEVEL_WARNING, s);
        log("");
        log("============================================");
        log(if recursive {
            "WARNING: possible recursive locking detected"
        } else {
            "WARNING: kload: lock held by a task that cannot run (one CPU)"
        });
        log(&format!(
            "{} #1 {}",
            k.profile.release,
            k.taint.print_tainted()
        ));
        log("--------------------------------------------");
        log(&format!("{comm}/{p} is trying to acquire lock:"));
        log(&format!(
            "{addr:016x} ({what}), at: {}",
            k.symbolize_return_address(site)
        ));
        log("");
        if let Some((hp, hsite)) = holder {
            log(&format!(
                "but {} already holding lock:",
                if recursive {
                    "task is"
                } else {
                    "another task is"
                }
            ));
            log(&format!(
                "{addr:016x} ({what}), at: {} (pid {hp})",
                k.symbolize_return_address(hsite)
            ));
            log("");
        }
        log(" *** DEADLOCK ***");
        log("");
        log(&format!(
            "kload: {func} would wait forever on the one emulated CPU (the real kernel hangs here); killing the task"
        ));
        for line in super::panic::report_header(&k) {
            log(&line);
        }
    }
    task::kill(&format!("deadlock in {func}"));
}

fn read_u64(func: &str, addr: u64) -> Option<u64> {
    read(func, "a lock", addr, 8).map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()))
}

fn write_u64(func: &str, addr: u64, v: u64) -> bool {
    write(func, "a lock", addr, &v.to_le_bytes())
}

/// Add `delta` to the preempt count (x86: the low bits of the per-CPU word).
pub(crate) fn preempt_add(delta: i64) {
    if let Some(k) = task::current_kernel() {
        if let Ok(v) = k.sched.preempt_count(&k.percpu) {
            let _ = k
                .sched
                .set_preempt_count(&k.percpu, (i64::from(v) + delta) as u32);
        }
    }
}

/// Set the virtual IF of the CPU (the per-CPU byte the `pv_ops` irq
/// operations use too); returns whether interrupts were off before.
fn set_irqs_off(off: bool) -> bool {
    let Some(k) = task::current_kernel() else {
        return false;
    };
    let was_off = !irqs_enabled(&k);
    let _ = k.percpu.write(IRQS_OFF_OFFSET, &[u8::from(off)]);
    was_off
}

/// A list_head that points at itself.
fn init_list_head(func: &str, addr: u64) -> bool {
    let mut b = addr.to_le_bytes().to_vec();
    b.extend_from_slice(&addr.to_le_bytes());
    write(func, "a lock", addr, &b)
}

// ---------------------------------------------------------------------------
// Mutexes
// ---------------------------------------------------------------------------

/// `void __mutex_init(struct mutex *lock, const char *name, struct lock_class_key *key)`.
fn sys_mutex_init(a: &mut CallArgs) -> u64 {
    let m = a.arg(0);
    let Some(l) = layout() else { return 0 };
    // owner, wait_lock and osq, then the empty wait_list.
    if write(
        "__mutex_init",
        "a mutex",
        m,
        &vec![0u8; l.mutex_wait_list as usize],
    ) {
        init_list_head("__mutex_init", m + l.mutex_wait_list);
    }
    0
}

/// Take a mutex, or report the deadlock. Returns whether it was taken.
fn mutex_take(func: &str, a: &CallArgs) -> bool {
    let m = a.arg(0);
    let Some(l) = layout() else { return false };
    let Some(mut owner) = read_u64(func, m + l.mutex_owner) else {
        return false;
    };
    // Contention: the owner is another live task (blocked, or waiting
    // for the CPU): wait for its unlock, a blocking point. A mutex held
    // by the task itself, or by a task that is gone, deadlocks.
    while owner & !MUTEX_FLAGS != 0 {
        let holder = owner & !MUTEX_FLAGS;
        let other_task = holder != current()
            && task::current_kernel().is_some_and(|k| k.task_by_struct(holder).is_some());
        if !other_task {
            deadlock(func, m, a.caller(), "mutex");
            return false;
        }
        if task::block(m, None).is_none() || task::is_dying() {
            return false;
        }
        let Some(o) = read_u64(func, m + l.mutex_owner) else {
            return false;
        };
        owner = o;
    }
    if write_u64(func, m + l.mutex_owner, current() | (owner & MUTEX_FLAGS)) {
        acquired(m, a.caller());
        return true;
    }
    false
}

pub(crate) fn sys_mutex_lock(a: &mut CallArgs) -> u64 {
    mutex_take("mutex_lock", a);
    0
}

fn sys_mutex_lock_io(a: &mut CallArgs) -> u64 {
    mutex_take("mutex_lock_io", a);
    0
}

/// `int mutex_lock_interruptible(struct mutex *)`: 0 once taken (no
/// signal can arrive for a kernel task here).
fn sys_mutex_lock_interruptible(a: &mut CallArgs) -> u64 {
    mutex_take("mutex_lock_interruptible", a);
    0
}

fn sys_mutex_lock_killable(a: &mut CallArgs) -> u64 {
    mutex_take("mutex_lock_killable", a);
    0
}

/// `int mutex_trylock(struct mutex *)`: 1 when taken.
fn sys_mutex_trylock(a: &mut CallArgs) -> u64 {
    let m = a.arg(0);
    let Some(l) = layout() else { return 0 };
    let Some(owner) = read_u64("mutex_trylock", m + l.mutex_owner) else {
        return 0;
    };
    if owner & !MUTEX_FLAGS != 0 {
        return 0;
    }
    if write_u64(
        "mutex_trylock",
        m + l.mutex_owner,
        current() | (owner & MUTEX_FLAGS),
    ) {
        acquired(m, a.caller());
        return 1;
    }
    0
}

pub(crate) fn sys_mutex_unlock(a: &mut CallArgs) -> u64 {
    let m = a.arg(0);
    let Some(l) = layout() else { return 0 };
    if write_u64("mutex_unlock", m + l.mutex_owner, 0) {
        released(m);
        // The oldest waiter, if any, tries again.
        if let Some(k) = task::current_kernel() {
            k.cpu.wake_key(m, 1);
        }
    }
    0
}

/// `bool mutex_is_locked(struct mutex *)`.
fn sys_mutex_is_locked(a: &mut CallArgs) -> u64 {
    let Some(l) = layout() else { return 0 };
    read_u64("mutex_is_locked", a.arg(0) + l.mutex_owner)
        .map_or(0, |o| u64::from(o & !MUTEX_FLAGS != 0))
}

// ---------------------------------------------------------------------------
// Spinlocks
// ---------------------------------------------------------------------------

/// Take a spinlock after preemption is off; a taken one deadlocks.
fn spin_take(func: &str, a: &CallArgs) -> bool {
    let l = a.arg(0);
    let Some(v) = read(func, "a spinlock", l, 4) else {
        return false;
    };
    if v[0] != 0 {
        deadlock(func, l, a.caller(), "spinlock");
        return false;
    }
    if write(func, "a spinlock", l, &1u32.to_le_bytes()) {
        acquired(l, a.caller());
        return true;
    }
    false
}

/// Release a spinlock: the kernel clears the locked byte only.
fn spin_release(func: &str, a: &CallArgs) {
    let l = a.arg(0);
    if write(func, "a spinlock", l, &[0]) {
        released(l);
    }
}

pub(crate) fn sys_spin_lock(a: &mut CallArgs) -> u64 {
    preempt_add(1);
    spin_take("_raw_spin_lock", a);
    0
}

pub(crate) fn sys_spin_unlock(a: &mut CallArgs) -> u64 {
    spin_release("_raw_spin_unlock", a);
    preempt_add(-1);
    0
}

/// `int _raw_spin_trylock(raw_spinlock_t *)`.
fn sys_spin_trylock(a: &mut CallArgs) -> u64 {
    let l = a.arg(0);
    let Some(v) = read("_raw_spin_trylock", "a spinlock", l, 4) else {
        return 0;
    };
    if v[0] != 0 {
        return 0;
    }
    preempt_add(1);
    u64::from(spin_take("_raw_spin_trylock", a))
}

/// `unsigned long _raw_spin_lock_irqsave(raw_spinlock_t *)`: the flags
/// before (IF set when interrupts were on).
pub(crate) fn sys_spin_lock_irqsave(a: &mut CallArgs) -> u64 {
    let was_off = set_irqs_off(true);
    preempt_add(1);
    spin_take("_raw_spin_lock_irqsave", a);
    if was_off {
        0
    } else {
        X86_EFLAGS_IF
    }
}

pub(crate) fn sys_spin_unlock_irqrestore(a: &mut CallArgs) -> u64 {
    spin_release("_raw_spin_unlock_irqrestore", a);
    set_irqs_off(a.arg(1) & X86_EFLAGS_IF == 0);
    preempt_add(-1);
    0
}

fn sys_spin_lock_irq(a: &mut CallArgs) -> u64 {
    set_irqs_off(true);
    preempt_add(1);
    spin_take("_raw_spin_lock_irq", a);
    0
}

fn sys_spin_unlock_irq(a: &mut CallArgs) -> u64 {
    spin_release("_raw_spin_unlock_irq", a);
    set_irqs_off(false);
    preempt_add(-1);
    0
}

/// `_bh`: `SOFTIRQ_LOCK_OFFSET` = `SOFTIRQ_DISABLE_OFFSET` + 1.
fn sys_spin_lock_bh(a: &mut CallArgs) -> u64 {
    preempt_add(i64::from(SOFTIRQ_DISABLE_OFFSET) + 1);
    spin_take("_raw_spin_lock_bh", a);
    0
}

fn sys_spin_unlock_bh(a: &mut CallArgs) -> u64 {
    spin_release("_raw_spin_unlock_bh", a);
    preempt_add(-(i64::from(SOFTIRQ_DISABLE_OFFSET) + 1));
    0
}

// ---------------------------------------------------------------------------
// rw semaphores
// ---------------------------------------------------------------------------

/// `void __init_rwsem(struct rw_semaphore *, const char *, struct lock_class_key *)`.
fn sys_init_rwsem(a: &mut CallArgs) -> u64 {
    let s = a.arg(0);
    let Some(l) = layout() else { return 0 };
    // count, owner, osq + wait_lock, then the empty wait_list.
    if write(
        "__init_rwsem",
        "a rw_semaphore",
        s,
        &vec![0u8; l.rwsem_wait_list as usize],
    ) {
        init_list_head("__init_rwsem", s + l.rwsem_wait_list);
    }
    0
}

fn rwsem_read_take(func: &str, a: &CallArgs, try_: bool) -> bool {
    let s = a.arg(0);
    let Some(l) = layout() else { return false };
    let Some(count) = read_u64(func, s + l.rwsem_count) else {
        return false;
    };
    if count & RWSEM_WRITER_LOCKED != 0 {
        if !try_ {
            deadlock(func, s, a.caller(), "rw_semaphore");
        }
        return false;
    }
    if write_u64(func, s + l.rwsem_count, count + RWSEM_READER_BIAS)
        && write_u64(func, s + l.rwsem_owner, current() | RWSEM_READER_OWNED)
    {
        acquired(s, a.caller());
        return true;
    }
    false
}

fn rwsem_write_take(func: &str, a: &CallArgs, try_: bool) -> bool {
    let s = a.arg(0);
    let Some(l) = layout() else { return false };
    let Some(count) = read_u64(func, s + l.rwsem_count) else {
        return false;
    };
    if count != 0 {
        if !try_ {
            deadlock(func, s, a.caller(), "rw_semaphore");
        }
        return false;
    }
    if write_u64(func, s + l.rwsem_count, RWSEM_WRITER_LOCKED)
        && write_u64(func, s + l.rwsem_owner, current())
    {
        acquired(s, a.caller());
        return true;
    }
    false
}

fn sys_down_read(a: &mut CallArgs) -> u64 {
    rwsem_read_take("down_read", a, false);
    0
}

fn sys_down_read_trylock(a: &mut CallArgs) -> u64 {
    u64::from(rwsem_read_take("down_read_trylock", a, true))
}

fn sys_down_write(a: &mut CallArgs) -> u64 {
    rwsem_write_take("down_write", a, false);
    0
}

fn sys_down_write_trylock(a: &mut CallArgs) -> u64 {
    u64::from(rwsem_write_take("down_write_trylock", a, true))
}

/// `up_read`: the last reader leaves the owner's reader bits for
/// debugging, as the kernel does; the count drops by one reader.
fn sys_up_read(a: &mut CallArgs) -> u64 {
    let s = a.arg(0);
    let Some(l) = layout() else { return 0 };
    if let Some(count) = read_u64("up_read", s + l.rwsem_count) {
        if write_u64(
            "up_read",
            s + l.rwsem_count,
            count.wrapping_sub(RWSEM_READER_BIAS),
        ) {
            released(s);
        }
    }
    0
}

fn sys_up_write(a: &mut CallArgs) -> u64 {
    let s = a.arg(0);
    let Some(l) = layout() else { return 0 };
    if let Some(count) = read_u64("up_write", s + l.rwsem_count) {
        if write_u64("up_write", s + l.rwsem_owner, 0)
            && write_u64("up_write", s + l.rwsem_count, count & !RWSEM_WRITER_LOCKED)
        {
            released(s);
        }
    }
    0
}

/// `downgrade_write`: the writer becomes a reader.
fn sys_downgrade_write(a: &mut CallArgs) -> u64 {
    let s = a.arg(0);
    let Some(l) = layout() else { return 0 };
    if let Some(count) = read_u64("downgrade_write", s + l.rwsem_count) {
        let v = (count & !RWSEM_WRITER_LOCKED) + RWSEM_READER_BIAS;
        if write_u64("downgrade_write", s + l.rwsem_count, v) {
            write_u64(
                "downgrade_write",
                s + l.rwsem_owner,
                current() | RWSEM_READER_OWNED,
            );
        }
    }
    0
}

pub(super) fn register(r: &mut Registry) {
    r.func("__mutex_init", sys_mutex_init);
    r.func("mutex_lock", sys_mutex_lock);
    r.func("mutex_lock_io", sys_mutex_lock_io);
    r.func("mutex_lock_interruptible", sys_mutex_lock_interruptible);
    r.func("mutex_lock_killable", sys_mutex_lock_killable);
    r.func("mutex_trylock", sys_mutex_trylock);
    r.func("mutex_unlock", sys_mutex_unlock);
    r.func("mutex_is_locked", sys_mutex_is_locked);
    r.func("_raw_spin_lock", sys_spin_lock);
    r.func("_raw_spin_unlock", sys_spin_unlock);
    r.func("_raw_spin_trylock", sys_spin_trylock);
    r.func("_raw_spin_lock_irqsave", sys_spin_lock_irqsave);
    r.func("_raw_spin_unlock_irqrestore", sys_spin_unlock_irqrestore);
    r.func("_raw_spin_lock_irq", sys_spin_lock_irq);
    r.func("_raw_spin_unlock_irq", sys_spin_unlock_irq);
    r.func("_raw_spin_lock_bh", sys_spin_lock_bh);
    r.func("_raw_spin_unlock_bh", sys_spin_unlock_bh);
    r.func("__init_rwsem", sys_init_rwsem);
    r.func("down_read", sys_down_read);
    r.func("down_read_trylock", sys_down_read_trylock);
    r.func("up_read", sys_up_read);
    r.func("down_write", sys_down_write);
    r.func("down_write_trylock", sys_down_write_trylock);
    r.func("up_write", sys_up_write);
    r.func("downgrade_write", sys_downgrade_write);
}
