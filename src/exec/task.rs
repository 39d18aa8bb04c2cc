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
use std::sync::Arc;

use super::entry::{self, EnterCtx};
use super::percpu::set_gs_base;
use super::signal::TaskFaults;
use super::watchdog::{self, Watch};
use crate::kernel::sched::SchedError;
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
}

impl Task {
    fn new(kernel: &Kernel, comm: &str) -> Result<Task, TaskError> {
        let stack = LowRegion::alloc(KERNEL_STACK_SIZE + PAGE_SIZE, Prot::ReadWrite, "stack")?;
        // The lowest page is the guard: an overflow faults instead of
        // running into whatever lies below.
        stack.protect(0, Some(PAGE_SIZE), Prot::None)?;
        let ts = kernel.sched.new_task_struct(kernel.profile, &stack, comm)?;
        Ok(Task {
            pid: ts.pid,
            comm: comm.to_owned(),
            task_struct: ts.region.addr(),
            _task_struct_mem: ts.region,
            stack,
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

/// Run `f` on a new kernel task named `comm`: a host thread holding the
/// CPU, with `%gs` and `current` set, on which `call_module` may run module
/// code. Blocks until the task ends.
pub fn run_task<R: Send>(
    kernel: &Arc<Kernel>,
    comm: &str,
    f: impl FnOnce() -> R + Send,
) -> Result<R, TaskError> {
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name(comm.to_owned())
            .spawn_scoped(scope, || task_main(kernel, comm, f))?;
        handle.join().unwrap_or(Err(TaskError::Panicked))
    })
}

fn task_main<R>(kernel: &Arc<Kernel>, comm: &str, f: impl FnOnce() -> R) -> Result<R, TaskError> {
    let _cpu = kernel.take_cpu();
    let task = Arc::new(Task::new(kernel, comm)?);
    // Faults of module code on this thread become the kernel's reports
    // (see `signal`), until the task ends.
    let (guard_low, _) = task.guard_range();
    let (stack_low, stack_high) = task.stack_range();
    let _faults = TaskFaults::enter(stack_low, stack_high, guard_low)?;
    let watch = watchdog::register();
    let _retire = Retire(Arc::clone(&watch));
    set_gs_base(kernel.percpu.base())?;
    kernel.sched.switch_to(&kernel.percpu, task.task_struct)?;
    RUNNING.with(|r| {
        *r.borrow_mut() = Some(Running {
            kernel: Arc::clone(kernel),
            task: Arc::clone(&task),
            ctxs: Vec::new(),
            death: None,
            watch,
        })
    });
    let result = f();
    RUNNING.with(|r| r.borrow_mut().take());
    kernel.sched.switch_to(&kernel.percpu, 0)?;
    Ok(result)
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
