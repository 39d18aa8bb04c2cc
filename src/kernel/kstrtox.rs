//! String to integer conversion (lib/kstrtox.c, and `simple_strto*` of
//! lib/vsprintf.c).
//!
//! The `kstrto*` family is strict: an optional sign (`+` for every type,
//! `-` for the signed ones only), the base prefix of base 0 (`0x` → 16, a
//! leading `0` → 8, else 10; `0x` is also skipped with an explicit base 16),
//! at least one digit, then at most one `\n` and the end of the string.
//! Anything else is -EINVAL; a value that does not fit the type is -ERANGE,
//! and on error the result is not written. `simple_strto*` take what digits
//! there are, never fail, ignore overflow and report where they stopped.
//!
//! The pure conversions return `Err(errno)` with a positive errno; the stubs
//! return it negated, as the kernel does. Stubs read and write module memory
//! only through the checked `mm` accessors: where the kernel would oops on a
//! bad pointer, they log what happened and return -EFAULT.

use super::printk::LOGLEVEL_ERR;
use super::symbols::Registry;
use crate::exec::dispatch::CallArgs;
use crate::exec::task;
use crate::mm;

/// Longest string a stub reads from module memory before it gives up
/// looking for the NUL (the kernel would keep going; nothing sane is longer).
pub(crate) const MAX_STR: usize = 1 << 20;

/// `_parse_integer_fixup_radix`: resolve base 0 and skip a `0x` prefix where
/// it applies. Returns the number of prefix bytes and the base.
pub(crate) fn fixup_radix(s: &[u8], base: u32) -> (usize, u32) {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut base = base;
    if base == 0 {
        base = if at(0) == b'0' {
            if at(1).eq_ignore_ascii_case(&b'x') && at(2).is_ascii_hexdigit() {
                16
            } else {
                8
            }
        } else {
            10
        };
    }
    if base == 16 && at(0) == b'0' && at(1).eq_ignore_ascii_case(&b'x') {
        (2, base)
    } else {
        (0, base)
    }
}

/// `_parse_integer_limit`: the value of the leading digits of `s` in `base`
/// (wrapping on overflow), how many digits there were, and whether it
/// overflowed.
fn parse_digits(s: &[u8], base: u32, max_chars: usize) -> (u64, usize, bool) {
    let (mut res, mut n, mut overflow) = (0u64, 0usize, false);
    for &c in s.iter().take(max_chars) {
        let val = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            _ => match c.to_ascii_lowercase() {
                lc @ b'a'..=b'f' => u32::from(lc - b'a') + 10,
                _ => break,
            },
        };
        if val >= base {
            break;
        }
        // The kernel only checks once the value is within reach of overflow
        // in base 16; the test itself is exact.
        if res & (!0u64 << 60) != 0 && res > (u64::MAX - u64::from(val)) / u64::from(base) {
            overflow = true;
        }
        res = res
            .wrapping_mul(u64::from(base))
            .wrapping_add(u64::from(val));
        n += 1;
    }
    (res, n, overflow)
}

/// `_kstrtoull`: no sign allowed.
fn kstrtoull_nosign(s: &[u8], base: u32) -> Result<u64, i32> {
    let (skip, base) = fixup_radix(s, base);
    let s = &s[skip.min(s.len())..];
    let (res, n, overflow) = parse_digits(s, base, usize::MAX);
    if overflow {
        return Err(libc::ERANGE);
    }
    if n == 0 {
        return Err(libc::EINVAL);
    }
    let rest = &s[n..];
    let rest = rest.strip_prefix(b"\n").unwrap_or(rest);
    if !rest.is_empty() {
        return Err(libc::EINVAL);
    }
    Ok(res)
}

/// `kstrtoull`: an optional `+`, then `_kstrtoull`.
pub fn kstrtoull(s: &[u8], base: u32) -> Result<u64, i32> {
    kstrtoull_nosign(s.strip_prefix(b"+").unwrap_or(s), base)
}

/// `kstrtoll`: `-` then digits (down to `i64::MIN`), or `kstrtoull` that
/// must fit `i64`.
pub fn kstrtoll(s: &[u8], base: u32) -> Result<i64, i32> {
    if let Some(rest) = s.strip_prefix(b"-") {
        let tmp = kstrtoull_nosign(rest, base)?;
        let neg = tmp.wrapping_neg() as i64;
        if neg > 0 {
            return Err(libc::ERANGE);
        }
        Ok(neg)
    } else {
        let tmp = kstrtoull(s, base)?;
        i64::try_from(tmp).map_err(|_| libc::ERANGE)
    }
}

/// `kstrtoul` (inline in the kernel: `kstrtoull` on 64-bit).
pub fn kstrtoul(s: &[u8], base: u32) -> Result<u64, i32> {
    kstrtoull(s, base)
}

/// `kstrtol` (inline in the kernel: `kstrtoll` on 64-bit).
pub fn kstrtol(s: &[u8], base: u32) -> Result<i64, i32> {
    kstrtoll(s, base)
}

pub fn kstrtouint(s: &[u8], base: u32) -> Result<u32, i32> {
    u32::try_from(kstrtoull(s, base)?).map_err(|_| libc::ERANGE)
}

pub fn kstrtoint(s: &[u8], base: u32) -> Result<i32, i32> {
    i32::try_from(kstrtoll(s, base)?).map_err(|_| libc::ERANGE)
}

pub fn kstrtou16(s: &[u8], base: u32) -> Result<u16, i32> {
    u16::try_from(kstrtoull(s, base)?).map_err(|_| libc::ERANGE)
}

pub fn kstrtos16(s: &[u8], base: u32) -> Result<i16, i32> {
    i16::try_from(kstrtoll(s, base)?).map_err(|_| libc::ERANGE)
}

pub fn kstrtou8(s: &[u8], base: u32) -> Result<u8, i32> {
    u8::try_from(kstrtoull(s, base)?).map_err(|_| libc::ERANGE)
}

pub fn kstrtos8(s: &[u8], base: u32) -> Result<i8, i32> {
    i8::try_from(kstrtoll(s, base)?).map_err(|_| libc::ERANGE)
}

/// `kstrtobool` (6.1 and 6.12): the first character `YyTt1` is true,
/// `NnFf0` false, `o`/`O` followed by `n`/`N` true and by `f`/`F` false;
/// NULL and anything else is -EINVAL. Only those characters are looked at.
pub fn kstrtobool(s: Option<&[u8]>) -> Result<bool, i32> {
    let s = s.ok_or(libc::EINVAL)?;
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    match at(0) {
        b'y' | b'Y' | b't' | b'T' | b'1' => Ok(true),
        b'n' | b'N' | b'f' | b'F' | b'0' => Ok(false),
        b'o' | b'O' => match at(1) {
            b'n' | b'N' => Ok(true),
            b'f' | b'F' => Ok(false),
            _ => Err(libc::EINVAL),
        },
        _ => Err(libc::EINVAL),
    }
}

/// `simple_strtoull`: the value of the leading digits (after the base
/// prefix) and the index where conversion stopped (`*endp - cp`).
pub fn simple_strtoull(s: &[u8], base: u32) -> (u64, usize) {
    let (skip, base) = fixup_radix(s, base);
    let skip = skip.min(s.len());
    let (res, n, _) = parse_digits(&s[skip..], base, usize::MAX);
    (res, skip + n)
}

/// `simple_strtoll`: an optional `-`, then `simple_strtoull`, negated.
pub fn simple_strtoll(s: &[u8], base: u32) -> (i64, usize) {
    match s.strip_prefix(b"-") {
        Some(rest) => {
            let (v, end) = simple_strtoull(rest, base);
            ((v as i64).wrapping_neg(), end + 1)
        }
        None => {
            let (v, end) = simple_strtoull(s, base);
            (v as i64, end)
        }
    }
}

// ---------------------------------------------------------------------------
// Checked access to module memory for the stubs
// ---------------------------------------------------------------------------

/// A bad pointer met by a stub. The kernel would oops; kload cannot yet, so
/// the stub logs this and returns -EFAULT.
pub(crate) fn fault(func: &str, what: &str, addr: u64) -> u64 {
    let text = format!(
        "kload: {func}: cannot access {what} at {addr:#x}: bad address (the real kernel would oops here); returning -EFAULT"
    );
    match task::current_kernel() {
        Some(k) => k.log.emit(LOGLEVEL_ERR, &text),
        None => log::error!("{text}"),
    }
    neg(libc::EFAULT)
}

/// An errno as a C `int` return value (`-errno`, sign-extended in `%rax`).
pub(crate) fn neg(errno: i32) -> u64 {
    i64::from(-errno) as u64
}

/// A C `int` return value.
pub(crate) fn ret_int(v: i32) -> u64 {
    i64::from(v) as u64
}

/// Read the NUL-terminated string at `addr`; `None` when any byte up to and
/// including the NUL is unreadable.
pub(crate) fn read_str(addr: u64) -> Option<Vec<u8>> {
    let s = mm::read_cstr(addr, MAX_STR)?;
    if s.len() < MAX_STR && mm::read_bytes(addr + s.len() as u64, 1)? != [0] {
        return None;
    }
    Some(s)
}

/// The string argument `i` of a stub, or the -EFAULT return value.
fn str_arg(a: &CallArgs, i: usize, func: &str) -> Result<Vec<u8>, u64> {
    read_str(a.arg(i)).ok_or_else(|| fault(func, "the string argument", a.arg(i)))
}

/// Store `bytes` at the result pointer argument `i`, or -EFAULT.
fn store(a: &CallArgs, i: usize, bytes: &[u8], func: &str) -> u64 {
    match mm::write_bytes(a.arg(i), bytes) {
        Ok(()) => 0,
        Err(_) => fault(func, "the result", a.arg(i)),
    }
}

macro_rules! kstrto_stub {
    ($stub:ident, $name:literal, $conv:path) => {
        /// `int $name(const char *s, unsigned int base, T *res)`.
        fn $stub(a: &mut CallArgs) -> u64 {
            let s = match str_arg(a, 0, $name) {
                Ok(s) => s,
                Err(r) => return r,
            };
            match $conv(&s, a.int(1) as u32) {
                Ok(v) => store(a, 2, &v.to_le_bytes(), $name),
                Err(e) => neg(e),
            }
        }
    };
}

kstrto_stub!(sys_kstrtoull, "kstrtoull", kstrtoull);
kstrto_stub!(sys_kstrtoll, "kstrtoll", kstrtoll);
kstrto_stub!(sys_kstrtoul, "_kstrtoul", kstrtoul);
kstrto_stub!(sys_kstrtol, "_kstrtol", kstrtol);
kstrto_stub!(sys_kstrtouint, "kstrtouint", kstrtouint);
kstrto_stub!(sys_kstrtoint, "kstrtoint", kstrtoint);
kstrto_stub!(sys_kstrtou16, "kstrtou16", kstrtou16);
kstrto_stub!(sys_kstrtos16, "kstrtos16", kstrtos16);
kstrto_stub!(sys_kstrtou8, "kstrtou8", kstrtou8);
kstrto_stub!(sys_kstrtos8, "kstrtos8", kstrtos8);

/// `int kstrtobool(const char *s, bool *res)`.
fn sys_kstrtobool(a: &mut CallArgs) -> u64 {
    let s = if a.arg(0) == 0 {
        None
    } else {
        // Only the first two characters matter; the string may be shorter.
        match mm::read_cstr(a.arg(0), 2) {
            Some(s) => Some(s),
            None => return fault("kstrtobool", "the string argument", a.arg(0)),
        }
    };
    match kstrtobool(s.as_deref()) {
        Ok(v) => store(a, 1, &[u8::from(v)], "kstrtobool"),
        Err(e) => neg(e),
    }
}

/// Shared by the `simple_strto*` stubs: store `*endp` if asked to.
fn set_endp(a: &CallArgs, end: usize, func: &str) -> Option<u64> {
    let endp = a.arg(1);
    if endp == 0 {
        return None;
    }
    let at = a.arg(0) + end as u64;
    mm::write_bytes(endp, &at.to_le_bytes())
        .err()
        .map(|_| fault(func, "endp", endp))
}

macro_rules! simple_strto_stub {
    ($stub:ident, $name:literal, $conv:path) => {
        /// `$name(const char *cp, char **endp, unsigned int base)`.
        fn $stub(a: &mut CallArgs) -> u64 {
            let s = match str_arg(a, 0, $name) {
                Ok(s) => s,
                Err(r) => return r,
            };
            let (v, end) = $conv(&s, a.int(2) as u32);
            match set_endp(a, end, $name) {
                Some(r) => r,
                None => v as u64,
            }
        }
    };
}

simple_strto_stub!(sys_simple_strtoull, "simple_strtoull", simple_strtoull);
simple_strto_stub!(sys_simple_strtoul, "simple_strtoul", simple_strtoull);
simple_strto_stub!(sys_simple_strtoll, "simple_strtoll", simple_strtoll);
simple_strto_stub!(sys_simple_strtol, "simple_strtol", simple_strtoll);

pub(super) fn register(r: &mut Registry) {
    r.func("kstrtoull", sys_kstrtoull);
    r.func("kstrtoll", sys_kstrtoll);
    r.func("_kstrtoul", sys_kstrtoul);
    r.func("_kstrtol", sys_kstrtol);
    // kstrtoul/kstrtol themselves are inline in the kernel's headers (they
    // become kstrtoull/kstrtoll on 64-bit) and exported by no kernel.
    r.func("kstrtouint", sys_kstrtouint);
    r.func("kstrtoint", sys_kstrtoint);
    r.func("kstrtou16", sys_kstrtou16);
    r.func("kstrtos16", sys_kstrtos16);
    r.func("kstrtou8", sys_kstrtou8);
    r.func("kstrtos8", sys_kstrtos8);
    r.func("kstrtobool", sys_kstrtobool);
    r.func("simple_strtoull", sys_simple_strtoull);
    r.func("simple_strtoul", sys_simple_strtoul);
    r.func("simple_strtoll", sys_simple_strtoll);
    r.func("simple_strtol", sys_simple_strtol);
}

#[cfg(test)]
mod tests {
    use super::*;

    const EINVAL: i32 = libc::EINVAL;
    const ERANGE: i32 = libc::ERANGE;

    #[test]
    fn bases_and_prefixes() {
        assert_eq!(kstrtoull(b"42", 0), Ok(42));
        assert_eq!(kstrtoull(b"0x2a", 0), Ok(42));
        assert_eq!(kstrtoull(b"0X2A", 0), Ok(42));
        assert_eq!(kstrtoull(b"052", 0), Ok(42));
        assert_eq!(kstrtoull(b"0", 0), Ok(0));
        assert_eq!(kstrtoull(b"2a", 16), Ok(42));
        assert_eq!(kstrtoull(b"0x2a", 16), Ok(42));
        assert_eq!(kstrtoull(b"0x2a", 10), Err(EINVAL));
        assert_eq!(kstrtoull(b"08", 0), Err(EINVAL));
        assert_eq!(kstrtoull(b"101", 2), Ok(5));
        // "0x" without a hex digit is octal 0 followed by junk.
        assert_eq!(kstrtoull(b"0x", 0), Err(EINVAL));
        assert_eq!(kstrtoull(b"0xg", 0), Err(EINVAL));
        // Explicit base 16 skips "0x" even with nothing after it.
        assert_eq!(kstrtoull(b"0x", 16), Err(EINVAL));
        assert_eq!(simple_strtoull(b"0x", 16), (0, 2));
    }

    #[test]
    fn signs_newline_and_junk() {
        assert_eq!(kstrtoull(b"+7", 0), Ok(7));
        assert_eq!(kstrtoull(b"-7", 0), Err(EINVAL));
        assert_eq!(kstrtoull(b"++7", 0), Err(EINVAL));
        assert_eq!(kstrtoint(b"-7", 0), Ok(-7));
        assert_eq!(kstrtoint(b"+7", 0), Ok(7));
        assert_eq!(kstrtoint(b"-+7", 0), Err(EINVAL));
        assert_eq!(kstrtoint(b"--7", 0), Err(EINVAL));
        assert_eq!(kstrtoint(b"-0x10", 0), Ok(-16));
        assert_eq!(kstrtoint(b"7\n", 0), Ok(7));
        assert_eq!(kstrtoint(b"7\n\n", 0), Err(EINVAL));
        assert_eq!(kstrtoint(b"7 ", 0), Err(EINVAL));
        assert_eq!(kstrtoint(b" 7", 0), Err(EINVAL));
        assert_eq!(kstrtoint(b"", 0), Err(EINVAL));
        assert_eq!(kstrtoint(b"\n", 0), Err(EINVAL));
        assert_eq!(kstrtoint(b"-", 0), Err(EINVAL));
        assert_eq!(kstrtoint(b"12abc", 0), Err(EINVAL));
    }

    #[test]
    fn overflow_is_erange() {
        assert_eq!(kstrtoull(b"18446744073709551615", 0), Ok(u64::MAX));
        assert_eq!(kstrtoull(b"18446744073709551616", 0), Err(ERANGE));
        assert_eq!(kstrtoull(b"0xffffffffffffffff", 0), Ok(u64::MAX));
        assert_eq!(kstrtoull(b"0x10000000000000000", 0), Err(ERANGE));
        assert_eq!(kstrtoull(b"99999999999999999999999x", 0), Err(ERANGE));
        assert_eq!(kstrtoll(b"9223372036854775807", 0), Ok(i64::MAX));
        assert_eq!(kstrtoll(b"9223372036854775808", 0), Err(ERANGE));
        assert_eq!(kstrtoll(b"-9223372036854775808", 0), Ok(i64::MIN));
        assert_eq!(kstrtoll(b"-9223372036854775809", 0), Err(ERANGE));
        assert_eq!(kstrtoll(b"-0", 0), Ok(0));
        assert_eq!(kstrtoint(b"2147483647", 0), Ok(i32::MAX));
        assert_eq!(kstrtoint(b"2147483648", 0), Err(ERANGE));
        assert_eq!(kstrtoint(b"-2147483648", 0), Ok(i32::MIN));
        assert_eq!(kstrtoint(b"-2147483649", 0), Err(ERANGE));
        assert_eq!(kstrtouint(b"4294967295", 0), Ok(u32::MAX));
        assert_eq!(kstrtouint(b"4294967296", 0), Err(ERANGE));
        assert_eq!(kstrtou8(b"255", 0), Ok(255));
        assert_eq!(kstrtou8(b"256", 0), Err(ERANGE));
        assert_eq!(kstrtos8(b"-128", 0), Ok(-128));
        assert_eq!(kstrtos8(b"128", 0), Err(ERANGE));
        assert_eq!(kstrtou16(b"0xffff", 0), Ok(0xffff));
        assert_eq!(kstrtou16(b"0x10000", 0), Err(ERANGE));
        assert_eq!(kstrtos16(b"-32768", 0), Ok(-32768));
        assert_eq!(kstrtos16(b"32768", 0), Err(ERANGE));
        assert_eq!(kstrtoul(b"0x1", 0), Ok(1));
        assert_eq!(kstrtol(b"-1", 0), Ok(-1));
        // Overflow wins over trailing junk, junk wins over a too-small type.
        assert_eq!(kstrtou8(b"300x", 0), Err(EINVAL));
    }

    #[test]
    fn kstrtobool_forms() {
        for t in [
            &b"y"[..],
            b"Y",
            b"yes",
            b"t",
            b"T",
            b"true",
            b"1",
            b"1x",
            b"on",
            b"ON",
            b"oN",
        ] {
            assert_eq!(
                kstrtobool(Some(t)),
                Ok(true),
                "{:?}",
                String::from_utf8_lossy(t)
            );
        }
        for f in [
            &b"n"[..],
            b"N",
            b"no",
            b"f",
            b"false",
            b"F",
            b"0",
            b"off",
            b"OFF",
            b"of",
        ] {
            assert_eq!(
                kstrtobool(Some(f)),
                Ok(false),
                "{:?}",
                String::from_utf8_lossy(f)
            );
        }
        for bad in [
            &b""[..],
            b"o",
            b"ok",
            b"2",
            b"x",
            b" y",
            b"enable",
            b"disable",
        ] {
            assert_eq!(
                kstrtobool(Some(bad)),
                Err(EINVAL),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(kstrtobool(None), Err(EINVAL));
    }

    #[test]
    fn simple_strto_stop_where_digits_end() {
        assert_eq!(simple_strtoull(b"123abc", 10), (123, 3));
        assert_eq!(simple_strtoull(b"0x1fz", 0), (0x1f, 4));
        assert_eq!(simple_strtoull(b"0x", 0), (0, 1));
        assert_eq!(simple_strtoull(b"017", 0), (15, 3));
        assert_eq!(simple_strtoull(b"", 0), (0, 0));
        assert_eq!(simple_strtoull(b"zz", 0), (0, 0));
        assert_eq!(simple_strtoll(b"-42 ", 0), (-42, 3));
        assert_eq!(simple_strtoll(b"-", 0), (0, 1));
        // Overflow is ignored: the value wraps.
        assert_eq!(simple_strtoull(b"18446744073709551616", 10), (0, 20));
        assert_eq!(simple_strtoull(b"+5", 10), (0, 0));
    }
}
