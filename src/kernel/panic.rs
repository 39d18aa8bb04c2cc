//! Taints and the report headers of kernel/panic.c and lib/dump_stack.c,
//! the pieces of an Oops (arch/x86/kernel/dumpstack.c, process_64.c), plus
//! the stubs that end a task: `__stack_chk_fail` and the traps of
//! unimplemented symbols, and `__warn_printk`, the first half of `WARN()`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use super::printk::{LOGLEVEL_EMERG, LOGLEVEL_ERR, LOGLEVEL_WARNING};
use super::symbols::Registry;
use super::unwind_orc::{call_trace, TraceFrom};
use super::vsprintf::vsnprintf;
use super::Kernel;
use crate::exec::dispatch::CallArgs;
use crate::exec::signal::Regs;
use crate::exec::task;
use crate::mm;

pub const TAINT_PROPRIETARY_MODULE: u32 = 0;
pub const TAINT_FORCED_MODULE: u32 = 1;
pub const TAINT_FORCED_RMMOD: u32 = 3;
pub const TAINT_DIE: u32 = 7;
pub const TAINT_WARN: u32 = 9;
pub const TAINT_CRAP: u32 = 10;
pub const TAINT_SOFTLOCKUP: u32 = 14;
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

    /// Put back a mask saved by `mask` (`Kernel::rollback`).
    pub(crate) fn restore(&self, mask: u32) {
        self.0.store(mask, Ordering::Relaxed);
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

/// What kind of report a `Report` is (its `kind` in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    /// An Oops: page fault, divide error, general protection, invalid opcode.
    Oops,
    Warning,
    /// BUG()/BUG_ON().
    Bug,
    SoftLockup,
    StackOverflow,
    /// Memory the module never freed (and other allocator findings).
    Leak,
    /// A call into a kernel function kload does not implement.
    Unimplemented,
}

impl ReportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::Oops => "oops",
            ReportKind::Warning => "warning",
            ReportKind::Bug => "bug",
            ReportKind::SoftLockup => "soft_lockup",
            ReportKind::StackOverflow => "stack_overflow",
            ReportKind::Leak => "leak",
            ReportKind::Unimplemented => "unimplemented",
        }
    }
}

/// One kernel report, structured when it is built (for `kload run --json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub kind: ReportKind,
    /// The module the code at fault belongs to.
    pub module: Option<String>,
    /// `function+0xoff/0xsize` of the code at fault.
    pub function: Option<String>,
    /// Source location, where the module says (`__bug_table`).
    pub file: Option<String>,
    pub line: Option<u32>,
    /// The report's lines, as logged (without timestamps).
    pub lines: Vec<String>,
    pub pid: u32,
    pub comm: String,
    /// `print_tainted()` after the report.
    pub taint: String,
}

pub(crate) fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_opt(out: &mut String, v: Option<&str>) {
    match v {
        Some(s) => json_str(out, s),
        None => out.push_str("null"),
    }
}

impl Report {
    /// The report as one line of JSON.
    pub fn to_json(&self) -> String {
        let mut o = String::from("{\"kind\":");
        json_str(&mut o, self.kind.as_str());
        o.push_str(",\"module\":");
        json_opt(&mut o, self.module.as_deref());
        o.push_str(",\"function\":");
        json_opt(&mut o, self.function.as_deref());
        o.push_str(",\"file\":");
        json_opt(&mut o, self.file.as_deref());
        o.push_str(",\"line\":");
        match self.line {
            Some(l) => o.push_str(&l.to_string()),
            None => o.push_str("null"),
        }
        o.push_str(",\"task\":{\"pid\":");
        o.push_str(&self.pid.to_string());
        o.push_str(",\"comm\":");
        json_str(&mut o, &self.comm);
        o.push_str("},\"taint\":");
        json_str(&mut o, &self.taint);
        o.push_str(",\"lines\":[");
        for (i, l) in self.lines.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            json_str(&mut o, l);
        }
        o.push_str("]}");
        o
    }
}

/// The reports of every kernel of this process, keyed by the kernel's
/// address, oldest first. (A field of `Kernel` would be the natural home;
/// kept here so that the report builders own it.)
static REPORTS: Mutex<Vec<(usize, Report)>> = Mutex::new(Vec::new());

/// At most this many reports are kept per process.
const MAX_REPORTS: usize = 4096;

fn kernel_key(k: &Kernel) -> usize {
    k as *const Kernel as usize
}

/// Record a finished report of kernel `k`.
pub fn push_report(k: &Kernel, r: Report) {
    if let Ok(mut v) = REPORTS.lock() {
        if v.len() < MAX_REPORTS {
            v.push((kernel_key(k), r));
        }
    }
}

/// The reports of kernel `k` so far, oldest first; they are forgotten.
pub fn take_reports(k: &Kernel) -> Vec<Report> {
    let key = kernel_key(k);
    let Ok(mut v) = REPORTS.lock() else {
        return Vec::new();
    };
    let (mine, rest): (Vec<_>, Vec<_>) = v.drain(..).partition(|(kk, _)| *kk == key);
    *v = rest;
    mine.into_iter().map(|(_, r)| r).collect()
}

/// Builds a report: every line goes to the log and into the `Report`.
pub struct ReportBuilder<'k> {
    k: &'k Kernel,
    report: Report,
}

impl<'k> ReportBuilder<'k> {
    /// A report of `kind` about the code at `at` (module and function),
    /// on the current task.
    pub fn new(k: &'k Kernel, kind: ReportKind, at: Option<u64>) -> ReportBuilder<'k> {
        let (pid, comm) =
            task::current_task().map_or((0, "swapper/0".to_owned()), |t| (t.pid, t.comm.clone()));
        let mut report = Report {
            kind,
            module: None,
            function: None,
            file: None,
            line: None,
            lines: Vec::new(),
            pid,
            comm,
            taint: String::new(),
        };
        if let Some(addr) = at {
            k.with_symbol(addr, &mut |hit| {
                if let Some(h) = hit {
                    report.module = h.module.map(str::to_owned);
                    report.function = Some(format!("{}+{:#x}/{:#x}", h.name, h.offset, h.size));
                }
            });
        }
        ReportBuilder { k, report }
    }

    pub fn kernel(&self) -> &'k Kernel {
        self.k
    }

    /// Log a line of the report.
    pub fn emit(&mut self, level: u8, line: &str) {
        self.k.log.emit(level, line);
        self.report.lines.push(line.to_owned());
    }

    /// The report's source location.
    pub fn set_location(&mut self, file: Option<String>, line: Option<u32>) {
        self.report.file = file;
        self.report.line = line;
    }

    /// The report is complete: record it (with the taint it left).
    pub fn finish(mut self) {
        self.report.taint = self.k.taint.print_tainted();
        push_report(self.k, self.report);
    }
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

/// The cut-here line that opens WARN and BUG reports (`CUT_HERE`).
pub const CUT_HERE: &str = "------------[ cut here ]------------";
/// `print_oops_end_marker`.
pub const END_TRACE: &str = "---[ end trace 0000000000000000 ]---";
/// What `dump_stack_print_info` prints after the CPU line, from DMI.
pub const HARDWARE_NAME: &str = "Hardware name: kload (module code running in a user process)";

/// `dump_stack_print_info` after the CPU line: the hardware name, then,
/// on a worker running a work item, `print_worker_info`'s line.
pub fn hardware_lines(k: &Kernel) -> Vec<String> {
    let mut v = vec![HARDWARE_NAME.to_owned()];
    v.extend(super::workqueue::worker_info(k));
    v
}

/// `__die_header`: `invalid opcode: 0000 [#1] PREEMPT SMP NOPTI`; since
/// 6.10 the line starts with "Oops: " (so a page fault reads
/// `Oops: Oops: 0002 ...`). Each one counts (`die_counter`).
pub fn die_header(k: &Kernel, what: &str, err: u64) -> String {
    let n = k.next_die_counter();
    let prefix = if k.profile.version() >= (6, 10) {
        "Oops: "
    } else {
        ""
    };
    format!("{prefix}{what}: {err:04x} [#{n}] PREEMPT SMP NOPTI")
}

/// Bytes `show_opcodes` prints: 42 before RIP, the byte at RIP, 21 after.
pub const OPCODE_PROLOGUE: u64 = 42;
pub const OPCODE_EPILOGUE: usize = 21;

/// `show_opcodes`: the code bytes around RIP, the one at RIP in `<>`. When
/// they cannot be read, the kernel's `copy_from_kernel_nofault` took a page
/// fault there, which leaves its address in CR2 (the register dump after
/// it shows that address).
pub fn code_line(k: &Kernel, rip: u64) -> String {
    let start = rip.wrapping_sub(OPCODE_PROLOGUE);
    let len = OPCODE_PROLOGUE as usize + 1 + OPCODE_EPILOGUE;
    match mm::read_bytes(start, len) {
        Some(b) => {
            let hex = |bytes: &[u8]| {
                bytes
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let at = OPCODE_PROLOGUE as usize;
            format!(
                "Code: {} <{:02x}> {}",
                hex(&b[..at]),
                b[at],
                hex(&b[at + 1..])
            )
        }
        None => {
            let fault = mm::first_fault(start, len as u64, false).map_or(start, |f| f.addr);
            k.set_cr2(fault);
            format!("Code: Unable to access opcode bytes at 0x{start:x}.")
        }
    }
}

/// `__show_regs(regs, SHOW_REGS_ALL)` with the RIP and Code lines of
/// `show_ip`. CR2 is the kernel's last page-fault address, read after the
/// code bytes (as `__show_regs` reads it after `show_ip`).
pub fn show_regs_lines(k: &Kernel, r: &Regs) -> Vec<String> {
    let rip = format!("RIP: 0010:{}", k.symbolize(r.rip));
    let code = code_line(k, r.rip);
    let mut v = vec![rip, code];
    v.extend(disassembly_lines(k, r.rip));
    v.extend([
        format!("RSP: 0018:{:016x} EFLAGS: {:08x}", r.rsp, r.rflags),
        format!(
            "RAX: {:016x} RBX: {:016x} RCX: {:016x}",
            r.rax, r.rbx, r.rcx
        ),
        format!(
            "RDX: {:016x} RSI: {:016x} RDI: {:016x}",
            r.rdx, r.rsi, r.rdi
        ),
        format!("RBP: {:016x} R08: {:016x} R09: {:016x}", r.rbp, r.r8, r.r9),
        format!(
            "R10: {:016x} R11: {:016x} R12: {:016x}",
            r.r10, r.r11, r.r12
        ),
        format!(
            "R13: {:016x} R14: {:016x} R15: {:016x}",
            r.r13, r.r14, r.r15
        ),
        format!(
            "FS:  0000000000000000(0000) GS:{:016x}(0000) knlGS:0000000000000000",
            k.percpu.base()
        ),
        "CS:  0010 DS: 0000 ES: 0000 CR0: 0000000080050033".to_owned(),
        format!(
            "CR2: {:016x} CR3: 0000000000000000 CR4: 0000000000000000",
            k.cr2()
        ),
    ]);
    v
}

/// Under `kload run -v`: the `Code:` bytes disassembled, one `kload: `
/// line per instruction, the faulting one marked (see `disasm`).
fn disassembly_lines(k: &Kernel, rip: u64) -> Vec<String> {
    if !k.verbose_faults() {
        return Vec::new();
    }
    super::disasm::code_disassembly(k, rip)
        .into_iter()
        .map(|l| format!("kload: {l}"))
        .collect()
}

/// `show_regs`: the CPU and hardware lines, the registers and the trace.
pub fn show_regs(k: &Kernel, r: &Regs) -> Vec<String> {
    let mut v = report_header(k);
    v.extend(hardware_lines(k));
    v.extend(show_regs_lines(k, r));
    v.extend(call_trace(
        k,
        TraceFrom::Regs {
            regs: *r,
            scan_from: r.rsp,
        },
    ));
    v
}

/// The body of an Oops after its first lines (`__die` and `oops_end`):
/// the die header, `show_regs`, the module list, CR2 for a page fault, the
/// end marker and the register summary again; taints D.
pub fn report_oops(b: &mut ReportBuilder<'_>, what: &str, err: u64, r: &Regs, cr2: Option<u64>) {
    let from = TraceFrom::Regs {
        regs: *r,
        scan_from: r.rsp,
    };
    report_oops_trace_from(b, what, err, r, cr2, from);
}

/// `report_oops` with the call trace starting at `from` (above a stack
/// guard page when RSP lies in it; at the module's call when the fault was
/// in a stub).
pub fn report_oops_trace_from(
    b: &mut ReportBuilder<'_>,
    what: &str,
    err: u64,
    r: &Regs,
    cr2: Option<u64>,
    from: TraceFrom,
) {
    let k = b.kernel();
    b.emit(LOGLEVEL_WARNING, &die_header(k, what, err));
    let mut lines = report_header(k);
    lines.extend(hardware_lines(k));
    lines.extend(show_regs_lines(k, r));
    lines.extend(call_trace(k, from));
    for line in lines {
        b.emit(LOGLEVEL_WARNING, &line);
    }
    b.emit(
        LOGLEVEL_WARNING,
        &format!("Modules linked in:{}", k.modules_linked_in()),
    );
    if let Some(cr2) = cr2 {
        b.emit(LOGLEVEL_EMERG, &format!("CR2: {cr2:016x}"));
    }
    b.emit(LOGLEVEL_WARNING, END_TRACE);
    for line in show_regs_lines(k, r) {
        b.emit(LOGLEVEL_EMERG, &line);
    }
    k.taint.add(TAINT_DIE);
}

/// `__warn_printk(fmt, ...)`: the first half of `WARN(cond, fmt, ...)`, the
/// cut-here line and the message; the `ud2` after it does the rest.
fn sys_warn_printk(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    k.log.emit(LOGLEVEL_WARNING, CUT_HERE);
    let fmt = mm::read_cstr(a.arg(0), 4096).unwrap_or_default();
    let text = vsnprintf(&fmt, &mut a.va(1), &*k);
    let pid = task::current_task().map_or(0, |t| t.pid);
    k.log.store(&text, pid);
    0
}

/// `WARN(1, message)` or `WARN_ON(1)` inside the kernel proper, that is in
/// a stub implementing a kernel function (`func`, whose kernel source line
/// is `location`, such as `lib/refcount.c:25`): what `__warn_printk` and
/// `__warn` print, with the call's registers (RIP at the stub, RSP at the
/// caller's return address, the argument registers as passed) and taint W.
/// `WARN_ONCE` sites pass `once_key`: the report is made once per boot.
pub fn warn_in_kernel(
    a: &CallArgs,
    func: &str,
    location: &str,
    message: Option<&str>,
    once_key: Option<&str>,
) {
    let Some(k) = task::current_kernel() else {
        return;
    };
    if let Some(key) = once_key {
        if !k.note_once(key) {
            return;
        }
    }
    let rip = super::symbols::function_address(func)
        .ok()
        .flatten()
        .unwrap_or(0);
    let regs = Regs {
        rdi: a.arg(0),
        rsi: a.arg(1),
        rdx: a.arg(2),
        rcx: a.arg(3),
        r8: a.arg(4),
        r9: a.arg(5),
        rip,
        rsp: a.caller_rsp(),
        ..Regs::ZERO
    };
    let mut b = ReportBuilder::new(&k, ReportKind::Warning, Some(a.caller().wrapping_sub(1)));
    b.set_location(location.split_once(':').map(|(f, _)| f.to_owned()), None);
    b.emit(LOGLEVEL_WARNING, CUT_HERE);
    if let Some(m) = message {
        b.emit(LOGLEVEL_WARNING, m);
    }
    let pid = task::current_task().map_or(0, |t| t.pid);
    b.emit(
        LOGLEVEL_WARNING,
        &format!(
            "WARNING: CPU: 0 PID: {pid} at {location} {}",
            k.symbolize(rip)
        ),
    );
    b.emit(
        LOGLEVEL_WARNING,
        &format!("Modules linked in:{}", k.modules_linked_in()),
    );
    // `__warn` prints the registers of the WARN site (the stub), then the
    // trace unwound from the module's call into it.
    let mut lines = report_header(&k);
    lines.extend(hardware_lines(&k));
    lines.extend(show_regs_lines(&k, &regs));
    lines.extend(stub_call_trace(&k, a.caller()));
    for line in lines {
        b.emit(LOGLEVEL_WARNING, &line);
    }
    b.emit(LOGLEVEL_WARNING, END_TRACE);
    k.taint.add(TAINT_WARN);
    b.finish();
}

/// Report a call into a symbol kload does not implement, like an Oops, and
/// let the caller kill the task.
pub fn unimplemented_called(name: &str, caller: u64) {
    kload_bug_kind(
        &format!("call to unimplemented kernel function {name}"),
        caller,
        ReportKind::Unimplemented,
    );
}

/// The Oops-like report of a call kload cannot serve:
/// `BUG: kload: <what>`, the CPU line, a one-frame call trace (the caller),
/// the modules and the end marker; taints D. The caller kills the task.
pub fn kload_bug(what: &str, caller: u64) {
    kload_bug_kind(what, caller, ReportKind::Unimplemented);
}

fn kload_bug_kind(what: &str, caller: u64, kind: ReportKind) {
    let Some(k) = task::current_kernel() else {
        return;
    };
    let mut b = ReportBuilder::new(&k, kind, Some(caller.wrapping_sub(1)));
    b.emit(LOGLEVEL_EMERG, &format!("BUG: kload: {what}"));
    for line in report_header(&k) {
        b.emit(LOGLEVEL_WARNING, &line);
    }
    for line in stub_call_trace(&k, caller) {
        b.emit(LOGLEVEL_WARNING, &line);
    }
    b.emit(
        LOGLEVEL_WARNING,
        &format!("Modules linked in:{}", k.modules_linked_in()),
    );
    b.emit(LOGLEVEL_WARNING, "---[ end trace 0000000000000000 ]---");
    k.taint.add(TAINT_DIE);
    b.finish();
}

/// The call trace of a report made inside a stub: unwound from the
/// module's call (the current stub call whose return address is
/// `caller`), or just that caller.
pub fn stub_call_trace(k: &Kernel, caller: u64) -> Vec<String> {
    match crate::exec::dispatch::current_call() {
        Some(call) if mm::read_u64(call.ret_slot()) == Some(caller) => call_trace(
            k,
            TraceFrom::Call {
                ret_slot: call.ret_slot(),
                bp: call.caller_rbp(),
            },
        ),
        _ => vec![
            "Call Trace:".to_owned(),
            " <TASK>".to_owned(),
            format!(" {}", k.symbolize_return_address(caller)),
            " </TASK>".to_owned(),
        ],
    }
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
    r.func("__warn_printk", sys_warn_printk);
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

    fn sample() -> Report {
        Report {
            kind: ReportKind::Warning,
            module: Some("warn_on".into()),
            function: Some("warn_on_init+0x1a/0x30".into()),
            file: Some("/tmp/x/warn-on.c".into()),
            line: Some(27),
            lines: vec![
                "a \"quoted\" \\ line\twith\ttabs".into(),
                "ctl \u{1}\u{7f} é".into(),
            ],
            pid: 42,
            comm: "insmod".into(),
            taint: "Tainted: G        W  OE     ".into(),
        }
    }

    #[test]
    fn reports_serialise_as_escaped_json() {
        let j = sample().to_json();
        assert_eq!(
            j,
            concat!(
                r#"{"kind":"warning","module":"warn_on","function":"warn_on_init+0x1a/0x30","#,
                r#""file":"/tmp/x/warn-on.c","line":27,"task":{"pid":42,"comm":"insmod"},"#,
                r#""taint":"Tainted: G        W  OE     ","#,
                r#""lines":["a \"quoted\" \\ line\twith\ttabs","ctl \u0001\u007f é"]}"#
            )
        );
        let none = Report {
            module: None,
            function: None,
            file: None,
            line: None,
            lines: Vec::new(),
            ..sample()
        };
        assert!(none
            .to_json()
            .contains(r#""module":null,"function":null,"file":null,"line":null"#));
        assert!(none.to_json().ends_with(r#""lines":[]}"#));
    }

    /// An unreadable `Code:` is a page fault of the kernel's own: CR2
    /// shows where, and the Oops counter counts per kernel.
    #[test]
    fn unreadable_code_bytes_set_cr2_and_dies_count() {
        let k = Kernel::boot(crate::profile::PROFILES[0]).unwrap();
        assert_eq!(k.cr2(), 0);
        let rip = 0x2000;
        assert_eq!(
            code_line(&k, rip),
            format!("Code: Unable to access opcode bytes at {:#x}.", rip - 42)
        );
        assert_eq!(k.cr2(), rip - 42);
        assert!(die_header(&k, "Oops", 2).ends_with("0002 [#1] PREEMPT SMP NOPTI"));
        assert!(die_header(&k, "Oops", 2).ends_with("0002 [#2] PREEMPT SMP NOPTI"));
        let other = Kernel::boot(crate::profile::PROFILES[0]).unwrap();
        assert!(die_header(&other, "x", 0).contains("[#1]"));
    }

    #[test]
    fn kinds_have_their_json_names() {
        let all = [
            (ReportKind::Oops, "oops"),
            (ReportKind::Warning, "warning"),
            (ReportKind::Bug, "bug"),
            (ReportKind::SoftLockup, "soft_lockup"),
            (ReportKind::StackOverflow, "stack_overflow"),
            (ReportKind::Leak, "leak"),
            (ReportKind::Unimplemented, "unimplemented"),
        ];
        for (k, name) in all {
            assert_eq!(k.as_str(), name);
        }
    }
}
