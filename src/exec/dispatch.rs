//! The landing point of every stub trampoline: it turns the raw register
//! spill into safe `CallArgs`, runs the stub, and finishes a task that a stub
//! marked as dying.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::task;
use crate::kernel::symbols;
use crate::kernel::vsprintf::VaList;
use crate::mm;

/// The arguments of one call from module code into the stub kernel.
#[derive(Debug, Clone)]
pub struct CallArgs {
    regs: [u64; 6],
    /// Address of the first stack-passed argument (the caller's `rsp + 8`).
    stack: u64,
}

impl CallArgs {
    /// Arguments built by hand (tests, in-kernel calls between stubs).
    pub fn new(regs: [u64; 6]) -> CallArgs {
        CallArgs { regs, stack: 0 }
    }

    /// Call stub `f` with up to six register arguments (tests, in-kernel
    /// calls between stubs).
    pub fn call(f: fn(&mut CallArgs) -> u64, args: &[u64]) -> u64 {
        let mut regs = [0u64; 6];
        regs[..args.len()].copy_from_slice(args);
        f(&mut CallArgs::new(regs))
    }

    /// The `i`th integer-class argument. Arguments past the sixth come from
    /// the caller's stack; an unreadable slot reads as 0.
    pub fn arg(&self, i: usize) -> u64 {
        match self.regs.get(i) {
            Some(&r) => r,
            None => {
                let off = (i as u64 - 6) * 8;
                mm::read_u64(self.stack.wrapping_add(off)).unwrap_or(0)
            }
        }
    }

    /// The `i`th argument truncated to a C `int`.
    pub fn int(&self, i: usize) -> i32 {
        self.arg(i) as u32 as i32
    }

    /// The same call with other register arguments (a stub calling another
    /// stub on its caller's behalf keeps the caller's return address).
    pub fn with_regs(&self, regs: [u64; 6]) -> CallArgs {
        CallArgs {
            regs,
            stack: self.stack,
        }
    }

    /// The caller's stack pointer at the call (where the return address is).
    pub fn caller_rsp(&self) -> u64 {
        self.stack.wrapping_sub(8)
    }

    /// The return address of the call: the module instruction after it.
    pub fn caller(&self) -> u64 {
        mm::read_u64(self.stack.wrapping_sub(8)).unwrap_or(0)
    }

    /// The variadic arguments starting at argument `first` (the `...`).
    pub fn va(&self, first: usize) -> ArgsVaList<'_> {
        ArgsVaList {
            args: self,
            next: first,
        }
    }
}

/// `...` arguments read in order from a call's registers, then its stack.
pub struct ArgsVaList<'a> {
    args: &'a CallArgs,
    next: usize,
}

impl VaList for ArgsVaList<'_> {
    fn next_arg(&mut self) -> u64 {
        let v = self.args.arg(self.next);
        self.next += 1;
        v
    }
}

/// The call from module code the current thread is serving, as the
/// trampoline left it: what a report about a fault inside the stub needs
/// (the stub, the arguments, where the module's return address is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StubCall {
    pub id: u32,
    /// rdi, rsi, rdx, rcx, r8, r9 at the call.
    pub regs: [u64; 6],
    /// The caller's stack pointer after the call returns (its `rsp`
    /// before the `call`); the return address is just below it.
    pub stack: u64,
}

impl StubCall {
    /// Where the return address into module code is.
    pub fn ret_slot(&self) -> u64 {
        self.stack.wrapping_sub(8)
    }

    /// The caller's `%rbp`, which the trampoline pushed below the return
    /// address.
    pub fn caller_rbp(&self) -> u64 {
        mm::read_u64(self.stack.wrapping_sub(16)).unwrap_or(0)
    }
}

thread_local! {
    /// The innermost stub call of this thread's task (stubs may call module
    /// code, which may call stubs).
    static CURRENT_CALL: Cell<Option<StubCall>> = const { Cell::new(None) };
}

/// The stub call this thread is serving, if any.
pub fn current_call() -> Option<StubCall> {
    CURRENT_CALL.with(Cell::get)
}

/// Called by every trampoline (see `entry`): `regs` points at the six
/// spilled argument registers, `stack` at the stack-passed arguments.
///
/// # Safety
/// Only the generated trampolines call this, with `regs` pointing at six
/// readable u64 slots on the current stack.
#[no_mangle]
pub unsafe extern "C" fn kload_stub_dispatch(regs: *const [u64; 6], stack: u64, id: u32) -> u64 {
    // SAFETY: per this function's contract, the trampoline pushed exactly six
    // registers at `regs` just before calling.
    let regs = unsafe { *regs };
    // Back in kload: the watchdog does not count time spent in stubs.
    task::note_module_code(false);
    let mut args = CallArgs { regs, stack };
    let outer = CURRENT_CALL.with(|c| c.replace(Some(StubCall { id, regs, stack })));
    let rax = match catch_unwind(AssertUnwindSafe(|| symbols::call_stub(id, &mut args))) {
        Ok(v) => v,
        Err(p) => {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            task::kill(&format!(
                "kload internal error in {}: {msg}",
                symbols::stub_name(id)
            ));
            0
        }
    };
    CURRENT_CALL.with(|c| c.set(outer));
    task::finish_if_killed();
    task::note_module_code(true);
    rax
}
