//! printk: the kernel log ring (kernel/printk/printk.c).
//!
//! Records carry a level, a timestamp since boot and their text. A message
//! may start with `KERN_<LEVEL>` prefixes (SOH + digit) and `KERN_CONT`
//! (SOH + 'c'); a message without a trailing newline stays open, and a
//! following `KERN_CONT` message from the same task is appended to it. Lines
//! print like dmesg: `[%5lu.%06lu] text`, once per line of a record.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::symbols::Registry;
use super::vsprintf::vsnprintf;
use crate::exec::dispatch::CallArgs;
use crate::exec::task;
use crate::mm;

pub const KERN_SOH: u8 = 0x01;
pub const LOGLEVEL_EMERG: u8 = 0;
pub const LOGLEVEL_ALERT: u8 = 1;
pub const LOGLEVEL_CRIT: u8 = 2;
pub const LOGLEVEL_ERR: u8 = 3;
pub const LOGLEVEL_WARNING: u8 = 4;
pub const LOGLEVEL_NOTICE: u8 = 5;
pub const LOGLEVEL_INFO: u8 = 6;
pub const LOGLEVEL_DEBUG: u8 = 7;
/// `default_message_loglevel` on Debian: the level of a message without one.
pub const DEFAULT_MESSAGE_LOGLEVEL: u8 = LOGLEVEL_WARNING;
/// Longest formatted message (level prefix included, NUL excluded) a
/// record keeps: 6.1's `LOG_LINE_MAX` is 1024 - `PREFIX_MAX` (32); later
/// kernels keep a whole 1024-byte `PRINTKRB_RECORD_MAX`.
pub fn log_line_max(version: (u32, u32)) -> usize {
    if version < (6, 5) {
        1024 - 32 - 1
    } else {
        1024 - 1
    }
}
/// Records kept before the oldest are dropped.
const LOG_CAPACITY: usize = 1 << 16;

/// One log record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub seq: u64,
    pub ts_nsec: u64,
    pub level: u8,
    pub text: String,
}

impl Record {
    /// The record as dmesg prints it: one `[seconds.micros] text` line per line.
    pub fn dmesg_lines(&self) -> Vec<String> {
        let usec = self.ts_nsec / 1000;
        let prefix = format!("[{:5}.{:06}] ", usec / 1_000_000, usec % 1_000_000);
        self.text
            .split('\n')
            .map(|l| format!("{prefix}{l}"))
            .collect()
    }
}

/// Where finished records go as they are stored (the CLI prints them).
pub type Console = Arc<dyn Fn(&Record) + Send + Sync>;

struct Open {
    record: Record,
    pid: u32,
}

#[derive(Default)]
struct LogInner {
    records: VecDeque<Record>,
    next_seq: u64,
    open: Option<Open>,
    console: Option<Console>,
}

/// The kernel log.
pub struct LogBuffer {
    boot: Instant,
    line_max: usize,
    inner: Mutex<LogInner>,
}

impl LogBuffer {
    pub fn new(boot: Instant, line_max: usize) -> LogBuffer {
        LogBuffer {
            line_max,
            boot,
            inner: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LogInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_console(&self, console: Option<Console>) {
        self.lock().console = console;
    }

    /// Store a formatted message (`vprintk_store`) from task `pid`; returns
    /// the number of text bytes stored.
    pub fn store(&self, raw: &[u8], pid: u32) -> usize {
        let raw = &raw[..raw.len().min(self.line_max)];
        let (level, cont, body) = parse_prefix(raw);
        let (body, newline) = match body.strip_suffix(b"\n") {
            Some(b) => (b, true),
            None => (body, false),
        };
        let text = String::from_utf8_lossy(body);
        let ts_nsec = self.boot.elapsed().as_nanos() as u64;
        let mut inner = self.lock();
        if cont {
            if let Some(open) = inner.open.as_mut().filter(|o| o.pid == pid) {
                open.record.text.push_str(&text);
                if newline {
                    inner.finish_open();
                }
                return body.len();
            }
        }
        inner.finish_open();
        let seq = inner.next_seq;
        inner.next_seq += 1;
        let record = Record {
            seq,
            ts_nsec,
            level: level.unwrap_or(DEFAULT_MESSAGE_LOGLEVEL),
            text: text.into_owned(),
        };
        if newline {
            inner.push(record);
        } else {
            inner.open = Some(Open { record, pid });
        }
        body.len()
    }

    /// A complete message from the emulated kernel itself (`pr_warn(...)`).
    pub fn emit(&self, level: u8, text: &str) {
        let mut raw = vec![KERN_SOH, b'0' + level];
        raw.extend_from_slice(text.as_bytes());
        raw.push(b'\n');
        let pid = task::current_task().map_or(0, |t| t.pid);
        self.store(&raw, pid);
    }

    /// Close a record left open (no trailing newline), as the next message would.
    pub fn flush(&self) {
        self.lock().finish_open();
    }

    /// Every record stored so far (an open one included).
    pub fn records(&self) -> Vec<Record> {
        let inner = self.lock();
        let mut v: Vec<Record> = inner.records.iter().cloned().collect();
        v.extend(inner.open.as_ref().map(|o| o.record.clone()));
        v
    }

    pub fn clear(&self) {
        self.lock().records.clear();
    }
}

impl LogInner {
    fn finish_open(&mut self) {
        if let Some(open) = self.open.take() {
            self.push(open.record);
        }
    }

    fn push(&mut self, record: Record) {
        if let Some(console) = &self.console {
            console(&record);
        }
        if self.records.len() == LOG_CAPACITY {
            self.records.pop_front();
        }
        self.records.push_back(record);
    }
}

/// `printk_parse_prefix`: the first level prefix wins, `KERN_CONT` marks a
/// continuation; returns the level, the continuation flag and the text.
fn parse_prefix(mut raw: &[u8]) -> (Option<u8>, bool, &[u8]) {
    let (mut level, mut cont) = (None, false);
    while raw.len() >= 2 && raw[0] == KERN_SOH {
        match raw[1] {
            c @ b'0'..=b'7' => {
                level.get_or_insert(c - b'0');
            }
            b'c' => cont = true,
            b'd' => {}
            _ => break,
        }
        raw = &raw[2..];
    }
    (level, cont, raw)
}

/// `_printk(const char *fmt, ...)` (6.1+) and the older `printk`.
fn sys_printk(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let fmt = mm::read_cstr(a.arg(0), 4096).unwrap_or_default();
    let text = vsnprintf(&fmt, &mut a.va(1), &*k);
    let pid = task::current_task().map_or(0, |t| t.pid);
    k.log.store(&text, pid) as u64
}

pub(super) fn register(r: &mut Registry) {
    r.func("_printk", sys_printk);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(log: &LogBuffer) -> Vec<(u8, String)> {
        log.records()
            .into_iter()
            .map(|r| (r.level, r.text))
            .collect()
    }

    #[test]
    fn levels_default_and_continuation() {
        let log = LogBuffer::new(Instant::now(), log_line_max((6, 1)));
        log.store(b"\x016Hello world 1.\n", 1);
        log.store(b"no level\n", 1);
        log.store(b"\x016part one", 1);
        log.store(b"\x01c, part two\n", 1);
        log.store(b"\x01c orphan cont\n", 1);
        assert_eq!(
            texts(&log),
            [
                (6, "Hello world 1.".into()),
                (4, "no level".into()),
                (6, "part one, part two".into()),
                (4, " orphan cont".into())
            ]
        );
    }

    #[test]
    fn open_record_closed_by_next_message_and_multiline_dmesg() {
        let log = LogBuffer::new(Instant::now(), log_line_max((6, 1)));
        log.store(b"\x013open", 1);
        log.store(b"\x016a\nb\n", 1);
        let recs = log.records();
        assert_eq!(recs[0].text, "open");
        let lines = recs[1].dmesg_lines();
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0].starts_with('[') && lines[0].ends_with("] a"),
            "{lines:?}"
        );
        assert!(lines[1].ends_with("] b"));
    }
}
