//! trace_printk and its ring buffer (kernel/trace/trace.c, trace_printk.c).
//!
//! `trace_printk("const string")` compiles to `__trace_bputs(_THIS_IP_, str)`,
//! with arguments to `__trace_bprintk(_THIS_IP_, fmt, ...)`, and
//! `__trace_printk`/`__trace_puts` serve the other forms. Entries are kept
//! with the task, CPU and timestamp, and read back like
//! `/sys/kernel/tracing/trace`.

use std::sync::Mutex;
use std::time::Instant;

use super::printk::{LogBuffer, LOGLEVEL_WARNING};
use super::symbols::Registry;
use super::vsprintf::vsnprintf;
use crate::exec::dispatch::CallArgs;
use crate::exec::task;
use crate::mm;

/// One trace entry.
#[derive(Debug, Clone)]
pub struct TraceEntry {
    pub ts_nsec: u64,
    pub pid: u32,
    pub comm: String,
    /// `_THIS_IP_` of the caller, printed as `%ps` when the buffer is read.
    pub ip: u64,
    pub text: String,
}

pub struct TraceBuffer {
    boot: Instant,
    entries: Mutex<Vec<TraceEntry>>,
    buffers_allocated: Mutex<bool>,
}

/// What `trace_printk_init_buffers` prints the first time a trace_printk
/// user appears (the kernel's own words).
const TRACE_PRINTK_NOTICE: &[&str] = &[
    "",
    "**********************************************************",
    "**   NOTICE NOTICE NOTICE NOTICE NOTICE NOTICE NOTICE   **",
    "**                                                      **",
    "** trace_printk() being used. Allocating extra memory.  **",
    "**                                                      **",
    "** This means that this is a DEBUG kernel and it is     **",
    "** unsafe for production use.                           **",
    "**                                                      **",
    "** If you see this message and you are not debugging    **",
    "** the kernel, report this immediately to your vendor!  **",
    "**                                                      **",
    "**   NOTICE NOTICE NOTICE NOTICE NOTICE NOTICE NOTICE   **",
    "**********************************************************",
];

/// The header of the trace file with the nop tracer (line 2 is rewritten
/// with the entry counts).
const TRACE_HEADER: &[&str] = &[
    "# tracer: nop",
    "#",
    "# entries-in-buffer/entries-written: 0/0   #P:1",
    "#",
    "#                                _-----=> irqs-off/BH-disabled",
    "#                               / _----=> need-resched",
    "#                              | / _---=> hardirq/softirq",
    "#                              || / _--=> preempt-depth",
    "#                              ||| / _-=> migrate-disable",
    "#                              |||| /     delay",
    "#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION",
    "#              | |         |   |||||     |         |",
];

impl TraceBuffer {
    pub fn new(boot: Instant) -> TraceBuffer {
        TraceBuffer {
            boot,
            entries: Mutex::default(),
            buffers_allocated: Mutex::new(false),
        }
    }

    /// `trace_printk_init_buffers`: once per boot, with the kernel's notice.
    pub fn init_buffers(&self, log: &LogBuffer) {
        let mut done = self
            .buffers_allocated
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if !*done {
            *done = true;
            for line in TRACE_PRINTK_NOTICE {
                log.emit(LOGLEVEL_WARNING, line);
            }
        }
    }

    fn record(&self, ip: u64, text: String) {
        let (pid, comm) =
            task::current_task().map_or((0, String::from("<idle>")), |t| (t.pid, t.comm.clone()));
        let ts_nsec = self.boot.elapsed().as_nanos() as u64;
        let entry = TraceEntry {
            ts_nsec,
            pid,
            comm,
            ip,
            text,
        };
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(entry);
    }

    pub fn entries(&self) -> Vec<TraceEntry> {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The buffer as `cat /sys/kernel/tracing/trace` shows it. The caller's
    /// address is symbolised now, so entries of an unloaded module show the
    /// raw address, as in the kernel.
    pub fn format(&self, k: &super::Kernel) -> Vec<String> {
        let entries = self.entries();
        let mut out: Vec<String> = TRACE_HEADER.iter().map(|l| l.to_string()).collect();
        out[2] = format!(
            "# entries-in-buffer/entries-written: {0}/{0}   #P:1",
            entries.len()
        );
        out.extend(entries.iter().map(|e| {
            let usec = e.ts_nsec / 1000;
            let text = e.text.strip_suffix('\n').unwrap_or(&e.text);
            format!(
                "{:>16}-{:<7} [000] ..... {:5}.{:06}: {}: {text}",
                e.comm,
                e.pid,
                usec / 1_000_000,
                usec % 1_000_000,
                symbol_name(k, e.ip)
            )
        }));
        out
    }
}

fn symbol_name(k: &super::Kernel, ip: u64) -> String {
    let mut name = format!("0x{ip:x}");
    k.with_symbol(ip, &mut |hit| {
        if let Some(h) = hit {
            name = h.name.to_owned();
        }
    });
    name
}

/// Record `text` for the caller at `ip`; returns the length, as the
/// trace_printk family does.
fn record(ip: u64, text: &[u8]) -> u64 {
    if let Some(k) = task::current_kernel() {
        k.trace
            .record(ip, String::from_utf8_lossy(text).into_owned());
    }
    text.len() as u64
}

/// `int __trace_bputs(unsigned long ip, const char *str)`
fn sys_trace_bputs(a: &mut CallArgs) -> u64 {
    record(a.arg(0), &mm::read_cstr(a.arg(1), 4096).unwrap_or_default())
}

/// `int __trace_puts(unsigned long ip, const char *str, int size)`
fn sys_trace_puts(a: &mut CallArgs) -> u64 {
    let size = usize::try_from(a.int(2)).unwrap_or(0);
    record(
        a.arg(0),
        &mm::read_bytes(a.arg(1), size).unwrap_or_default(),
    )
}

/// `int __trace_printk(unsigned long ip, const char *fmt, ...)` and
/// `__trace_bprintk` (same arguments; the binary packing is internal).
fn sys_trace_printk(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let fmt = mm::read_cstr(a.arg(1), 4096).unwrap_or_default();
    record(a.arg(0), &vsnprintf(&fmt, &mut a.va(2), &*k))
}

pub(super) fn register(r: &mut Registry) {
    r.func("__trace_bputs", sys_trace_bputs);
    r.func("__trace_puts", sys_trace_puts);
    r.func("__trace_printk", sys_trace_printk);
    r.func("__trace_bprintk", sys_trace_printk);
}
