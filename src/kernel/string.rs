//! The kernel's string library (lib/string.c, lib/string_helpers.c and the
//! fortify reports of include/linux/fortify-string.h), and the printf/scanf
//! family of lib/vsprintf.c built on `vsprintf::vsnprintf`.
//!
//! x86-64 takes `memcpy`, `memmove` and `memset` from arch/x86/lib and the
//! rest from lib/string.c; their results (the sign conventions of `strcmp`
//! (-1/1) and `memcmp` (a byte difference), the Latin-1 `ctype` of
//! `strcasecmp` and `skip_spaces`) are the generic C versions'.
//!
//! The pure functions work on byte slices; the stubs read and write module
//! memory only through the checked `mm` accessors, each range in one go.
//! Where the kernel would oops on a bad pointer, `bad_access` reports it and
//! kills the task.

use super::kstrtox::MAX_STR;
use super::printk::{LOGLEVEL_EMERG, LOGLEVEL_WARNING};
use super::symbols::Registry;
use super::vsprintf::{vsnprintf, SysVVaList, VaList};
use crate::exec::dispatch::CallArgs;
use crate::exec::task;
use crate::mm;

/// No kload memory range is longer than this (everything is below 2 GiB);
/// a longer length is a bad pointer or a negative size.
pub(crate) const MAX_RANGE: u64 = 1 << 31;

/// `INT_MAX`, the size limit of the printf family.
const INT_MAX: u64 = i32::MAX as u64;

// ---------------------------------------------------------------------------
// Checked access helpers, shared with the other core-library files
// ---------------------------------------------------------------------------

/// A bad pointer met by a stub where the kernel would oops (a read of
/// `len` bytes at `addr`): the page-fault Oops of the kernel's function
/// (`bug::stub_fault`), and the task dies.
pub(crate) fn bad_access(func: &str, what: &str, addr: u64, len: u64) {
    bad_access_rw(func, what, addr, len, false);
}

/// `bad_access` of a write.
pub(crate) fn bad_access_rw(func: &str, what: &str, addr: u64, len: u64, write: bool) {
    let text = format!("{func}: cannot access {len} bytes of {what} at {addr:#x}");
    let faults = mm::first_fault(addr, len, write).is_some();
    match (
        task::current_kernel(),
        crate::exec::dispatch::current_call(),
    ) {
        (Some(k), Some(call)) if faults => {
            super::bug::stub_fault(&k, &call, &text, addr, len, write);
            task::kill(crate::exec::signal::KILLED_SIGKILL);
            return;
        }
        (Some(k), _) => {
            // Not a fault (a looping list, say), or not a call from module
            // code: kload's own report.
            k.log.emit(
                LOGLEVEL_EMERG,
                &format!("BUG: kload: {text} (the real kernel would oops here)"),
            );
            for line in super::panic::report_header(&k) {
                k.log.emit(LOGLEVEL_WARNING, &line);
            }
            k.taint.add(super::panic::TAINT_DIE);
        }
        (None, _) => log::error!("{text}"),
    }
    task::kill(&format!("bad memory access in {func}"));
}

/// Read `len` bytes for `func`, or report the bad access (`None`).
pub(crate) fn read(func: &str, what: &str, addr: u64, len: u64) -> Option<Vec<u8>> {
    if len == 0 {
        return Some(Vec::new());
    }
    let v = (len <= MAX_RANGE)
        .then(|| mm::read_bytes(addr, len as usize))
        .flatten();
    if v.is_none() {
        bad_access(func, what, addr, len);
    }
    v
}

/// Write `bytes` for `func`, or report the bad access (`false`).
pub(crate) fn write(func: &str, what: &str, addr: u64, bytes: &[u8]) -> bool {
    if bytes.is_empty() {
        return true;
    }
    let ok = mm::write_bytes(addr, bytes).is_ok();
    if !ok {
        bad_access_rw(func, what, addr, bytes.len() as u64, true);
    }
    ok
}

/// The string at `addr`, at most `max` bytes: shorter only when its NUL is
/// readable. `None` (reported) when a byte before that is not.
pub(crate) fn cstr(func: &str, what: &str, addr: u64, max: usize) -> Option<Vec<u8>> {
    let s = if max == 0 {
        Some(Vec::new())
    } else {
        mm::read_cstr(addr, max).filter(|s| {
            s.len() == max || mm::read_bytes(addr + s.len() as u64, 1).is_some_and(|b| b == [0])
        })
    };
    if s.is_none() {
        bad_access(func, what, addr, 1);
    }
    s
}

/// A NUL-terminated string argument.
pub(crate) fn str_arg(func: &str, addr: u64) -> Option<Vec<u8>> {
    cstr(func, "a string", addr, MAX_STR)
}

// ---------------------------------------------------------------------------
// ctype (lib/ctype.c: Latin-1)
// ---------------------------------------------------------------------------

/// `isspace`: the C locale's six plus Latin-1's no-break space (0xa0).
pub fn isspace(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0xa0)
}

/// `isupper`: A-Z and Latin-1's À-Þ except ×.
pub fn isupper(c: u8) -> bool {
    c.is_ascii_uppercase() || ((0xc0..=0xde).contains(&c) && c != 0xd7)
}

/// `tolower` (the kernel's `__tolower`).
pub fn tolower(c: u8) -> u8 {
    if isupper(c) {
        c + 32
    } else {
        c
    }
}

// ---------------------------------------------------------------------------
// The pure functions
// ---------------------------------------------------------------------------

/// `memcmp`: the difference of the first differing bytes.
pub fn memcmp(a: &[u8], b: &[u8]) -> i32 {
    a.iter()
        .zip(b)
        .find(|(x, y)| x != y)
        .map_or(0, |(&x, &y)| i32::from(x) - i32::from(y))
}

/// `strcmp`/`strncmp` (`a`, `b` without their NULs, at most `n` compared):
/// -1, 0 or 1.
pub fn strncmp(a: &[u8], b: &[u8], n: usize) -> i32 {
    for i in 0..n {
        let (c1, c2) = (
            a.get(i).copied().unwrap_or(0),
            b.get(i).copied().unwrap_or(0),
        );
        if c1 != c2 {
            return if c1 < c2 { -1 } else { 1 };
        }
        if c1 == 0 {
            break;
        }
    }
    0
}

/// `strcasecmp`: the difference of the first differing lowered bytes.
pub fn strcasecmp(a: &[u8], b: &[u8]) -> i32 {
    let mut i = 0;
    loop {
        let c1 = tolower(a.get(i).copied().unwrap_or(0));
        let c2 = tolower(b.get(i).copied().unwrap_or(0));
        if c1 != c2 || c1 == 0 {
            return i32::from(c1) - i32::from(c2);
        }
        i += 1;
    }
}

/// `strncasecmp`: stops at either NUL, compares raw bytes there.
pub fn strncasecmp(a: &[u8], b: &[u8], len: usize) -> i32 {
    let (mut c1, mut c2) = (0u8, 0u8);
    for i in 0..len {
        c1 = a.get(i).copied().unwrap_or(0);
        c2 = b.get(i).copied().unwrap_or(0);
        if c1 == 0 || c2 == 0 {
            break;
        }
        if c1 == c2 {
            continue;
        }
        c1 = tolower(c1);
        c2 = tolower(c2);
        if c1 != c2 {
            break;
        }
    }
    i32::from(c1) - i32::from(c2)
}

/// `strstr`: the offset of the first `needle` in `hay` (strings).
pub fn strstr(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `sysfs_streq`: equal, or equal but for one trailing newline on either.
pub fn sysfs_streq(a: &[u8], b: &[u8]) -> bool {
    a == b || a.strip_suffix(b"\n") == Some(b) || b.strip_suffix(b"\n") == Some(a)
}

/// The offset of `skip_spaces`.
pub fn skip_spaces(s: &[u8]) -> usize {
    s.iter().take_while(|&&c| isspace(c)).count()
}

// ---------------------------------------------------------------------------
// Stubs: memory
// ---------------------------------------------------------------------------

/// `void *memcpy(void *dest, const void *src, size_t n)`.
fn sys_memcpy(a: &mut CallArgs) -> u64 {
    let (dst, src, n) = (a.arg(0), a.arg(1), a.arg(2));
    if let Some(b) = read("memcpy", "the source", src, n) {
        write("memcpy", "the destination", dst, &b);
    }
    dst
}

/// `void *memmove(void *dest, const void *src, size_t n)`: the copy is
/// read whole before it is written, so overlap is fine.
fn sys_memmove(a: &mut CallArgs) -> u64 {
    let (dst, src, n) = (a.arg(0), a.arg(1), a.arg(2));
    if let Some(b) = read("memmove", "the source", src, n) {
        write("memmove", "the destination", dst, &b);
    }
    dst
}

/// `void *memset(void *s, int c, size_t n)`.
fn sys_memset(a: &mut CallArgs) -> u64 {
    let (dst, c, n) = (a.arg(0), a.arg(1) as u8, a.arg(2));
    if n > MAX_RANGE {
        bad_access_rw("memset", "the destination", dst, n, true);
    } else {
        write("memset", "the destination", dst, &vec![c; n as usize]);
    }
    dst
}

/// `int memcmp(const void *cs, const void *ct, size_t count)`.
fn sys_memcmp(a: &mut CallArgs) -> u64 {
    let n = a.arg(2);
    let (Some(x), Some(y)) = (
        read("memcmp", "the first buffer", a.arg(0), n),
        read("memcmp", "the second buffer", a.arg(1), n),
    ) else {
        return 0;
    };
    i64::from(memcmp(&x, &y)) as u64
}

/// `void *memchr(const void *s, int c, size_t n)`.
fn sys_memchr(a: &mut CallArgs) -> u64 {
    let (s, c) = (a.arg(0), a.arg(1) as u8);
    read("memchr", "the buffer", s, a.arg(2))
        .and_then(|b| b.iter().position(|&x| x == c))
        .map_or(0, |i| s + i as u64)
}

/// `void *memscan(void *addr, int c, size_t size)`: `addr + size` when absent.
fn sys_memscan(a: &mut CallArgs) -> u64 {
    let (s, c, n) = (a.arg(0), a.arg(1) as u8, a.arg(2));
    read("memscan", "the buffer", s, n)
        .and_then(|b| b.iter().position(|&x| x == c))
        .map_or(s + n, |i| s + i as u64)
}

/// `void *memchr_inv(const void *start, int c, size_t bytes)`: the first
/// byte that is not `c`, or NULL.
fn sys_memchr_inv(a: &mut CallArgs) -> u64 {
    let (s, c) = (a.arg(0), a.arg(1) as u8);
    read("memchr_inv", "the buffer", s, a.arg(2))
        .and_then(|b| b.iter().position(|&x| x != c))
        .map_or(0, |i| s + i as u64)
}

// ---------------------------------------------------------------------------
// Stubs: strings
// ---------------------------------------------------------------------------

fn sys_strlen(a: &mut CallArgs) -> u64 {
    str_arg("strlen", a.arg(0)).map_or(0, |s| s.len() as u64)
}

fn sys_strnlen(a: &mut CallArgs) -> u64 {
    let max = a.arg(1).min(MAX_STR as u64) as usize;
    cstr("strnlen", "a string", a.arg(0), max).map_or(0, |s| s.len() as u64)
}

fn sys_strcmp(a: &mut CallArgs) -> u64 {
    let (Some(x), Some(y)) = (str_arg("strcmp", a.arg(0)), str_arg("strcmp", a.arg(1))) else {
        return 0;
    };
    i64::from(strncmp(&x, &y, usize::MAX)) as u64
}

fn sys_strncmp(a: &mut CallArgs) -> u64 {
    let n = a.arg(2).min(MAX_STR as u64) as usize;
    let (Some(x), Some(y)) = (
        cstr("strncmp", "a string", a.arg(0), n),
        cstr("strncmp", "a string", a.arg(1), n),
    ) else {
        return 0;
    };
    i64::from(strncmp(&x, &y, n)) as u64
}

fn sys_strcasecmp(a: &mut CallArgs) -> u64 {
    let (Some(x), Some(y)) = (
        str_arg("strcasecmp", a.arg(0)),
        str_arg("strcasecmp", a.arg(1)),
    ) else {
        return 0;
    };
    i64::from(strcasecmp(&x, &y)) as u64
}

fn sys_strncasecmp(a: &mut CallArgs) -> u64 {
    let n = a.arg(2).min(MAX_STR as u64) as usize;
    let (Some(x), Some(y)) = (
        cstr("strncasecmp", "a string", a.arg(0), n),
        cstr("strncasecmp", "a string", a.arg(1), n),
    ) else {
        return 0;
    };
    i64::from(strncasecmp(&x, &y, n)) as u64
}

/// `char *strcpy(char *dest, const char *src)`.
fn sys_strcpy(a: &mut CallArgs) -> u64 {
    if let Some(mut s) = str_arg("strcpy", a.arg(1)) {
        s.push(0);
        write("strcpy", "the destination", a.arg(0), &s);
    }
    a.arg(0)
}

/// `char *strncpy(char *dest, const char *src, size_t count)`: exactly
/// `count` bytes, NUL-padded, not terminated when `src` is that long.
fn sys_strncpy(a: &mut CallArgs) -> u64 {
    let n = a.arg(2);
    if n > MAX_RANGE {
        bad_access_rw("strncpy", "the destination", a.arg(0), n, true);
        return a.arg(0);
    }
    if let Some(mut s) = cstr("strncpy", "a string", a.arg(1), n as usize) {
        s.resize(n as usize, 0);
        write("strncpy", "the destination", a.arg(0), &s);
    }
    a.arg(0)
}

/// `strscpy` (6.1) / `sized_strscpy` (6.12): copy at most `count - 1`
/// bytes and terminate; the length, or -E2BIG when truncated (or when
/// `count` is 0 or above `INT_MAX`). `pad` zero-fills the rest (`strscpy_pad`).
fn strscpy_common(a: &CallArgs, func: &str, pad: bool) -> u64 {
    let (dst, src, count) = (a.arg(0), a.arg(1), a.arg(2));
    let e2big = super::kstrtox::neg(libc::E2BIG);
    if count == 0 || count > INT_MAX {
        return e2big;
    }
    let Some(s) = cstr(func, "the source", src, count as usize) else {
        return e2big;
    };
    let (mut out, ret) = if s.len() == count as usize {
        (s[..s.len() - 1].to_vec(), e2big)
    } else {
        let n = s.len() as u64;
        (s, n)
    };
    out.push(0);
    if pad {
        out.resize(count as usize, 0);
    }
    write(func, "the destination", dst, &out);
    ret
}

fn sys_strscpy(a: &mut CallArgs) -> u64 {
    strscpy_common(a, "strscpy", false)
}

fn sys_sized_strscpy(a: &mut CallArgs) -> u64 {
    strscpy_common(a, "sized_strscpy", false)
}

fn sys_strscpy_pad(a: &mut CallArgs) -> u64 {
    strscpy_common(a, "strscpy_pad", true)
}

/// `size_t strlcpy(char *dest, const char *src, size_t size)` (6.1):
/// `strlen(src)`, copying what fits.
fn sys_strlcpy(a: &mut CallArgs) -> u64 {
    let (dst, size) = (a.arg(0), a.arg(2));
    let Some(s) = str_arg("strlcpy", a.arg(1)) else {
        return 0;
    };
    if size > 0 {
        let len = s.len().min(size.saturating_sub(1).min(MAX_RANGE) as usize);
        let mut out = s[..len].to_vec();
        out.push(0);
        write("strlcpy", "the destination", dst, &out);
    }
    s.len() as u64
}

/// `size_t strlcat(char *dest, const char *src, size_t count)`: the kernel
/// BUGs when `dest` is not terminated within `count`.
fn sys_strlcat(a: &mut CallArgs) -> u64 {
    let (dst, count) = (a.arg(0), a.arg(2));
    let (Some(d), Some(s)) = (str_arg("strlcat", dst), str_arg("strlcat", a.arg(1))) else {
        return 0;
    };
    let res = (d.len() + s.len()) as u64;
    if d.len() as u64 >= count {
        kernel_bug("lib/string.c", "strlcat");
        return res;
    }
    let room = (count - d.len() as u64 - 1).min(MAX_RANGE) as usize;
    let mut out = s[..s.len().min(room)].to_vec();
    out.push(0);
    write("strlcat", "the destination", dst + d.len() as u64, &out);
    res
}

/// `char *strcat(char *dest, const char *src)`.
fn sys_strcat(a: &mut CallArgs) -> u64 {
    let dst = a.arg(0);
    if let (Some(d), Some(mut s)) = (str_arg("strcat", dst), str_arg("strcat", a.arg(1))) {
        s.push(0);
        write("strcat", "the destination", dst + d.len() as u64, &s);
    }
    dst
}

/// `char *strncat(char *dest, const char *src, size_t count)`: at most
/// `count` bytes of `src`, always terminated.
fn sys_strncat(a: &mut CallArgs) -> u64 {
    let (dst, count) = (a.arg(0), a.arg(2));
    if count == 0 {
        return dst;
    }
    let n = count.min(MAX_STR as u64) as usize;
    if let (Some(d), Some(mut s)) = (
        str_arg("strncat", dst),
        cstr("strncat", "the source", a.arg(1), n),
    ) {
        s.push(0);
        write("strncat", "the destination", dst + d.len() as u64, &s);
    }
    dst
}

/// `char *strchr(const char *s, int c)`: `c == 0` finds the terminator.
fn sys_strchr(a: &mut CallArgs) -> u64 {
    let (p, c) = (a.arg(0), a.arg(1) as u8);
    let Some(s) = str_arg("strchr", p) else {
        return 0;
    };
    match s.iter().position(|&x| x == c) {
        Some(i) => p + i as u64,
        None if c == 0 => p + s.len() as u64,
        None => 0,
    }
}

/// `char *strchrnul(const char *s, int c)`.
fn sys_strchrnul(a: &mut CallArgs) -> u64 {
    let (p, c) = (a.arg(0), a.arg(1) as u8);
    let Some(s) = str_arg("strchrnul", p) else {
        return 0;
    };
    p + s.iter().position(|&x| x == c).unwrap_or(s.len()) as u64
}

/// `char *strrchr(const char *s, int c)`.
fn sys_strrchr(a: &mut CallArgs) -> u64 {
    let (p, c) = (a.arg(0), a.arg(1) as u8);
    let Some(s) = str_arg("strrchr", p) else {
        return 0;
    };
    if c == 0 {
        return p + s.len() as u64;
    }
    s.iter().rposition(|&x| x == c).map_or(0, |i| p + i as u64)
}

/// `char *strnchr(const char *s, size_t count, int c)`: never finds the NUL.
fn sys_strnchr(a: &mut CallArgs) -> u64 {
    let (p, n, c) = (a.arg(0), a.arg(1), a.arg(2) as u8);
    let n = n.min(MAX_STR as u64) as usize;
    cstr("strnchr", "a string", p, n)
        .and_then(|s| s.iter().position(|&x| x == c && x != 0))
        .map_or(0, |i| p + i as u64)
}

/// `char *strstr(const char *s1, const char *s2)`.
fn sys_strstr(a: &mut CallArgs) -> u64 {
    let p = a.arg(0);
    let (Some(h), Some(n)) = (str_arg("strstr", p), str_arg("strstr", a.arg(1))) else {
        return 0;
    };
    strstr(&h, &n).map_or(0, |i| p + i as u64)
}

/// `char *strnstr(const char *s1, const char *s2, size_t len)`: the kernel
/// compares `strlen(s2)` bytes at each of the first `len - strlen(s2) + 1`
/// positions, NULs of `s1` included.
fn sys_strnstr(a: &mut CallArgs) -> u64 {
    let (p, len) = (a.arg(0), a.arg(2));
    let Some(n) = str_arg("strnstr", a.arg(1)) else {
        return 0;
    };
    if n.is_empty() {
        return p;
    }
    if len < n.len() as u64 {
        return 0;
    }
    let Some(h) = read("strnstr", "the string", p, len) else {
        return 0;
    };
    strstr(&h, &n).map_or(0, |i| p + i as u64)
}

/// `char *strsep(char **s, const char *ct)`.
fn sys_strsep(a: &mut CallArgs) -> u64 {
    let sp = a.arg(0);
    let Some(begin) = read("strsep", "the string pointer", sp, 8)
        .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()))
    else {
        return 0;
    };
    if begin == 0 {
        return 0;
    }
    let (Some(s), Some(ct)) = (str_arg("strsep", begin), str_arg("strsep", a.arg(1))) else {
        return 0;
    };
    let next = match s.iter().position(|c| ct.contains(c)) {
        Some(i) => {
            if !write("strsep", "the string", begin + i as u64, &[0]) {
                return 0;
            }
            begin + i as u64 + 1
        }
        None => 0,
    };
    write("strsep", "the string pointer", sp, &next.to_le_bytes());
    begin
}

/// `char *skip_spaces(const char *str)`.
fn sys_skip_spaces(a: &mut CallArgs) -> u64 {
    let p = a.arg(0);
    str_arg("skip_spaces", p).map_or(p, |s| p + skip_spaces(&s) as u64)
}

/// `char *strim(char *s)`: cut trailing spaces, return past leading ones.
fn sys_strim(a: &mut CallArgs) -> u64 {
    let p = a.arg(0);
    let Some(s) = str_arg("strim", p) else {
        return p;
    };
    if s.is_empty() {
        return p;
    }
    let end = s.iter().rposition(|&c| !isspace(c)).map_or(0, |i| i + 1);
    if end < s.len() && !write("strim", "the string", p + end as u64, &[0]) {
        return p;
    }
    p + skip_spaces(&s[..end]) as u64
}

/// `char *strreplace(char *s, char old, char new)`: the end of the string.
fn sys_strreplace(a: &mut CallArgs) -> u64 {
    let (p, old, new) = (a.arg(0), a.arg(1) as u8, a.arg(2) as u8);
    let Some(mut s) = str_arg("strreplace", p) else {
        return p;
    };
    let len = s.len() as u64;
    if s.contains(&old) {
        s.iter_mut().filter(|c| **c == old).for_each(|c| *c = new);
        write("strreplace", "the string", p, &s);
    }
    p + len
}

fn sys_sysfs_streq(a: &mut CallArgs) -> u64 {
    let (Some(x), Some(y)) = (
        str_arg("sysfs_streq", a.arg(0)),
        str_arg("sysfs_streq", a.arg(1)),
    ) else {
        return 0;
    };
    u64::from(sysfs_streq(&x, &y))
}

/// `match_string` stops at the first NULL entry; `__sysfs_match_string`
/// skips NULL entries and compares with `sysfs_streq`.
fn match_common(a: &CallArgs, func: &str, sysfs: bool) -> u64 {
    let (array, n) = (a.arg(0), a.arg(1));
    let Some(s) = str_arg(func, a.arg(2)) else {
        return 0;
    };
    for i in 0..n.min(MAX_RANGE / 8) {
        let Some(item) = read(func, "the array", array + i * 8, 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()))
        else {
            return 0;
        };
        if item == 0 {
            if sysfs {
                continue;
            }
            break;
        }
        let Some(it) = str_arg(func, item) else {
            return 0;
        };
        let hit = if sysfs { sysfs_streq(&it, &s) } else { it == s };
        if hit {
            return i;
        }
    }
    super::kstrtox::neg(libc::EINVAL)
}

fn sys_match_string(a: &mut CallArgs) -> u64 {
    match_common(a, "match_string", false)
}

fn sys_sysfs_match_string(a: &mut CallArgs) -> u64 {
    match_common(a, "__sysfs_match_string", true)
}

// ---------------------------------------------------------------------------
// BUG() and the fortify reports
// ---------------------------------------------------------------------------

/// A `BUG()` in kernel code at `file`: the cut-here line, "kernel BUG at",
/// and the task dies (kload does not print the Oops register dump).
pub(crate) fn kernel_bug(file: &str, func: &str) {
    if let Some(k) = task::current_kernel() {
        k.log
            .emit(LOGLEVEL_WARNING, "------------[ cut here ]------------");
        k.log
            .emit(LOGLEVEL_EMERG, &format!("kernel BUG at {file} ({func})!"));
        k.log.emit(
            LOGLEVEL_WARNING,
            "invalid opcode: 0000 [#1] PREEMPT SMP NOPTI",
        );
        k.taint.add(super::panic::TAINT_DIE);
        for line in super::panic::report_header(&k) {
            k.log.emit(LOGLEVEL_WARNING, &line);
        }
        k.log.emit(
            LOGLEVEL_WARNING,
            &format!("Modules linked in:{}", k.modules_linked_in()),
        );
        k.log
            .emit(LOGLEVEL_WARNING, "---[ end trace 0000000000000000 ]---");
    }
    task::kill(&format!("kernel BUG in {func}"));
}

/// 6.1: `void fortify_panic(const char *name)`.
fn sys_fortify_panic(a: &mut CallArgs) -> u64 {
    let name = mm::read_cstr(a.arg(0), 64).unwrap_or_default();
    if let Some(k) = task::current_kernel() {
        k.log.emit(
            LOGLEVEL_EMERG,
            &format!(
                "detected buffer overflow in {}",
                String::from_utf8_lossy(&name)
            ),
        );
    }
    kernel_bug("lib/string_helpers.c", "fortify_panic");
    0
}

/// 6.12's `enum fortify_func`, in order.
const FORTIFY_FUNCS: &[&str] = &[
    "strncpy",
    "strnlen",
    "strlen",
    "strscpy",
    "strlcat",
    "strcat",
    "strncat",
    "memset",
    "memcpy",
    "memmove",
    "memscan",
    "memcmp",
    "memchr",
    "memchr_inv",
    "kmemdup",
    "strcpy",
    "UNKNOWN",
];

/// The text of 6.12's `__fortify_report` WARN.
pub fn fortify_report_text(reason: u8, avail: u64, size: u64) -> String {
    let func = usize::from(reason >> 1).min(FORTIFY_FUNCS.len() - 1);
    let dir = if reason & 1 != 0 { "write" } else { "read" };
    format!(
        "{}: detected buffer overflow: {size} byte {dir} of buffer size {avail}",
        FORTIFY_FUNCS[func]
    )
}

fn fortify_report(a: &CallArgs) {
    let Some(k) = task::current_kernel() else {
        return;
    };
    k.log
        .emit(LOGLEVEL_WARNING, "------------[ cut here ]------------");
    k.log.emit(
        LOGLEVEL_WARNING,
        &fortify_report_text(a.arg(0) as u8, a.arg(1), a.arg(2)),
    );
    k.log.emit(
        LOGLEVEL_WARNING,
        &format!(
            "WARNING: CPU: 0 at lib/string_helpers.c __fortify_report, caller {}",
            k.symbolize_return_address(a.caller())
        ),
    );
    k.log.emit(
        LOGLEVEL_WARNING,
        &format!("Modules linked in:{}", k.modules_linked_in()),
    );
    for line in super::panic::report_header(&k) {
        k.log.emit(LOGLEVEL_WARNING, &line);
    }
    k.log
        .emit(LOGLEVEL_WARNING, "---[ end trace 0000000000000000 ]---");
    k.taint.add(super::panic::TAINT_WARN);
}

/// 6.12: `void __fortify_report(u8 reason, size_t avail, size_t size)` (a WARN).
fn sys_fortify_report(a: &mut CallArgs) -> u64 {
    fortify_report(a);
    0
}

/// 6.12: `__fortify_panic`: the report, then BUG().
fn sys_fortify_panic_612(a: &mut CallArgs) -> u64 {
    fortify_report(a);
    kernel_bug("lib/string_helpers.c", "__fortify_panic");
    0
}

// ---------------------------------------------------------------------------
// printf family (lib/vsprintf.c)
// ---------------------------------------------------------------------------

/// Format `fmt` (a module string) with `args` for the current kernel.
fn format(func: &str, fmt: u64, args: &mut dyn VaList) -> Option<Vec<u8>> {
    let k = task::current_kernel()?;
    let fmt = str_arg(func, fmt)?;
    Some(vsnprintf(&fmt, args, &*k))
}

/// What `vsnprintf(buf, size, ...)` stores: the prefix that fits and a NUL.
pub fn truncate_for(text: &[u8], size: u64) -> Option<Vec<u8>> {
    if size == 0 {
        return None;
    }
    let n = text.len().min((size - 1) as usize);
    let mut out = text[..n].to_vec();
    out.push(0);
    Some(out)
}

/// `scnprintf`'s return value: the bytes written, NUL excluded.
pub fn scnprintf_ret(len: usize, size: u64) -> u64 {
    if (len as u64) < size {
        len as u64
    } else {
        size.saturating_sub(1)
    }
}

/// The common body: `size > INT_MAX` is refused with a WARN (0 returned).
fn snprintf_into(
    func: &str,
    buf: u64,
    size: u64,
    fmt: u64,
    args: &mut dyn VaList,
    counted: bool,
) -> u64 {
    if size > INT_MAX {
        if let Some(k) = task::current_kernel() {
            k.log.emit(
                LOGLEVEL_WARNING,
                &format!("kload: {func}: size {size} > INT_MAX (the kernel WARNs and returns 0)"),
            );
        }
        return 0;
    }
    let Some(text) = format(func, fmt, args) else {
        return 0;
    };
    if let Some(out) = truncate_for(&text, size) {
        if !write(func, "the buffer", buf, &out) {
            return 0;
        }
    }
    if counted {
        scnprintf_ret(text.len(), size)
    } else {
        text.len() as u64
    }
}

fn open_va(func: &str, addr: u64, f: impl FnOnce(&mut dyn VaList) -> u64) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    match SysVVaList::open(&*k, addr) {
        Some(mut va) => f(&mut va),
        None => {
            bad_access(func, "the va_list", addr, 24);
            0
        }
    }
}

fn sys_snprintf(a: &mut CallArgs) -> u64 {
    let (buf, size, fmt) = (a.arg(0), a.arg(1), a.arg(2));
    snprintf_into("snprintf", buf, size, fmt, &mut a.va(3), false)
}

fn sys_scnprintf(a: &mut CallArgs) -> u64 {
    let (buf, size, fmt) = (a.arg(0), a.arg(1), a.arg(2));
    snprintf_into("scnprintf", buf, size, fmt, &mut a.va(3), true)
}

fn sys_sprintf(a: &mut CallArgs) -> u64 {
    let (buf, fmt) = (a.arg(0), a.arg(1));
    snprintf_into("sprintf", buf, INT_MAX, fmt, &mut a.va(2), false)
}

fn sys_vsnprintf(a: &mut CallArgs) -> u64 {
    let (buf, size, fmt) = (a.arg(0), a.arg(1), a.arg(2));
    open_va("vsnprintf", a.arg(3), |va| {
        snprintf_into("vsnprintf", buf, size, fmt, va, false)
    })
}

fn sys_vscnprintf(a: &mut CallArgs) -> u64 {
    let (buf, size, fmt) = (a.arg(0), a.arg(1), a.arg(2));
    open_va("vscnprintf", a.arg(3), |va| {
        snprintf_into("vscnprintf", buf, size, fmt, va, true)
    })
}

/// `kasprintf(gfp, fmt, ...)` / `kvasprintf(gfp, fmt, va_list)`: the
/// formatted string in a new kmalloc'ed buffer of exactly its length + 1.
fn kasprintf_into(
    func: &'static str,
    caller: u64,
    gfp: u64,
    fmt: u64,
    args: &mut dyn VaList,
) -> u64 {
    let Some(mut text) = format(func, fmt, args) else {
        return 0;
    };
    text.push(0);
    super::slab::kmalloc_copy(caller, &text, gfp, func)
}

fn sys_kasprintf(a: &mut CallArgs) -> u64 {
    let (gfp, fmt, caller) = (a.arg(0), a.arg(1), a.caller());
    kasprintf_into("kasprintf", caller, gfp, fmt, &mut a.va(2))
}

fn sys_kvasprintf(a: &mut CallArgs) -> u64 {
    let (gfp, fmt, caller) = (a.arg(0), a.arg(1), a.caller());
    open_va("kvasprintf", a.arg(2), |va| {
        kasprintf_into("kvasprintf", caller, gfp, fmt, va)
    })
}

fn sys_vsprintf(a: &mut CallArgs) -> u64 {
    let (buf, fmt) = (a.arg(0), a.arg(1));
    open_va("vsprintf", a.arg(2), |va| {
        snprintf_into("vsprintf", buf, INT_MAX, fmt, va, false)
    })
}

// ---------------------------------------------------------------------------
// sscanf (lib/vsprintf.c `vsscanf`)
// ---------------------------------------------------------------------------

use super::kstrtox::fixup_radix;

/// `simple_strntoull`: value and characters consumed (at most `max`).
fn strntoull(s: &[u8], base: u32, max: usize) -> (u64, usize) {
    let (prefix, base) = fixup_radix(s, base);
    if prefix >= max {
        return (0, max);
    }
    let mut res = 0u64;
    let mut n = 0;
    for &c in s[prefix..].iter().take(max - prefix) {
        let v = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'a'..=b'f' => u32::from(c - b'a') + 10,
            b'A'..=b'F' => u32::from(c - b'A') + 10,
            _ => break,
        };
        if v >= base {
            break;
        }
        res = res.wrapping_mul(u64::from(base)).wrapping_add(u64::from(v));
        n += 1;
    }
    (res, prefix + n)
}

/// `simple_strntoll`.
fn strntoll(s: &[u8], base: u32, max: usize) -> (u64, usize) {
    if s.first() == Some(&b'-') && max > 0 {
        let (v, n) = strntoull(&s[1..], base, max - 1);
        (v.wrapping_neg(), n + 1)
    } else {
        strntoull(s, base, max)
    }
}

/// The result of `vsscanf`: the count it returns, and the bytes to store
/// through each pointer argument it consumed, in order.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Scanned {
    pub num: i32,
    pub stores: Vec<Vec<u8>>,
}

/// The kernel's `vsscanf` on `buf` (its string, without the NUL).
pub fn vsscanf(buf: &[u8], fmt: &[u8]) -> Scanned {
    let b = |i: usize| buf.get(i).copied().unwrap_or(0);
    let f = |i: usize| fmt.get(i).copied().unwrap_or(0);
    let skip = |s: &dyn Fn(usize) -> u8, mut i: usize| {
        while isspace(s(i)) {
            i += 1;
        }
        i
    };
    let mut out = Scanned::default();
    let (mut str_, mut fi) = (0usize, 0usize);
    while f(fi) != 0 {
        if isspace(f(fi)) {
            fi = skip(&f, fi + 1);
            str_ = skip(&b, str_);
        }
        if f(fi) != b'%' && f(fi) != 0 {
            let (fc, sc) = (f(fi), b(str_));
            fi += 1;
            str_ += 1;
            if fc != sc {
                break;
            }
            continue;
        }
        if f(fi) == 0 {
            break;
        }
        fi += 1;
        if f(fi) == b'*' {
            if b(str_) == 0 {
                break;
            }
            while !isspace(f(fi)) && f(fi) != b'%' && f(fi) != 0 {
                if f(fi) == b'[' {
                    return out;
                }
                fi += 1;
            }
            while !isspace(b(str_)) && b(str_) != 0 {
                str_ += 1;
            }
            continue;
        }
        let mut field_width: i32 = -1;
        if f(fi).is_ascii_digit() {
            let mut w: i32 = 0;
            while f(fi).is_ascii_digit() {
                w = w.wrapping_mul(10).wrapping_add(i32::from(f(fi) - b'0'));
                fi += 1;
            }
            field_width = i32::from(w as i16);
            if field_width <= 0 {
                break;
            }
        }
        let mut qualifier = 0u8;
        if matches!(f(fi), b'h' | b'l' | b'L' | b'z') {
            qualifier = f(fi);
            fi += 1;
            if qualifier == f(fi) {
                if qualifier == b'h' {
                    qualifier = b'H';
                    fi += 1;
                } else if qualifier == b'l' {
                    qualifier = b'L';
                    fi += 1;
                }
            }
        }
        if f(fi) == 0 {
            break;
        }
        if f(fi) == b'n' {
            out.stores.push((str_ as i32).to_le_bytes().to_vec());
            fi += 1;
            continue;
        }
        if b(str_) == 0 {
            break;
        }
        let conv = f(fi);
        fi += 1;
        let (base, is_sign) = match conv {
            b'c' => {
                let w = if field_width == -1 { 1 } else { field_width };
                let mut s = Vec::new();
                let mut left = w;
                loop {
                    s.push(b(str_));
                    str_ += 1;
                    left -= 1;
                    if left <= 0 || b(str_) == 0 {
                        break;
                    }
                }
                out.stores.push(s);
                out.num += 1;
                continue;
            }
            b's' => {
                let mut w = if field_width == -1 {
                    i32::from(i16::MAX)
                } else {
                    field_width
                };
                str_ = skip(&b, str_);
                let mut s = Vec::new();
                while b(str_) != 0 && !isspace(b(str_)) && w > 0 {
                    w -= 1;
                    s.push(b(str_));
                    str_ += 1;
                }
                s.push(0);
                out.stores.push(s);
                out.num += 1;
                continue;
            }
            b'[' => {
                if field_width == -1 {
                    return out;
                }
                let negate = f(fi) == b'^';
                if negate {
                    fi += 1;
                }
                let mut set = [false; 256];
                let mut len = 0;
                while f(fi) != 0 && f(fi) != b']' {
                    set[usize::from(f(fi))] = true;
                    fi += 1;
                    len += 1;
                }
                if f(fi) == 0 || len == 0 {
                    return out;
                }
                fi += 1;
                if negate {
                    set.iter_mut().for_each(|x| *x = !*x);
                    set[0] = false;
                }
                if !set[usize::from(b(str_))] {
                    return out;
                }
                let mut s = Vec::new();
                let mut w = field_width;
                while set[usize::from(b(str_))] && w > 0 {
                    w -= 1;
                    s.push(b(str_));
                    str_ += 1;
                }
                s.push(0);
                out.stores.push(s);
                out.num += 1;
                continue;
            }
            b'o' => (8, false),
            b'x' | b'X' => (16, false),
            b'i' => (0, true),
            b'd' => (10, true),
            b'u' => (10, false),
            b'%' => {
                let c = b(str_);
                str_ += 1;
                if c != b'%' {
                    return out;
                }
                continue;
            }
            _ => return out,
        };
        str_ = skip(&b, str_);
        let mut digit = b(str_);
        if is_sign && digit == b'-' {
            if field_width == 1 {
                break;
            }
            digit = b(str_ + 1);
        }
        let ok = digit != 0
            && match base {
                16 => digit.is_ascii_hexdigit(),
                8 => (b'0'..=b'7').contains(&digit),
                _ => digit.is_ascii_digit(),
            };
        if !ok {
            break;
        }
        let max = if field_width >= 0 {
            field_width as usize
        } else {
            i32::MAX as usize
        };
        let rest = &buf[str_.min(buf.len())..];
        let (val, used) = if is_sign {
            strntoll(rest, base, max)
        } else {
            strntoull(rest, base, max)
        };
        let bytes = match qualifier {
            b'H' => 1,
            b'h' => 2,
            b'l' | b'L' | b'z' => 8,
            _ => 4,
        };
        out.stores.push(val.to_le_bytes()[..bytes].to_vec());
        out.num += 1;
        str_ += used;
    }
    out
}

fn sscanf_common(func: &str, buf: u64, fmt: u64, args: &mut dyn VaList) -> u64 {
    let (Some(buf), Some(fmt)) = (str_arg(func, buf), str_arg(func, fmt)) else {
        return 0;
    };
    let r = vsscanf(&buf, &fmt);
    for s in &r.stores {
        let p = args.next_arg();
        if !write(func, "a result", p, s) {
            return 0;
        }
    }
    i64::from(r.num) as u64
}

fn sys_sscanf(a: &mut CallArgs) -> u64 {
    let (buf, fmt) = (a.arg(0), a.arg(1));
    sscanf_common("sscanf", buf, fmt, &mut a.va(2))
}

fn sys_vsscanf(a: &mut CallArgs) -> u64 {
    let (buf, fmt) = (a.arg(0), a.arg(1));
    open_va("vsscanf", a.arg(2), |va| {
        sscanf_common("vsscanf", buf, fmt, va)
    })
}

pub(super) fn register(r: &mut Registry) {
    r.func("memcpy", sys_memcpy);
    r.func("memmove", sys_memmove);
    r.func("memset", sys_memset);
    r.func("memcmp", sys_memcmp);
    r.func("memchr", sys_memchr);
    r.func("memscan", sys_memscan);
    r.func("memchr_inv", sys_memchr_inv);
    r.func("strlen", sys_strlen);
    r.func("strnlen", sys_strnlen);
    r.func("strcmp", sys_strcmp);
    r.func("strncmp", sys_strncmp);
    r.func("strcasecmp", sys_strcasecmp);
    r.func("strncasecmp", sys_strncasecmp);
    r.func("strcpy", sys_strcpy);
    r.func("strncpy", sys_strncpy);
    // 6.1 exports strscpy, strscpy_pad and strlcpy; 6.12 sized_strscpy
    // (strscpy and strscpy_pad became macros over it; strlcpy is gone).
    r.func("strscpy", sys_strscpy);
    r.func("sized_strscpy", sys_sized_strscpy);
    r.func("strscpy_pad", sys_strscpy_pad);
    r.func("strlcpy", sys_strlcpy);
    r.func("strlcat", sys_strlcat);
    r.func("strcat", sys_strcat);
    r.func("strncat", sys_strncat);
    r.func("strchr", sys_strchr);
    r.func("strchrnul", sys_strchrnul);
    r.func("strrchr", sys_strrchr);
    r.func("strnchr", sys_strnchr);
    r.func("strstr", sys_strstr);
    r.func("strnstr", sys_strnstr);
    r.func("strsep", sys_strsep);
    r.func("strim", sys_strim);
    r.func("skip_spaces", sys_skip_spaces);
    r.func("strreplace", sys_strreplace);
    r.func("sysfs_streq", sys_sysfs_streq);
    r.func("match_string", sys_match_string);
    r.func("__sysfs_match_string", sys_sysfs_match_string);
    r.func("fortify_panic", sys_fortify_panic);
    r.func("__fortify_report", sys_fortify_report);
    r.func("__fortify_panic", sys_fortify_panic_612);
    r.func("sprintf", sys_sprintf);
    r.func("snprintf", sys_snprintf);
    r.func("scnprintf", sys_scnprintf);
    r.func("vsprintf", sys_vsprintf);
    r.func("vsnprintf", sys_vsnprintf);
    r.func("kasprintf", sys_kasprintf);
    r.func("kvasprintf", sys_kvasprintf);
    r.func("vscnprintf", sys_vscnprintf);
    r.func("sscanf", sys_sscanf);
    r.func("vsscanf", sys_vsscanf);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares() {
        assert_eq!(memcmp(b"abc", b"abd"), -1);
        assert_eq!(memcmp(b"\xff", b"\x00"), 255);
        assert_eq!(memcmp(b"", b""), 0);
        assert_eq!(strncmp(b"abc", b"abd", usize::MAX), -1);
        assert_eq!(strncmp(b"abz", b"abc", usize::MAX), 1);
        assert_eq!(strncmp(b"ab", b"abc", usize::MAX), -1);
        assert_eq!(strncmp(b"abc", b"abd", 2), 0);
        assert_eq!(strncmp(b"", b"", 5), 0);
        assert_eq!(strcasecmp(b"HeLLo", b"hello"), 0);
        assert_eq!(strcasecmp(b"a", b"B"), -1);
        assert_eq!(strcasecmp(b"\xc0", b"\xe0"), 0);
        assert_eq!(strncasecmp(b"ABCx", b"abcy", 3), 0);
        assert_eq!(
            strncasecmp(b"ABCx", b"abcy", 4),
            i32::from(b'x') - i32::from(b'y')
        );
        assert_eq!(strncasecmp(b"ab", b"abc", 5), -i32::from(b'c'));
        assert_eq!(strncasecmp(b"x", b"y", 0), 0);
    }

    #[test]
    fn search_and_spaces() {
        assert_eq!(strstr(b"hello world", b"o w"), Some(4));
        assert_eq!(strstr(b"hello", b""), Some(0));
        assert_eq!(strstr(b"hi", b"hello"), None);
        assert!(sysfs_streq(b"on\n", b"on"));
        assert!(sysfs_streq(b"on", b"on\n"));
        assert!(!sysfs_streq(b"on\n\n", b"on"));
        assert!(!sysfs_streq(b"o", b"on"));
        assert_eq!(skip_spaces(b" \t\n\xa0x "), 4);
        assert!(isspace(0x0b) && !isspace(0));
    }

    #[test]
    fn snprintf_truncation() {
        assert_eq!(truncate_for(b"hello", 0), None);
        assert_eq!(truncate_for(b"hello", 1), Some(b"\0".to_vec()));
        assert_eq!(truncate_for(b"hello", 3), Some(b"he\0".to_vec()));
        assert_eq!(truncate_for(b"hello", 6), Some(b"hello\0".to_vec()));
        assert_eq!(truncate_for(b"hello", 100), Some(b"hello\0".to_vec()));
        assert_eq!(scnprintf_ret(5, 0), 0);
        assert_eq!(scnprintf_ret(5, 3), 2);
        assert_eq!(scnprintf_ret(5, 5), 4);
        assert_eq!(scnprintf_ret(5, 6), 5);
    }

    fn ints(s: &Scanned) -> Vec<i64> {
        s.stores
            .iter()
            .map(|b| {
                let mut x = [0u8; 8];
                x[..b.len()].copy_from_slice(b);
                let v = u64::from_le_bytes(x);
                let shift = 64 - 8 * b.len() as u32;
                ((v << shift) as i64) >> shift
            })
            .collect()
    }

    #[test]
    fn sscanf_numbers() {
        let r = vsscanf(b"12 -34 0x1f 077", b"%d %d %x %o");
        assert_eq!(r.num, 4);
        assert_eq!(ints(&r), [12, -34, 0x1f, 0o77]);
        let r = vsscanf(b"0x10 010 10", b"%i %i %i");
        assert_eq!(ints(&r), [16, 8, 10]);
        let r = vsscanf(b"1.2.3", b"%u.%u.%u");
        assert_eq!((r.num, ints(&r)), (3, vec![1, 2, 3]));
        let r = vsscanf(b"12345", b"%2d%3d");
        assert_eq!(ints(&r), [12, 345]);
        let r = vsscanf(b"5 x", b"%d %d");
        assert_eq!(r.num, 1);
        let r = vsscanf(b"abc", b"%d");
        assert_eq!(r.num, 0);
        let r = vsscanf(b"-1", b"%hhd");
        assert_eq!(r.stores, [vec![0xff]]);
        let r = vsscanf(b"70000", b"%hu");
        assert_eq!(r.stores, [(70000u32 as u16).to_le_bytes().to_vec()]);
        let r = vsscanf(b"18446744073709551615", b"%llu");
        assert_eq!(r.stores, [u64::MAX.to_le_bytes().to_vec()]);
        let r = vsscanf(b"", b"%d");
        assert_eq!(r, Scanned::default());
    }

    #[test]
    fn sscanf_strings() {
        let r = vsscanf(b"  name=value rest", b"%4s=%s %n");
        assert_eq!(r.num, 2);
        assert_eq!(r.stores[0], b"name\0");
        assert_eq!(r.stores[1], b"value\0");
        assert_eq!(r.stores[2], 13i32.to_le_bytes());
        let r = vsscanf(b"00:0a:95", b"%2[^:]:%2[^:]:%2[^:]");
        assert_eq!(r.num, 3);
        assert_eq!(
            r.stores,
            [b"00\0".to_vec(), b"0a\0".to_vec(), b"95\0".to_vec()]
        );
        let r = vsscanf(b"xy", b"%c%c");
        assert_eq!(r.stores, [b"x".to_vec(), b"y".to_vec()]);
        let r = vsscanf(b"abc", b"%[abc]");
        assert_eq!(r.num, 0, "%[ needs a field width");
        let r = vsscanf(b"skip 7", b"%*s %d");
        assert_eq!(ints(&r), [7]);
        let r = vsscanf(b"50%", b"%d%%");
        assert_eq!(r.num, 1);
    }

    #[test]
    fn fortify_text() {
        assert_eq!(
            fortify_report_text(8 << 1 | 1, 4, 8),
            "memcpy: detected buffer overflow: 8 byte write of buffer size 4"
        );
        assert_eq!(
            fortify_report_text(2 << 1, 3, 4),
            "strlen: detected buffer overflow: 4 byte read of buffer size 3"
        );
        assert_eq!(
            fortify_report_text(0xfe, 1, 2),
            "UNKNOWN: detected buffer overflow: 2 byte read of buffer size 1"
        );
    }
}
