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

use super::ratelimit::{RatelimitState, DEFAULT_RATELIMIT_BURST, DEFAULT_RATELIMIT_INTERVAL};
use super::symbols::Registry;
use super::vsprintf::{vsnprintf, SysVVaList, VaList};
use super::Kernel;
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
    /// `printk_ratelimit_state` (DEFINE_RATELIMIT_STATE(.., 5 * HZ, 10)).
    ratelimit: Mutex<RatelimitState>,
}

impl LogBuffer {
    pub fn new(boot: Instant, line_max: usize) -> LogBuffer {
        LogBuffer {
            line_max,
            boot,
            inner: Mutex::default(),
            ratelimit: Mutex::new(RatelimitState::new(
                DEFAULT_RATELIMIT_INTERVAL,
                DEFAULT_RATELIMIT_BURST,
            )),
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

    /// The records stored so far, without one still open: what a reader
    /// of /dev/kmsg sees (the open one reaches the console when it ends).
    pub fn finished_records(&self) -> Vec<Record> {
        self.lock().records.iter().cloned().collect()
    }

    pub fn clear(&self) {
        self.lock().records.clear();
    }

    /// The sequence number the next record will get (for `take_since`).
    pub fn mark(&self) -> u64 {
        self.lock().next_seq
    }

    /// Remove and return every record stored since `mark` (an open one
    /// included), as if they had never been logged: the next record gets
    /// the sequence number `mark`. Used by `kload check`, whose stages
    /// must leave the kernel as they found it; a console has already seen
    /// the records.
    pub fn take_since(&self, mark: u64) -> Vec<Record> {
        let mut inner = self.lock();
        let mut taken = Vec::new();
        while inner.records.back().is_some_and(|r| r.seq >= mark) {
            taken.extend(inner.records.pop_back());
        }
        taken.reverse();
        if inner.open.as_ref().is_some_and(|o| o.record.seq >= mark) {
            taken.extend(inner.open.take().map(|o| o.record));
        }
        if inner.next_seq > mark {
            inner.next_seq = mark;
        }
        taken
    }

    /// `__printk_ratelimit(func)`: `___ratelimit(&printk_ratelimit_state,
    /// func)` at `jiffies` (lib/ratelimit.c's rules, kernel/ratelimit.rs):
    /// at most 10 messages per 5 s; when an interval with suppressed
    /// messages ends, "<func>: N callbacks suppressed" is logged.
    pub fn printk_ratelimit(&self, func: &str, jiffies: u64) -> bool {
        let verdict = self
            .ratelimit
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .check(jiffies);
        if let Some(missed) = verdict.suppressed {
            self.emit(
                LOGLEVEL_WARNING,
                &format!("{func}: {missed} callbacks suppressed"),
            );
        }
        verdict.pass
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
    store_current(&k, &text) as u64
}

/// Store a formatted message from the current task.
pub fn store_current(k: &Kernel, raw: &[u8]) -> usize {
    let pid = task::current_task().map_or(0, |t| t.pid);
    k.log.store(raw, pid)
}

/// `vprintk_emit`'s level handling for text formatted by a stub: `level`
/// -1 (`LOGLEVEL_DEFAULT`) takes the text's own `KERN_<LEVEL>` prefix,
/// any other wins over it, reduced to its low three bits as
/// `vprintk_store` does (`KERN_DEFAULT`'s 'd' - '0' lands on 4).
pub fn store_at_level(k: &Kernel, level: i32, text: &[u8]) -> usize {
    if level == -1 {
        return store_current(k, text);
    }
    let mut raw = vec![KERN_SOH, b'0' + (level & 7) as u8];
    raw.extend_from_slice(text);
    store_current(k, &raw)
}

/// A format string argument, read from module memory.
pub fn read_fmt(addr: u64) -> Vec<u8> {
    mm::read_cstr(addr, 4096).unwrap_or_default()
}

/// The `va_list` argument `i` of a call (a pointer to the caller's
/// `__va_list_tag`), formatted with `fmt`.
pub fn format_va_list(k: &Kernel, fmt: &[u8], va_list: u64) -> Vec<u8> {
    match SysVVaList::open(k, va_list) {
        Some(mut va) => vsnprintf(fmt, &mut va, k),
        None => vsnprintf(fmt, &mut Args::new(&[]), k),
    }
}

/// Arguments of a format built by a stub itself.
pub struct Args<'a> {
    args: &'a [u64],
    next: usize,
}

impl<'a> Args<'a> {
    pub fn new(args: &'a [u64]) -> Self {
        Args { args, next: 0 }
    }
}

impl VaList for Args<'_> {
    fn next_arg(&mut self) -> u64 {
        let v = self.args.get(self.next).copied().unwrap_or(0);
        self.next += 1;
        v
    }
}

/// The level string argument of `_dev_printk`, `print_hex_dump`, ...
/// (`KERN_ERR` is "\0013"), as bytes.
pub fn read_level(addr: u64) -> Vec<u8> {
    mm::read_cstr(addr, 8).unwrap_or_default()
}

/// `level[1] - '0'`, as `__dev_printk` computes the level of its emit.
pub fn level_digit(level: &[u8]) -> i32 {
    i32::from(level.get(1).copied().unwrap_or(0)) - i32::from(b'0')
}

/// `vprintk(const char *fmt, va_list args)`: `vprintk_default`.
fn sys_vprintk(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let text = format_va_list(&k, &read_fmt(a.arg(0)), a.arg(1));
    store_current(&k, &text) as u64
}

/// `vprintk_emit(int facility, int level, const struct dev_printk_info
/// *dev_info, const char *fmt, va_list args)`. The facility and the
/// device dictionary are not kept (dmesg does not print them).
fn sys_vprintk_emit(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let text = format_va_list(&k, &read_fmt(a.arg(3)), a.arg(4));
    store_at_level(&k, a.int(1), &text) as u64
}

/// `__printk_ratelimit(const char *func)`, behind `printk_ratelimit()`.
fn sys_printk_ratelimit(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let func = String::from_utf8_lossy(&read_fmt(a.arg(0))).into_owned();
    u64::from(
        k.log
            .printk_ratelimit(&func, super::time::update_jiffies(&k)),
    )
}

/// lib/hexdump.c's `hex_dump_to_buffer`, on a `linebuflen`-byte buffer:
/// returns the bytes written (NUL included when the kernel writes one)
/// and the return value (the line length, or the length it would have
/// had when the buffer is too small).
pub fn hex_dump_to_buffer(
    data: &[u8],
    rowsize: i32,
    groupsize: i32,
    linebuflen: usize,
    ascii: bool,
) -> (Vec<u8>, i32) {
    let rowsize = if rowsize != 16 && rowsize != 32 {
        16
    } else {
        rowsize
    } as usize;
    let len = data.len().min(rowsize);
    let mut groupsize = groupsize;
    if groupsize <= 0 || groupsize > 8 || groupsize & (groupsize - 1) != 0 {
        groupsize = 1;
    }
    let mut groupsize = groupsize as usize;
    if len % groupsize != 0 {
        groupsize = 1;
    }
    let ngroups = len / groupsize;
    let ascii_column = rowsize * 2 + rowsize / groupsize + 1;
    let overflow = |buf: Vec<u8>| {
        let ret = if ascii {
            ascii_column + len
        } else {
            (groupsize * 2 + 1) * ngroups - 1
        };
        (buf, ret as i32)
    };
    let mut buf: Vec<u8> = Vec::new();
    if linebuflen == 0 {
        return overflow(buf);
    }
    if len == 0 {
        buf.push(0);
        return (buf, 0);
    }
    if groupsize > 1 {
        for j in 0..ngroups {
            let mut v = [0u8; 8];
            v[..groupsize].copy_from_slice(&data[j * groupsize..(j + 1) * groupsize]);
            let v = u64::from_le_bytes(v);
            let sep = if j > 0 { " " } else { "" };
            let s = format!("{sep}{v:0w$x}", w = groupsize * 2);
            // snprintf(linebuf + lx, linebuflen - lx, ...)
            let room = linebuflen - buf.len();
            if s.len() >= room {
                buf.extend_from_slice(&s.as_bytes()[..room - 1]);
                buf.push(0);
                return overflow(buf);
            }
            buf.extend_from_slice(s.as_bytes());
        }
    } else {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for &ch in &data[..len] {
            for c in [HEX[usize::from(ch >> 4)], HEX[usize::from(ch & 15)], b' '] {
                if linebuflen < buf.len() + 2 {
                    buf.push(0);
                    return overflow(buf);
                }
                buf.push(c);
            }
        }
        buf.pop();
    }
    if ascii {
        while buf.len() < ascii_column {
            if linebuflen < buf.len() + 2 {
                buf.push(0);
                return overflow(buf);
            }
            buf.push(b' ');
        }
        for &ch in &data[..len] {
            if linebuflen < buf.len() + 2 {
                buf.push(0);
                return overflow(buf);
            }
            buf.push(if (0x20..0x7f).contains(&ch) { ch } else { b'.' });
        }
    }
    let n = buf.len() as i32;
    buf.push(0);
    (buf, n)
}

/// `hex_dump_to_buffer(buf, len, rowsize, groupsize, linebuf, linebuflen, ascii)`.
fn sys_hex_dump_to_buffer(a: &mut CallArgs) -> u64 {
    let len = (a.arg(1) as usize).min(32);
    let Some(data) = mm::read_bytes(a.arg(0), len) else {
        task::kill("hex_dump_to_buffer: unreadable buffer");
        return 0;
    };
    let (out, ret) = hex_dump_to_buffer(
        &data,
        a.int(2),
        a.int(3),
        a.arg(5) as usize,
        a.arg(6) & 0xff != 0,
    );
    if !out.is_empty() && mm::write_bytes(a.arg(4), &out).is_err() {
        task::kill("hex_dump_to_buffer: unwritable line buffer");
        return 0;
    }
    ret as i64 as u64
}

/// `print_hex_dump(level, prefix_str, prefix_type, rowsize, groupsize,
/// buf, len, ascii)`: one `printk` per row, prefixed by nothing
/// (`DUMP_PREFIX_NONE`), the hashed address (`DUMP_PREFIX_ADDRESS`, `%p`)
/// or the offset (`DUMP_PREFIX_OFFSET`, `%.8x`).
fn sys_print_hex_dump(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let level = read_level(a.arg(0));
    let prefix = mm::read_cstr(a.arg(1), 4096).unwrap_or_default();
    let (prefix_type, groupsize, base, len) = (a.int(2), a.int(4), a.arg(5), a.arg(6));
    let rowsize = match a.int(3) {
        r @ (16 | 32) => r,
        _ => 16,
    };
    let ascii = a.arg(7) & 0xff != 0;
    let mut i = 0u64;
    while i < len {
        let linelen = (len - i).min(rowsize as u64) as usize;
        let Some(data) = mm::read_bytes(base.wrapping_add(i), linelen) else {
            task::kill("print_hex_dump: unreadable buffer");
            return 0;
        };
        let (line, _) = hex_dump_to_buffer(&data, rowsize, groupsize, 32 * 3 + 2 + 32 + 1, ascii);
        let line = line.split(|&b| b == 0).next().unwrap_or_default();
        let mut text = level.clone();
        text.extend_from_slice(&prefix);
        match prefix_type {
            1 => {
                let p = vsnprintf(b"%p: ", &mut Args::new(&[base.wrapping_add(i)]), &*k);
                text.extend_from_slice(&p);
            }
            2 => text.extend_from_slice(format!("{i:08x}: ").as_bytes()),
            _ => {}
        }
        text.extend_from_slice(line);
        text.push(b'\n');
        store_current(&k, &text);
        i += rowsize as u64;
    }
    0
}

/// `dump_stack()` / `dump_stack_lvl(log_lvl)`: the CPU line and a call
/// trace unwound from the caller with its ORC data (the real one starts
/// with `dump_stack_lvl` itself and goes on below the module, into the
/// kernel; kload's ends at its own entry into module code).
fn dump_stack_at(a: &CallArgs, level: i32) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let mut lines = super::panic::report_header(&k);
    lines.extend(super::panic::hardware_lines(&k));
    lines.extend(super::panic::stub_call_trace(&k, a.caller()));
    for l in lines {
        store_at_level(&k, level, format!("{l}\n").as_bytes());
    }
    0
}

fn sys_dump_stack(a: &mut CallArgs) -> u64 {
    dump_stack_at(a, i32::from(DEFAULT_MESSAGE_LOGLEVEL))
}

fn sys_dump_stack_lvl(a: &mut CallArgs) -> u64 {
    let level = read_level(a.arg(0));
    let level = match level_digit(&level) {
        l @ 0..=7 if level.first() == Some(&KERN_SOH) => l,
        _ => i32::from(DEFAULT_MESSAGE_LOGLEVEL),
    };
    dump_stack_at(a, level)
}

pub(super) fn register(r: &mut Registry) {
    r.func("_printk", sys_printk);
    r.func("vprintk", sys_vprintk);
    r.func("vprintk_emit", sys_vprintk_emit);
    r.func("__printk_ratelimit", sys_printk_ratelimit);
    r.func("hex_dump_to_buffer", sys_hex_dump_to_buffer);
    r.func("print_hex_dump", sys_print_hex_dump);
    r.func("dump_stack", sys_dump_stack);
    r.func("dump_stack_lvl", sys_dump_stack_lvl);
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

    #[test]
    fn hex_dump_lines_match_lib_hexdump() {
        let data: Vec<u8> = (0x40..0x50).collect();
        let (b, n) = hex_dump_to_buffer(&data, 16, 1, 200, true);
        let line = "40 41 42 43 44 45 46 47 48 49 4a 4b 4c 4d 4e 4f  @ABCDEFGHIJKLMNO";
        assert_eq!(&b[..b.len() - 1], line.as_bytes());
        assert_eq!(n as usize, line.len());
        let (b, _) = hex_dump_to_buffer(&data[..8], 16, 4, 200, false);
        assert_eq!(&b[..b.len() - 1], b"43424140 47464544");
        let (b, _) = hex_dump_to_buffer(&[1, 2, 3], 16, 2, 200, true);
        // 3 bytes are not a whole number of 2-byte groups: bytes instead.
        assert_eq!(
            String::from_utf8_lossy(&b[..b.len() - 1]),
            format!("01 02 03{}...", " ".repeat(49 - 8))
        );
        // Too small a buffer: the length it would have needed.
        assert_eq!(hex_dump_to_buffer(&data, 16, 1, 8, true).1, 49 + 16);
    }
}
