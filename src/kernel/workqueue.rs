//! Workqueues (kernel/workqueue.c): work items run in process context on
//! a worker task.
//!
//! Queued work is kept on kload's side in one FIFO; one worker task
//! (`kworker/0:N`, started by the first queued work) runs the items in
//! order, each with the CPU, like a pool whose worker never needs a
//! second one. The module's `work_struct` is kept as inline code reads it:
//! the `WORK_STRUCT_PENDING` bit of `data` is set from queueing until the
//! worker takes the item (`work_pending()`); a `delayed_work` is pending
//! while its timer is. `alloc_workqueue` returns an object of kload's
//! (modules never look inside a `workqueue_struct`); the system
//! workqueues (`system_wq`, ...) are kernel data pointing at such objects.
//!
//! A work function that dies (an Oops) kills the worker in the real
//! kernel, and the pool starts another; kload's worker forgets the item
//! and goes on with the next one.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use super::printk::LOGLEVEL_ERR;
use super::string::{read, write};
use super::symbols::{Access, DataCtx, Registry};
use super::Kernel;
use crate::exec::dispatch::CallArgs;
use crate::exec::task::{self, Task};
use crate::mm::{self, LowRegion, Prot};
use crate::module::Module;
use crate::profile::MissingField;

/// `WORK_STRUCT_PENDING` (bit 0 of `work_struct.data`).
const WORK_STRUCT_PENDING: u64 = 1;

/// The system workqueues and the names the kernel gives them.
const SYSTEM_WQS: &[(&str, &str)] = &[
    ("system_wq", "events"),
    ("system_percpu_wq", "events"),
    ("system_highpri_wq", "events_highpri"),
    ("system_long_wq", "events_long"),
    ("system_unbound_wq", "events_unbound"),
    ("system_dfl_wq", "events_unbound"),
    ("system_freezable_wq", "events_freezable"),
    ("system_power_efficient_wq", "events_power_efficient"),
    (
        "system_freezable_power_efficient_wq",
        "events_freezable_pwr_efficient",
    ),
    ("system_bh_wq", "events_bh"),
    ("system_bh_highpri_wq", "events_bh_highpri"),
];

#[derive(Debug, Clone, Copy)]
struct Item {
    work: u64,
    wq: u64,
}

struct Wq {
    name: String,
    /// The object `alloc_workqueue` returned (none for system workqueues).
    _mem: Option<LowRegion>,
}

#[derive(Default)]
struct WqState {
    queue: VecDeque<Item>,
    /// The item the worker runs now.
    running: Option<Item>,
    wqs: HashMap<u64, Wq>,
    /// Delayed work whose timer is armed: the work → its workqueue.
    delayed: HashMap<u64, u64>,
}

/// One kernel's workqueues and its worker.
#[derive(Default)]
pub struct Workqueues {
    st: Mutex<WqState>,
    worker: Mutex<Option<Arc<Task>>>,
}

impl Workqueues {
    fn state(&self) -> MutexGuard<'_, WqState> {
        self.st.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn worker(&self) -> Option<Arc<Task>> {
        self.worker
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

thread_local! {
    /// The work item the worker on this thread runs: (workqueue name,
    /// work function), for the "Workqueue:" line of reports.
    static CURRENT_WORK: std::cell::RefCell<Option<(String, u64)>> =
        const { std::cell::RefCell::new(None) };
}

/// `print_worker_info`: the line reports print after "Hardware name:" when
/// the current task is a worker running a work item.
pub fn worker_info(k: &Kernel) -> Option<String> {
    CURRENT_WORK.with(|c| {
        c.borrow()
            .as_ref()
            .map(|(wq, func)| format!("Workqueue: {wq} {}", k.symbol_name(*func)))
    })
}

#[derive(Clone, Copy)]
struct Layout {
    data: u64,
    func: u64,
    dwork_timer: u64,
}

fn layout(k: &Kernel) -> Option<Layout> {
    let p = k.profile;
    Some(Layout {
        data: p.get("work_struct.data")?,
        func: p.get("work_struct.func")?,
        dwork_timer: p.get("delayed_work.timer")?,
    })
}

fn rd(func: &str, addr: u64) -> Option<u64> {
    let b = read(func, "the work", addr, 8)?;
    Some(u64::from_le_bytes(b.try_into().ok()?))
}

fn wr(func: &str, addr: u64, v: u64) -> bool {
    write(func, "the work", addr, &v.to_le_bytes())
}

/// Set or clear `WORK_STRUCT_PENDING`; returns whether it was set before.
fn set_pending(func: &str, l: &Layout, work: u64, on: bool) -> Option<bool> {
    let data = rd(func, work.wrapping_add(l.data))?;
    let new = if on {
        data | WORK_STRUCT_PENDING
    } else {
        data & !WORK_STRUCT_PENDING
    };
    if new != data && !wr(func, work.wrapping_add(l.data), new) {
        return None;
    }
    Some(data & WORK_STRUCT_PENDING != 0)
}

/// The name of workqueue `wq`: one of `alloc_workqueue`'s or a system one.
fn wq_name(k: &Kernel, wq: u64) -> String {
    if let Some(w) = k.workqueues.state().wqs.get(&wq) {
        return w.name.clone();
    }
    for (sym, name) in SYSTEM_WQS {
        if let Some(at) = k.data.lookup(sym) {
            if mm::read_u64(at) == Some(wq) {
                return (*name).to_owned();
            }
        }
    }
    format!("{wq:#x}")
}

/// Put `work` on the queue and wake the worker (starting it the first
/// time). The pending bit is already set.
fn enqueue(k: &Arc<Kernel>, work: u64, wq: u64) {
    k.workqueues.state().queue.push_back(Item { work, wq });
    match k.workqueues.worker() {
        Some(w) => {
            k.cpu.wake_key(task::idle_key(w.task_struct), 1);
        }
        None => start_worker(k),
    }
}

/// The worker's name: the real kernels' oracle runs found CPU 0's pool's
/// idle worker under these names after boot (the number is the pool's
/// worker id, which depends on the boot; nothing else reads it).
fn worker_comm(k: &Kernel) -> &'static str {
    if k.profile.version() >= (6, 12) {
        "kworker/0:0"
    } else {
        "kworker/0:2"
    }
}

fn start_worker(k: &Arc<Kernel>) {
    let mut slot = k
        .workqueues
        .worker
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if slot.is_some() {
        return;
    }
    let weak = Arc::downgrade(k);
    match task::spawn_task(k, worker_comm(k), None, move |t| worker(weak, t)) {
        Ok(t) => {
            k.cpu.wake_key(task::idle_key(t.task_struct), 1);
            *slot = Some(t);
        }
        Err(e) => k.log.emit(
            LOGLEVEL_ERR,
            &format!("kload: cannot start a worker: {e}; work will not run"),
        ),
    }
}

/// `worker_thread`: run queued items in order; idle (blocked) when there
/// are none. It starts on the CPU.
fn worker(weak: std::sync::Weak<Kernel>, me: Arc<Task>) {
    loop {
        let Some(k) = weak.upgrade() else { return };
        let next = {
            let mut st = k.workqueues.state();
            let item = st.queue.pop_front();
            st.running = item;
            item
        };
        let Some(item) = next else {
            drop(k);
            task::block(task::idle_key(me.task_struct), None);
            task::revive();
            continue;
        };
        process_one_work(&k, item);
        k.workqueues.state().running = None;
        k.cpu.wake_key(item.work, 0);
        k.cpu.wake_key(item.wq, 0);
    }
}

/// `process_one_work`: clear the pending bit, call the function.
fn process_one_work(k: &Arc<Kernel>, item: Item) {
    let Some(l) = layout(k) else { return };
    let f = "process_one_work";
    let func = rd(f, item.work.wrapping_add(l.func)).unwrap_or(0);
    set_pending(f, &l, item.work, false);
    if func == 0 {
        return;
    }
    let name = wq_name(k, item.wq);
    CURRENT_WORK.with(|c| *c.borrow_mut() = Some((name, func)));
    let outcome = task::call_module(func, [item.work, 0, 0, 0, 0, 0]);
    CURRENT_WORK.with(|c| *c.borrow_mut() = None);
    if let Err(why) = outcome {
        k.log.emit(
            LOGLEVEL_ERR,
            &format!(
                "kload: the work function {} died ({why}); the real kernel loses its worker, kload goes on with the next work",
                k.symbol_name(func)
            ),
        );
        task::revive();
    }
}

/// Whether `work` is queued or running.
fn busy(k: &Kernel, work: u64) -> bool {
    let st = k.workqueues.state();
    st.queue.iter().any(|i| i.work == work) || st.running.is_some_and(|i| i.work == work)
}

/// Wait until `work` is neither queued nor running; whether it waited.
fn wait_work(k: &Kernel, work: u64) -> bool {
    let me = task::current_task().map(|t| t.pid);
    if me.is_some() && me == k.workqueues.worker().map(|w| w.pid) {
        // A work item flushing itself (or another item) on the only
        // worker would deadlock in the kernel; kload does not wait.
        return busy(k, work);
    }
    let mut waited = false;
    while busy(k, work) {
        waited = true;
        if task::block(work, None).is_none() || task::is_dying() {
            break;
        }
    }
    waited
}

/// Wait until no item of `wq` is queued or running.
fn wait_wq(k: &Kernel, wq: u64) {
    let busy_wq = |k: &Kernel| {
        let st = k.workqueues.state();
        st.queue.iter().any(|i| i.wq == wq) || st.running.is_some_and(|i| i.wq == wq)
    };
    let me = task::current_task().map(|t| t.pid);
    if me.is_some() && me == k.workqueues.worker().map(|w| w.pid) {
        return;
    }
    while busy_wq(k) {
        if task::block(wq, None).is_none() || task::is_dying() {
            break;
        }
    }
}

/// `bool queue_work_on(int cpu, struct workqueue_struct *wq, struct
/// work_struct *work)`: false if it was already pending.
fn sys_queue_work_on(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let Some(l) = layout(&k) else { return 0 };
    let (wq, work) = (a.arg(1), a.arg(2));
    match set_pending("queue_work_on", &l, work, true) {
        Some(false) => {
            enqueue(&k, work, wq);
            1
        }
        _ => 0,
    }
}

/// Queue a delayed work: at once for no delay, else through its timer.
fn queue_delayed(k: &Arc<Kernel>, l: &Layout, wq: u64, dwork: u64, delay: u64) {
    let work = dwork;
    if delay == 0 {
        enqueue(k, work, wq);
        return;
    }
    let timer = dwork.wrapping_add(l.dwork_timer);
    k.workqueues.state().delayed.insert(work, wq);
    k.timers.set_delayed(timer, wq);
    let now = super::time::update_jiffies(k);
    super::timer::arm(k, "queue_delayed_work_on", timer, now.wrapping_add(delay));
}

/// `bool queue_delayed_work_on(int cpu, wq, struct delayed_work *dwork,
/// unsigned long delay)`.
fn sys_queue_delayed_work_on(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let Some(l) = layout(&k) else { return 0 };
    let (wq, dwork, delay) = (a.arg(1), a.arg(2), a.arg(3));
    match set_pending("queue_delayed_work_on", &l, dwork, true) {
        Some(false) => {
            queue_delayed(&k, &l, wq, dwork, delay);
            1
        }
        _ => 0,
    }
}

/// Take a pending work off its timer or the queue (`try_to_grab_pending`),
/// clearing the pending bit. Whether it was pending.
fn grab_pending(k: &Kernel, func: &str, l: &Layout, work: u64, delayed: bool) -> bool {
    if delayed {
        super::timer::detach(k, func, work.wrapping_add(l.dwork_timer));
        k.workqueues.state().delayed.remove(&work);
    }
    k.workqueues.state().queue.retain(|i| i.work != work);
    set_pending(func, l, work, false).unwrap_or(false)
}

/// `bool mod_delayed_work_on(int cpu, wq, dwork, delay)`: whether it was
/// pending before.
fn sys_mod_delayed_work_on(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let Some(l) = layout(&k) else { return 0 };
    let (wq, dwork, delay) = (a.arg(1), a.arg(2), a.arg(3));
    let was = grab_pending(&k, "mod_delayed_work_on", &l, dwork, true);
    set_pending("mod_delayed_work_on", &l, dwork, true);
    queue_delayed(&k, &l, wq, dwork, delay);
    u64::from(was)
}

/// The timer of a delayed work fired (`delayed_work_timer_fn`): queue the
/// work on its workqueue.
pub(crate) fn delayed_timer_fired(k: &Arc<Kernel>, timer: u64, wq: Option<u64>) {
    let Some(l) = layout(k) else { return };
    let work = timer.wrapping_sub(l.dwork_timer);
    let wq = k
        .workqueues
        .state()
        .delayed
        .remove(&work)
        .or(wq)
        .unwrap_or_else(|| system_wq(k));
    enqueue(k, work, wq);
}

fn system_wq(k: &Kernel) -> u64 {
    k.data
        .lookup("system_wq")
        .and_then(mm::read_u64)
        .unwrap_or(0)
}

/// `void delayed_work_timer_fn(struct timer_list *t)` called directly.
fn sys_delayed_work_timer_fn(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    delayed_timer_fired(&k, a.arg(0), None);
    0
}

/// `bool cancel_work_sync(struct work_struct *work)`.
fn sys_cancel_work_sync(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let Some(l) = layout(&k) else { return 0 };
    let was = grab_pending(&k, "cancel_work_sync", &l, a.arg(0), false);
    wait_work(&k, a.arg(0));
    u64::from(was)
}

/// `bool cancel_work(struct work_struct *work)`.
fn sys_cancel_work(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let Some(l) = layout(&k) else { return 0 };
    u64::from(grab_pending(&k, "cancel_work", &l, a.arg(0), false))
}

/// `bool cancel_delayed_work(struct delayed_work *dwork)`.
fn sys_cancel_delayed_work(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let Some(l) = layout(&k) else { return 0 };
    u64::from(grab_pending(&k, "cancel_delayed_work", &l, a.arg(0), true))
}

/// `bool cancel_delayed_work_sync(struct delayed_work *dwork)`.
fn sys_cancel_delayed_work_sync(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let Some(l) = layout(&k) else { return 0 };
    let was = grab_pending(&k, "cancel_delayed_work_sync", &l, a.arg(0), true);
    wait_work(&k, a.arg(0));
    u64::from(was)
}

/// `bool flush_work(struct work_struct *work)`: whether it waited.
fn sys_flush_work(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    u64::from(wait_work(&k, a.arg(0)))
}

/// `bool flush_delayed_work(struct delayed_work *dwork)`: a pending timer
/// is cut short, then the work flushed.
fn sys_flush_delayed_work(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let Some(l) = layout(&k) else { return 0 };
    let dwork = a.arg(0);
    if super::timer::detach(&k, "flush_delayed_work", dwork.wrapping_add(l.dwork_timer)) {
        let wq = k.workqueues.state().delayed.remove(&dwork);
        enqueue(&k, dwork, wq.unwrap_or_else(|| system_wq(&k)));
    }
    u64::from(wait_work(&k, dwork))
}

/// `void __flush_workqueue(struct workqueue_struct *wq)`.
fn sys_flush_workqueue(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    wait_wq(&k, a.arg(0));
    0
}

/// `void drain_workqueue(struct workqueue_struct *wq)`.
fn sys_drain_workqueue(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    wait_wq(&k, a.arg(0));
    0
}

/// Size of kload's `workqueue_struct` stand-in.
const WQ_OBJECT_SIZE: u64 = 64;

/// `struct workqueue_struct *alloc_workqueue(const char *fmt, unsigned int
/// flags, int max_active, ...)`: the name is formatted from `fmt` and the
/// arguments after `max_active`.
fn sys_alloc_workqueue(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let Some(fmt) = mm::read_cstr(a.arg(0), 256) else {
        return 0;
    };
    let name =
        String::from_utf8_lossy(&super::vsprintf::vsnprintf(&fmt, &mut a.va(3), &*k)).into_owned();
    let Ok(mem) = LowRegion::alloc(WQ_OBJECT_SIZE, Prot::ReadWrite, "workqueue") else {
        return 0;
    };
    let addr = mem.addr();
    k.workqueues.state().wqs.insert(
        addr,
        Wq {
            name,
            _mem: Some(mem),
        },
    );
    addr
}

/// `void destroy_workqueue(struct workqueue_struct *wq)`: drain, then free.
fn sys_destroy_workqueue(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let wq = a.arg(0);
    wait_wq(&k, wq);
    k.workqueues.state().wqs.remove(&wq);
    0
}

/// At unload (after exit): work of the module still queued, pending on a
/// timer, or running (blocked) on the worker. The real kernel would run it
/// in freed memory; kload reports each and drops it. Returns how many.
pub fn unload_check(k: &Kernel, m: &Module) -> usize {
    let Some(l) = layout(k) else { return 0 };
    let in_module = |work: u64| {
        m.contains(work) || mm::read_u64(work.wrapping_add(l.func)).is_some_and(|f| m.contains(f))
    };
    let mut found: Vec<(u64, bool)> = Vec::new();
    {
        let st = k.workqueues.state();
        for i in &st.queue {
            if in_module(i.work) {
                found.push((i.work, false));
            }
        }
        for w in st.delayed.keys() {
            if in_module(*w) && k.timers.is_pending((*w).wrapping_add(l.dwork_timer)) {
                found.push((*w, true));
            }
        }
    }
    for (work, delayed) in &found {
        let func = mm::read_u64((*work).wrapping_add(l.func)).unwrap_or(0);
        let what = if *delayed { "delayed work" } else { "work" };
        k.log.emit(
            LOGLEVEL_ERR,
            &format!(
                "kload: {}: {what} {} is still queued after the module's exit; the real kernel would call into freed memory when it runs (dropped)",
                m.name,
                k.symbol_name(func)
            ),
        );
        grab_pending(k, "delete_module", &l, *work, *delayed);
    }
    let running = k.workqueues.state().running;
    let mut n = found.len();
    if let Some(i) = running.filter(|i| in_module(i.work)) {
        let func = mm::read_u64(i.work.wrapping_add(l.func)).unwrap_or(0);
        k.log.emit(
            LOGLEVEL_ERR,
            &format!(
                "kload: {}: work {} is still running (blocked) after the module's exit; it is ended without returning into freed memory",
                m.name,
                k.symbol_name(func)
            ),
        );
        if let Some(w) = k.workqueues.worker() {
            w.orphan(&format!("work of unloaded module {}", m.name));
        }
        n += 1;
    }
    n
}

/// The pointer, then a zeroed stand-in for the kernel's private
/// `struct workqueue_struct` (modules never look inside it).
fn system_workqueue(_: &DataCtx<'_>) -> Result<Vec<u8>, MissingField> {
    Ok(vec![0u8; 8 + WQ_OBJECT_SIZE as usize])
}

pub(super) fn register(r: &mut Registry) {
    for (name, _) in SYSTEM_WQS {
        r.data_pointer_to_opaque(name, Access::ReadOnly, system_workqueue);
    }
    r.func("queue_work_on", sys_queue_work_on);
    r.func("queue_delayed_work_on", sys_queue_delayed_work_on);
    r.func("mod_delayed_work_on", sys_mod_delayed_work_on);
    r.func("delayed_work_timer_fn", sys_delayed_work_timer_fn);
    r.func("cancel_work_sync", sys_cancel_work_sync);
    r.func("cancel_work", sys_cancel_work);
    r.func("cancel_delayed_work", sys_cancel_delayed_work);
    r.func("cancel_delayed_work_sync", sys_cancel_delayed_work_sync);
    r.func("flush_work", sys_flush_work);
    r.func("flush_delayed_work", sys_flush_delayed_work);
    r.func("__flush_workqueue", sys_flush_workqueue);
    r.func("drain_workqueue", sys_drain_workqueue);
    r.func("alloc_workqueue", sys_alloc_workqueue);
    r.func("destroy_workqueue", sys_destroy_workqueue);
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
