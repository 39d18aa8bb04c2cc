//! Faults in module code: the host signals of a kernel exception, turned
//! into the kernel's own handling.
//!
//! A NULL dereference (SIGSEGV), a `ud2` of BUG()/WARN() (SIGILL), a divide
//! error (SIGFPE) or a bus error in module code would kill the whole kload
//! process. Instead:
//!
//! 1. `handler` (installed once per process, on an alternate signal stack
//!    per kernel task) checks that the thread runs a kernel task and that
//!    RIP lies in kload's low memory (module code or the code blobs there);
//!    if not, the fault is kload's own and it crashes as before. Otherwise
//!    it records the fault in the thread's slot and rewrites the context
//!    the way an exception entry would: the faulting RIP is pushed on the
//!    task's stack (modules use `-mno-red-zone`) and RIP is set to
//!    `kload_fault_entry` (see `entry`). The handler only touches the
//!    context, const-initialised thread-locals and atomics:
//!    async-signal-safe.
//! 2. `kload_fault_entry` saves every register and calls
//!    `kload_fault_dispatch` in normal context, on the task's stack.
//! 3. `kload_fault_dispatch` lets the stub kernel report it
//!    (`kernel::bug::handle_fault`) and then either resumes (a WARN: at
//!    RIP + 2) or ends the task like an Oops (`task::kill` and
//!    `task::finish_if_killed`, which returns to the task's innermost
//!    `kload_enter`, skipping the module frames).

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Once, OnceLock};

use super::entry::{self, FaultFrame};
use super::task;
use super::watchdog;
use crate::mm;

/// The general registers at the fault, as `struct pt_regs` has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Regs {
    pub rax: u64,
    pub rbx: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub rbp: u64,
    pub rsp: u64,
    pub r8: u64,
    pub r9: u64,
    pub r10: u64,
    pub r11: u64,
    pub r12: u64,
    pub r13: u64,
    pub r14: u64,
    pub r15: u64,
    pub rip: u64,
    pub rflags: u64,
}

impl Regs {
    pub const ZERO: Regs = Regs {
        rax: 0,
        rbx: 0,
        rcx: 0,
        rdx: 0,
        rsi: 0,
        rdi: 0,
        rbp: 0,
        rsp: 0,
        r8: 0,
        r9: 0,
        r10: 0,
        r11: 0,
        r12: 0,
        r13: 0,
        r14: 0,
        r15: 0,
        rip: 0,
        rflags: 0,
    };
}

/// One fault of module code, as the signal handler saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// SIGSEGV, SIGBUS, SIGILL or SIGFPE.
    pub signo: i32,
    pub si_code: i32,
    /// `si_addr`: the faulting data address (CR2) for SIGSEGV/SIGBUS, the
    /// faulting instruction for SIGILL/SIGFPE.
    pub addr: u64,
    /// The x86 exception vector (14 page fault, 6 invalid opcode, 0 divide
    /// error, 13 general protection).
    pub trapno: u64,
    /// The hardware error code (for a page fault, with the USER bit set:
    /// the host CPU ran the code in user mode).
    pub err: u64,
    pub regs: Regs,
}

impl Fault {
    const EMPTY: Fault = Fault {
        signo: 0,
        si_code: 0,
        addr: 0,
        trapno: 0,
        err: 0,
        regs: Regs::ZERO,
    };
}

/// What the stub kernel decided about a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Go on at this RIP (a WARN: past its `ud2`).
    Resume(u64),
    /// The report is logged; the task dies (the kernel's `make_task_dead`).
    Kill(&'static str),
}

/// The kill reason of a page-fault Oops: the kernel ends the task with
/// SIGKILL (the shell says "Killed", status 137).
pub const KILLED_SIGKILL: &str = "Oops: the kernel killed the task (SIGKILL)";
/// The kill reason of `die()` (BUG, invalid opcode, divide error, general
/// protection): the task ends with SIGSEGV ("Segmentation fault", 139).
pub const KILLED_SIGSEGV: &str = "Oops: the kernel killed the task (SIGSEGV)";

/// The kill reason of the soft-lockup watchdog: the kernel would leave
/// the task spinning; kload ends it with SIGKILL ("Killed", 137).
pub const KILLED_WATCHDOG: &str = "soft lockup: the watchdog killed the task (SIGKILL)";

/// The signals a kernel exception arrives as, and the watchdog's.
const SIGNALS: [libc::c_int; 5] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGILL,
    libc::SIGFPE,
    watchdog::SIGNAL,
];

/// The actions that were installed before ours (Rust's stack-overflow
/// handler for SIGSEGV/SIGBUS), restored for a fault that is not module
/// code's.
static PREVIOUS: [OnceLock<libc::sigaction>; 5] = [const { OnceLock::new() }; 5];

/// Size of each kernel task's alternate signal stack.
const ALT_STACK_SIZE: usize = 64 * 1024;

/// Size of each kernel task's emergency stack, where a stack overflow is
/// reported (the kernel's double-fault IST stack): the report is built by
/// Rust code, which needs room.
const EMERGENCY_STACK_SIZE: usize = 256 * 1024;

thread_local! {
    /// Set while this thread runs a kernel task.
    static IN_TASK: Cell<bool> = const { Cell::new(false) };
    /// The usable part of the task's kernel stack, `[low, high)`.
    static TASK_STACK: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
    /// The lowest byte of the task's stack guard page (the guard ends at
    /// the stack's low end).
    static GUARD_LOW: Cell<u64> = const { Cell::new(0) };
    /// The 16-byte aligned top of the task's emergency stack.
    static EMERGENCY_TOP: Cell<u64> = const { Cell::new(0) };
    /// The last fault of module code on this thread.
    static SLOT: Cell<Fault> = const { Cell::new(Fault::EMPTY) };
}

/// Install the handlers (once per process).
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for (i, &sig) in SIGNALS.iter().enumerate() {
            // SAFETY: a zeroed sigaction is a valid "no handler, empty mask"
            // value, filled in below before use.
            let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
            act.sa_sigaction = handler as *const () as usize;
            // SA_RESTART: a watchdog signal that finds the task in kload
            // is ignored and must not interrupt kload's system calls.
            act.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_RESTART;
            // SAFETY: sa_mask is a valid sigset_t owned by `act`.
            unsafe { libc::sigemptyset(&mut act.sa_mask) };
            // SAFETY: see above; the previous action is written to `old`.
            let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
            // SAFETY: `handler` is an extern "C" SA_SIGINFO handler that
            // stays valid for the life of the process; both pointers are to
            // live sigaction values.
            let rc = unsafe { libc::sigaction(sig, &act, &mut old) };
            if rc == 0 {
                let _ = PREVIOUS[i].set(old);
            } else {
                log::warn!(
                    "cannot install the fault handler for signal {sig}: {}",
                    std::io::Error::last_os_error()
                );
            }
        }
    });
}

/// The fault handling of one kernel task thread: its alternate signal
/// stack and the marks the handler checks. Undone on drop.
pub struct TaskFaults {
    _alt: Vec<u8>,
    _emergency: Vec<u8>,
    old: libc::stack_t,
}

impl TaskFaults {
    /// Set up fault handling for the calling thread, which runs a task
    /// whose kernel stack usable part is `[stack_low, stack_high)`, with
    /// its guard page at `[guard_low, stack_low)`.
    pub fn enter(stack_low: u64, stack_high: u64, guard_low: u64) -> std::io::Result<TaskFaults> {
        install();
        let mut alt = vec![0u8; ALT_STACK_SIZE];
        let emergency = vec![0u8; EMERGENCY_STACK_SIZE];
        let emergency_top = (emergency.as_ptr() as u64 + EMERGENCY_STACK_SIZE as u64 - 64) & !15;
        let new = libc::stack_t {
            ss_sp: alt.as_mut_ptr().cast(),
            ss_flags: 0,
            ss_size: alt.len(),
        };
        // SAFETY: a zeroed stack_t is a plain value, overwritten by the call.
        let mut old: libc::stack_t = unsafe { std::mem::zeroed() };
        // SAFETY: `alt` is a live heap buffer of ALT_STACK_SIZE bytes, kept
        // in the returned TaskFaults until Drop restores the old stack.
        let rc = unsafe { libc::sigaltstack(&new, &mut old) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        TASK_STACK.with(|s| s.set((stack_low, stack_high)));
        GUARD_LOW.with(|g| g.set(guard_low));
        EMERGENCY_TOP.with(|e| e.set(emergency_top));
        IN_TASK.with(|t| t.set(true));
        Ok(TaskFaults {
            _alt: alt,
            _emergency: emergency,
            old,
        })
    }
}

impl Drop for TaskFaults {
    fn drop(&mut self) {
        IN_TASK.with(|t| t.set(false));
        TASK_STACK.with(|s| s.set((0, 0)));
        GUARD_LOW.with(|g| g.set(0));
        EMERGENCY_TOP.with(|e| e.set(0));
        // SAFETY: restores the thread's previous alternate stack (or none),
        // before `self._alt` is freed; `self.old` came from sigaltstack.
        unsafe { libc::sigaltstack(&self.old, std::ptr::null_mut()) };
    }
}

/// The fault is not module code's: let the previous action have it. A real
/// fault re-executes the instruction and faults again; a signal sent by
/// someone is raised again.
fn pass_on(sig: libc::c_int, si_code: libc::c_int) {
    let idx = SIGNALS.iter().position(|&s| s == sig);
    let previous = idx.and_then(|i| PREVIOUS[i].get());
    // SAFETY: sigaction and raise are async-signal-safe; `previous` is a
    // sigaction the kernel returned at install time, `dfl` a zeroed one
    // (SIG_DFL, empty mask).
    unsafe {
        let mut dfl: libc::sigaction = std::mem::zeroed();
        dfl.sa_sigaction = libc::SIG_DFL;
        let act = match previous {
            Some(p) if si_code > 0 => p,
            _ => &dfl,
        };
        libc::sigaction(sig, act, std::ptr::null_mut());
        if si_code <= 0 {
            libc::raise(sig);
        }
    }
}

extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo_t for an SA_SIGINFO handler.
    let (si_code, si_addr) = unsafe { ((*info).si_code, (*info).si_addr() as u64) };
    // SAFETY: and a valid ucontext_t as the third argument, which this
    // handler may modify: the thread resumes from it.
    let uc = unsafe { &mut *ctx.cast::<libc::ucontext_t>() };
    let g = &mut uc.uc_mcontext.gregs;
    let reg = |r: libc::c_int| g[r as usize] as u64;
    let (rip, rsp) = (reg(libc::REG_RIP), reg(libc::REG_RSP));
    let (low, high) = mm::low_range();
    let (stack_low, stack_high) = TASK_STACK.with(Cell::get);
    let guard_low = GUARD_LOW.with(Cell::get);
    let in_task = IN_TASK.with(Cell::get) && rip >= low && rip < high;
    let on_stack = rsp >= stack_low + 8 && rsp <= stack_high;
    if sig == watchdog::SIGNAL {
        // The watchdog's signal (tgkill: SI_TKILL). It may find the task
        // already back in kload: then it is not stuck, and nothing happens.
        if !(in_task && on_stack && si_code == libc::SI_TKILL) {
            return;
        }
    }
    // A fault on the guard page (or with RSP in it): the stack is
    // exhausted, so the report runs on the emergency stack.
    let in_guard = |a: u64| guard_low != 0 && a >= guard_low && a < stack_low + 8;
    let overflow = sig == libc::SIGSEGV && (in_guard(si_addr) || in_guard(rsp));
    let emergency_top = EMERGENCY_TOP.with(Cell::get);
    let ours = in_task
        && (sig == watchdog::SIGNAL || si_code > 0)
        && (on_stack || (overflow && emergency_top != 0));
    if !ours {
        pass_on(sig, si_code);
        return;
    }
    let fault = Fault {
        signo: sig,
        si_code,
        addr: si_addr,
        trapno: reg(libc::REG_TRAPNO),
        err: reg(libc::REG_ERR),
        regs: Regs {
            rax: reg(libc::REG_RAX),
            rbx: reg(libc::REG_RBX),
            rcx: reg(libc::REG_RCX),
            rdx: reg(libc::REG_RDX),
            rsi: reg(libc::REG_RSI),
            rdi: reg(libc::REG_RDI),
            rbp: reg(libc::REG_RBP),
            rsp,
            r8: reg(libc::REG_R8),
            r9: reg(libc::REG_R9),
            r10: reg(libc::REG_R10),
            r11: reg(libc::REG_R11),
            r12: reg(libc::REG_R12),
            r13: reg(libc::REG_R13),
            r14: reg(libc::REG_R14),
            r15: reg(libc::REG_R15),
            rip,
            rflags: reg(libc::REG_EFL),
        },
    };
    SLOT.with(|s| s.set(fault));
    // Even with RSP still just above the guard, the stack has too little
    // room left for the report.
    let slot = if overflow { emergency_top - 8 } else { rsp - 8 };
    // SAFETY: `slot` lies either in this task's own kernel stack (checked
    // above: rsp - 8 >= its lowest usable byte), below the interrupted
    // frame, which module code does not use (-mno-red-zone): an exception
    // entry would push there too; or at the top of the task's emergency
    // stack (a live buffer owned by its TaskFaults), which nothing else
    // uses.
    unsafe { (slot as *mut u64).write(rip) };
    g[libc::REG_RSP as usize] = slot as i64;
    g[libc::REG_RIP as usize] = entry::fault_entry_address() as i64;
}

/// Called by `kload_fault_entry` with the registers it saved; returns the
/// RIP to resume at, or does not return (the task dies).
///
/// # Safety
/// Only `kload_fault_entry` calls this, on a kernel task thread, with
/// `frame` pointing at the frame it just pushed.
#[no_mangle]
pub unsafe extern "C" fn kload_fault_dispatch(frame: *mut FaultFrame) -> u64 {
    // SAFETY: per this function's contract, `frame` is the live frame.
    let frame_rip = unsafe { (*frame).rip };
    // The time spent reporting is kload's, not module code's.
    task::note_module_code(false);
    let fault = SLOT.with(Cell::get);
    // Everything that owns memory lives inside `decide` and is gone when it
    // returns: the kill path below leaves this frame without unwinding it.
    let outcome = decide(&fault, frame_rip);
    match outcome {
        Outcome::Resume(rip) => {
            task::note_module_code(true);
            rip
        }
        Outcome::Kill(reason) => {
            task::kill(reason);
            task::finish_if_killed();
            // Only reached without a module entry to return to.
            std::process::abort()
        }
    }
}

fn decide(fault: &Fault, frame_rip: u64) -> Outcome {
    if frame_rip != fault.regs.rip {
        return Outcome::Kill("kload: fault frame does not match the recorded fault");
    }
    let Some(k) = task::current_kernel() else {
        return Outcome::Kill(KILLED_SIGSEGV);
    };
    catch_unwind(AssertUnwindSafe(|| {
        crate::kernel::bug::handle_fault(&k, fault)
    }))
    .unwrap_or(Outcome::Kill(
        "kload internal error while reporting a fault",
    ))
}
