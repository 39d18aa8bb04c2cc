//! Sleeping and waking (kernel/sched/wait.c, completion.c, core.c):
//! `schedule()`, `try_to_wake_up`, wait queues, completions.
//!
//! A task's `__state` lives in its `task_struct` (the profile's offset), where
//! inline `set_current_state()` writes it; `schedule()` reads it: a task
//! that set itself sleeping blocks on the one CPU (`exec::cpu`) until
//! `try_to_wake_up` sets it running again; a running task only lets the
//! others run.
//!
//! Wait queues are the module's own lists: `wait_queue_head` and
//! `wait_queue_entry` are linked in module memory as the kernel links them,
//! so inline `waitqueue_active()` and `wait_event*()` work, and `__wake_up`
//! calls each entry's `func` (kload's `autoremove_wake_function` and
//! friends natively, a module's own function as module code).
//!
//! Completions keep `done` in the module's `struct completion` (inline
//! `reinit_completion` writes it); their waiters wait on the CPU's run
//! queue, keyed by the completion's address, oldest first.

use super::printk::LOGLEVEL_ERR;
use super::string::{read, write};
use super::symbols::Registry;
use super::time::{self, MAX_SCHEDULE_TIMEOUT};
use super::Kernel;
use crate::exec::dispatch::CallArgs;
use crate::exec::task::{self, Wake};
use crate::kernel::list::{LIST_POISON1, LIST_POISON2};
use crate::mm;

/// `TASK_RUNNING`.
pub const TASK_RUNNING: u32 = 0;
/// `TASK_INTERRUPTIBLE`.
pub const TASK_INTERRUPTIBLE: u32 = 1;
/// `TASK_UNINTERRUPTIBLE`.
pub const TASK_UNINTERRUPTIBLE: u32 = 2;
/// `TASK_WAKEKILL | TASK_UNINTERRUPTIBLE` (`TASK_KILLABLE`).
pub const TASK_KILLABLE: u32 = 0x100 | TASK_UNINTERRUPTIBLE;
/// `TASK_NORMAL`: what `wake_up()` and `wake_up_process()` wake.
pub const TASK_NORMAL: u32 = TASK_INTERRUPTIBLE | TASK_UNINTERRUPTIBLE;
/// `WQ_FLAG_EXCLUSIVE`.
const WQ_FLAG_EXCLUSIVE: u32 = 0x01;
/// `WQ_FLAG_WOKEN`.
const WQ_FLAG_WOKEN: u32 = 0x02;
/// `UINT_MAX`: the `done` of a `complete_all`ed completion.
const COMPLETE_ALL: u32 = u32::MAX;
/// `-ERESTARTSYS`.
const ERESTARTSYS: i64 = -512;

/// Offsets of a `struct list_head` (`next`, `prev`): the same in every
/// kernel (the profile has `sizeof(struct list_head)` only).
const LIST_NEXT: u64 = 0;
const LIST_PREV: u64 = 8;

fn kernel() -> Option<std::sync::Arc<Kernel>> {
    task::current_kernel()
}

fn field(k: &Kernel, name: &str) -> Option<u64> {
    k.profile.get(name)
}

/// A task's `__state`.
pub fn task_state(k: &Kernel, task_struct: u64) -> Option<u32> {
    let at = task_struct.wrapping_add(field(k, "task_struct.__state")?);
    mm::read_u32(at)
}

pub fn set_task_state(k: &Kernel, task_struct: u64, state: u32) {
    if let Some(off) = field(k, "task_struct.__state") {
        let _ = mm::write_bytes(task_struct.wrapping_add(off), &state.to_le_bytes());
    }
}

fn current_ts() -> u64 {
    task::current_task().map_or(0, |t| t.task_struct)
}

/// `try_to_wake_up(p, state, 0)`: a task sleeping in one of `state`'s
/// states becomes running and joins the run queue; a kthread that never
/// ran starts. Returns whether it was woken.
pub fn try_to_wake_up(k: &Kernel, p: u64, state: u32) -> bool {
    let Some(s) = task_state(k, p) else {
        return false;
    };
    if s & state == 0 {
        return false;
    }
    set_task_state(k, p, TASK_RUNNING);
    if p == current_ts() {
        return true;
    }
    if k.kthreads.take_unstarted(p) {
        k.cpu.wake_key(task::idle_key(p), 1);
        return true;
    }
    if let Some(t) = k.task_by_struct(p) {
        k.cpu.wake_pid(t.pid);
    }
    true
}

/// `void schedule(void)`.
fn sys_schedule(_: &mut CallArgs) -> u64 {
    schedule();
    0
}

/// Block the current task if it set itself sleeping, else let the others
/// run first.
pub fn schedule() {
    let Some(k) = kernel() else { return };
    let ts = current_ts();
    if task_state(&k, ts).unwrap_or(TASK_RUNNING) == TASK_RUNNING {
        task::yield_cpu();
        return;
    }
    task::block(0, None);
    set_task_state(&k, ts, TASK_RUNNING);
}

/// `signed long schedule_timeout(signed long timeout)` as the kernel does
/// it: a running task returns at once with its timeout; a sleeping one
/// blocks until woken or until the timeout passes (0 left) and comes back
/// running; `MAX_SCHEDULE_TIMEOUT` is a plain `schedule()`.
pub fn schedule_timeout(func: &str, timeout: u64, state: Option<u32>) -> u64 {
    let Some(k) = kernel() else { return 0 };
    let ts = current_ts();
    if let Some(s) = state {
        set_task_state(&k, ts, s);
    }
    if timeout == MAX_SCHEDULE_TIMEOUT {
        schedule();
        return timeout;
    }
    if (timeout as i64) < 0 {
        k.log.emit(
            LOGLEVEL_ERR,
            &format!("{func}: wrong timeout value {timeout:x}"),
        );
        set_task_state(&k, ts, TASK_RUNNING);
        return 0;
    }
    if task_state(&k, ts).unwrap_or(TASK_RUNNING) == TASK_RUNNING {
        task::yield_cpu();
        return timeout;
    }
    let start = time::update_jiffies(&k);
    let expire = start.wrapping_add(timeout);
    let how = task::block(0, Some(time::jiffies_duration(timeout)));
    set_task_state(&k, ts, TASK_RUNNING);
    match how {
        Some(Wake::Woken) => {
            let now = time::update_jiffies(&k);
            let left = expire.wrapping_sub(now) as i64;
            left.max(0) as u64
        }
        _ => 0,
    }
}

fn sys_schedule_timeout(a: &mut CallArgs) -> u64 {
    schedule_timeout("schedule_timeout", a.arg(0), None)
}

/// `int wake_up_process(struct task_struct *p)`.
fn sys_wake_up_process(a: &mut CallArgs) -> u64 {
    let Some(k) = kernel() else { return 0 };
    u64::from(try_to_wake_up(&k, a.arg(0), TASK_NORMAL))
}

/// `void yield(void)`.
fn sys_yield(_: &mut CallArgs) -> u64 {
    task::yield_cpu();
    0
}

// ---------------------------------------------------------------- lists

fn rd(func: &str, addr: u64) -> Option<u64> {
    let b = read(func, "the wait queue", addr, 8)?;
    Some(u64::from_le_bytes(b.try_into().ok()?))
}

fn wr(func: &str, addr: u64, v: u64) -> bool {
    write(func, "the wait queue", addr, &v.to_le_bytes())
}

fn init_list_head(func: &str, l: u64) -> bool {
    wr(func, l.wrapping_add(LIST_NEXT), l) && wr(func, l.wrapping_add(LIST_PREV), l)
}

fn list_empty(func: &str, l: u64) -> bool {
    rd(func, l.wrapping_add(LIST_NEXT)) == Some(l)
}

/// Insert `new` between `prev` and `next`.
fn list_insert(func: &str, new: u64, prev: u64, next: u64) -> bool {
    wr(func, next.wrapping_add(LIST_PREV), new)
        && wr(func, new.wrapping_add(LIST_NEXT), next)
        && wr(func, new.wrapping_add(LIST_PREV), prev)
        && wr(func, prev.wrapping_add(LIST_NEXT), new)
}

fn list_add(func: &str, new: u64, head: u64) -> bool {
    rd(func, head.wrapping_add(LIST_NEXT)).is_some_and(|next| list_insert(func, new, head, next))
}

fn list_add_tail(func: &str, new: u64, head: u64) -> bool {
    rd(func, head.wrapping_add(LIST_PREV)).is_some_and(|prev| list_insert(func, new, prev, head))
}

fn list_del_init(func: &str, e: u64) -> bool {
    let (Some(next), Some(prev)) = (
        rd(func, e.wrapping_add(LIST_NEXT)),
        rd(func, e.wrapping_add(LIST_PREV)),
    ) else {
        return false;
    };
    if next == LIST_POISON1 || prev == LIST_POISON2 {
        return false;
    }
    wr(func, next.wrapping_add(LIST_PREV), prev)
        && wr(func, prev.wrapping_add(LIST_NEXT), next)
        && init_list_head(func, e)
}

/// Offsets of `wait_queue_head` and `wait_queue_entry` fields.
struct WqLayout {
    head_lock: u64,
    head_list: u64,
    flags: u64,
    private: u64,
    func: u64,
    entry: u64,
}

fn wq_layout(k: &Kernel) -> Option<WqLayout> {
    Some(WqLayout {
        head_lock: field(k, "wait_queue_head.lock")?,
        head_list: field(k, "wait_queue_head.head")?,
        flags: field(k, "wait_queue_entry.flags")?,
        private: field(k, "wait_queue_entry.private")?,
        func: field(k, "wait_queue_entry.func")?,
        entry: field(k, "wait_queue_entry.entry")?,
    })
}

fn read_u32(func: &str, addr: u64) -> Option<u32> {
    let b = read(func, "the wait queue", addr, 4)?;
    Some(u32::from_le_bytes(b.try_into().ok()?))
}

/// `void __init_waitqueue_head(struct wait_queue_head *wq_head, const char
/// *name, struct lock_class_key *key)`.
fn sys_init_waitqueue_head(a: &mut CallArgs) -> u64 {
    let Some(k) = kernel() else { return 0 };
    let Some(l) = wq_layout(&k) else { return 0 };
    let h = a.arg(0);
    if write(
        "__init_waitqueue_head",
        "the wait queue head",
        h.wrapping_add(l.head_lock),
        &0u32.to_le_bytes(),
    ) {
        init_list_head("__init_waitqueue_head", h.wrapping_add(l.head_list));
    }
    0
}

/// `void __init_swait_queue_head(struct swait_queue_head *q, const char
/// *name, struct lock_class_key *key)`.
fn sys_init_swait_queue_head(a: &mut CallArgs) -> u64 {
    let Some(k) = kernel() else { return 0 };
    let (Some(lock), Some(list)) = (
        field(&k, "swait_queue_head.lock"),
        field(&k, "swait_queue_head.task_list"),
    ) else {
        return 0;
    };
    let q = a.arg(0);
    if write(
        "__init_swait_queue_head",
        "the swait queue head",
        q.wrapping_add(lock),
        &0u32.to_le_bytes(),
    ) {
        init_list_head("__init_swait_queue_head", q.wrapping_add(list));
    }
    0
}

/// `void init_wait_entry(struct wait_queue_entry *wq_entry, int flags)`.
fn sys_init_wait_entry(a: &mut CallArgs) -> u64 {
    let Some(k) = kernel() else { return 0 };
    let Some(l) = wq_layout(&k) else { return 0 };
    let (e, flags) = (a.arg(0), a.arg(1) as u32);
    let func = super::symbols::lookup("autoremove_wake_function")
        .ok()
        .flatten()
        .unwrap_or(0);
    let f = "init_wait_entry";
    let _ = write(
        f,
        "the wait entry",
        e.wrapping_add(l.flags),
        &flags.to_le_bytes(),
    ) && wr(f, e.wrapping_add(l.private), current_ts())
        && wr(f, e.wrapping_add(l.func), func)
        && init_list_head(f, e.wrapping_add(l.entry));
    0
}

/// Queue `e` on `h` if it is not queued yet (exclusive waiters at the
/// tail), then set the task's state: `prepare_to_wait*`.
fn prepare(func: &str, h: u64, e: u64, state: u32, exclusive: Option<bool>) {
    let Some(k) = kernel() else { return };
    let Some(l) = wq_layout(&k) else { return };
    let flags = read_u32(func, e.wrapping_add(l.flags)).unwrap_or(0);
    let flags = match exclusive {
        Some(true) => flags | WQ_FLAG_EXCLUSIVE,
        Some(false) => flags & !WQ_FLAG_EXCLUSIVE,
        None => flags,
    };
    let _ = write(
        func,
        "the wait entry",
        e.wrapping_add(l.flags),
        &flags.to_le_bytes(),
    );
    if list_empty(func, e.wrapping_add(l.entry)) {
        if flags & WQ_FLAG_EXCLUSIVE != 0 {
            list_add_tail(func, e.wrapping_add(l.entry), h.wrapping_add(l.head_list));
        } else {
            list_add(func, e.wrapping_add(l.entry), h.wrapping_add(l.head_list));
        }
    }
    set_task_state(&k, current_ts(), state);
}

/// `long prepare_to_wait_event(struct wait_queue_head *wq_head, struct
/// wait_queue_entry *wq_entry, int state)`: no signal is ever pending.
fn sys_prepare_to_wait_event(a: &mut CallArgs) -> u64 {
    prepare(
        "prepare_to_wait_event",
        a.arg(0),
        a.arg(1),
        a.arg(2) as u32,
        None,
    );
    0
}

/// `void prepare_to_wait(wq_head, wq_entry, state)`.
fn sys_prepare_to_wait(a: &mut CallArgs) -> u64 {
    prepare(
        "prepare_to_wait",
        a.arg(0),
        a.arg(1),
        a.arg(2) as u32,
        Some(false),
    );
    0
}

/// `bool prepare_to_wait_exclusive(wq_head, wq_entry, state)`: whether the
/// queue was empty.
fn sys_prepare_to_wait_exclusive(a: &mut CallArgs) -> u64 {
    let Some(k) = kernel() else { return 0 };
    let Some(l) = wq_layout(&k) else { return 0 };
    let was_empty = list_empty(
        "prepare_to_wait_exclusive",
        a.arg(0).wrapping_add(l.head_list),
    );
    prepare(
        "prepare_to_wait_exclusive",
        a.arg(0),
        a.arg(1),
        a.arg(2) as u32,
        Some(true),
    );
    u64::from(was_empty)
}

/// `void finish_wait(wq_head, wq_entry)`.
fn sys_finish_wait(a: &mut CallArgs) -> u64 {
    let Some(k) = kernel() else { return 0 };
    let Some(l) = wq_layout(&k) else { return 0 };
    set_task_state(&k, current_ts(), TASK_RUNNING);
    let e = a.arg(1).wrapping_add(l.entry);
    if !list_empty("finish_wait", e) {
        list_del_init("finish_wait", e);
    }
    0
}

/// `void add_wait_queue(wq_head, wq_entry)` / `_exclusive`.
fn add_wait_queue(func: &str, a: &CallArgs, exclusive: bool) -> u64 {
    let Some(k) = kernel() else { return 0 };
    let Some(l) = wq_layout(&k) else { return 0 };
    let (h, e) = (a.arg(0), a.arg(1));
    let flags = read_u32(func, e.wrapping_add(l.flags)).unwrap_or(0);
    let flags = if exclusive {
        flags | WQ_FLAG_EXCLUSIVE
    } else {
        flags & !WQ_FLAG_EXCLUSIVE
    };
    let _ = write(
        func,
        "the wait entry",
        e.wrapping_add(l.flags),
        &flags.to_le_bytes(),
    );
    if exclusive {
        list_add_tail(func, e.wrapping_add(l.entry), h.wrapping_add(l.head_list));
    } else {
        list_add(func, e.wrapping_add(l.entry), h.wrapping_add(l.head_list));
    }
    0
}

fn sys_add_wait_queue(a: &mut CallArgs) -> u64 {
    add_wait_queue("add_wait_queue", a, false)
}

fn sys_add_wait_queue_exclusive(a: &mut CallArgs) -> u64 {
    add_wait_queue("add_wait_queue_exclusive", a, true)
}

/// `void remove_wait_queue(wq_head, wq_entry)`.
fn sys_remove_wait_queue(a: &mut CallArgs) -> u64 {
    let Some(k) = kernel() else { return 0 };
    let Some(l) = wq_layout(&k) else { return 0 };
    list_del_init("remove_wait_queue", a.arg(1).wrapping_add(l.entry));
    0
}

/// `int default_wake_function(wq_entry, mode, wake_flags, key)`.
fn default_wake(k: &Kernel, e: u64, mode: u32) -> bool {
    let Some(l) = wq_layout(k) else { return false };
    let Some(p) = rd("default_wake_function", e.wrapping_add(l.private)) else {
        return false;
    };
    try_to_wake_up(k, p, mode)
}

fn sys_default_wake_function(a: &mut CallArgs) -> u64 {
    let Some(k) = kernel() else { return 0 };
    u64::from(default_wake(&k, a.arg(0), a.arg(1) as u32))
}

/// `int autoremove_wake_function(...)`: wake, and dequeue the entry if
/// that woke its task.
fn autoremove_wake(k: &Kernel, e: u64, mode: u32) -> bool {
    let woken = default_wake(k, e, mode);
    if woken {
        if let Some(l) = wq_layout(k) {
            list_del_init("autoremove_wake_function", e.wrapping_add(l.entry));
        }
    }
    woken
}

fn sys_autoremove_wake_function(a: &mut CallArgs) -> u64 {
    let Some(k) = kernel() else { return 0 };
    u64::from(autoremove_wake(&k, a.arg(0), a.arg(1) as u32))
}

/// `int woken_wake_function(...)`: mark the entry woken, then wake.
fn woken_wake(k: &Kernel, e: u64, mode: u32) -> bool {
    if let Some(l) = wq_layout(k) {
        let f = "woken_wake_function";
        let flags = read_u32(f, e.wrapping_add(l.flags)).unwrap_or(0) | WQ_FLAG_WOKEN;
        let _ = write(
            f,
            "the wait entry",
            e.wrapping_add(l.flags),
            &flags.to_le_bytes(),
        );
    }
    default_wake(k, e, mode)
}

fn sys_woken_wake_function(a: &mut CallArgs) -> u64 {
    let Some(k) = kernel() else { return 0 };
    u64::from(woken_wake(&k, a.arg(0), a.arg(1) as u32))
}

/// `long wait_woken(struct wait_queue_entry *wq_entry, unsigned mode, long
/// timeout)`.
fn sys_wait_woken(a: &mut CallArgs) -> u64 {
    let Some(k) = kernel() else { return 0 };
    let Some(l) = wq_layout(&k) else { return 0 };
    let (e, mode, mut timeout) = (a.arg(0), a.arg(1) as u32, a.arg(2));
    let f = "wait_woken";
    set_task_state(&k, current_ts(), mode);
    let flags = read_u32(f, e.wrapping_add(l.flags)).unwrap_or(0);
    if flags & WQ_FLAG_WOKEN == 0 {
        timeout = schedule_timeout(f, timeout, None);
    }
    set_task_state(&k, current_ts(), TASK_RUNNING);
    let flags = read_u32(f, e.wrapping_add(l.flags)).unwrap_or(0) & !WQ_FLAG_WOKEN;
    let _ = write(
        f,
        "the wait entry",
        e.wrapping_add(l.flags),
        &flags.to_le_bytes(),
    );
    timeout
}

/// `__wake_up_common`: walk the queue, call each entry's function; stop
/// after `nr_exclusive` exclusive waiters were woken (0: wake all).
fn wake_up_common(k: &Kernel, h: u64, mode: u32, nr_exclusive: u32, key: u64) -> u32 {
    let f = "__wake_up";
    let Some(l) = wq_layout(k) else { return 0 };
    let head = h.wrapping_add(l.head_list);
    let lookup = |name: &str| super::symbols::lookup(name).ok().flatten().unwrap_or(0);
    let (autoremove, default, woken_fn) = (
        lookup("autoremove_wake_function"),
        lookup("default_wake_function"),
        lookup("woken_wake_function"),
    );
    let mut remaining = nr_exclusive;
    let mut woken = 0;
    let Some(mut node) = rd(f, head.wrapping_add(LIST_NEXT)) else {
        return 0;
    };
    // A queue cannot be longer than this; a corrupt one ends the walk.
    for _ in 0..100_000 {
        if node == head {
            break;
        }
        let Some(next) = rd(f, node.wrapping_add(LIST_NEXT)) else {
            break;
        };
        let e = node.wrapping_sub(l.entry);
        let flags = read_u32(f, e.wrapping_add(l.flags)).unwrap_or(0);
        let func = rd(f, e.wrapping_add(l.func)).unwrap_or(0);
        let ret: i64 = if func == autoremove {
            i64::from(autoremove_wake(k, e, mode))
        } else if func == default {
            i64::from(default_wake(k, e, mode))
        } else if func == woken_fn {
            i64::from(woken_wake(k, e, mode))
        } else if func == 0 {
            0
        } else {
            match task::call_module(func, [e, u64::from(mode), 0, key, 0, 0]) {
                Ok(r) => i64::from(r as u32 as i32),
                Err(_) => return woken,
            }
        };
        if ret < 0 {
            break;
        }
        if ret > 0 {
            woken += 1;
            if flags & WQ_FLAG_EXCLUSIVE != 0 && remaining > 0 {
                remaining -= 1;
                if remaining == 0 {
                    break;
                }
            }
        }
        node = next;
    }
    woken
}

/// `void __wake_up(wq_head, mode, nr_exclusive, key)` (6.12: returns the
/// number of exclusive waiters woken... any woken; kload returns how many
/// entries woke their task).
fn sys_wake_up(a: &mut CallArgs) -> u64 {
    let Some(k) = kernel() else { return 0 };
    u64::from(wake_up_common(
        &k,
        a.arg(0),
        a.arg(1) as u32,
        a.arg(2) as u32,
        a.arg(3),
    ))
}

/// `void __wake_up_sync_key(wq_head, mode, key)`: one exclusive waiter.
fn sys_wake_up_sync_key(a: &mut CallArgs) -> u64 {
    let Some(k) = kernel() else { return 0 };
    wake_up_common(&k, a.arg(0), a.arg(1) as u32, 1, a.arg(2));
    0
}

/// `void __wake_up_locked(wq_head, mode, nr)`.
fn sys_wake_up_locked(a: &mut CallArgs) -> u64 {
    let Some(k) = kernel() else { return 0 };
    wake_up_common(&k, a.arg(0), a.arg(1) as u32, a.arg(2) as u32, 0);
    0
}

// ---------------------------------------------------------- completions

fn done_addr(k: &Kernel, x: u64) -> Option<u64> {
    Some(x.wrapping_add(field(k, "completion.done")?))
}

fn read_done(k: &Kernel, func: &str, x: u64) -> Option<u32> {
    let b = read(func, "the completion", done_addr(k, x)?, 4)?;
    Some(u32::from_le_bytes(b.try_into().ok()?))
}

fn write_done(k: &Kernel, func: &str, x: u64, v: u32) -> bool {
    done_addr(k, x).is_some_and(|at| write(func, "the completion", at, &v.to_le_bytes()))
}

/// `void complete(struct completion *x)`: one more `done`, the oldest
/// waiter woken.
fn sys_complete(a: &mut CallArgs) -> u64 {
    let Some(k) = kernel() else { return 0 };
    let x = a.arg(0);
    let Some(done) = read_done(&k, "complete", x) else {
        return 0;
    };
    if done != COMPLETE_ALL && write_done(&k, "complete", x, done + 1) {
        k.cpu.wake_key(x, 1);
    }
    0
}

/// `void complete_all(struct completion *x)`.
fn sys_complete_all(a: &mut CallArgs) -> u64 {
    let Some(k) = kernel() else { return 0 };
    let x = a.arg(0);
    if write_done(&k, "complete_all", x, COMPLETE_ALL) {
        k.cpu.wake_key(x, 0);
    }
    0
}

/// `do_wait_for_common`: wait for `done`, consume one. `Some(left)` (at
/// least 1 jiffy, as the kernel reports) on success, `None` on a timeout.
fn wait_for_completion(func: &str, x: u64, timeout: u64, state: u32) -> Option<u64> {
    let k = kernel()?;
    let ts = current_ts();
    let endless = timeout == MAX_SCHEDULE_TIMEOUT;
    let start = time::update_jiffies(&k);
    let expire = start.wrapping_add(timeout);
    loop {
        let done = read_done(&k, func, x)?;
        if done > 0 {
            if done != COMPLETE_ALL {
                write_done(&k, func, x, done - 1);
            }
            let now = time::update_jiffies(&k);
            let left = if endless {
                timeout
            } else {
                (expire.wrapping_sub(now) as i64).max(1) as u64
            };
            return Some(left);
        }
        if task::is_dying() {
            return None;
        }
        let wait = if endless {
            None
        } else {
            let now = time::update_jiffies(&k);
            let left = expire.wrapping_sub(now) as i64;
            if left <= 0 {
                return None;
            }
            Some(time::jiffies_duration(left as u64))
        };
        set_task_state(&k, ts, state);
        let how = task::block(x, wait);
        set_task_state(&k, ts, TASK_RUNNING);
        how?;
    }
}

fn sys_wait_for_completion(a: &mut CallArgs) -> u64 {
    wait_for_completion(
        "wait_for_completion",
        a.arg(0),
        MAX_SCHEDULE_TIMEOUT,
        TASK_UNINTERRUPTIBLE,
    );
    0
}

fn sys_wait_for_completion_io(a: &mut CallArgs) -> u64 {
    wait_for_completion(
        "wait_for_completion_io",
        a.arg(0),
        MAX_SCHEDULE_TIMEOUT,
        TASK_UNINTERRUPTIBLE,
    );
    0
}

/// `unsigned long wait_for_completion_timeout(x, timeout)`: 0 on timeout.
fn sys_wait_for_completion_timeout(a: &mut CallArgs) -> u64 {
    wait_for_completion(
        "wait_for_completion_timeout",
        a.arg(0),
        a.arg(1),
        TASK_UNINTERRUPTIBLE,
    )
    .unwrap_or(0)
}

/// `int wait_for_completion_interruptible(x)`: no signal comes, so 0.
fn sys_wait_for_completion_interruptible(a: &mut CallArgs) -> u64 {
    match wait_for_completion(
        "wait_for_completion_interruptible",
        a.arg(0),
        MAX_SCHEDULE_TIMEOUT,
        TASK_INTERRUPTIBLE,
    ) {
        Some(_) => 0,
        None => ERESTARTSYS as u64,
    }
}

fn sys_wait_for_completion_killable(a: &mut CallArgs) -> u64 {
    match wait_for_completion(
        "wait_for_completion_killable",
        a.arg(0),
        MAX_SCHEDULE_TIMEOUT,
        TASK_KILLABLE,
    ) {
        Some(_) => 0,
        None => ERESTARTSYS as u64,
    }
}

/// `long wait_for_completion_interruptible_timeout(x, timeout)`.
fn sys_wait_for_completion_interruptible_timeout(a: &mut CallArgs) -> u64 {
    wait_for_completion(
        "wait_for_completion_interruptible_timeout",
        a.arg(0),
        a.arg(1),
        TASK_INTERRUPTIBLE,
    )
    .unwrap_or(0)
}

fn sys_wait_for_completion_killable_timeout(a: &mut CallArgs) -> u64 {
    wait_for_completion(
        "wait_for_completion_killable_timeout",
        a.arg(0),
        a.arg(1),
        TASK_KILLABLE,
    )
    .unwrap_or(0)
}

/// `bool try_wait_for_completion(struct completion *x)`.
fn sys_try_wait_for_completion(a: &mut CallArgs) -> u64 {
    let Some(k) = kernel() else { return 0 };
    let x = a.arg(0);
    match read_done(&k, "try_wait_for_completion", x) {
        Some(0) | None => 0,
        Some(COMPLETE_ALL) => 1,
        Some(d) => u64::from(write_done(&k, "try_wait_for_completion", x, d - 1)),
    }
}

/// `bool completion_done(struct completion *x)`.
fn sys_completion_done(a: &mut CallArgs) -> u64 {
    let Some(k) = kernel() else { return 0 };
    u64::from(read_done(&k, "completion_done", a.arg(0)).is_some_and(|d| d != 0))
}

pub(super) fn register(r: &mut Registry) {
    r.func("schedule", sys_schedule);
    r.func("schedule_timeout", sys_schedule_timeout);
    r.func("wake_up_process", sys_wake_up_process);
    r.func("yield", sys_yield);
    r.func("__init_waitqueue_head", sys_init_waitqueue_head);
    r.func("__init_swait_queue_head", sys_init_swait_queue_head);
    r.func("init_wait_entry", sys_init_wait_entry);
    r.func("prepare_to_wait_event", sys_prepare_to_wait_event);
    r.func("prepare_to_wait", sys_prepare_to_wait);
    r.func("prepare_to_wait_exclusive", sys_prepare_to_wait_exclusive);
    r.func("finish_wait", sys_finish_wait);
    r.func("add_wait_queue", sys_add_wait_queue);
    r.func("add_wait_queue_exclusive", sys_add_wait_queue_exclusive);
    r.func("remove_wait_queue", sys_remove_wait_queue);
    r.func("default_wake_function", sys_default_wake_function);
    r.func("autoremove_wake_function", sys_autoremove_wake_function);
    r.func("woken_wake_function", sys_woken_wake_function);
    r.func("wait_woken", sys_wait_woken);
    r.func("__wake_up", sys_wake_up);
    r.func("__wake_up_sync_key", sys_wake_up_sync_key);
    r.func("__wake_up_locked", sys_wake_up_locked);
    r.func("complete", sys_complete);
    r.func("complete_all", sys_complete_all);
    r.func("wait_for_completion", sys_wait_for_completion);
    r.func("wait_for_completion_io", sys_wait_for_completion_io);
    r.func(
        "wait_for_completion_timeout",
        sys_wait_for_completion_timeout,
    );
    r.func(
        "wait_for_completion_interruptible",
        sys_wait_for_completion_interruptible,
    );
    r.func(
        "wait_for_completion_killable",
        sys_wait_for_completion_killable,
    );
    r.func(
        "wait_for_completion_interruptible_timeout",
        sys_wait_for_completion_interruptible_timeout,
    );
    r.func(
        "wait_for_completion_killable_timeout",
        sys_wait_for_completion_killable_timeout,
    );
    r.func("try_wait_for_completion", sys_try_wait_for_completion);
    r.func("completion_done", sys_completion_done);
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::*;
    use crate::exec::task::{run_task, spawn_task};
    use crate::kernel::locking::{sys_mutex_lock, sys_mutex_unlock};
    use crate::mm::{LowRegion, Prot};
    use crate::profile::PROFILES;

    fn scratch() -> LowRegion {
        LowRegion::alloc(4096, Prot::ReadWrite, "test").unwrap()
    }

    /// Start a spawned task and let it run until it blocks or ends.
    fn start(k: &Kernel, ts: u64) {
        k.cpu.wake_key(task::idle_key(ts), 1);
        task::yield_cpu();
    }

    /// Waiters get a completion in the order they waited; `complete_all`
    /// releases every one; `done` is the module's field.
    #[test]
    fn completion_waiters_run_in_wait_order() {
        for p in PROFILES {
            let k = Kernel::boot(p).unwrap();
            let mem = scratch();
            let x = mem.addr();
            let order = Arc::new(Mutex::new(Vec::new()));
            run_task(&k, "test", || {
                for n in 1..=3u32 {
                    let order = Arc::clone(&order);
                    let t = spawn_task(&k, "waiter", None, move |_| {
                        CallArgs::call(sys_wait_for_completion, &[x]);
                        order.lock().unwrap().push(n);
                    })
                    .unwrap();
                    start(&k, t.task_struct);
                }
                assert!(order.lock().unwrap().is_empty());
                CallArgs::call(sys_complete, &[x]);
                CallArgs::call(sys_complete, &[x]);
                task::yield_cpu();
                assert_eq!(*order.lock().unwrap(), vec![1, 2]);
                CallArgs::call(sys_complete_all, &[x]);
                task::yield_cpu();
                assert_eq!(*order.lock().unwrap(), vec![1, 2, 3]);
                assert_eq!(CallArgs::call(sys_completion_done, &[x]), 1);
                assert_eq!(read_done(&k, "test", x), Some(COMPLETE_ALL));
                // A timeout that passes returns 0.
                let y = x + 64;
                let left = CallArgs::call(sys_wait_for_completion_timeout, &[y, 2]);
                assert_eq!(left, 0);
            })
            .unwrap();
        }
    }

    /// `schedule()` of a task that set itself sleeping blocks until
    /// `wake_up_process`, which then finds it running.
    #[test]
    fn schedule_sleeps_until_wake_up_process() {
        for p in PROFILES {
            let k = Kernel::boot(p).unwrap();
            let log = Arc::new(Mutex::new(Vec::new()));
            run_task(&k, "test", || {
                let l = Arc::clone(&log);
                let kk = Arc::clone(&k);
                let t = spawn_task(&k, "sleeper", None, move |t| {
                    set_task_state(&kk, t.task_struct, TASK_INTERRUPTIBLE);
                    schedule();
                    l.lock().unwrap().push("woken");
                })
                .unwrap();
                start(&k, t.task_struct);
                assert_eq!(task_state(&k, t.task_struct), Some(TASK_INTERRUPTIBLE));
                assert!(log.lock().unwrap().is_empty());
                assert_eq!(CallArgs::call(sys_wake_up_process, &[t.task_struct]), 1);
                assert_eq!(CallArgs::call(sys_wake_up_process, &[t.task_struct]), 0);
                task::yield_cpu();
                assert_eq!(*log.lock().unwrap(), vec!["woken"]);
            })
            .unwrap();
        }
    }

    /// A mutex held by a task that sleeps is waited for (not reported as
    /// a deadlock): the waiter gets it when the holder unlocks.
    #[test]
    fn a_mutex_held_by_a_sleeping_task_is_waited_for() {
        for p in PROFILES {
            let k = Kernel::boot(p).unwrap();
            let mem = scratch();
            let m = mem.addr();
            let log = Arc::new(Mutex::new(Vec::new()));
            run_task(&k, "test", || {
                let l = Arc::clone(&log);
                let t = spawn_task(&k, "holder", None, move |_| {
                    CallArgs::call(sys_mutex_lock, &[m]);
                    l.lock().unwrap().push("holder locked");
                    task::block(0, Some(Duration::from_millis(20)));
                    l.lock().unwrap().push("holder unlocks");
                    CallArgs::call(sys_mutex_unlock, &[m]);
                })
                .unwrap();
                start(&k, t.task_struct);
                CallArgs::call(sys_mutex_lock, &[m]);
                assert!(!task::is_dying());
                log.lock().unwrap().push("main locked");
                CallArgs::call(sys_mutex_unlock, &[m]);
            })
            .unwrap();
            assert_eq!(
                *log.lock().unwrap(),
                vec!["holder locked", "holder unlocks", "main locked"]
            );
        }
    }

    /// A command that sleeps with nothing left to wake it is reported and
    /// killed instead of hanging.
    #[test]
    fn a_command_blocked_for_ever_is_killed() {
        let k = Kernel::boot(PROFILES[0]).unwrap();
        let died = run_task(&k, "insmod", || {
            set_task_state(&k, current_ts(), TASK_INTERRUPTIBLE);
            schedule();
            task::is_dying()
        })
        .unwrap();
        assert!(died);
        let log: Vec<String> = k.log.records().into_iter().map(|r| r.text).collect();
        assert!(
            log.iter()
                .any(|l| l.contains("is blocked and nothing is left that could wake it")),
            "{log:#?}"
        );
    }
}
