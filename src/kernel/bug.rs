//! Exceptions in module code, as the kernel reports them: BUG()/WARN()
//! through the module's `__bug_table` (lib/bug.c `report_bug`, kernel/
//! panic.c `__warn`, arch/x86/kernel/traps.c `handle_bug`), page faults
//! (arch/x86/mm/fault.c `page_fault_oops`), divide errors and other
//! invalid opcodes (`die`).
//!
//! `handle_fault` is called by `exec::signal` in normal context on the
//! faulting task; it logs the report and says whether the task goes on (a
//! WARN resumes after its `ud2`) or dies.

use super::panic::{
    report_oops, report_oops_trace_from, show_regs, ReportBuilder, ReportKind, CUT_HERE, END_TRACE,
    TAINT_SOFTLOCKUP, TAINT_WARN,
};
use super::printk::{LOGLEVEL_ALERT, LOGLEVEL_CRIT, LOGLEVEL_EMERG, LOGLEVEL_WARNING};
use super::symbols;
use super::unwind_orc::TraceFrom;
use super::Kernel;
use crate::exec::dispatch::StubCall;
use crate::exec::signal::{Fault, Outcome, Regs, KILLED_SIGKILL, KILLED_SIGSEGV, KILLED_WATCHDOG};
use crate::exec::{task, watchdog};
use crate::mm;

/// `struct bug_entry` with relative pointers and `DEBUG_BUGVERBOSE`: s32
/// `bug_addr_disp`, s32 `file_disp`, u16 `line`, u16 `flags` (6.1 and 6.12).
pub const BUG_ENTRY_SIZE: u64 = 12;

pub const BUGFLAG_WARNING: u16 = 1 << 0;
pub const BUGFLAG_ONCE: u16 = 1 << 1;
pub const BUGFLAG_DONE: u16 = 1 << 2;
pub const BUGFLAG_NO_CUT_HERE: u16 = 1 << 3;

/// x86 exception vectors (`uc_mcontext.gregs[REG_TRAPNO]`).
const X86_TRAP_DE: u64 = 0;
const X86_TRAP_GP: u64 = 13;
const X86_TRAP_PF: u64 = 14;

/// Page-fault error code bits (`enum x86_pf_error_code`).
const X86_PF_PROT: u64 = 1 << 0;
const X86_PF_WRITE: u64 = 1 << 1;
const X86_PF_USER: u64 = 1 << 2;
const X86_PF_RSVD: u64 = 1 << 3;
const X86_PF_INSTR: u64 = 1 << 4;
const X86_PF_PK: u64 = 1 << 5;

const PAGE_SIZE: u64 = 4096;

/// One decoded `__bug_table` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BugEntry {
    /// Address of the entry itself (its flags are at +10).
    pub entry: u64,
    /// Address of the `ud2`.
    pub bug_addr: u64,
    pub file: Option<String>,
    pub line: u16,
    pub flags: u16,
}

impl BugEntry {
    /// The taint a warning adds (`BUGFLAG_TAINT(taint)`: bits 8–15).
    pub fn taint(&self) -> u32 {
        u32::from(self.flags >> 8)
    }

    fn location(&self) -> Option<String> {
        self.file.as_ref().map(|f| format!("{f}:{}", self.line))
    }
}

/// Decode entry `i` of a table at `table` whose bytes are `bytes`.
fn decode(table: u64, bytes: &[u8], i: usize) -> Option<BugEntry> {
    let e = bytes.get(i * 12..i * 12 + 12)?;
    let entry = table + (i as u64) * BUG_ENTRY_SIZE;
    let s32 = |o: usize| i32::from_le_bytes([e[o], e[o + 1], e[o + 2], e[o + 3]]) as i64;
    let bug_addr = entry.wrapping_add_signed(s32(0));
    let file_addr = (entry + 4).wrapping_add_signed(s32(4));
    Some(BugEntry {
        entry,
        bug_addr,
        file: mm::read_cstr(file_addr, 4096).map(|b| String::from_utf8_lossy(&b).into_owned()),
        line: u16::from_le_bytes([e[8], e[9]]),
        flags: u16::from_le_bytes([e[10], e[11]]),
    })
}

/// `find_bug`: the `__bug_table` entry of the `ud2` at `addr`, in any module.
pub fn find_bug(k: &Kernel, addr: u64) -> Option<BugEntry> {
    for m in k.module_list() {
        if m.num_bugs == 0 || !m.contains(addr) {
            continue;
        }
        let bytes = mm::read_bytes(m.bug_table, (m.num_bugs * BUG_ENTRY_SIZE) as usize)?;
        for i in 0..m.num_bugs as usize {
            let e = decode(m.bug_table, &bytes, i)?;
            if e.bug_addr == addr {
                return Some(e);
            }
        }
    }
    None
}

/// Report a fault of module code and decide what happens to the task.
pub fn handle_fault(k: &Kernel, f: &Fault) -> Outcome {
    let oops = |what: &str| {
        let mut b = ReportBuilder::new(k, ReportKind::Oops, Some(f.regs.rip));
        report_oops(&mut b, what, 0, &f.regs, None);
        b.finish();
        Outcome::Kill(KILLED_SIGSEGV)
    };
    match f.signo {
        watchdog::SIGNAL => soft_lockup(k, f),
        libc::SIGILL => invalid_op(k, f),
        libc::SIGFPE => oops("divide error"),
        libc::SIGSEGV if hits_stack_guard(f) => stack_overflow(k, f),
        libc::SIGSEGV if f.trapno == X86_TRAP_GP => oops("general protection fault"),
        libc::SIGSEGV if f.trapno == X86_TRAP_DE => oops("divide error"),
        _ => page_fault_oops(k, f),
    }
}

/// Whether a SIGSEGV is the current task's stack running into its guard
/// page (the address, or RSP, lies in it).
fn hits_stack_guard(f: &Fault) -> bool {
    let Some(t) = task::current_task() else {
        return false;
    };
    let (low, high) = t.guard_range();
    let inside = |a: u64| a >= low && a < high;
    inside(f.addr) || inside(f.regs.rsp)
}

/// `hashed %p` of the kernel, for the stack overflow line.
fn hashed(k: &Kernel, addr: u64) -> String {
    struct One(u64);
    impl crate::kernel::vsprintf::VaList for One {
        fn next_arg(&mut self) -> u64 {
            self.0
        }
    }
    String::from_utf8_lossy(&crate::kernel::vsprintf::vsnprintf(
        b"%p",
        &mut One(addr),
        k,
    ))
    .into_owned()
}

/// `handle_stack_overflow` (arch/x86/kernel/traps.c, 6.1 and 6.12): the
/// guard page line, then `die("stack guard page", regs, 0)`; the task dies
/// with SIGSEGV. The report runs on the task's emergency stack.
fn stack_overflow(k: &Kernel, f: &Fault) -> Outcome {
    let Some(t) = task::current_task() else {
        return Outcome::Kill(KILLED_SIGSEGV);
    };
    let (begin, end) = t.stack_range();
    let mut b = ReportBuilder::new(k, ReportKind::StackOverflow, Some(f.regs.rip));
    b.emit(
        LOGLEVEL_EMERG,
        &format!(
            "BUG: TASK stack guard page was hit at {} (stack is {}..{})",
            hashed(k, f.addr),
            hashed(k, begin),
            hashed(k, end),
        ),
    );
    // The guard page cannot be read: the trace starts above it.
    let from = TraceFrom::Regs {
        regs: f.regs,
        scan_from: f.regs.rsp.max(begin),
    };
    report_oops_trace_from(&mut b, "stack guard page", 0, &f.regs, None, from);
    // The overflow is handled on the double-fault stack: `oops_end` sees
    // an interrupt context and panics. kload ends only the task.
    b.emit(
        LOGLEVEL_EMERG,
        "Kernel panic - not syncing: Fatal exception in interrupt",
    );
    b.finish();
    Outcome::Kill(KILLED_SIGSEGV)
}

/// `watchdog_timer_fn` (kernel/watchdog.c, 6.1 and 6.12) when the task
/// has been stuck in module code past the threshold: the soft lockup line,
/// the module list, `show_regs`; taints L. Debian boots with
/// `softlockup_panic=0`, so the kernel goes on (and the task keeps
/// spinning); kload kills the task so that a run always ends.
fn soft_lockup(k: &Kernel, f: &Fault) -> Outcome {
    let secs = task::current_watch().map_or(0, |w| w.stuck_secs());
    let mut b = ReportBuilder::new(k, ReportKind::SoftLockup, Some(f.regs.rip));
    let (pid, comm) = task::current_task().map_or((0, String::new()), |t| (t.pid, t.comm.clone()));
    b.emit(
        LOGLEVEL_EMERG,
        &format!("watchdog: BUG: soft lockup - CPU#0 stuck for {secs}s! [{comm}:{pid}]"),
    );
    b.emit(
        LOGLEVEL_WARNING,
        &format!("Modules linked in:{}", k.modules_linked_in()),
    );
    for line in show_regs(k, &f.regs) {
        b.emit(LOGLEVEL_WARNING, &line);
    }
    k.taint.add(TAINT_SOFTLOCKUP);
    b.finish();
    Outcome::Kill(KILLED_WATCHDOG)
}

/// `handle_bug` / `report_bug`: a `ud2` with a table entry is a WARN (go
/// on after it) or a BUG (Oops); anything else is an invalid opcode Oops.
fn invalid_op(k: &Kernel, f: &Fault) -> Outcome {
    let rip = f.regs.rip;
    let is_ud2 = mm::read_bytes(rip, 2).is_some_and(|b| b == [0x0f, 0x0b]);
    let bug = if is_ud2 { find_bug(k, rip) } else { None };
    let Some(bug) = bug else {
        let mut b = ReportBuilder::new(k, ReportKind::Oops, Some(rip));
        report_oops(&mut b, "invalid opcode", 0, &f.regs, None);
        b.finish();
        return Outcome::Kill(KILLED_SIGSEGV);
    };
    let warning = bug.flags & BUGFLAG_WARNING != 0;
    if warning && bug.flags & BUGFLAG_ONCE != 0 {
        if bug.flags & BUGFLAG_DONE != 0 {
            return Outcome::Resume(rip + 2);
        }
        let flags = bug.flags | BUGFLAG_DONE;
        if let Err(e) = mm::write_bytes(bug.entry + 10, &flags.to_le_bytes()) {
            log::warn!("cannot mark the WARN_ON_ONCE at {rip:#x} as done: {e}");
        }
    }
    let kind = if warning {
        ReportKind::Warning
    } else {
        ReportKind::Bug
    };
    let mut b = ReportBuilder::new(k, kind, Some(rip));
    b.set_location(bug.file.clone(), Some(u32::from(bug.line)));
    if bug.flags & BUGFLAG_NO_CUT_HERE == 0 {
        b.emit(LOGLEVEL_WARNING, CUT_HERE);
    }
    if warning {
        warn(&mut b, &bug, f);
        b.finish();
        return Outcome::Resume(rip + 2);
    }
    match bug.location() {
        Some(at) => b.emit(LOGLEVEL_CRIT, &format!("kernel BUG at {at}!")),
        None => b.emit(
            LOGLEVEL_CRIT,
            &format!(
                "Kernel BUG at {} [verbose debug info unavailable]",
                k.symbolize(rip)
            ),
        ),
    }
    report_oops(&mut b, "invalid opcode", 0, &f.regs, None);
    b.finish();
    Outcome::Kill(KILLED_SIGSEGV)
}

/// `__warn`: the WARNING line, the module list, the registers and trace,
/// the end marker; then the entry's taint.
fn warn(b: &mut ReportBuilder<'_>, bug: &BugEntry, f: &Fault) {
    let k = b.kernel();
    let pid = task::current_task().map_or(0, |t| t.pid);
    let site = k.symbolize(f.regs.rip);
    let line = match bug.location() {
        Some(at) => format!("WARNING: CPU: 0 PID: {pid} at {at} {site}"),
        None => format!("WARNING: CPU: 0 PID: {pid} at {site}"),
    };
    b.emit(LOGLEVEL_WARNING, &line);
    b.emit(
        LOGLEVEL_WARNING,
        &format!("Modules linked in:{}", k.modules_linked_in()),
    );
    for line in show_regs(k, &f.regs) {
        b.emit(LOGLEVEL_WARNING, &line);
    }
    b.emit(LOGLEVEL_WARNING, END_TRACE);
    let taint = bug.taint();
    if taint < 32 {
        k.taint.add(taint);
    } else {
        k.taint.add(TAINT_WARN);
    }
}

/// `page_fault_oops` and `show_fault_oops`: a fault on a kernel address
/// that nothing fixes up.
fn page_fault_oops(k: &Kernel, f: &Fault) -> Outcome {
    // The host CPU ran module code in user mode; the kernel would not have.
    let err = if f.trapno == X86_TRAP_PF {
        f.err & !X86_PF_USER
    } else {
        // SIGBUS and friends carry no page-fault error code.
        0
    };
    let from = TraceFrom::Regs {
        regs: f.regs,
        scan_from: f.regs.rsp,
    };
    let kload_line = beyond_the_kernel(k, f.addr, err);
    page_fault_report(k, f.addr, err, &f.regs, from, kload_line)
}

/// A stub of the kernel was handed memory it cannot access (`strlen(NULL)`,
/// `memcpy` to a bad address): the page-fault Oops the kernel's own
/// function would raise, with RIP at the stub (kload's symbol, at offset 0:
/// the stub's real instruction is Rust code), the registers the call
/// passed (the others, unknown to the stub, read 0), and the call trace
/// from the module's call. `what` names what kload found, in a `kload: `
/// line. The caller kills the task (SIGKILL, as after a page fault).
pub fn stub_fault(k: &Kernel, call: &StubCall, what: &str, addr: u64, len: u64, write: bool) {
    let fault = mm::first_fault(addr, len, write).unwrap_or(mm::FirstFault {
        addr,
        present: false,
    });
    let mut err = if write { X86_PF_WRITE } else { 0 };
    if fault.present {
        err |= X86_PF_PROT;
    }
    let regs = Regs {
        rdi: call.regs[0],
        rsi: call.regs[1],
        rdx: call.regs[2],
        rcx: call.regs[3],
        r8: call.regs[4],
        r9: call.regs[5],
        rbp: call.caller_rbp(),
        rsp: call.ret_slot(),
        rip: symbols::stub_address(call.id).unwrap_or(0),
        ..Regs::ZERO
    };
    let from = TraceFrom::Call {
        ret_slot: call.ret_slot(),
        bp: regs.rbp,
    };
    page_fault_report(
        k,
        fault.addr,
        err,
        &regs,
        from,
        Some(format!("kload: {what}")),
    );
}

/// The page-fault report: the BUG and #PF lines, kload's own line if any,
/// the Oops, the note that the task exits; CR2 is the fault address.
fn page_fault_report(
    k: &Kernel,
    address: u64,
    err: u64,
    regs: &Regs,
    from: TraceFrom,
    kload_line: Option<String>,
) -> Outcome {
    k.set_cr2(address);
    let mut b = ReportBuilder::new(k, ReportKind::Oops, Some(regs.rip));
    if err & X86_PF_INSTR != 0 && err & X86_PF_PROT != 0 {
        b.emit(
            LOGLEVEL_CRIT,
            "kernel tried to execute NX-protected page - exploit attempt? (uid: 0)",
        );
    }
    let what = if address < PAGE_SIZE {
        format!("BUG: kernel NULL pointer dereference, address: {address:016x}")
    } else {
        format!("BUG: unable to handle page fault for address: {address:016x}")
    };
    b.emit(LOGLEVEL_ALERT, &what);
    let access = if err & X86_PF_INSTR != 0 {
        "instruction fetch"
    } else if err & X86_PF_WRITE != 0 {
        "write access"
    } else {
        "read access"
    };
    b.emit(
        LOGLEVEL_ALERT,
        &format!("#PF: supervisor {access} in kernel mode"),
    );
    let why = if err & X86_PF_PROT == 0 {
        "not-present page"
    } else if err & X86_PF_RSVD != 0 {
        "reserved bit violation"
    } else if err & X86_PF_PK != 0 {
        "protection keys violation"
    } else {
        "permissions violation"
    };
    b.emit(
        LOGLEVEL_ALERT,
        &format!("#PF: error_code(0x{err:04x}) - {why}"),
    );
    // `dump_pagetable`: kload has no page tables to walk.
    b.emit(LOGLEVEL_ALERT, "PGD 0 P4D 0 ");
    if let Some(line) = kload_line {
        b.emit(LOGLEVEL_ALERT, &line);
    }
    report_oops_trace_from(&mut b, "Oops", err, regs, Some(address), from);
    if k.in_interrupt() {
        // `oops_end` in interrupt context panics (a timer callback).
        b.emit(
            LOGLEVEL_EMERG,
            "Kernel panic - not syncing: Fatal exception in interrupt",
        );
    } else if let Some(t) = task::current_task() {
        b.emit(
            LOGLEVEL_EMERG,
            &format!("note: {}[{}] exited with irqs disabled", t.comm, t.pid),
        );
    }
    b.finish();
    Outcome::Kill(KILLED_SIGKILL)
}

/// kload's own line in a page-fault Oops, where the kernel would crash or
/// silently use reused memory: an access to a module's init memory after
/// it was freed, or a write to its `__ro_after_init` data after init.
fn beyond_the_kernel(k: &Kernel, address: u64, err: u64) -> Option<String> {
    use crate::module::layout_sections::MemType;
    let modules = k.module_list();
    // Memory since reused by a module is that module's now.
    let owner = modules.iter().find(|m| m.contains(address));
    if let Some(m) = owner {
        if err & X86_PF_WRITE == 0 || m.freed_init().is_none() {
            return None;
        }
        let (name, off) = m.symbol_in(MemType::RoAfterInit, address)?;
        return Some(format!(
            "kload: {}: write to __ro_after_init variable {name}+{off:#x} after init",
            m.name
        ));
    }
    modules.iter().find_map(|m| {
        let freed = m.freed_init()?;
        let (mem, _, _) = freed.region_of(address)?;
        let what = if mem.is_text() {
            "__init code"
        } else {
            "__initdata"
        };
        let at = freed
            .symbol(address)
            .map_or(format!("{address:#x}"), |(name, off)| {
                format!("{name}+{off:#x}")
            });
        Some(format!(
            "kload: {}: access to {what} {at} after init (freed at init end)",
            m.name
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_relative_entries() {
        // An entry at 0x1000: ud2 at 0x0f00 (-0x100), file string right
        // after the table would be at 0x1004 + 0x20; line 27, WARN_ON flags.
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&(-0x100i32).to_le_bytes());
        bytes.extend_from_slice(&0i32.to_le_bytes());
        bytes.extend_from_slice(&27u16.to_le_bytes());
        bytes.extend_from_slice(&0x0901u16.to_le_bytes());
        let e = decode(0x1000, &bytes, 0).unwrap();
        assert_eq!(e.bug_addr, 0x0f00);
        assert_eq!(e.line, 27);
        assert_eq!(e.flags & BUGFLAG_WARNING, BUGFLAG_WARNING);
        assert_eq!(e.taint(), TAINT_WARN);
        assert_eq!(e.file, None);
        assert!(decode(0x1000, &bytes, 1).is_none());
    }
}
