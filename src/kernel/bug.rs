//! Exceptions in module code, as the kernel reports them: BUG()/WARN()
//! through the module's `__bug_table` (lib/bug.c `report_bug`, kernel/
//! panic.c `__warn`, arch/x86/kernel/traps.c `handle_bug`), page faults
//! (arch/x86/mm/fault.c `page_fault_oops`), divide errors and other
//! invalid opcodes (`die`).
//!
//! `handle_fault` is called by `exec::signal` in normal context on the
//! faulting task; it logs the report and says whether the task goes on (a
//! WARN resumes after its `ud2`) or dies.

use super::panic::{report_oops, show_regs, CUT_HERE, END_TRACE, TAINT_WARN};
use super::printk::{LOGLEVEL_ALERT, LOGLEVEL_CRIT, LOGLEVEL_EMERG, LOGLEVEL_WARNING};
use super::Kernel;
use crate::exec::signal::{Fault, Outcome, KILLED_SIGKILL, KILLED_SIGSEGV};
use crate::exec::task;
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
    match f.signo {
        libc::SIGILL => invalid_op(k, f),
        libc::SIGFPE => {
            report_oops(k, "divide error", 0, &f.regs, None);
            Outcome::Kill(KILLED_SIGSEGV)
        }
        libc::SIGSEGV if f.trapno == X86_TRAP_GP => {
            report_oops(k, "general protection fault", 0, &f.regs, None);
            Outcome::Kill(KILLED_SIGSEGV)
        }
        libc::SIGSEGV if f.trapno == X86_TRAP_DE => {
            report_oops(k, "divide error", 0, &f.regs, None);
            Outcome::Kill(KILLED_SIGSEGV)
        }
        _ => page_fault_oops(k, f),
    }
}

/// `handle_bug` / `report_bug`: a `ud2` with a table entry is a WARN (go
/// on after it) or a BUG (Oops); anything else is an invalid opcode Oops.
fn invalid_op(k: &Kernel, f: &Fault) -> Outcome {
    let rip = f.regs.rip;
    let is_ud2 = mm::read_bytes(rip, 2).is_some_and(|b| b == [0x0f, 0x0b]);
    let bug = if is_ud2 { find_bug(k, rip) } else { None };
    let Some(bug) = bug else {
        report_oops(k, "invalid opcode", 0, &f.regs, None);
        return Outcome::Kill(KILLED_SIGSEGV);
    };
    let log = &k.log;
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
    if bug.flags & BUGFLAG_NO_CUT_HERE == 0 {
        log.emit(LOGLEVEL_WARNING, CUT_HERE);
    }
    if warning {
        warn(k, &bug, f);
        return Outcome::Resume(rip + 2);
    }
    match bug.location() {
        Some(at) => log.emit(LOGLEVEL_CRIT, &format!("kernel BUG at {at}!")),
        None => log.emit(
            LOGLEVEL_CRIT,
            &format!(
                "Kernel BUG at {} [verbose debug info unavailable]",
                k.symbolize(rip)
            ),
        ),
    }
    report_oops(k, "invalid opcode", 0, &f.regs, None);
    Outcome::Kill(KILLED_SIGSEGV)
}

/// `__warn`: the WARNING line, the module list, the registers and trace,
/// the end marker; then the entry's taint.
fn warn(k: &Kernel, bug: &BugEntry, f: &Fault) {
    let log = &k.log;
    let pid = task::current_task().map_or(0, |t| t.pid);
    let site = k.symbolize(f.regs.rip);
    let line = match bug.location() {
        Some(at) => format!("WARNING: CPU: 0 PID: {pid} at {at} {site}"),
        None => format!("WARNING: CPU: 0 PID: {pid} at {site}"),
    };
    log.emit(LOGLEVEL_WARNING, &line);
    log.emit(
        LOGLEVEL_WARNING,
        &format!("Modules linked in:{}", k.modules_linked_in()),
    );
    for line in show_regs(k, &f.regs, 0) {
        log.emit(LOGLEVEL_WARNING, &line);
    }
    log.emit(LOGLEVEL_WARNING, END_TRACE);
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
    let log = &k.log;
    let address = f.addr;
    // The host CPU ran module code in user mode; the kernel would not have.
    let err = if f.trapno == X86_TRAP_PF {
        f.err & !X86_PF_USER
    } else {
        // SIGBUS and friends carry no page-fault error code.
        0
    };
    if err & X86_PF_INSTR != 0 && err & X86_PF_PROT != 0 {
        log.emit(
            LOGLEVEL_CRIT,
            "kernel tried to execute NX-protected page - exploit attempt? (uid: 0)",
        );
    }
    let what = if address < PAGE_SIZE {
        format!("BUG: kernel NULL pointer dereference, address: {address:016x}")
    } else {
        format!("BUG: unable to handle page fault for address: {address:016x}")
    };
    log.emit(LOGLEVEL_ALERT, &what);
    let access = if err & X86_PF_INSTR != 0 {
        "instruction fetch"
    } else if err & X86_PF_WRITE != 0 {
        "write access"
    } else {
        "read access"
    };
    log.emit(
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
    log.emit(
        LOGLEVEL_ALERT,
        &format!("#PF: error_code(0x{err:04x}) - {why}"),
    );
    // `dump_pagetable`: kload has no page tables to walk.
    log.emit(LOGLEVEL_ALERT, "PGD 0 P4D 0 ");
    report_oops(k, "Oops", err, &f.regs, Some(address));
    if let Some(t) = task::current_task() {
        log.emit(
            LOGLEVEL_EMERG,
            &format!("note: {}[{}] exited with irqs disabled", t.comm, t.pid),
        );
    }
    Outcome::Kill(KILLED_SIGKILL)
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
