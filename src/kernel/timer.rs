//! Timers (kernel/time/timer.c): `timer_list`s armed by jiffies, their
//! callbacks run in softirq context on the timer task.
//!
//! Pending timers are kept on kload's side, keyed by the `timer_list`'s
//! address; the module's `timer_list` is kept as inline code reads it:
//! `entry.pprev` is non-NULL exactly while the timer is pending
//! (`timer_pending()`), `expires` holds the expiry, `function` is read
//! when the timer fires (modules may change it).
//!
//! The timer task (`swapper/0`, pid 0: on an idle machine the timer
//! softirq runs on the idle task's interrupt exit) starts with the first
//! armed timer. It waits off the CPU until the earliest expiry, joins the
//! run queue, and runs every expired timer, oldest expiry first, with
//! `SOFTIRQ_OFFSET` in the preempt count (`in_softirq()`), as
//! `run_timer_softirq` does. A callback that dies (an Oops) is reported as
//! the kernel reports a fatal exception in interrupt context; kload ends
//! only that callback.

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::list::LIST_POISON2;
use super::printk::LOGLEVEL_ERR;
use super::string::{read, write};
use super::symbols::Registry;
use super::time::{self, update_jiffies};
use super::Kernel;
use crate::exec::dispatch::CallArgs;
use crate::exec::task::{self, Task};
use crate::module::Module;

/// Offsets of `hlist_node` (`next`, `pprev`), the same in every kernel;
/// the profile has no `hlist_node.*` keys.
const HLIST_NEXT: u64 = 0;
const HLIST_PPREV: u64 = 8;

#[derive(Debug, Clone, Copy)]
struct Pending {
    expires: u64,
    /// Arming order, for timers with the same expiry.
    seq: u64,
}

#[derive(Default)]
struct TimerState {
    pending: BTreeMap<u64, Pending>,
    /// The timer whose callback runs now.
    running: Option<u64>,
    seq: u64,
    /// Timers of `delayed_work`s: the timer → the workqueue to queue on.
    delayed: BTreeMap<u64, u64>,
}

/// One kernel's timers and its timer task.
#[derive(Default)]
pub struct Timers {
    st: Mutex<TimerState>,
    /// Signalled when a timer is armed or removed.
    cv: Condvar,
    task: Mutex<Option<Arc<Task>>>,
}

/// Field offsets of `struct timer_list`.
#[derive(Clone, Copy)]
struct Layout {
    entry: u64,
    expires: u64,
    function: u64,
    flags: u64,
}

fn layout(k: &Kernel) -> Option<Layout> {
    let p = k.profile;
    Some(Layout {
        entry: p.get("timer_list.entry")?,
        expires: p.get("timer_list.expires")?,
        function: p.get("timer_list.function")?,
        flags: p.get("timer_list.flags")?,
    })
}

fn rd(func: &str, addr: u64) -> Option<u64> {
    let b = read(func, "the timer", addr, 8)?;
    Some(u64::from_le_bytes(b.try_into().ok()?))
}

fn wr(func: &str, addr: u64, v: u64) -> bool {
    write(func, "the timer", addr, &v.to_le_bytes())
}

/// `time_after_eq(a, b)`.
fn time_after_eq(a: u64, b: u64) -> bool {
    (a.wrapping_sub(b) as i64) >= 0
}

impl Timers {
    fn state(&self) -> MutexGuard<'_, TimerState> {
        self.st.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether any timer is pending.
    pub fn any_pending(&self) -> bool {
        !self.state().pending.is_empty()
    }

    /// Whether `timer` is pending.
    pub fn is_pending(&self, timer: u64) -> bool {
        self.state().pending.contains_key(&timer)
    }

    /// Remember that `timer` belongs to a delayed work for workqueue `wq`.
    pub(crate) fn set_delayed(&self, timer: u64, wq: u64) {
        self.state().delayed.insert(timer, wq);
    }
}

/// `enqueue_timer`: pending on kload's side, `pprev` set in the module's
/// struct. Returns whether it was pending before.
pub(crate) fn arm(k: &Arc<Kernel>, func: &str, timer: u64, expires: u64) -> bool {
    let Some(l) = layout(k) else { return false };
    if !wr(func, timer.wrapping_add(l.expires), expires) {
        return false;
    }
    // `pprev` points at the previous node's `next`; there is no bucket
    // list in module memory, so it points at the node's own `next`.
    wr(
        func,
        timer.wrapping_add(l.entry).wrapping_add(HLIST_PPREV),
        timer.wrapping_add(l.entry).wrapping_add(HLIST_NEXT),
    );
    let was = {
        let mut st = k.timers.state();
        st.seq += 1;
        let seq = st.seq;
        st.pending.insert(timer, Pending { expires, seq }).is_some()
    };
    k.timers.cv.notify_all();
    start_timer_task(k);
    was
}

/// `detach_timer`: no longer pending (`pprev` NULL, `next` poisoned).
/// Returns whether it was pending.
pub(crate) fn detach(k: &Kernel, func: &str, timer: u64) -> bool {
    let was = k.timers.state().pending.remove(&timer).is_some();
    if was {
        if let Some(l) = layout(k) {
            wr(
                func,
                timer.wrapping_add(l.entry).wrapping_add(HLIST_PPREV),
                0,
            );
            wr(
                func,
                timer.wrapping_add(l.entry).wrapping_add(HLIST_NEXT),
                LIST_POISON2,
            );
        }
        k.timers.cv.notify_all();
    }
    was
}

/// Wait (a blocking point) until `timer`'s callback is not running.
fn wait_running(k: &Kernel, timer: u64) {
    let me = task::current_task().map(|t| t.pid);
    let timer_task = k
        .timers
        .task
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .map(|t| t.pid);
    if me.is_some() && me == timer_task {
        // The callback deleting its own timer: nothing to wait for.
        return;
    }
    while k.timers.state().running == Some(timer) {
        if task::block(timer, None).is_none() || task::is_dying() {
            return;
        }
    }
}

fn start_timer_task(k: &Arc<Kernel>) {
    let mut slot = k.timers.task.lock().unwrap_or_else(|p| p.into_inner());
    if slot.is_some() {
        return;
    }
    let weak = Arc::downgrade(k);
    match task::spawn_task(k, "swapper/0", Some(0), move |_t| timer_task(weak)) {
        Ok(t) => {
            k.cpu.wake_key(task::idle_key(t.task_struct), 1);
            *slot = Some(t);
        }
        Err(e) => k.log.emit(
            LOGLEVEL_ERR,
            &format!("kload: cannot start the timer task: {e}; timers will not fire"),
        ),
    }
}

/// The timer task's loop: it starts on the CPU.
fn timer_task(weak: std::sync::Weak<Kernel>) {
    loop {
        let Some(k) = weak.upgrade() else { return };
        run_expired(&k);
        // Off the CPU (and out of the run queue) until a timer is due.
        task::release_cpu();
        let mut st = k.timers.state();
        loop {
            let now = update_jiffies(&k);
            let next = st
                .pending
                .values()
                .map(|p| p.expires)
                .min_by_key(|e| e.wrapping_sub(now) as i64);
            if next.is_some_and(|e| time_after_eq(now, e)) {
                break;
            }
            let wait = match next {
                Some(e) => time::jiffies_duration(e.wrapping_sub(now)),
                // Nothing armed: look again now and then.
                None => std::time::Duration::from_millis(200),
            };
            st = k
                .timers
                .cv
                .wait_timeout(st, wait)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        drop(st);
        drop(k);
        task::acquire_cpu();
    }
}

/// `__run_timers`: run every expired timer, on the CPU.
fn run_expired(k: &Arc<Kernel>) {
    let Some(l) = layout(k) else { return };
    let softirq = k.profile.get("SOFTIRQ_OFFSET").unwrap_or(0x100) as u32;
    loop {
        let now = update_jiffies(k);
        let next = {
            let st = k.timers.state();
            st.pending
                .iter()
                .filter(|(_, p)| time_after_eq(now, p.expires))
                .min_by_key(|(_, p)| (p.expires.wrapping_sub(now) as i64, p.seq))
                .map(|(t, _)| *t)
        };
        let Some(timer) = next else { return };
        let func = rd("run_timer_softirq", timer.wrapping_add(l.function)).unwrap_or(0);
        detach(k, "run_timer_softirq", timer);
        if func == 0 {
            continue;
        }
        let delayed_wq = k.timers.state().delayed.get(&timer).copied();
        let dwork_fn = super::symbols::lookup("delayed_work_timer_fn")
            .ok()
            .flatten();
        if Some(func) == dwork_fn {
            super::workqueue::delayed_timer_fired(k, timer, delayed_wq);
            continue;
        }
        k.timers.state().running = Some(timer);
        let before = k.sched.preempt_count(&k.percpu).unwrap_or(0);
        let _ = k
            .sched
            .set_preempt_count(&k.percpu, before.wrapping_add(softirq));
        let outcome = task::call_module(func, [timer, 0, 0, 0, 0, 0]);
        let _ = k.sched.set_preempt_count(&k.percpu, before);
        k.timers.state().running = None;
        k.cpu.wake_key(timer, 0);
        if let Err(why) = outcome {
            // `oops_end` in interrupt context panicked (the report says
            // so); kload ends only the callback and goes on.
            k.log.emit(
                LOGLEVEL_ERR,
                &format!(
                    "kload: the timer callback {} died ({why}); the real kernel stops here, kload goes on without it",
                    k.symbol_name(func)
                ),
            );
            task::revive();
        }
    }
}

/// `void init_timer_key(struct timer_list *timer, void (*func)(struct
/// timer_list *), unsigned int flags, const char *name, struct
/// lock_class_key *key)`.
fn sys_init_timer_key(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let Some(l) = layout(&k) else { return 0 };
    let (timer, func, flags) = (a.arg(0), a.arg(1), a.arg(2) as u32);
    let f = "init_timer_key";
    if detach(&k, f, timer) {
        // Re-initialising a pending timer: the kernel would corrupt its
        // bucket list (debugobjects would complain); kload forgets it.
        k.log.emit(
            LOGLEVEL_ERR,
            &format!("kload: init_timer_key: timer {timer:#x} was still pending; it is dropped"),
        );
    }
    let _ = wr(f, timer.wrapping_add(l.entry).wrapping_add(HLIST_PPREV), 0)
        && wr(f, timer.wrapping_add(l.entry).wrapping_add(HLIST_NEXT), 0)
        && wr(f, timer.wrapping_add(l.function), func)
        && write(
            f,
            "the timer",
            timer.wrapping_add(l.flags),
            &flags.to_le_bytes(),
        );
    0
}

/// Whether `timer` was shut down (`function` NULL): arming it is ignored.
fn shut_down(k: &Kernel, func: &str, timer: u64) -> bool {
    layout(k).is_some_and(|l| rd(func, timer.wrapping_add(l.function)) == Some(0))
}

/// `int mod_timer(struct timer_list *timer, unsigned long expires)`.
fn sys_mod_timer(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let (timer, expires) = (a.arg(0), a.arg(1));
    if shut_down(&k, "mod_timer", timer) {
        return 0;
    }
    u64::from(arm(&k, "mod_timer", timer, expires))
}

/// `int mod_timer_pending(timer, expires)`: only a pending timer moves.
fn sys_mod_timer_pending(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let (timer, expires) = (a.arg(0), a.arg(1));
    if !k.timers.is_pending(timer) || shut_down(&k, "mod_timer_pending", timer) {
        return 0;
    }
    u64::from(arm(&k, "mod_timer_pending", timer, expires))
}

/// `int timer_reduce(timer, expires)`: a pending timer only moves earlier.
fn sys_timer_reduce(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let (timer, expires) = (a.arg(0), a.arg(1));
    if shut_down(&k, "timer_reduce", timer) {
        return 0;
    }
    let current = k.timers.state().pending.get(&timer).map(|p| p.expires);
    if let Some(cur) = current {
        if time_after_eq(expires, cur) {
            return 1;
        }
    }
    u64::from(arm(&k, "timer_reduce", timer, expires))
}

/// `void add_timer(struct timer_list *timer)`: arm at `timer->expires`.
fn sys_add_timer(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let Some(l) = layout(&k) else { return 0 };
    let timer = a.arg(0);
    if k.timers.is_pending(timer) {
        crate::kernel::panic::kload_bug(
            "add_timer of a pending timer (BUG_ON(timer_pending(timer)))",
            a.caller(),
        );
        return 0;
    }
    if shut_down(&k, "add_timer", timer) {
        return 0;
    }
    if let Some(expires) = rd("add_timer", timer.wrapping_add(l.expires)) {
        arm(&k, "add_timer", timer, expires);
    }
    0
}

/// `int timer_delete(struct timer_list *timer)` (6.1's inline `del_timer`).
fn sys_timer_delete(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    u64::from(detach(&k, "timer_delete", a.arg(0)))
}

/// `int try_to_del_timer_sync(timer)`: -1 while its callback runs.
fn sys_try_to_del_timer_sync(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let timer = a.arg(0);
    if k.timers.state().running == Some(timer) {
        return (-1i64) as u64;
    }
    u64::from(detach(&k, "try_to_del_timer_sync", timer))
}

/// `int timer_delete_sync(struct timer_list *timer)`: deactivate, and wait
/// for a running callback to finish (a blocking point).
fn sys_timer_delete_sync(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let timer = a.arg(0);
    wait_running(&k, timer);
    u64::from(detach(&k, "timer_delete_sync", timer))
}

/// `int timer_shutdown_sync(timer)`: delete for good (`function` = NULL).
fn sys_timer_shutdown_sync(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let timer = a.arg(0);
    wait_running(&k, timer);
    let was = detach(&k, "timer_shutdown_sync", timer);
    if let Some(l) = layout(&k) {
        wr("timer_shutdown_sync", timer.wrapping_add(l.function), 0);
    }
    u64::from(was)
}

/// `int timer_shutdown(timer)`.
fn sys_timer_shutdown(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let timer = a.arg(0);
    let was = detach(&k, "timer_shutdown", timer);
    if let Some(l) = layout(&k) {
        wr("timer_shutdown", timer.wrapping_add(l.function), 0);
    }
    u64::from(was)
}

/// At unload (after exit): timers still pending whose `timer_list` or
/// callback is in the module. The real kernel would run the callback in
/// freed memory when it fires; kload reports each and drops it. Returns
/// how many there were.
pub fn unload_check(k: &Kernel, m: &Module) -> usize {
    let Some(l) = layout(k) else { return 0 };
    let timers: Vec<u64> = k.timers.state().pending.keys().copied().collect();
    let mut n = 0;
    for timer in timers {
        let func = crate::mm::read_u64(timer.wrapping_add(l.function)).unwrap_or(0);
        if !(m.contains(timer) || m.contains(func)) {
            continue;
        }
        let what = if super::symbols::lookup("delayed_work_timer_fn")
            .ok()
            .flatten()
            == Some(func)
        {
            // A delayed work's timer: the work reports it.
            continue;
        } else {
            format!(
                "kload: {}: timer {} is still pending after the module's exit; the real kernel would call into freed memory when it fires (dropped)",
                m.name,
                k.symbol_name(func)
            )
        };
        k.log.emit(LOGLEVEL_ERR, &what);
        detach(k, "delete_module", timer);
        n += 1;
    }
    n
}

pub(super) fn register(r: &mut Registry) {
    r.func("init_timer_key", sys_init_timer_key);
    r.func("mod_timer", sys_mod_timer);
    r.func("mod_timer_pending", sys_mod_timer_pending);
    r.func("timer_reduce", sys_timer_reduce);
    r.func("add_timer", sys_add_timer);
    r.func("timer_delete", sys_timer_delete);
    r.func("timer_delete_sync", sys_timer_delete_sync);
    r.func("try_to_del_timer_sync", sys_try_to_del_timer_sync);
    r.func("timer_shutdown_sync", sys_timer_shutdown_sync);
    r.func("timer_shutdown", sys_timer_shutdown);
}
