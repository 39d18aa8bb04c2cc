//! Kernel threads (kernel/kthread.c).
//!
//! `kthread_create_on_node` makes a task (a host thread) that is stopped
//! (`TASK_UNINTERRUPTIBLE`, parked off the CPU) until its first
//! `wake_up_process`; then it runs `threadfn(data)` on the CPU, and ends
//! when that returns. `kthread_stop` sets the stop flag, wakes the thread
//! (a thread that never ran ends at once with `-EINTR`, as the kernel's
//! does), waits for its end (a blocking point) and returns its result.
//! `kthread_run` is inline: create, then `wake_up_process`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::printk::LOGLEVEL_ERR;
use super::symbols::Registry;
use super::wait::{set_task_state, TASK_UNINTERRUPTIBLE};
use super::Kernel;
use crate::exec::dispatch::CallArgs;
use crate::exec::task::{self, Task};
use crate::mm;
use crate::module::Module;

/// `-EINTR`.
const EINTR: i64 = -4;
/// `-ENOMEM`.
const ENOMEM: i64 = -12;

/// One kthread.
pub struct Kthread {
    task: Arc<Task>,
    threadfn: u64,
    should_stop: AtomicBool,
    /// Not yet woken for the first time.
    unstarted: AtomicBool,
    /// Its result, once it has ended.
    result: Mutex<Option<i64>>,
}

/// One kernel's kthreads, by `task_struct`.
#[derive(Default)]
pub struct Kthreads {
    m: Mutex<HashMap<u64, Arc<Kthread>>>,
}

impl Kthreads {
    fn map(&self) -> MutexGuard<'_, HashMap<u64, Arc<Kthread>>> {
        self.m.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, ts: u64) -> Option<Arc<Kthread>> {
        self.map().get(&ts).cloned()
    }

    /// A kthread's first wake-up: true (once) if `ts` is a kthread that was
    /// never woken, which then may run.
    pub fn take_unstarted(&self, ts: u64) -> bool {
        self.get(ts)
            .is_some_and(|t| t.unstarted.swap(false, Ordering::Relaxed))
    }
}

/// `struct task_struct *kthread_create_on_node(int (*threadfn)(void *data),
/// void *data, int node, const char namefmt[], ...)`.
fn sys_kthread_create_on_node(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return ENOMEM as u64;
    };
    let (threadfn, data) = (a.arg(0), a.arg(1));
    let fmt = mm::read_cstr(a.arg(3), 256).unwrap_or_default();
    let name =
        String::from_utf8_lossy(&super::vsprintf::vsnprintf(&fmt, &mut a.va(4), &*k)).into_owned();
    let slot: Arc<Mutex<Option<Arc<Kthread>>>> = Arc::default();
    let me = Arc::clone(&slot);
    let weak = Arc::downgrade(&k);
    let spawned = task::spawn_task(&k, &name, None, move |t| {
        let kt = me.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let (Some(kt), Some(k)) = (kt, weak.upgrade()) {
            kthread_main(&k, &kt, &t, data);
        }
    });
    let t = match spawned {
        Ok(t) => t,
        Err(e) => {
            k.log.emit(
                LOGLEVEL_ERR,
                &format!("kload: kthread_create_on_node: cannot start {name}: {e}"),
            );
            return ENOMEM as u64;
        }
    };
    set_task_state(&k, t.task_struct, TASK_UNINTERRUPTIBLE);
    let kt = Arc::new(Kthread {
        task: Arc::clone(&t),
        threadfn,
        should_stop: AtomicBool::new(false),
        unstarted: AtomicBool::new(true),
        result: Mutex::new(None),
    });
    *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::clone(&kt));
    k.kthreads.map().insert(t.task_struct, kt);
    t.task_struct
}

/// `kthread()`: on the CPU after the first wake-up.
fn kthread_main(k: &Kernel, kt: &Kthread, t: &Task, data: u64) {
    let result = if kt.should_stop.load(Ordering::Relaxed) {
        EINTR
    } else {
        // A thread that died (an Oops) never sets its result: 0.
        task::call_module(kt.threadfn, [data, 0, 0, 0, 0, 0])
            .map_or(0, |r| i64::from(r as u32 as i32))
    };
    task::revive();
    *kt.result.lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
    // Whoever waits in kthread_stop may go on.
    k.cpu.wake_key(t.task_struct, 0);
}

/// `bool kthread_should_stop(void)`.
fn sys_kthread_should_stop(_: &mut CallArgs) -> u64 {
    let (Some(k), Some(t)) = (task::current_kernel(), task::current_task()) else {
        return 0;
    };
    u64::from(
        k.kthreads
            .get(t.task_struct)
            .is_some_and(|kt| kt.should_stop.load(Ordering::Relaxed)),
    )
}

/// `int kthread_stop(struct task_struct *k)`.
fn kthread_stop(ts: u64) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let Some(kt) = k.kthreads.get(ts) else {
        k.log.emit(
            LOGLEVEL_ERR,
            &format!("kload: kthread_stop({ts:#x}): not a kthread"),
        );
        return EINTR as u64;
    };
    kt.should_stop.store(true, Ordering::Relaxed);
    super::wait::try_to_wake_up(&k, ts, super::wait::TASK_NORMAL | 0x100);
    loop {
        if let Some(r) = *kt.result.lock().unwrap_or_else(|p| p.into_inner()) {
            k.kthreads.map().remove(&ts);
            return r as u64;
        }
        if task::block(ts, None).is_none() || task::is_dying() {
            return EINTR as u64;
        }
    }
}

fn sys_kthread_stop(a: &mut CallArgs) -> u64 {
    kthread_stop(a.arg(0))
}

/// 6.12's `kthread_stop_put`: stop, then drop the task reference.
fn sys_kthread_stop_put(a: &mut CallArgs) -> u64 {
    kthread_stop(a.arg(0))
}

/// At unload (after exit): kthreads running the module's code that have
/// not ended. The real kernel would go on running freed code; kload
/// reports each; the thread dies when it next gets the CPU, without
/// returning into the module. Returns how many.
pub fn unload_check(k: &Kernel, m: &Module) -> usize {
    let left: Vec<Arc<Kthread>> = k
        .kthreads
        .map()
        .values()
        .filter(|kt| m.contains(kt.threadfn))
        .filter(|kt| {
            kt.result
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_none()
        })
        .cloned()
        .collect();
    for kt in &left {
        k.log.emit(
            LOGLEVEL_ERR,
            &format!(
                "kload: {}: kthread {} ({}) is still running after the module's exit; the real kernel would run freed code (it is ended)",
                m.name,
                kt.task.comm,
                k.symbol_name(kt.threadfn)
            ),
        );
        kt.task
            .orphan(&format!("kthread of unloaded module {}", m.name));
        if kt.unstarted.load(Ordering::Relaxed) {
            // Never woken: it would never run; leave it parked.
            continue;
        }
    }
    left.len()
}

pub(super) fn register(r: &mut Registry) {
    r.func("kthread_create_on_node", sys_kthread_create_on_node);
    r.func("kthread_should_stop", sys_kthread_should_stop);
    r.func("kthread_stop", sys_kthread_stop);
    r.func("kthread_stop_put", sys_kthread_stop_put);
}
