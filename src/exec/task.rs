//! Kernel tasks: host threads that run module code on the emulated CPU.
//!
//! A task owns a kernel stack and a `task_struct` in low memory, runs with
//! `%gs` pointing at the CPU's per-CPU area and `current` pointing at its
//! `task_struct`, and holds the CPU token while it runs: there is one emulated
//! CPU, so exactly one task runs module code at a time, and runs are
//! deterministic.
//!
//! A task dies the way a kernel task dies after an Oops: `kill` records why,
//! and the innermost `kload_enter` of the task returns at once; each stub
//! between two module frames sees `call_module` fail and returns, until the
//! outermost call gives up the CPU.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

pub use super::cpu::Wake;
use super::entry::{self, EnterCtx};
use super::percpu::set_gs_base;
use super::signal::TaskFaults;
use super::watchdog::{self, Watch};
use crate::kernel::sched::{SchedError, PREEMPT_ENABLED};
use crate::kernel::Kernel;
use crate::mm::{LowRegion, MmError, Prot, PAGE_SIZE};

/// Why a kernel task could not be started.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error("cannot set up a kernel task: {0}")]
    Mm(#[from] MmError),
    #[error("cannot set up a kernel task: {0}")]
    Sched(#[from] SchedError),
    #[error("cannot start a kernel task thread: {0}")]
    Host(#[from] std::io::Error),
    #[error("a kernel task panicked inside kload")]
    Panicked,
}

/// Kernel stack size. The kernel's THREAD_SIZE is 16 KiB; kload's stubs are
/// Rust and run on the same stack, so they get room to spare.
pub const KERNEL_STACK_SIZE: u64 = 256 * 1024;

/// One kernel task (a host thread while it runs).
pub struct Task {
    pub pid: u32,
    pub comm: String,
    /// Address of its `task_struct` (what `current` holds).
    pub task_struct: u64,
    _task_struct_mem: LowRegion,
    stack: LowRegion,
    /// The CPU's preempt count while this task is off the CPU (each task
    /// has its own, as `preempt_count` is switched with the task).
    saved_preempt: AtomicU32,
    /// The module whose code this task was running is gone: the task dies
    /// as soon as it gets the CPU back, without returning into that code.
    orphaned: Mutex<Option<String>>,
    /// A command's task (`run_task`: insmod, rmmod, sysfs), which a user
    /// waits for, rather than a long-lived one.
    command: bool,
}

impl Task {
    fn new(
        kernel: &Kernel,
        comm: &str,
        pid: Option<u32>,
        command: bool,
    ) -> Result<Task, TaskError> {
        let stack = LowRegion::alloc(KERNEL_STACK_SIZE + PAGE_SIZE, Prot::ReadWrite, "stack")?;
        // The lowest page is the guard: an overflow faults instead of
        // running into whatever lies below.
        stack.protect(0, Some(PAGE_SIZE), Prot::None)?;
        let ts = kernel
            .sched
            .new_task_struct(kernel.profile, &stack, comm, pid)?;
        Ok(Task {
            pid: ts.pid,
            comm: comm.to_owned(),
            task_struct: ts.region.addr(),
            _task_struct_mem: ts.region,
            stack,
            saved_preempt: AtomicU32::new(PREEMPT_ENABLED),
            orphaned: Mutex::new(None),
            command,
        })
    }

    fn stack_top(&self) -> u64 {
        (self.stack.end() - 64) & !15
    }

    pub fn stack_contains(&self, addr: u64) -> bool {
        self.stack.contains(addr)
    }

    /// The guard page at the bottom of the kernel stack, `[low, high)`: a
    /// fault there is a stack overflow.
    pub fn guard_range(&self) -> (u64, u64) {
        (self.stack.addr(), self.stack.addr() + PAGE_SIZE)
    }

    /// The usable kernel stack, `[low, high)` (what the kernel's
    /// `stack_info` calls begin..end).
    pub fn stack_range(&self) -> (u64, u64) {
        (self.stack.addr() + PAGE_SIZE, self.stack.end())
    }

    /// Mark the task as running code of an unloaded module (`why` says
    /// which): it dies when it next gets the CPU.
    pub fn orphan(&self, why: &str) {
        self.orphaned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert_with(|| why.to_owned());
    }

    fn orphaned(&self) -> Option<String> {
        self.orphaned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

struct Running {
    kernel: Arc<Kernel>,
    task: Arc<Task>,
    /// The `kload_enter` frames of this task, innermost last.
    ctxs: Vec<*const EnterCtx>,
    death: Option<String>,
    /// The soft-lockup watchdog's view of this task.
    watch: Arc<Watch>,
}

/// Retires the task's watch when the task ends, however it ends.
struct Retire(Arc<Watch>);

impl Drop for Retire {
    fn drop(&mut self) {
        self.0.retire();
    }
}

thread_local! {
    static RUNNING: RefCell<Option<Running>> = const { RefCell::new(None) };
}

/// The calling thread as a kernel task: fault handling, the watchdog,
/// `%gs`, and the thread-local task state, until dropped.
struct TaskContext {
    kernel: Arc<Kernel>,
    task_struct: u64,
    _retire: Retire,
    _faults: TaskFaults,
}

impl TaskContext {
    fn enter(kernel: &Arc<Kernel>, task: &Arc<Task>) -> Result<TaskContext, TaskError> {
        // Faults of module code on this thread become the kernel's reports
        // (see `signal`), until the task ends.
        let (guard_low, _) = task.guard_range();
        let (stack_low, stack_high) = task.stack_range();
        let faults = TaskFaults::enter(stack_low, stack_high, guard_low)?;
        let watch = watchdog::register();
        let retire = Retire(Arc::clone(&watch));
        set_gs_base(kernel.percpu.base())?;
        kernel.register_task(task);
        RUNNING.with(|r| {
            *r.borrow_mut() = Some(Running {
                kernel: Arc::clone(kernel),
                task: Arc::clone(task),
                ctxs: Vec::new(),
                death: None,
                watch,
            })
        });
        Ok(TaskContext {
            kernel: Arc::clone(kernel),
            task_struct: task.task_struct,
            _retire: retire,
            _faults: faults,
        })
    }
}

impl Drop for TaskContext {
    fn drop(&mut self) {
        RUNNING.with(|r| r.borrow_mut().take());
        self.kernel.unregister_task(self.task_struct);
    }
}

/// The task got the CPU: it becomes `current`, with its own preempt count.
fn on_cpu(kernel: &Kernel, task: &Task) {
    let _ = kernel.sched.switch_to(&kernel.percpu, task.task_struct);
    let _ = kernel
        .sched
        .set_preempt_count(&kernel.percpu, task.saved_preempt.load(Ordering::Relaxed));
    crate::kernel::time::update_jiffies(kernel);
}

/// The task leaves the CPU: its preempt count goes with it.
fn off_cpu(kernel: &Kernel, task: &Task) {
    if let Ok(count) = kernel.sched.preempt_count(&kernel.percpu) {
        task.saved_preempt.store(count, Ordering::Relaxed);
    }
    let _ = kernel.sched.switch_to(&kernel.percpu, 0);
}

/// Gives the CPU up when the task's run ends, however it ends.
struct CpuHold<'a> {
    kernel: &'a Kernel,
    task: &'a Task,
}

impl<'a> CpuHold<'a> {
    fn take(kernel: &'a Kernel, task: &'a Task) -> CpuHold<'a> {
        kernel.cpu.acquire(task.pid);
        on_cpu(kernel, task);
        CpuHold { kernel, task }
    }
}

impl Drop for CpuHold<'_> {
    fn drop(&mut self) {
        off_cpu(self.kernel, self.task);
        self.kernel.cpu.release(self.task.pid);
    }
}

/// How long `settle` waits for the tasks a command made runnable to run.
const SETTLE_LIMIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Run `f` on a new kernel task named `comm`: a host thread holding the
/// CPU, with `%gs` and `current` set, on which `call_module` may run module
/// code. Blocks until the task ends.
///
/// The calling thread waits for the task anyway, so when it runs no task
/// itself (a command: insmod, rmmod, a sysfs access) it becomes the task
/// for the time of `f` instead of starting a thread (a thread's creation,
/// first-touch faults of its stack and exit cost a sizeable part of a
/// short `kload run`). A thread that already runs a task (a stub of one
/// task starting another) still starts a new thread.
pub fn run_task<R: Send>(
    kernel: &Arc<Kernel>,
    comm: &str,
    f: impl FnOnce() -> R + Send,
) -> Result<R, TaskError> {
    if RUNNING.with(|r| r.borrow().is_none()) {
        let run = std::panic::AssertUnwindSafe(|| task_main(kernel, comm, f));
        return std::panic::catch_unwind(run).unwrap_or(Err(TaskError::Panicked));
    }
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name(comm.to_owned())
            .spawn_scoped(scope, || task_main(kernel, comm, f))?;
        handle.join().unwrap_or(Err(TaskError::Panicked))
    })
}

/// After a command's task (`what`) ended: wait until the tasks it woke
/// (work it queued, kthreads it started) have run until they block, as
/// they would on the real kernel before the command's shell goes on; this
/// also keeps what they print with the command that caused it.
pub fn settle(kernel: &Kernel, what: &str) {
    if !kernel.cpu.wait_idle(SETTLE_LIMIT) {
        log::warn!("kernel tasks still running {SETTLE_LIMIT:?} after {what} ended");
    }
}

fn task_main<R>(kernel: &Arc<Kernel>, comm: &str, f: impl FnOnce() -> R) -> Result<R, TaskError> {
    let task = Arc::new(Task::new(kernel, comm, None, true)?);
    let _ctx = TaskContext::enter(kernel, &task)?;
    let _cpu = CpuHold::take(kernel, &task);
    Ok(f())
}

/// Start a long-lived kernel task (a kthread, a worker, the timer
/// softirq) on a host thread of its own. The task exists (its
/// `task_struct` is returned) before its thread runs, parked on
/// `idle_key(task_struct)`: `body` runs once `Cpu::wake_key` wakes it, on
/// the CPU. `pid` overrides the next pid (the idle task is pid 0).
pub fn spawn_task(
    kernel: &Arc<Kernel>,
    comm: &str,
    pid: Option<u32>,
    body: impl FnOnce(Arc<Task>) + Send + 'static,
) -> Result<Arc<Task>, TaskError> {
    let task = Arc::new(Task::new(kernel, comm, pid, false)?);
    kernel.register_task(&task);
    kernel.cpu.preblock(task.pid, idle_key(task.task_struct));
    let (k, t) = (Arc::clone(kernel), Arc::clone(&task));
    std::thread::Builder::new()
        .name(comm.to_owned())
        .spawn(move || {
            let ctx = match TaskContext::enter(&k, &t) {
                Ok(c) => c,
                Err(e) => {
                    log::error!("kernel task {}: {e}", t.comm);
                    return;
                }
            };
            k.cpu.wait_parked(t.pid);
            on_cpu(&k, &t);
            body(Arc::clone(&t));
            release_cpu();
            drop(ctx);
            // The task is over: whatever waits for its end may go on.
            k.cpu.wake_key(t.task_struct, 0);
        })?;
    Ok(task)
}

/// The current task (a spawned one) takes the CPU: it joins the run queue.
pub fn acquire_cpu() {
    if let Some((k, t)) = current_pair() {
        k.cpu.acquire(t.pid);
        on_cpu(&k, &t);
        check_orphaned(&t);
    }
}

/// The current task gives the CPU up without blocking (it sleeps outside
/// the scheduler, or ends).
pub fn release_cpu() {
    if let Some((k, t)) = current_pair() {
        if k.cpu.holds(t.pid) {
            off_cpu(&k, &t);
            k.cpu.release(t.pid);
        }
    }
}

/// The key a spawned task is parked on before it first runs (and that a
/// worker idles on): its `task_struct` + 1 (the `task_struct` itself is
/// the key of its end, which `kthread_stop` waits for).
pub fn idle_key(task_struct: u64) -> u64 {
    task_struct.wrapping_add(1)
}

/// Block the current task on `key` until woken or `timeout`: a blocking
/// point, where the CPU goes to the next task in the run queue. `None`
/// when no task runs on this thread.
pub fn block(key: u64, timeout: Option<std::time::Duration>) -> Option<Wake> {
    let (k, t) = current_pair()?;
    if timeout.is_none() && t.command {
        return Some(block_command(&k, &t, key));
    }
    off_cpu(&k, &t);
    let how = k.cpu.block(t.pid, key, timeout);
    on_cpu(&k, &t);
    check_orphaned(&t);
    Some(how)
}

/// How often a command blocked without a timeout looks whether anything
/// is left that could wake it.
const STALL_POLL: std::time::Duration = std::time::Duration::from_millis(500);

/// A command's task (insmod, rmmod) blocks until woken. If every other
/// task is blocked for good and no timer is pending, nothing can ever wake
/// it: the real kernel hangs (and reports a hung task after two minutes);
/// kload reports it and kills the task, so that the command ends.
fn block_command(k: &Kernel, t: &Task, key: u64) -> Wake {
    loop {
        off_cpu(k, t);
        let how = k.cpu.block(t.pid, key, Some(STALL_POLL));
        on_cpu(k, t);
        if how == Wake::Woken {
            return how;
        }
        if k.cpu.stalled_but(t.pid) && !k.timers.any_pending() {
            k.log.emit(
                crate::kernel::printk::LOGLEVEL_ERR,
                &format!(
                    "kload: {}:{} is blocked and nothing is left that could wake it (the real kernel hangs here, and reports \"INFO: task {}:{} blocked for more than 120 seconds.\"); killing the task",
                    t.comm, t.pid, t.comm, t.pid
                ),
            );
            kill("blocked for ever");
            return Wake::TimedOut;
        }
    }
}

/// Let every task waiting for the CPU run first (`schedule()` of a
/// running task, `cond_resched`).
pub fn yield_cpu() {
    if let Some((k, t)) = current_pair() {
        off_cpu(&k, &t);
        k.cpu.yield_now(t.pid);
        on_cpu(&k, &t);
        check_orphaned(&t);
    }
}

/// A task back on the CPU whose module is gone dies there.
fn check_orphaned(t: &Task) {
    if let Some(why) = t.orphaned() {
        kill(&why);
    }
}

fn current_pair() -> Option<(Arc<Kernel>, Arc<Task>)> {
    RUNNING.with(|r| {
        r.borrow()
            .as_ref()
            .map(|r| (Arc::clone(&r.kernel), Arc::clone(&r.task)))
    })
}

/// A long-lived task whose callback died goes on with the next one (the
/// timer softirq after a callback's Oops, a worker after a work item's):
/// its death is forgotten.
pub fn revive() -> Option<String> {
    RUNNING.with(|r| {
        let mut r = r.borrow_mut();
        let running = r.as_mut()?;
        running
            .task
            .orphaned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        running.death.take()
    })
}

/// Has the current task been killed (its report is in the log)?
pub fn is_dying() -> bool {
    RUNNING.with(|r| r.borrow().as_ref().is_some_and(|r| r.death.is_some()))
}

/// Call module code from the current task (a task entry, or a stub calling
/// a module callback). `Err` means the task died inside.
pub fn call_module(func: u64, args: [u64; 6]) -> Result<u64, String> {
    let mut ctx = Box::new(EnterCtx::default());
    let stack_top = RUNNING.with(|r| {
        let mut r = r.borrow_mut();
        let running = r.as_mut()?;
        let top = if running.ctxs.is_empty() {
            running.task.stack_top()
        } else {
            0
        };
        running.ctxs.push(&*ctx);
        running.watch.enter_module();
        Some(top)
    });
    let Some(stack_top) = stack_top else {
        return Err("module code called outside a kernel task".into());
    };
    // SAFETY: `func` is a module function address the loader resolved into
    // module text; the stack top is this task's own low stack (or 0 to stay
    // on it); `ctx` lives on this frame until enter() returns.
    let rax = unsafe { entry::enter(func, &args, stack_top, &mut ctx) };
    RUNNING.with(|r| {
        let mut r = r.borrow_mut();
        let running = r.as_mut().ok_or_else(|| "task state vanished".to_owned())?;
        running.ctxs.pop();
        running.watch.leave_module();
        match &running.death {
            Some(reason) => Err(reason.clone()),
            None => Ok(rax),
        }
    })
}

/// Mark the current task as dying (the report must already be logged). The
/// stub that calls this returns normally; the dispatcher then unwinds.
pub fn kill(reason: &str) {
    RUNNING.with(|r| {
        if let Some(running) = r.borrow_mut().as_mut() {
            running.death.get_or_insert_with(|| reason.to_owned());
        }
    });
}

/// If the current task is dying, return straight to its innermost module
/// entry. Called by the dispatcher after a stub returns, when no Rust frame
/// between here and that entry holds anything to drop.
pub fn finish_if_killed() {
    let ctx = RUNNING.with(|r| {
        let r = r.borrow();
        let running = r.as_ref()?;
        running.death.as_ref()?;
        running.ctxs.last().copied()
    });
    if let Some(ctx) = ctx {
        // SAFETY: `ctx` is the EnterCtx of a kload_enter still running on
        // this thread (it is popped only after enter returns), and the only
        // frames above it are module code and the dispatcher, which has
        // dropped everything it owned.
        unsafe { entry::abort(ctx, 0) }
    }
}

/// The kernel whose task is running on this thread.
pub fn current_kernel() -> Option<Arc<Kernel>> {
    RUNNING.with(|r| r.borrow().as_ref().map(|r| Arc::clone(&r.kernel)))
}

/// The watchdog's view of the task running on this thread.
pub fn current_watch() -> Option<Arc<Watch>> {
    RUNNING.with(|r| r.borrow().as_ref().map(|r| Arc::clone(&r.watch)))
}

/// Mark the current task as inside module code (`true`: a stub returns to
/// it) or back in kload (`false`: a stub was called, a fault is handled),
/// for the watchdog.
pub fn note_module_code(inside: bool) {
    RUNNING.with(|r| {
        if let Ok(r) = r.try_borrow() {
            if let Some(running) = r.as_ref() {
                if inside {
                    running.watch.enter_module();
                } else {
                    running.watch.leave_module();
                }
            }
        }
    });
}

/// The task running on this thread.
pub fn current_task() -> Option<Arc<Task>> {
    RUNNING.with(|r| r.borrow().as_ref().map(|r| Arc::clone(&r.task)))
}

/// The timer tick: a host thread advances `jiffies` at HZ whether or not
/// module code calls into the kernel (modules poll it inline:
/// `time_before(jiffies, t)`). It ends with its kernel.
pub fn start_jiffies_ticker(kernel: &Arc<Kernel>) {
    let weak = Arc::downgrade(kernel);
    let tick = std::time::Duration::from_millis(1000 / crate::kernel::time::HZ);
    let spawned = std::thread::Builder::new()
        .name("jiffies".into())
        .spawn(move || {
            while let Some(k) = weak.upgrade() {
                crate::kernel::time::update_jiffies(&k);
                drop(k);
                std::thread::sleep(tick);
            }
        });
    if let Err(e) = spawned {
        log::warn!("no jiffies ticker ({e}): jiffies advance only when kernel time functions run");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::PROFILES;

    #[test]
    fn command_tasks_run_one_after_the_other_on_the_calling_thread() {
        let k = Kernel::boot(PROFILES[0]).unwrap();
        let caller = std::thread::current().id();
        for comm in ["insmod", "rmmod"] {
            let (thread, current) = run_task(&k, comm, || {
                (
                    std::thread::current().id(),
                    current_task().map(|t| t.comm.clone()),
                )
            })
            .unwrap();
            assert_eq!(thread, caller);
            assert_eq!(current.as_deref(), Some(comm));
            // The thread is no task any more once the command ended.
            assert!(current_task().is_none());
        }
    }
}
