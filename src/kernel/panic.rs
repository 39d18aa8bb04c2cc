//! Taints and the report headers of kernel/panic.c and lib/dump_stack.c,
//! plus the stubs that end a task: `__stack_chk_fail` and the traps of
//! unimplemented symbols.

use std::sync::atomic::{AtomicU32, Ordering};

use super::printk::{LOGLEVEL_EMERG, LOGLEVEL_ERR, LOGLEVEL_WARNING};
use super::symbols::Registry;
use super::Kernel;
use crate::exec::dispatch::CallArgs;
use crate::exec::task;

pub const TAINT_PROPRIETARY_MODULE: u32 = 0;
pub const TAINT_FORCED_MODULE: u32 = 1;
pub const TAINT_FORCED_RMMOD: u32 = 3;
pub const TAINT_DIE: u32 = 7;
pub const TAINT_WARN: u32 = 9;
pub const TAINT_CRAP: u32 = 10;
pub const TAINT_OOT_MODULE: u32 = 12;
pub const TAINT_UNSIGNED_MODULE: u32 = 13;
pub const TAINT_LIVEPATCH: u32 = 15;
pub const TAINT_TEST: u32 = 18;

/// One taint flag: letter when set, letter when clear, whether modules carry it, name.
struct TaintFlag(char, char, bool, &'static str);

const TAINT_FLAGS: [TaintFlag; 19] = [
    TaintFlag('P', 'G', true, "PROPRIETARY_MODULE"),
    TaintFlag('F', ' ', true, "FORCED_MODULE"),
    TaintFlag('S', ' ', false, "CPU_OUT_OF_SPEC"),
    TaintFlag('R', ' ', false, "FORCED_RMMOD"),
    TaintFlag('M', ' ', false, "MACHINE_CHECK"),
    TaintFlag('B', ' ', false, "BAD_PAGE"),
    TaintFlag('U', ' ', false, "USER"),
    TaintFlag('D', ' ', false, "DIE"),
    TaintFlag('A', ' ', false, "OVERRIDDEN_ACPI_TABLE"),
    TaintFlag('W', ' ', false, "WARN"),
    TaintFlag('C', ' ', true, "CRAP"),
    TaintFlag('I', ' ', false, "FIRMWARE_WORKAROUND"),
    TaintFlag('O', ' ', true, "OOT_MODULE"),
    TaintFlag('E', ' ', true, "UNSIGNED_MODULE"),
    TaintFlag('L', ' ', false, "SOFTLOCKUP"),
    TaintFlag('K', ' ', true, "LIVEPATCH"),
    TaintFlag('X', ' ', true, "AUX"),
    TaintFlag('T', ' ', true, "RANDSTRUCT"),
    TaintFlag('N', ' ', true, "TEST"),
];

/// The kernel-wide taint mask.
#[derive(Debug, Default)]
pub struct Taint(AtomicU32);

impl Taint {
    /// Set a flag; true if it was not set before.
    pub fn add(&self, flag: u32) -> bool {
        self.0.fetch_or(1 << flag, Ordering::Relaxed) & (1 << flag) == 0
    }

    pub fn test(&self, flag: u32) -> bool {
        self.0.load(Ordering::Relaxed) & (1 << flag) != 0
    }

    pub fn mask(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }

    /// `print_tainted()`: "Not tainted" or "Tainted: " and one letter per flag.
    pub fn print_tainted(&self) -> String {
        let mask = self.mask();
        if mask == 0 {
            return "Not tainted".into();
        }
        let letters: String = TAINT_FLAGS
            .iter()
            .enumerate()
            .map(|(i, f)| if mask & (1 << i) != 0 { f.0 } else { f.1 })
            .collect();
        format!("Tainted: {letters}")
    }

    /// 6.11+ `print_tainted_verbose()`: "Tainted: [O]=OOT_MODULE, [E]=UNSIGNED_MODULE".
    pub fn print_tainted_verbose(&self) -> String {
        let mask = self.mask();
        let parts: Vec<String> = TAINT_FLAGS
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, f)| format!("[{}]={}", f.0, f.3))
            .collect();
        format!("Tainted: {}", parts.join(", "))
    }
}

/// The letters of a module's own taints, as lsmod and "Modules linked in" show them.
pub fn module_flags(mask: u32) -> String {
    TAINT_FLAGS
        .iter()
        .enumerate()
        .filter(|(i, f)| f.2 && mask & (1 << i) != 0)
        .map(|(_, f)| f.0)
        .collect()
}

/// The `CPU: ... Comm: ... Tainted: ...` line of every report
/// (`dump_stack_print_info`): 6.11 added the UID, and the verbose taint line
/// after it. Debian's kernels end the line with their package version.
pub fn report_header(k: &Kernel) -> Vec<String> {
    let (pid, comm) =
        task::current_task().map_or((0, "swapper/0".to_owned()), |t| (t.pid, t.comm.clone()));
    let release = k.profile.release;
    let tainted = k.taint.print_tainted();
    let version = match k.profile.package_version {
        "" => "#1".to_owned(),
        v => format!("#1  Debian {v}"),
    };
    if k.profile.version() < (6, 11) {
        return vec![format!(
            "CPU: 0 PID: {pid} Comm: {comm} {tainted} {release} {version}"
        )];
    }
    let mut v = vec![format!(
        "CPU: 0 UID: 0 PID: {pid} Comm: {comm} {tainted} {release} {version}"
    )];
    if k.taint.mask() != 0 {
        v.push(k.taint.print_tainted_verbose());
    }
    v
}

/// Report a call into a symbol kload does not implement, like an Oops, and
/// let the caller kill the task.
pub fn unimplemented_called(name: &str, caller: u64) {
    let Some(k) = task::current_kernel() else {
        return;
    };
    let log = &k.log;
    log.emit(
        LOGLEVEL_EMERG,
        &format!("BUG: kload: call to unimplemented kernel function {name}"),
    );
    for line in report_header(&k) {
        log.emit(LOGLEVEL_WARNING, &line);
    }
    log.emit(LOGLEVEL_WARNING, "Call Trace:");
    log.emit(LOGLEVEL_WARNING, " <TASK>");
    log.emit(
        LOGLEVEL_WARNING,
        &format!(" {}", k.symbolize_return_address(caller)),
    );
    log.emit(LOGLEVEL_WARNING, " </TASK>");
    log.emit(
        LOGLEVEL_WARNING,
        &format!("Modules linked in:{}", k.modules_linked_in()),
    );
    log.emit(LOGLEVEL_WARNING, "---[ end trace 0000000000000000 ]---");
    k.taint.add(TAINT_DIE);
}

/// `__stack_chk_fail`: the kernel panics with "stack-protector: Kernel stack
/// is corrupted in: %pB"; kload reports the same and kills only the task.
fn sys_stack_chk_fail(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let site = k.symbolize_return_address(a.caller());
    k.log.emit(
        LOGLEVEL_EMERG,
        &format!(
            "Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: {site}"
        ),
    );
    for line in report_header(&k) {
        k.log.emit(LOGLEVEL_ERR, &line);
    }
    task::kill("stack-protector: Kernel stack is corrupted");
    0
}

pub(super) fn register(r: &mut Registry) {
    r.func("__stack_chk_fail", sys_stack_chk_fail);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tainted_strings_match_the_kernel_layout() {
        let t = Taint::default();
        assert_eq!(t.print_tainted(), "Not tainted");
        assert!(t.add(TAINT_OOT_MODULE));
        assert!(!t.add(TAINT_OOT_MODULE));
        t.add(TAINT_UNSIGNED_MODULE);
        assert_eq!(t.print_tainted(), "Tainted: G           OE     ");
        assert_eq!(
            t.print_tainted_verbose(),
            "Tainted: [O]=OOT_MODULE, [E]=UNSIGNED_MODULE"
        );
        assert_eq!(module_flags(t.mask() | 1 << TAINT_WARN), "OE");
    }
}
