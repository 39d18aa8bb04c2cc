//! A byte-exact emulation of the Linux kernel's `vsnprintf()` (lib/vsprintf.c as
//! shipped in 6.1 and 6.12, x86_64 configuration) written from its documented
//! and observed behaviour.
//!
//! Layout of this module:
//! - `mod.rs` (this file):
//!   1. Public API: [`VaList`], [`SymbolHit`], [`FormatContext`], [`vsnprintf`],
//!      [`errname`], plus [`SysVVaList`] (a helper for `%pV`).
//!   2. Format decoding (`decode` and friends): the flag / width / precision /
//!      qualifier / conversion grammar, including the bit-field truncation of
//!      width (24 bits) and precision (16 bits) that the kernel's
//!      `struct printf_spec` imposes.
//!   3. Output primitives on `Vec<u8>`: `number`, `put_string`, `widen`, ...
//!   4. `Writer`: the main loop, `%c`, `%s` and the memory/pointer checks the
//!      `%p` extensions share.
//! - `ctype.rs`: the kernel's Latin-1 `ctype` table (it decides which bytes
//!   end a `%p` extension and what `%pE` considers printable).
//! - `pointer.rs`: the `%p` dispatcher, plain (hashed) and raw pointers,
//!   symbols, resources, `%p4cc`, `%pa`, `%pe`, `%pV`, and the table of `%p`
//!   extensions that are recognised but not yet rendered.
//! - `net.rs`: `%pI`/`%pi` (IPv4, IPv6, sockaddr), `%pM`/`%pm`, `%pNF`.
//! - `escape.rs`: `%ph` hex buffers, `%pb`/`%pbl` bitmaps, `%pU`, `%pE`.
//! - `time.rs`: `%pt`.
//! - `errnames.rs`: the `errname` table.
//! - `tests/`: tests, split along the same lines.
//!
//! The output is the complete, untruncated text. Every kernel helper writes
//! strictly left-to-right (right-justification moves already written bytes,
//! it never rewrites earlier ones), so a truncated kernel buffer always holds
//! a prefix of this text; the caller applies `snprintf`/`scnprintf` limits.
//!
//! Configuration assumed: 64-bit pointers and `long`, little-endian,
//! `PAGE_SIZE == 4096`, `CONFIG_KALLSYMS=y`, `CONFIG_SYMBOLIC_ERRNAME=y`,
//! `CONFIG_STACKTRACE_BUILD_ID=n` (no build ids are known here),
//! `kptr_restrict == 0`, no `no_hash_pointers`, no `debug_boot_weak_hash`.

mod ctype;
mod errnames;
mod escape;
mod net;
mod pointer;
#[cfg(test)]
mod tests;
mod time;

use ctype::is_alnum;
use errnames::ERRNAMES;

// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

/// Supplies the variadic arguments, one 8-byte integer-class slot at a time
/// (kernel code never passes floating point). int-sized args are the low 32 bits.
pub trait VaList {
    fn next_arg(&mut self) -> u64;
}

/// A symbol found for an address (for %pS and friends).
pub struct SymbolHit<'a> {
    pub name: &'a str,
    pub offset: u64,
    pub size: u64,
    /// Some("hello_1") for a module symbol, None for a kernel (vmlinux) symbol.
    pub module: Option<&'a str>,
}

/// What the formatter needs from the emulated kernel. Memory reads are checked by
/// the implementor: None means "not readable" (the formatter then prints "(efault)"
/// where the kernel would print it for a bad pointer).
pub trait FormatContext {
    fn read_bytes(&self, addr: u64, len: usize) -> Option<Vec<u8>>;
    /// Read up to `max` bytes of a NUL-terminated string (without the NUL).
    /// `max` is only an upper bound (it can be as large as `i32::MAX`); stop at
    /// the NUL and do not preallocate `max` bytes.
    fn read_cstr(&self, addr: u64, max: usize) -> Option<Vec<u8>>;
    /// Symbolise; the callback form avoids lifetime trouble for the implementor.
    fn lookup_symbol(&self, addr: u64, f: &mut dyn FnMut(Option<SymbolHit<'_>>));
    /// The value plain %p prints (the kernel's hashed pointer id); None = the
    /// hash key is not ready yet ("(____ptrval____)"). The kernel keeps only
    /// the low 32 bits of its siphash, so real ids fit in 32 bits.
    fn hash_pointer(&self, addr: u64) -> Option<u64>;
    /// `%pV` support: turn the address of a C `va_list` object (what a
    /// `struct va_format`'s `va` member points at) into a fresh argument
    /// cursor, as `va_copy` would. The default declines, and `%pV` then falls
    /// back to the hashed pointer. Native x86_64 callers can return
    /// [`SysVVaList::open`].
    fn open_va_list(&self, _va_list_addr: u64) -> Option<Box<dyn VaList + '_>> {
        None
    }
    /// Receives the text of the kernel's `WARN_ONCE` diagnostics (unsupported
    /// conversion, oversized `*` width/precision) and of not-yet-emulated
    /// extensions. They never reach the formatted output.
    fn warn(&self, _message: &str) {}
}

/// Format like the kernel's vsnprintf, returning the complete (untruncated) output.
/// (The caller implements snprintf/scnprintf truncation and return values.)
pub fn vsnprintf(fmt: &[u8], args: &mut dyn VaList, ctx: &dyn FormatContext) -> Vec<u8> {
    let mut writer = Writer {
        out: Vec::new(),
        ctx,
        depth: 0,
    };
    writer.format(fmt, args);
    writer.out
}

/// The kernel's errno name for %pe: errname(-12) == Some("-ENOMEM"), errname(12) == Some("ENOMEM")... follow lib/errname.c semantics exactly (including the internal codes like -EPROBE_DEFER, -ERESTARTSYS, and aliases).
pub fn errname(err: i64) -> Option<&'static str> {
    // The kernel takes an `int`; values outside it cannot name anything.
    let err = i32::try_from(err).ok()?;
    let name = ERRNAMES
        .iter()
        .find(|(code, _)| *code == err.unsigned_abs())
        .map(|(_, name)| *name)?;
    // Table entries carry the leading '-'; positive input drops it.
    Some(if err > 0 { &name[1..] } else { name })
}

/// A `va_list` cursor over emulated memory using the x86_64 System V layout
/// (`gp_offset`, `fp_offset`, `overflow_arg_area`, `reg_save_area`). It
/// works on a private copy, exactly like the kernel's `va_copy` in `%pV`.
pub struct SysVVaList<'a> {
    ctx: &'a dyn FormatContext,
    gp_offset: u32,
    overflow_arg_area: u64,
    reg_save_area: u64,
}

impl<'a> SysVVaList<'a> {
    /// Snapshot the `va_list` object stored at `addr`; None if unreadable.
    pub fn open(ctx: &'a dyn FormatContext, addr: u64) -> Option<Self> {
        let raw = ctx.read_bytes(addr, 24)?;
        if raw.len() < 24 {
            return None;
        }
        Some(SysVVaList {
            ctx,
            gp_offset: le_u32(&raw, 0),
            overflow_arg_area: le_u64(&raw, 8),
            reg_save_area: le_u64(&raw, 16),
        })
    }
}

impl VaList for SysVVaList<'_> {
    /// Unreadable slots read as 0 (the trait has no way to report a fault).
    fn next_arg(&mut self) -> u64 {
        // Six 8-byte integer registers are saved; past them, the stack.
        let addr = if self.gp_offset <= 40 {
            let at = self.reg_save_area.wrapping_add(u64::from(self.gp_offset));
            self.gp_offset += 8;
            at
        } else {
            let at = self.overflow_arg_area;
            self.overflow_arg_area = at.wrapping_add(8);
            at
        };
        self.ctx
            .read_bytes(addr, 8)
            .map_or(0, |bytes| le_u64(&bytes, 0))
    }
}

// ---------------------------------------------------------------------------
// Format decoding
// ---------------------------------------------------------------------------

const SIGN: u8 = 1;
const LEFT: u8 = 2;
const PLUS: u8 = 4;
const SPACE: u8 = 8;
const ZEROPAD: u8 = 16;
const SMALL: u8 = 32;
const SPECIAL: u8 = 64;

const FIELD_WIDTH_MAX: i32 = (1 << 23) - 1;
const PRECISION_MAX: i32 = (1 << 15) - 1;
const PAGE_SIZE: u64 = 4096;
const MAX_ERRNO: u64 = 4095;
/// Upper bound handed to `read_cstr` for an unbounded `%s` (the kernel
/// refuses buffers larger than `INT_MAX`).
const MAX_CSTR: usize = i32::MAX as usize;
/// `KSYM_NAME_LEN - 1` since 6.1: longer symbol names are cut.
const KSYM_NAME_MAX: usize = 511;
/// Nesting limit for `%pV` inside `%pV` (the kernel would eventually
/// overflow its stack on a self-referencing va_format).
const MAX_VA_DEPTH: u32 = 8;

/// The kernel's `struct printf_spec`; width and precision keep the values
/// their 24-bit and 16-bit bit-fields would hold.
#[derive(Clone, Copy, Debug)]
struct Spec {
    field_width: i32,
    precision: i32,
    flags: u8,
    base: u8,
}

impl Spec {
    const fn new(base: u8, field_width: i32, flags: u8) -> Spec {
        Spec {
            field_width,
            precision: -1,
            flags,
            base,
        }
    }
}

const DEC_SPEC: Spec = Spec::new(10, 0, 0);
const DEC02_SPEC: Spec = Spec::new(10, 2, ZEROPAD);
const DEC04_SPEC: Spec = Spec::new(10, 4, ZEROPAD);
const FLAG_SPEC: Spec = Spec::new(16, 0, SPECIAL | SMALL);
const IO_SPEC: Spec = Spec::new(16, 6, SPECIAL | SMALL | ZEROPAD);
const MEM_SPEC: Spec = Spec::new(16, 10, SPECIAL | SMALL | ZEROPAD);
const BUS_SPEC: Spec = Spec::new(16, 2, SMALL | ZEROPAD);

/// Value a signed 24-bit bit-field ends up holding.
fn trunc24(v: i32) -> i32 {
    v.wrapping_shl(8) >> 8
}

/// Value a signed 16-bit bit-field ends up holding.
fn trunc16(v: i32) -> i32 {
    i32::from(v as i16)
}

/// How an integer argument is narrowed. On x86_64 `long`, `long long`,
/// `size_t` and `ptrdiff_t` are all one full 64-bit slot.
#[derive(Clone, Copy, Debug)]
enum IntType {
    Wide,
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
}

enum Directive {
    Char,
    Str,
    Ptr,
    Percent,
    Int(IntType),
    /// Unsupported conversion: the kernel stops formatting altogether.
    Invalid,
    /// A `*` was the last format byte: its argument is consumed, then the
    /// kernel's loop sees the terminator and ends without a warning.
    End,
}

struct Cursor<'f> {
    fmt: &'f [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> u8 {
        self.fmt.get(self.pos).copied().unwrap_or(0)
    }

    fn advance(&mut self) {
        if self.pos < self.fmt.len() {
            self.pos += 1;
        }
    }

    /// The kernel's skip_atoi: decimal digits with wrapping `int` arithmetic.
    fn atoi(&mut self) -> i32 {
        let mut value: i32 = 0;
        while self.peek().is_ascii_digit() {
            let digit = i32::from(self.peek() - b'0');
            value = value.wrapping_mul(10).wrapping_add(digit);
            self.advance();
        }
        value
    }
}

/// Decodes one directive; the cursor sits on its '%'.
fn decode(
    cur: &mut Cursor<'_>,
    args: &mut dyn VaList,
    ctx: &dyn FormatContext,
) -> (Directive, Spec) {
    let mut spec = Spec::new(10, -1, 0);
    cur.advance();
    loop {
        spec.flags |= match cur.peek() {
            b'-' => LEFT,
            b'+' => PLUS,
            b' ' => SPACE,
            b'#' => SPECIAL,
            b'0' => ZEROPAD,
            _ => break,
        };
        cur.advance();
    }
    if cur.peek().is_ascii_digit() {
        spec.field_width = trunc24(cur.atoi());
    } else if cur.peek() == b'*' {
        cur.advance();
        set_field_width(&mut spec, args.next_arg() as i32, ctx);
        if cur.peek() == 0 {
            return (Directive::End, spec);
        }
        if spec.field_width < 0 {
            spec.field_width = trunc24(spec.field_width.wrapping_neg());
            spec.flags |= LEFT;
        }
    }
    if !decode_precision(cur, &mut spec, args, ctx) {
        return (Directive::End, spec);
    }
    let qualifier = decode_qualifier(cur);
    (decode_conversion(cur, &mut spec, qualifier, ctx), spec)
}

/// Returns false when a `.*` ends the format string.
fn decode_precision(
    cur: &mut Cursor<'_>,
    spec: &mut Spec,
    args: &mut dyn VaList,
    ctx: &dyn FormatContext,
) -> bool {
    spec.precision = -1;
    if cur.peek() != b'.' {
        return true;
    }
    cur.advance();
    // A '.' followed by neither digits nor '*' leaves the precision at -1
    // (C would treat it as 0). Literal precisions wrap at 16 bits first.
    if cur.peek().is_ascii_digit() {
        spec.precision = trunc16(cur.atoi()).max(0);
    } else if cur.peek() == b'*' {
        cur.advance();
        set_precision(spec, args.next_arg() as i32, ctx);
        if cur.peek() == 0 {
            return false;
        }
        // A negative `*` precision becomes 0, not "absent" as in C.
        spec.precision = spec.precision.max(0);
    }
    true
}

/// hh, h, l, ll, L, z and t; nothing else (no j, q, Z).
fn decode_qualifier(cur: &mut Cursor<'_>) -> u8 {
    let first = cur.peek();
    if !matches!(first, b'h' | b'l' | b'L' | b'z' | b't') {
        return 0;
    }
    cur.advance();
    if cur.peek() == first && (first == b'l' || first == b'h') {
        cur.advance();
        return if first == b'l' { b'L' } else { b'H' };
    }
    first
}

fn decode_conversion(
    cur: &mut Cursor<'_>,
    spec: &mut Spec,
    qualifier: u8,
    ctx: &dyn FormatContext,
) -> Directive {
    spec.base = 10;
    let conv = cur.peek();
    let simple = match conv {
        b'c' => Some(Directive::Char),
        b's' => Some(Directive::Str),
        b'p' => Some(Directive::Ptr),
        b'%' => Some(Directive::Percent),
        b'o' => {
            spec.base = 8;
            None
        }
        b'x' | b'X' => {
            spec.base = 16;
            spec.flags |= if conv == b'x' { SMALL } else { 0 };
            None
        }
        b'd' | b'i' => {
            spec.flags |= SIGN;
            None
        }
        b'u' => None,
        _ => {
            // %n lands here too: the kernel refuses to write through it.
            let shown = String::from_utf8_lossy(&[conv]).into_owned();
            ctx.warn(&format!(
                "Please remove unsupported %{shown} in format string"
            ));
            return Directive::Invalid;
        }
    };
    cur.advance();
    if let Some(directive) = simple {
        return directive;
    }
    let signed = spec.flags & SIGN != 0;
    Directive::Int(match qualifier {
        b'L' | b'l' | b'z' | b't' => IntType::Wide,
        b'H' if signed => IntType::I8,
        b'H' => IntType::U8,
        b'h' if signed => IntType::I16,
        b'h' => IntType::U16,
        _ if signed => IntType::I32,
        _ => IntType::U32,
    })
}

fn set_field_width(spec: &mut Spec, width: i32, ctx: &dyn FormatContext) {
    spec.field_width = trunc24(width);
    if spec.field_width != width {
        ctx.warn(&format!("field width {width} too large"));
        spec.field_width = width.clamp(-FIELD_WIDTH_MAX, FIELD_WIDTH_MAX);
    }
}

fn set_precision(spec: &mut Spec, precision: i32, ctx: &dyn FormatContext) {
    spec.precision = trunc16(precision);
    if spec.precision != precision {
        ctx.warn(&format!("precision {precision} too large"));
        spec.precision = precision.clamp(0, PRECISION_MAX);
    }
}

fn narrow(raw: u64, ty: IntType) -> u64 {
    match ty {
        IntType::Wide => raw,
        IntType::U8 => u64::from(raw as u8),
        IntType::I8 => i64::from(raw as i8) as u64,
        IntType::U16 => u64::from(raw as u16),
        IntType::I16 => i64::from(raw as i16) as u64,
        IntType::U32 => u64::from(raw as u32),
        IntType::I32 => i64::from(raw as i32) as u64,
    }
}

// ---------------------------------------------------------------------------
// Output primitives
// ---------------------------------------------------------------------------

/// Emits the number of characters a kernel `while (--width >= 0)` loop
/// would, leaving `width` where that loop leaves it.
fn take_run(width: &mut i32) -> usize {
    let run = usize::try_from(*width).unwrap_or(0);
    *width = (*width).min(0) - 1;
    run
}

fn pad(out: &mut Vec<u8>, byte: u8, count: usize) {
    out.resize(out.len() + count, byte);
}

fn digits(mut num: u64, base: u64, small: bool) -> Vec<u8> {
    let table: &[u8; 16] = if small {
        b"0123456789abcdef"
    } else {
        b"0123456789ABCDEF"
    };
    let mut reversed = Vec::with_capacity(22);
    loop {
        reversed.push(table[(num % base) as usize]);
        num /= base;
        if num == 0 {
            break;
        }
    }
    reversed.reverse();
    reversed
}

fn take_sign(num: &mut u64, flags: u8) -> Option<u8> {
    if flags & SIGN == 0 {
        return None;
    }
    if (*num as i64) < 0 {
        *num = (*num as i64).wrapping_neg() as u64;
        Some(b'-')
    } else if flags & PLUS != 0 {
        Some(b'+')
    } else if flags & SPACE != 0 {
        Some(b' ')
    } else {
        None
    }
}

/// The kernel's number(). Quirks kept: '#' with base 16 always prints "0x"
/// (even for 0), '0' padding survives an explicit precision, and a zero
/// value with precision 0 still prints "0".
fn number(out: &mut Vec<u8>, mut num: u64, spec: Spec) {
    let base: u64 = match spec.base {
        8 => 8,
        16 => 16,
        _ => 10,
    };
    let mut flags = spec.flags;
    if flags & LEFT != 0 {
        flags &= !ZEROPAD;
    }
    let need_prefix = flags & SPECIAL != 0 && base != 10;
    let is_zero = num == 0;
    let mut width = spec.field_width;
    let sign = take_sign(&mut num, flags);
    if sign.is_some() {
        width -= 1;
    }
    if need_prefix {
        width -= if base == 16 { 2 } else { i32::from(!is_zero) };
    }
    let text = digits(num, base, flags & SMALL != 0);
    let ndigits = text.len() as i32;
    let precision = spec.precision.max(ndigits);
    width -= precision;
    if flags & (ZEROPAD | LEFT) == 0 {
        pad(out, b' ', take_run(&mut width));
    }
    out.extend(sign);
    if need_prefix {
        if base == 16 || !is_zero {
            out.push(b'0');
        }
        if base == 16 {
            out.push(if flags & SMALL != 0 { b'x' } else { b'X' });
        }
    }
    if flags & LEFT == 0 {
        let fill = if flags & ZEROPAD != 0 { b'0' } else { b' ' };
        pad(out, fill, take_run(&mut width));
    }
    pad(out, b'0', usize::try_from(precision - ndigits).unwrap_or(0));
    out.extend_from_slice(&text);
    pad(out, b' ', take_run(&mut width));
}

/// "0x" followed by exactly `2 * size` hex digits, whatever the caller's spec.
fn special_hex(out: &mut Vec<u8>, num: u64, size: i32) {
    number(
        out,
        num,
        Spec::new(16, 2 + 2 * size, SPECIAL | SMALL | ZEROPAD),
    );
}

/// Pads what was written since `start` out to the field width.
fn widen(out: &mut Vec<u8>, start: usize, spec: Spec) {
    let written = i64::try_from(out.len().saturating_sub(start)).unwrap_or(i64::MAX);
    let width = i64::from(spec.field_width);
    if written >= width {
        return;
    }
    let spaces = usize::try_from(width - written).unwrap_or(0);
    if spec.flags & LEFT == 0 {
        let at = start.min(out.len());
        out.splice(at..at, std::iter::repeat_n(b' ', spaces));
    } else {
        pad(out, b' ', spaces);
    }
}

/// The kernel's string_nocheck(): at most `precision` bytes (any negative
/// precision means unbounded), stopping at a NUL, then widened.
fn put_string(out: &mut Vec<u8>, s: &[u8], spec: Spec) {
    let start = out.len();
    let limit = usize::try_from(spec.precision).unwrap_or(usize::MAX);
    out.extend(s.iter().take(limit).take_while(|&&c| c != 0));
    widen(out, start, spec);
}

/// Error messages default to a precision of 16 (twice the pointer size).
fn put_error(out: &mut Vec<u8>, msg: &[u8], mut spec: Spec) {
    if spec.precision == -1 {
        spec.precision = 16;
    }
    put_string(out, msg, spec);
}

fn is_err_value(ptr: u64) -> bool {
    ptr >= MAX_ERRNO.wrapping_neg()
}

/// check_pointer_msg(): what a dereferencing extension prints instead.
fn pointer_fault(ptr: u64) -> Option<&'static [u8]> {
    if ptr == 0 {
        Some(b"(null)")
    } else if ptr < PAGE_SIZE || is_err_value(ptr) {
        Some(b"(efault)")
    } else {
        None
    }
}

fn push_hex_byte(out: &mut Vec<u8>, byte: u8, upper: bool) {
    let table: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    out.push(table[usize::from(byte >> 4)]);
    out.push(table[usize::from(byte & 15)]);
}

fn until_nul(s: &[u8]) -> &[u8] {
    s.iter().position(|&c| c == 0).map_or(s, |end| &s[..end])
}

fn at(s: &[u8], index: usize) -> u8 {
    s.get(index).copied().unwrap_or(0)
}

fn le_u16(b: &[u8], at: usize) -> u16 {
    let mut v = [0u8; 2];
    if let Some(src) = b.get(at..at + 2) {
        v.copy_from_slice(src);
    }
    u16::from_le_bytes(v)
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut v = [0u8; 4];
    if let Some(src) = b.get(at..at + 4) {
        v.copy_from_slice(src);
    }
    u32::from_le_bytes(v)
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut v = [0u8; 8];
    if let Some(src) = b.get(at..at + 8) {
        v.copy_from_slice(src);
    }
    u64::from_le_bytes(v)
}

fn be_u16(b: &[u8], at: usize) -> u16 {
    le_u16(b, at).swap_bytes()
}

// ---------------------------------------------------------------------------
// The formatter
// ---------------------------------------------------------------------------

struct Writer<'c> {
    out: Vec<u8>,
    ctx: &'c dyn FormatContext,
    depth: u32,
}

impl Writer<'_> {
    fn format(&mut self, fmt: &[u8], args: &mut dyn VaList) {
        let fmt = until_nul(fmt);
        let mut cur = Cursor { fmt, pos: 0 };
        while cur.pos < fmt.len() {
            if cur.peek() != b'%' {
                let rest = &fmt[cur.pos..];
                let len = rest.iter().position(|&c| c == b'%').unwrap_or(rest.len());
                self.out.extend_from_slice(&rest[..len]);
                cur.pos += len;
                continue;
            }
            let (directive, spec) = decode(&mut cur, args, self.ctx);
            match directive {
                Directive::End | Directive::Invalid => return,
                Directive::Percent => self.out.push(b'%'),
                Directive::Char => self.put_char(args.next_arg() as u8, spec),
                Directive::Str => self.string(args.next_arg(), spec),
                Directive::Int(ty) => number(&mut self.out, narrow(args.next_arg(), ty), spec),
                Directive::Ptr => {
                    let ptr = args.next_arg();
                    self.pointer(fmt.get(cur.pos..).unwrap_or(&[]), ptr, spec);
                    // Every alphanumeric byte after %p belongs to it, known or not.
                    while is_alnum(cur.peek()) {
                        cur.advance();
                    }
                }
            }
        }
    }

    fn put_char(&mut self, c: u8, spec: Spec) {
        let mut width = spec.field_width;
        if spec.flags & LEFT == 0 {
            width -= 1;
            while width > 0 {
                self.out.push(b' ');
                width -= 1;
            }
        }
        self.out.push(c);
        width -= 1;
        while width > 0 {
            self.out.push(b' ');
            width -= 1;
        }
    }

    fn error(&mut self, msg: &[u8], spec: Spec) {
        put_error(&mut self.out, msg, spec);
    }

    /// Prints the kernel's complaint and returns false for a pointer no
    /// dereferencing extension may touch.
    fn check_pointer(&mut self, ptr: u64, spec: Spec) -> bool {
        match pointer_fault(ptr) {
            Some(msg) => {
                self.error(msg, spec);
                false
            }
            None => true,
        }
    }

    /// Reads memory the kernel would dereference. Where the kernel would
    /// oops on unreadable memory we print "(efault)" instead.
    fn read(&mut self, ptr: u64, len: usize, spec: Spec) -> Option<Vec<u8>> {
        if len == 0 {
            return Some(Vec::new());
        }
        match self.ctx.read_bytes(ptr, len) {
            Some(mut bytes) if bytes.len() >= len => {
                bytes.truncate(len);
                Some(bytes)
            }
            _ => {
                self.error(b"(efault)", spec);
                None
            }
        }
    }

    fn checked_read(&mut self, ptr: u64, len: usize, spec: Spec) -> Option<Vec<u8>> {
        if !self.check_pointer(ptr, spec) {
            return None;
        }
        self.read(ptr, len, spec)
    }

    /// `%s` and the kernel's string().
    fn string(&mut self, ptr: u64, spec: Spec) {
        if !self.check_pointer(ptr, spec) {
            return;
        }
        let max = usize::try_from(spec.precision).unwrap_or(MAX_CSTR);
        if max == 0 {
            // The kernel never touches the string when precision is 0.
            put_string(&mut self.out, b"", spec);
            return;
        }
        match self.ctx.read_cstr(ptr, max) {
            Some(text) => put_string(&mut self.out, &text, spec),
            None => self.error(b"(efault)", spec),
        }
    }
}
