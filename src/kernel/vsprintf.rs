//! A byte-exact emulation of the Linux kernel's `vsnprintf()` (lib/vsprintf.c as
//! shipped in 6.1 and 6.12, x86_64 configuration) written from its documented
//! and observed behaviour.
//!
//! Layout of this file:
//! 1. Public API: [`VaList`], [`SymbolHit`], [`FormatContext`], [`vsnprintf`],
//!    [`errname`], plus [`SysVVaList`] (a helper for `%pV`).
//! 2. The table of `%p` extensions that are recognised but not yet rendered.
//! 3. The kernel's Latin-1 `ctype` table (it decides which bytes end a `%p`
//!    extension and what `%pE` considers printable).
//! 4. Format decoding (`decode` and friends): the flag / width / precision /
//!    qualifier / conversion grammar, including the bit-field truncation of
//!    width (24 bits) and precision (16 bits) that the kernel's
//!    `struct printf_spec` imposes.
//! 5. Output primitives on `Vec<u8>`: `number`, `put_string`, `widen`, ...
//! 6. `Writer`: the main loop and every `%p` extension, grouped by family.
//! 7. The `errname` table.
//! 8. Tests.
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

use std::fmt::Write as _;

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
// Not yet emulated
// ---------------------------------------------------------------------------

/// `%p` extensions the kernel implements but this file does not render.
/// Each still consumes its argument and prints the plain hashed pointer
/// (exactly what `%p` would print), and reports itself through
/// [`FormatContext::warn`]. Keyed by the first extension character.
#[rustfmt::skip]
const NOT_YET_EMULATED: &[(u8, &str)] = &[
    (b'd', "%pd[234] (struct dentry name)"),     // not yet emulated
    (b'D', "%pD[234] (struct file name)"),       // not yet emulated
    (b'g', "%pg (struct block_device name)"),    // not yet emulated
    (b'G', "%pG[pgvt] (page/gfp/vma flag names)"), // not yet emulated
    (b'C', "%pC[n] (struct clk name)"),          // not yet emulated
    (b'A', "%pA (Rust fmt::Arguments)"),         // not yet emulated
    (b'O', "%pOF[fnpPFcC] (device-tree node)"),  // not yet emulated; "%pO" without F is
    (b'f', "%pfw[fP] (fwnode_handle name)"),     // not yet emulated; "%pf" without w is
    (b'V', "%pV without FormatContext::open_va_list"), // emulated when the context can
];

// ---------------------------------------------------------------------------
// The kernel's ctype table (lib/ctype.c): ASCII plus Latin-1
// ---------------------------------------------------------------------------

const CT_UPPER: u8 = 0x01;
const CT_LOWER: u8 = 0x02;
const CT_DIGIT: u8 = 0x04;
const CT_CNTRL: u8 = 0x08;
const CT_PUNCT: u8 = 0x10;
const CT_SPACE: u8 = 0x20;
const CT_XDIGIT: u8 = 0x40;
const CT_HARDSPACE: u8 = 0x80;

/// Class bits for each byte; note 128..=159 are classless and 160..=255
/// follow Latin-1, so e.g. 0xe9 counts as a letter for `%p` suffix skipping.
const CTYPE: [u8; 256] = build_ctype();

const fn build_ctype() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut c = 0usize;
    while c < 256 {
        t[c] = match c {
            0..=8 | 14..=31 | 127 => CT_CNTRL,
            9..=13 => CT_CNTRL | CT_SPACE,
            32 | 160 => CT_SPACE | CT_HARDSPACE,
            48..=57 => CT_DIGIT,
            65..=70 => CT_UPPER | CT_XDIGIT,
            71..=90 | 192..=214 | 216..=222 => CT_UPPER,
            97..=102 => CT_LOWER | CT_XDIGIT,
            103..=122 | 223..=246 | 248..=255 => CT_LOWER,
            33..=47 | 58..=64 | 91..=96 | 123..=126 | 161..=191 | 215 | 247 => CT_PUNCT,
            _ => 0,
        };
        c += 1;
    }
    t
}

fn is_alpha(c: u8) -> bool {
    CTYPE[usize::from(c)] & (CT_UPPER | CT_LOWER) != 0
}

fn is_alnum(c: u8) -> bool {
    CTYPE[usize::from(c)] & (CT_UPPER | CT_LOWER | CT_DIGIT) != 0
}

fn is_print(c: u8) -> bool {
    CTYPE[usize::from(c)] & (CT_PUNCT | CT_UPPER | CT_LOWER | CT_DIGIT | CT_HARDSPACE) != 0
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

    /// `%px`: the raw value, 16 zero-padded digits unless a width is given.
    fn pointer_string(&mut self, value: u64, mut spec: Spec) {
        spec.base = 16;
        spec.flags |= SMALL;
        if spec.field_width == -1 {
            spec.field_width = 16;
            spec.flags |= ZEROPAD;
        }
        number(&mut self.out, value, spec);
    }

    /// Plain `%p`: NULL and ERR_PTR values are shown raw, the rest hashed.
    fn ptr_to_id(&mut self, ptr: u64, mut spec: Spec) {
        if ptr == 0 || is_err_value(ptr) {
            return self.pointer_string(ptr, spec);
        }
        match self.ctx.hash_pointer(ptr) {
            Some(id) => self.pointer_string(id, spec),
            None => {
                spec.field_width = 16;
                self.error(b"(____ptrval____)", spec);
            }
        }
    }

    fn not_emulated(&mut self, key: u8, ptr: u64, spec: Spec) {
        let what = NOT_YET_EMULATED
            .iter()
            .find(|(k, _)| *k == key)
            .map_or("%p extension", |(_, what)| *what);
        self.ctx.warn(&format!(
            "vsprintf: {what} is not yet emulated; printing the hashed pointer"
        ));
        self.ptr_to_id(ptr, spec);
    }

    /// The kernel's pointer(): `ext` is the format text right after the 'p'.
    fn pointer(&mut self, ext: &[u8], ptr: u64, spec: Spec) {
        match at(ext, 0) {
            b'S' | b's' | b'B' => self.symbol_string(ptr, spec, ext),
            b'R' | b'r' => self.resource_string(ptr, spec, ext),
            b'h' => self.hex_string(ptr, spec, ext),
            b'b' if at(ext, 1) == b'l' => self.bitmap_list_string(ptr, spec),
            b'b' => self.bitmap_string(ptr, spec),
            b'M' | b'm' => self.mac_address_string(ptr, spec, ext),
            b'I' | b'i' => self.ip_addr_string(ptr, spec, ext),
            b'E' => self.escaped_string(ptr, spec, ext),
            b'U' => self.uuid_string(ptr, spec, ext),
            b'V' => self.va_format(ptr, spec),
            b'K' => self.ptr_to_id(ptr, spec),
            b'N' => self.netdev_bits(ptr, spec, ext),
            b'4' => self.fourcc_string(ptr, spec, ext),
            b'a' => self.address_val(ptr, spec),
            b't' => self.time_and_date(ptr, spec, ext),
            b'O' if at(ext, 1) != b'F' => self.error(b"(%pO?)", spec),
            b'f' if at(ext, 1) != b'w' => self.error(b"(%pf?)", spec),
            b'x' => self.pointer_string(ptr, spec),
            b'e' if is_err_value(ptr) => self.err_ptr(ptr, spec),
            b'u' | b'k' if at(ext, 1) == b's' => self.string(ptr, spec),
            b'u' | b'k' => self.error(b"(einval)", spec),
            key @ (b'd' | b'D' | b'g' | b'G' | b'C' | b'A' | b'O' | b'f') => {
                self.not_emulated(key, ptr, spec)
            }
            // Includes %pe of a non-error pointer and the retired %pF/%pf.
            _ => self.ptr_to_id(ptr, spec),
        }
    }
}

// --- %pS %ps %pB, %pR %pr ---------------------------------------------------

impl Writer<'_> {
    /// 'R' means __builtin_extract_return_addr(), the identity on x86_64;
    /// 'b' (build id) prints nothing extra since no build ids are known.
    fn symbol_string(&mut self, ptr: u64, spec: Spec, ext: &[u8]) {
        let kind = at(ext, 0);
        let text = self.sprint_symbol(ptr, kind == b'B', kind != b's');
        put_string(&mut self.out, &text, spec);
    }

    /// kallsyms' __sprint_symbol(). A backtrace address is a return address,
    /// so the lookup uses addr - 1 and the printed offset adds the 1 back.
    fn sprint_symbol(&self, addr: u64, backtrace: bool, with_offset: bool) -> Vec<u8> {
        let bias = u64::from(backtrace);
        let mut text = None;
        let mut record = |hit: Option<SymbolHit<'_>>| {
            if let Some(hit) = hit {
                text = Some(render_symbol(&hit, bias, with_offset));
            }
        };
        self.ctx.lookup_symbol(addr.wrapping_sub(bias), &mut record);
        text.unwrap_or_else(|| format!("0x{addr:x}").into_bytes())
    }

    fn resource_string(&mut self, ptr: u64, spec: Spec, ext: &[u8]) {
        const IO: u64 = 0x100;
        const MEM: u64 = 0x200;
        const IRQ: u64 = 0x400;
        const DMA: u64 = 0x800;
        const BUS: u64 = 0x1000;
        const UNSET: u64 = 0x2000_0000;
        // struct resource: start, end, name, flags (8 bytes each).
        let Some(raw) = self.checked_read(ptr, 32, spec) else {
            return;
        };
        let (start, end, flags) = (le_u64(&raw, 0), le_u64(&raw, 8), le_u64(&raw, 24));
        let (label, nspec): (&[u8], Spec) = match flags {
            f if f & IO != 0 => (b"io  ", IO_SPEC),
            f if f & MEM != 0 => (b"mem ", MEM_SPEC),
            f if f & IRQ != 0 => (b"irq ", DEC_SPEC),
            f if f & DMA != 0 => (b"dma ", DEC_SPEC),
            f if f & BUS != 0 => (b"bus ", BUS_SPEC),
            _ => (b"??? ", MEM_SPEC),
        };
        let decode = at(ext, 0) == b'R' && label != b"??? ";
        let mut s = vec![b'['];
        s.extend_from_slice(label);
        if decode && flags & UNSET != 0 {
            s.extend_from_slice(b"size ");
            number(&mut s, end.wrapping_sub(start).wrapping_add(1), nspec);
        } else {
            number(&mut s, start, nspec);
            if start != end {
                s.push(b'-');
                number(&mut s, end, nspec);
            }
        }
        if decode {
            resource_flag_words(&mut s, flags);
        } else {
            s.extend_from_slice(b" flags ");
            number(&mut s, flags, FLAG_SPEC);
        }
        s.push(b']');
        put_string(&mut self.out, &s, spec);
    }
}

fn render_symbol(hit: &SymbolHit<'_>, bias: u64, with_offset: bool) -> Vec<u8> {
    let name = until_nul(hit.name.as_bytes());
    let mut text = name[..name.len().min(KSYM_NAME_MAX)].to_vec();
    if with_offset {
        // The kernel's own "%#lx" prints 0 as "0x0".
        let suffix = format!("+{:#x}/{:#x}", hit.offset.wrapping_add(bias), hit.size);
        text.extend_from_slice(suffix.as_bytes());
    }
    if let Some(module) = hit.module {
        text.extend_from_slice(b" [");
        text.extend_from_slice(until_nul(module.as_bytes()));
        text.push(b']');
    }
    text
}

fn resource_flag_words(s: &mut Vec<u8>, flags: u64) {
    const WORDS: [(u64, &[u8]); 4] = [
        (0x0010_0000, b" 64bit"),
        (0x2000, b" pref"),
        (0x0020_0000, b" window"),
        (0x1000_0000, b" disabled"),
    ];
    for (bit, word) in WORDS {
        if flags & bit != 0 {
            s.extend_from_slice(word);
        }
    }
}

// --- %ph, %pb, %pbl, %pM, %pU, %pE ------------------------------------------

impl Writer<'_> {
    /// Width = byte count (default 1, at most 64); nothing for width 0.
    fn hex_string(&mut self, ptr: u64, spec: Spec, ext: &[u8]) {
        if spec.field_width == 0 {
            return;
        }
        let separator = match at(ext, 1) {
            b'C' => Some(b':'),
            b'D' => Some(b'-'),
            b'N' => None,
            _ => Some(b' '),
        };
        let len = if spec.field_width > 0 {
            spec.field_width.min(64) as usize
        } else {
            1
        };
        let Some(bytes) = self.checked_read(ptr, len, spec) else {
            return;
        };
        for (i, &byte) in bytes.iter().enumerate() {
            push_hex_byte(&mut self.out, byte, false);
            if let (Some(sep), true) = (separator, i + 1 != len) {
                self.out.push(sep);
            }
        }
    }

    /// The bitmap's words (unsigned long, little-endian) and its bit count,
    /// which is the field width.
    fn bitmap_words(&mut self, ptr: u64, spec: Spec) -> Option<(Vec<u64>, usize)> {
        let nr_bits = usize::try_from(spec.field_width).unwrap_or(0);
        if !self.check_pointer(ptr, spec) {
            return None;
        }
        let bytes = self.read(ptr, nr_bits.div_ceil(64) * 8, spec)?;
        let words = bytes.chunks(8).map(|w| le_u64(w, 0)).collect();
        Some((words, nr_bits))
    }

    /// Comma-separated 32-bit hex chunks, most significant first; the top
    /// chunk only has as many digits as its bits need.
    fn bitmap_string(&mut self, ptr: u64, spec: Spec) {
        let Some((words, nr_bits)) = self.bitmap_words(ptr, spec) else {
            return;
        };
        let mut chunk = match nr_bits % 32 {
            0 => 32,
            rest => rest,
        };
        let mut first = true;
        for i in (0..nr_bits.div_ceil(32)).rev().map(|c| c * 32) {
            let word = words.get(i / 64).copied().unwrap_or(0);
            let value = (word >> (i % 64)) & ((1u64 << chunk) - 1);
            if !first {
                self.out.push(b',');
            }
            first = false;
            let mut chunk_spec = Spec::new(16, chunk.div_ceil(4) as i32, SMALL | ZEROPAD);
            chunk_spec.precision = 0;
            number(&mut self.out, value, chunk_spec);
            chunk = 32;
        }
    }

    /// Ranges of set bits: "0-2,5,8-9".
    fn bitmap_list_string(&mut self, ptr: u64, spec: Spec) {
        let Some((words, nr_bits)) = self.bitmap_words(ptr, spec) else {
            return;
        };
        let bit = |n: usize| words.get(n / 64).is_some_and(|w| (w >> (n % 64)) & 1 != 0);
        let mut n = 0;
        let mut first = true;
        while n < nr_bits {
            if !bit(n) {
                n += 1;
                continue;
            }
            let low = n;
            while n < nr_bits && bit(n) {
                n += 1;
            }
            if !first {
                self.out.push(b',');
            }
            first = false;
            number(&mut self.out, low as u64, DEC_SPEC);
            if n - 1 > low {
                self.out.push(b'-');
                number(&mut self.out, (n - 1) as u64, DEC_SPEC);
            }
        }
    }

    fn mac_address_string(&mut self, ptr: u64, spec: Spec, ext: &[u8]) {
        let Some(mut mac) = self.checked_read(ptr, 6, spec) else {
            return;
        };
        let separator = if at(ext, 1) == b'F' { b'-' } else { b':' };
        if at(ext, 1) == b'R' {
            mac.reverse();
        }
        let mut s = Vec::with_capacity(17);
        for (i, &byte) in mac.iter().enumerate() {
            push_hex_byte(&mut s, byte, false);
            if at(ext, 0) == b'M' && i != 5 {
                s.push(separator);
            }
        }
        put_string(&mut self.out, &s, spec);
    }

    fn uuid_string(&mut self, ptr: u64, spec: Spec, ext: &[u8]) {
        const BIG_ENDIAN: [usize; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
        const LITTLE_ENDIAN: [usize; 16] = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
        let Some(bytes) = self.checked_read(ptr, 16, spec) else {
            return;
        };
        let (upper, order) = match at(ext, 1) {
            b'L' => (true, LITTLE_ENDIAN),
            b'l' => (false, LITTLE_ENDIAN),
            b'B' => (true, BIG_ENDIAN),
            _ => (false, BIG_ENDIAN),
        };
        let mut s = Vec::with_capacity(36);
        for (i, &index) in order.iter().enumerate() {
            push_hex_byte(&mut s, at(&bytes, index), upper);
            if matches!(i, 3 | 5 | 7 | 9) {
                s.push(b'-');
            }
        }
        put_string(&mut self.out, &s, spec);
    }

    /// Width = byte count (default 1); output is neither truncated by the
    /// precision nor padded.
    fn escaped_string(&mut self, ptr: u64, spec: Spec, ext: &[u8]) {
        if spec.field_width == 0 {
            return;
        }
        if !self.check_pointer(ptr, spec) {
            return;
        }
        let mut flags = 0;
        for &c in ext.iter().skip(1) {
            flags |= match c {
                b'a' => ESCAPE_ANY,
                b'c' => ESCAPE_SPECIAL,
                b'h' => ESCAPE_HEX,
                b'n' => ESCAPE_NULL,
                b'o' => ESCAPE_OCTAL,
                b'p' => ESCAPE_NP,
                b's' => ESCAPE_SPACE,
                _ => break,
            };
        }
        if flags == 0 {
            flags = ESCAPE_ANY | ESCAPE_NP;
        }
        let len = usize::try_from(spec.field_width).unwrap_or(1);
        if let Some(bytes) = self.read(ptr, len, spec) {
            escape_mem(&mut self.out, &bytes, flags);
        }
    }
}

const ESCAPE_SPACE: u32 = 1;
const ESCAPE_SPECIAL: u32 = 2;
const ESCAPE_NULL: u32 = 4;
const ESCAPE_OCTAL: u32 = 8;
const ESCAPE_ANY: u32 = ESCAPE_SPACE | ESCAPE_SPECIAL | ESCAPE_NULL | ESCAPE_OCTAL;
const ESCAPE_NP: u32 = 16;
const ESCAPE_HEX: u32 = 32;

/// string_escape_mem() with no `only` set. With 'p' a printable byte (kernel
/// ctype, so Latin-1 0xa0..=0xff too) passes before any other class is tried;
/// octal beats hex when both are asked for.
fn escape_mem(out: &mut Vec<u8>, src: &[u8], flags: u32) {
    for &c in src {
        if flags & ESCAPE_NP != 0 && is_print(c) {
            out.push(c);
            continue;
        }
        let short = match c {
            b'\n' | b'\r' | b'\t' | 0x0b | 0x0c if flags & ESCAPE_SPACE != 0 => Some(match c {
                b'\n' => b'n',
                b'\r' => b'r',
                b'\t' => b't',
                0x0b => b'v',
                _ => b'f',
            }),
            // The double quote has belonged to this class since 5.13.
            b'\\' | 0x07 | 0x1b | b'"' if flags & ESCAPE_SPECIAL != 0 => Some(match c {
                0x07 => b'a',
                0x1b => b'e',
                other => other,
            }),
            0 if flags & ESCAPE_NULL != 0 => Some(b'0'),
            _ => None,
        };
        if let Some(letter) = short {
            out.extend_from_slice(&[b'\\', letter]);
        } else if flags & ESCAPE_OCTAL != 0 {
            out.extend_from_slice(&[
                b'\\',
                b'0' + (c >> 6),
                b'0' + ((c >> 3) & 7),
                b'0' + (c & 7),
            ]);
        } else if flags & ESCAPE_HEX != 0 {
            out.extend_from_slice(b"\\x");
            push_hex_byte(out, c, false);
        } else {
            out.push(c);
        }
    }
}

// --- %pI %pi ------------------------------------------------------------------

impl Writer<'_> {
    fn ip_addr_string(&mut self, ptr: u64, spec: Spec, ext: &[u8]) {
        if !self.check_pointer(ptr, spec) {
            return;
        }
        match at(ext, 1) {
            b'6' => {
                let Some(addr) = self.read(ptr, 16, spec) else {
                    return;
                };
                let s = if at(ext, 0) == b'I' && at(ext, 2) == b'c' {
                    ip6_compressed(&addr)
                } else {
                    ip6_full(&addr, at(ext, 0) == b'I')
                };
                put_string(&mut self.out, &s, spec);
            }
            b'4' => {
                let Some(addr) = self.read(ptr, 4, spec) else {
                    return;
                };
                let s = ip4_string(&addr, at(ext, 0), at(ext, 2));
                put_string(&mut self.out, &s, spec);
            }
            b'S' => self.sockaddr_string(ptr, spec, ext),
            _ if at(ext, 0) == b'i' => self.error(b"(%pi?)", spec),
            _ => self.error(b"(%pI?)", spec),
        }
    }

    /// struct sockaddr_in / sockaddr_in6, chosen by sa_family (AF_INET = 2,
    /// AF_INET6 = 10). Option letters follow "IS" up to the first non-letter.
    fn sockaddr_string(&mut self, ptr: u64, spec: Spec, ext: &[u8]) {
        let Some(family) = self.read(ptr, 2, spec) else {
            return;
        };
        let options: Vec<u8> = ext
            .iter()
            .skip(2)
            .copied()
            .take_while(|&c| is_alpha(c))
            .collect();
        let s = match le_u16(&family, 0) {
            2 => {
                let Some(sa) = self.read(ptr, 8, spec) else {
                    return;
                };
                sockaddr_in_string(&sa, at(ext, 0), &options, spec)
            }
            10 => {
                let Some(sa) = self.read(ptr, 28, spec) else {
                    return;
                };
                sockaddr_in6_string(&sa, at(ext, 0), &options, spec)
            }
            _ => return self.error(b"(einval)", spec),
        };
        put_string(&mut self.out, &s, spec);
    }
}

/// Dotted quad; 'i' zero-pads each octet to three digits. `order` 'h'
/// (host, little-endian here) and 'l' print the bytes reversed.
fn ip4_string(addr: &[u8], kind: u8, order: u8) -> Vec<u8> {
    let mut bytes = [at(addr, 0), at(addr, 1), at(addr, 2), at(addr, 3)];
    if matches!(order, b'h' | b'l') {
        bytes.reverse();
    }
    let mut s = Vec::with_capacity(15);
    for (i, byte) in bytes.iter().enumerate() {
        if kind == b'i' {
            let _ = write!(Sink(&mut s), "{byte:03}");
        } else {
            let _ = write!(Sink(&mut s), "{byte}");
        }
        if i < 3 {
            s.push(b'.');
        }
    }
    s
}

/// Eight 4-digit groups, colon separated only for 'I'.
fn ip6_full(addr: &[u8], colons: bool) -> Vec<u8> {
    let mut s = Vec::with_capacity(39);
    for (i, pair) in addr.chunks(2).take(8).enumerate() {
        for &byte in pair {
            push_hex_byte(&mut s, byte, false);
        }
        if colons && i != 7 {
            s.push(b':');
        }
    }
    s
}

/// RFC 5952 style: the first longest run (of at least two) zero groups
/// becomes "::"; IPv4-mapped and ISATAP addresses end in a dotted quad.
fn ip6_compressed(addr: &[u8]) -> Vec<u8> {
    let words: Vec<u16> = (0..8).map(|i| be_u16(addr, 2 * i)).collect();
    let mapped = words[..5].iter().all(|&w| w == 0) && words[5] == 0xffff;
    let isatap = (at(addr, 8) | 0x02) == 0x02 && at(addr, 9) == 0 && words[5] == 0x5efe;
    let use_ipv4 = mapped || isatap;
    let range = if use_ipv4 { 6 } else { 8 };
    let (mut longest, mut colonpos) = (1, None);
    for i in 0..range {
        let zeros = words[i..range].iter().take_while(|&&w| w == 0).count();
        if zeros > longest {
            longest = zeros;
            colonpos = Some(i);
        }
    }
    let mut s = Vec::with_capacity(45);
    let mut need_colon = false;
    let mut i = 0;
    while i < range {
        if colonpos == Some(i) {
            if need_colon || i == 0 {
                s.push(b':');
            }
            s.push(b':');
            need_colon = false;
            i += longest;
            continue;
        }
        if need_colon {
            s.push(b':');
        }
        let _ = write!(Sink(&mut s), "{:x}", words[i]);
        need_colon = true;
        i += 1;
    }
    if use_ipv4 {
        if need_colon {
            s.push(b':');
        }
        s.extend(ip4_string(addr.get(12..16).unwrap_or(&[]), b'I', 0));
    }
    s
}

/// The port is formatted with the caller's own spec, as the kernel does.
fn sockaddr_in_string(sa: &[u8], kind: u8, options: &[u8], spec: Spec) -> Vec<u8> {
    let mut order = 0;
    for &c in options {
        if matches!(c, b'h' | b'l' | b'n' | b'b') {
            order = c;
        }
    }
    let mut s = ip4_string(sa.get(4..8).unwrap_or(&[]), kind, order);
    if options.contains(&b'p') {
        s.push(b':');
        number(&mut s, u64::from(be_u16(sa, 2)), spec);
    }
    s
}

/// Port, flow label and scope id reuse the caller's spec; any of them puts
/// the address in brackets.
fn sockaddr_in6_string(sa: &[u8], kind: u8, options: &[u8], spec: Spec) -> Vec<u8> {
    let has = |c: u8| options.contains(&c);
    let bracket = has(b'p') || has(b's') || has(b'f');
    let addr = sa.get(8..24).unwrap_or(&[]);
    let mut s = Vec::with_capacity(64);
    if bracket {
        s.push(b'[');
    }
    if kind == b'I' && has(b'c') {
        s.extend(ip6_compressed(addr));
    } else {
        s.extend(ip6_full(addr, kind == b'I'));
    }
    if bracket {
        s.push(b']');
    }
    if has(b'p') {
        s.push(b':');
        number(&mut s, u64::from(be_u16(sa, 2)), spec);
    }
    if has(b'f') {
        s.push(b'/');
        number(
            &mut s,
            u64::from(le_u32(sa, 4).swap_bytes() & 0x0fff_ffff),
            spec,
        );
    }
    if has(b's') {
        s.push(b'%');
        number(&mut s, u64::from(le_u32(sa, 24)), spec);
    }
    s
}

/// Lets `write!` append to a byte vector.
struct Sink<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Sink<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

// --- %pN %p4cc %pa %pe %pt %pV ------------------------------------------------

impl Writer<'_> {
    fn netdev_bits(&mut self, ptr: u64, spec: Spec, ext: &[u8]) {
        if !self.check_pointer(ptr, spec) {
            return;
        }
        if at(ext, 1) != b'F' {
            return self.error(b"(%pN?)", spec);
        }
        if let Some(raw) = self.read(ptr, 8, spec) {
            special_hex(&mut self.out, le_u64(&raw, 0), 8);
        }
    }

    /// "AR24 little-endian (0x34325241)"; bit 31 flags big-endian and is
    /// masked out of the characters, non-printable ASCII shows as '.'.
    fn fourcc_string(&mut self, ptr: u64, spec: Spec, ext: &[u8]) {
        if at(ext, 1) != b'c' || at(ext, 2) != b'c' {
            return self.error(b"(%p4?)", spec);
        }
        let Some(raw) = self.checked_read(ptr, 4, spec) else {
            return;
        };
        let orig = le_u32(&raw, 0);
        let mut s: Vec<u8> = (orig & !(1 << 31))
            .to_le_bytes()
            .iter()
            .map(|&c| if (0x20..0x7f).contains(&c) { c } else { b'.' })
            .collect();
        let endian: &[u8] = if orig & (1 << 31) != 0 {
            b" big-endian ("
        } else {
            b" little-endian ("
        };
        s.extend_from_slice(endian);
        special_hex(&mut s, u64::from(orig), 4);
        s.push(b')');
        put_string(&mut self.out, &s, spec);
    }

    /// phys_addr_t / dma_addr_t by reference: always "0x" + 16 digits.
    fn address_val(&mut self, ptr: u64, spec: Spec) {
        if let Some(raw) = self.checked_read(ptr, 8, spec) {
            special_hex(&mut self.out, le_u64(&raw, 0), 8);
        }
    }

    /// The error code is the pointer truncated to `int`; unknown codes print
    /// in signed decimal with the caller's spec.
    fn err_ptr(&mut self, ptr: u64, mut spec: Spec) {
        let err = ptr as i32;
        if let Some(name) = errname(i64::from(err)) {
            return put_string(&mut self.out, name.as_bytes(), spec);
        }
        spec.flags |= SIGN;
        spec.base = 10;
        number(&mut self.out, i64::from(err) as u64, spec);
    }

    /// %ptR (struct rtc_time) and %ptT (time64_t). The kernel dereferences a
    /// time64_t without checking it; here a bad pointer prints like the
    /// checked extensions do.
    fn time_and_date(&mut self, ptr: u64, spec: Spec, ext: &[u8]) {
        let tm = match at(ext, 1) {
            b'R' => {
                let Some(raw) = self.checked_read(ptr, 24, spec) else {
                    return;
                };
                RtcTime {
                    sec: le_u32(&raw, 0) as i32,
                    min: le_u32(&raw, 4) as i32,
                    hour: le_u32(&raw, 8) as i32,
                    mday: le_u32(&raw, 12) as i32,
                    mon: le_u32(&raw, 16) as i32,
                    year: le_u32(&raw, 20) as i32,
                }
            }
            b'T' => {
                let Some(raw) = self.checked_read(ptr, 8, spec) else {
                    return;
                };
                time64_to_rtc(le_u64(&raw, 0) as i64)
            }
            _ => return self.error(b"(%pt?)", spec),
        };
        rtc_str(&mut self.out, &tm, ext);
    }

    /// Recursive vsnprintf over a struct va_format { fmt, va }.
    fn va_format(&mut self, ptr: u64, spec: Spec) {
        if !self.check_pointer(ptr, spec) {
            return;
        }
        let Some(raw) = self.read(ptr, 16, spec) else {
            return;
        };
        let (fmt_ptr, va_ptr) = (le_u64(&raw, 0), le_u64(&raw, 8));
        let ctx = self.ctx;
        if self.depth >= MAX_VA_DEPTH {
            ctx.warn("vsprintf: %pV nested too deeply; printing the hashed pointer");
            return self.ptr_to_id(ptr, spec);
        }
        let Some(mut args) = ctx.open_va_list(va_ptr) else {
            return self.not_emulated(b'V', ptr, spec);
        };
        // The kernel would crash on a bad format pointer; print why instead.
        if !self.check_pointer(fmt_ptr, spec) {
            return;
        }
        let Some(fmt) = ctx.read_cstr(fmt_ptr, MAX_CSTR) else {
            return self.error(b"(efault)", spec);
        };
        self.depth += 1;
        self.format(&fmt, &mut *args);
        self.depth -= 1;
    }
}

struct RtcTime {
    sec: i32,
    min: i32,
    hour: i32,
    mday: i32,
    mon: i32,
    year: i32,
}

/// time64_to_tm() at UTC: proleptic Gregorian calendar, floor division for
/// times before the epoch; the year is stored in an `int`.
fn time64_to_rtc(t: i64) -> RtcTime {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Days-to-civil conversion over 400-year eras starting on 0000-03-01.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let mday = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    RtcTime {
        sec: (secs % 60) as i32,
        min: (secs / 60 % 60) as i32,
        hour: (secs / 3600) as i32,
        mday: mday as i32,
        mon: (month - 1) as i32,
        year: (year - 1900) as i32,
    }
}

/// rtc_str(): 'd' date only, 't' time only, then any of 'r' (raw fields,
/// no 1900/1 offsets) and 's' (space instead of 'T'). Width is ignored.
fn rtc_str(out: &mut Vec<u8>, tm: &RtcTime, ext: &[u8]) {
    let (mut have_date, mut have_time) = (true, true);
    let mut index = 2;
    match at(ext, 2) {
        b'd' => {
            have_time = false;
            index += 1;
        }
        b't' => {
            have_date = false;
            index += 1;
        }
        _ => {}
    }
    let (mut raw, mut iso) = (false, true);
    loop {
        match at(ext, index) {
            b'r' => raw = true,
            b's' => iso = false,
            _ => break,
        }
        index += 1;
    }
    // Fields are ints handed to number() as unsigned long long.
    let num = |out: &mut Vec<u8>, v: i32, spec| number(out, i64::from(v) as u64, spec);
    if have_date {
        num(
            out,
            tm.year.wrapping_add(if raw { 0 } else { 1900 }),
            DEC04_SPEC,
        );
        out.push(b'-');
        num(
            out,
            tm.mon.wrapping_add(if raw { 0 } else { 1 }),
            DEC02_SPEC,
        );
        out.push(b'-');
        num(out, tm.mday, DEC02_SPEC);
    }
    if have_date && have_time {
        out.push(if iso { b'T' } else { b' ' });
    }
    if have_time {
        num(out, tm.hour, DEC02_SPEC);
        out.push(b':');
        num(out, tm.min, DEC02_SPEC);
        out.push(b':');
        num(out, tm.sec, DEC02_SPEC);
    }
}

// ---------------------------------------------------------------------------
// errname (lib/errname.c with the x86_64 errno numbering)
// ---------------------------------------------------------------------------

/// Aliases resolve to the name the kernel's table keeps for the shared
/// number: EWOULDBLOCK -> EAGAIN, EDEADLOCK -> EDEADLK, ENOTSUP -> EOPNOTSUPP.
/// Numbers 41, 58 and 520 are unassigned; nothing above 530 has a name.
#[rustfmt::skip]
const ERRNAMES: &[(u32, &str)] = &[
    (1, "-EPERM"), (2, "-ENOENT"), (3, "-ESRCH"), (4, "-EINTR"), (5, "-EIO"), (6, "-ENXIO"),
    (7, "-E2BIG"), (8, "-ENOEXEC"), (9, "-EBADF"), (10, "-ECHILD"), (11, "-EAGAIN"),
    (12, "-ENOMEM"), (13, "-EACCES"), (14, "-EFAULT"), (15, "-ENOTBLK"), (16, "-EBUSY"),
    (17, "-EEXIST"), (18, "-EXDEV"), (19, "-ENODEV"), (20, "-ENOTDIR"), (21, "-EISDIR"),
    (22, "-EINVAL"), (23, "-ENFILE"), (24, "-EMFILE"), (25, "-ENOTTY"), (26, "-ETXTBSY"),
    (27, "-EFBIG"), (28, "-ENOSPC"), (29, "-ESPIPE"), (30, "-EROFS"), (31, "-EMLINK"),
    (32, "-EPIPE"), (33, "-EDOM"), (34, "-ERANGE"), (35, "-EDEADLK"), (36, "-ENAMETOOLONG"),
    (37, "-ENOLCK"), (38, "-ENOSYS"), (39, "-ENOTEMPTY"), (40, "-ELOOP"), (42, "-ENOMSG"),
    (43, "-EIDRM"), (44, "-ECHRNG"), (45, "-EL2NSYNC"), (46, "-EL3HLT"), (47, "-EL3RST"),
    (48, "-ELNRNG"), (49, "-EUNATCH"), (50, "-ENOCSI"), (51, "-EL2HLT"), (52, "-EBADE"),
    (53, "-EBADR"), (54, "-EXFULL"), (55, "-ENOANO"), (56, "-EBADRQC"), (57, "-EBADSLT"),
    (59, "-EBFONT"), (60, "-ENOSTR"), (61, "-ENODATA"), (62, "-ETIME"), (63, "-ENOSR"),
    (64, "-ENONET"), (65, "-ENOPKG"), (66, "-EREMOTE"), (67, "-ENOLINK"), (68, "-EADV"),
    (69, "-ESRMNT"), (70, "-ECOMM"), (71, "-EPROTO"), (72, "-EMULTIHOP"), (73, "-EDOTDOT"),
    (74, "-EBADMSG"), (75, "-EOVERFLOW"), (76, "-ENOTUNIQ"), (77, "-EBADFD"), (78, "-EREMCHG"),
    (79, "-ELIBACC"), (80, "-ELIBBAD"), (81, "-ELIBSCN"), (82, "-ELIBMAX"), (83, "-ELIBEXEC"),
    (84, "-EILSEQ"), (85, "-ERESTART"), (86, "-ESTRPIPE"), (87, "-EUSERS"), (88, "-ENOTSOCK"),
    (89, "-EDESTADDRREQ"), (90, "-EMSGSIZE"), (91, "-EPROTOTYPE"), (92, "-ENOPROTOOPT"),
    (93, "-EPROTONOSUPPORT"), (94, "-ESOCKTNOSUPPORT"), (95, "-EOPNOTSUPP"),
    (96, "-EPFNOSUPPORT"), (97, "-EAFNOSUPPORT"), (98, "-EADDRINUSE"), (99, "-EADDRNOTAVAIL"),
    (100, "-ENETDOWN"), (101, "-ENETUNREACH"), (102, "-ENETRESET"), (103, "-ECONNABORTED"),
    (104, "-ECONNRESET"), (105, "-ENOBUFS"), (106, "-EISCONN"), (107, "-ENOTCONN"),
    (108, "-ESHUTDOWN"), (109, "-ETOOMANYREFS"), (110, "-ETIMEDOUT"), (111, "-ECONNREFUSED"),
    (112, "-EHOSTDOWN"), (113, "-EHOSTUNREACH"), (114, "-EALREADY"), (115, "-EINPROGRESS"),
    (116, "-ESTALE"), (117, "-EUCLEAN"), (118, "-ENOTNAM"), (119, "-ENAVAIL"), (120, "-EISNAM"),
    (121, "-EREMOTEIO"), (122, "-EDQUOT"), (123, "-ENOMEDIUM"), (124, "-EMEDIUMTYPE"),
    (125, "-ECANCELED"), (126, "-ENOKEY"), (127, "-EKEYEXPIRED"), (128, "-EKEYREVOKED"),
    (129, "-EKEYREJECTED"), (130, "-EOWNERDEAD"), (131, "-ENOTRECOVERABLE"), (132, "-ERFKILL"),
    (133, "-EHWPOISON"),
    // Kernel-internal codes (include/linux/errno.h).
    (512, "-ERESTARTSYS"), (513, "-ERESTARTNOINTR"), (514, "-ERESTARTNOHAND"),
    (515, "-ENOIOCTLCMD"), (516, "-ERESTART_RESTARTBLOCK"), (517, "-EPROBE_DEFER"),
    (518, "-EOPENSTALE"), (519, "-ENOPARAM"), (521, "-EBADHANDLE"), (522, "-ENOTSYNC"),
    (523, "-EBADCOOKIE"), (524, "-ENOTSUPP"), (525, "-ETOOSMALL"), (526, "-ESERVERFAULT"),
    (527, "-EBADTYPE"), (528, "-EJUKEBOX"), (529, "-EIOCBQUEUED"), (530, "-ERECALLCONFLICT"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashMap;

    // ----- fakes -------------------------------------------------------------

    struct Args {
        vals: Vec<u64>,
        next: usize,
    }

    impl VaList for Args {
        fn next_arg(&mut self) -> u64 {
            let v = self.vals.get(self.next).copied().unwrap_or(0);
            self.next += 1;
            v
        }
    }

    struct Sym {
        start: u64,
        size: u64,
        name: &'static str,
        module: Option<&'static str>,
    }

    struct Ctx {
        mem: HashMap<u64, u8>,
        syms: Vec<Sym>,
        hash_ready: bool,
        va_lists: HashMap<u64, Vec<u64>>,
        sysv_va_lists: bool,
        warnings: RefCell<Vec<String>>,
    }

    impl FormatContext for Ctx {
        fn read_bytes(&self, addr: u64, len: usize) -> Option<Vec<u8>> {
            (0..len as u64)
                .map(|i| self.mem.get(&addr.wrapping_add(i)).copied())
                .collect()
        }

        fn read_cstr(&self, addr: u64, max: usize) -> Option<Vec<u8>> {
            let mut s = Vec::new();
            for i in 0..max as u64 {
                match *self.mem.get(&addr.wrapping_add(i))? {
                    0 => break,
                    c => s.push(c),
                }
            }
            Some(s)
        }

        fn lookup_symbol(&self, addr: u64, f: &mut dyn FnMut(Option<SymbolHit<'_>>)) {
            let hit = self
                .syms
                .iter()
                .find(|s| addr >= s.start && addr - s.start < s.size)
                .map(|s| SymbolHit {
                    name: s.name,
                    offset: addr - s.start,
                    size: s.size,
                    module: s.module,
                });
            f(hit);
        }

        fn hash_pointer(&self, addr: u64) -> Option<u64> {
            self.hash_ready.then(|| fake_hash(addr))
        }

        fn open_va_list(&self, addr: u64) -> Option<Box<dyn VaList + '_>> {
            if self.sysv_va_lists {
                return SysVVaList::open(self, addr).map(|v| Box::new(v) as Box<dyn VaList>);
            }
            let vals = self.va_lists.get(&addr)?.clone();
            Some(Box::new(Args { vals, next: 0 }))
        }

        fn warn(&self, message: &str) {
            self.warnings.borrow_mut().push(message.to_string());
        }
    }

    fn fake_hash(addr: u64) -> u64 {
        addr.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32
    }

    /// The plain-%p rendering of `addr` under the fake hash.
    fn id(addr: u64) -> String {
        format!("{:016x}", fake_hash(addr))
    }

    const KADDR: u64 = 0xffff_8880_0000_1000;
    const STR: u64 = 0xffff_8880_0000_2000;
    const BYTES: u64 = 0xffff_8880_0000_3000;
    const SCRATCH: u64 = 0xffff_8880_0000_4000;
    const MOD_TEXT: u64 = 0xffff_ffff_c000_1000;
    const VMLINUX_TEXT: u64 = 0xffff_ffff_8100_0000;

    impl Ctx {
        fn new() -> Ctx {
            let mut ctx = Ctx {
                mem: HashMap::new(),
                syms: vec![
                    Sym {
                        start: MOD_TEXT,
                        size: 0x40,
                        name: "hello_init",
                        module: Some("hello_1"),
                    },
                    Sym {
                        start: MOD_TEXT + 0x40,
                        size: 0x20,
                        name: "hello_exit",
                        module: Some("hello_1"),
                    },
                    Sym {
                        start: VMLINUX_TEXT,
                        size: 0x30,
                        name: "printk",
                        module: None,
                    },
                ],
                hash_ready: true,
                va_lists: HashMap::new(),
                sysv_va_lists: false,
                warnings: RefCell::new(Vec::new()),
            };
            ctx.put(STR, b"hello\0");
            ctx.put(BYTES, &(0u8..128).collect::<Vec<u8>>());
            ctx
        }

        fn put(&mut self, addr: u64, bytes: &[u8]) {
            for (i, &b) in bytes.iter().enumerate() {
                self.mem.insert(addr + i as u64, b);
            }
        }

        fn put_u64s(&mut self, addr: u64, words: &[u64]) {
            let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
            self.put(addr, &bytes);
        }

        fn run(&self, fmt: &[u8], args: &[u64]) -> Vec<u8> {
            let mut args = Args {
                vals: args.to_vec(),
                next: 0,
            };
            vsnprintf(fmt, &mut args, self)
        }

        fn s(&self, fmt: &str, args: &[u64]) -> String {
            String::from_utf8(self.run(fmt.as_bytes(), args)).expect("test output is UTF-8")
        }
    }

    fn neg(v: i64) -> u64 {
        v as u64
    }

    fn check(cases: &[(&str, &[u64], &str)]) {
        let ctx = Ctx::new();
        for (fmt, args, want) in cases {
            assert_eq!(ctx.s(fmt, args), *want, "format {fmt:?} args {args:x?}");
        }
    }

    // ----- literals and %% --------------------------------------------------

    #[test]
    fn literals_and_percent() {
        // Plain text is copied; '%%' ignores any flags/width and prints one '%'.
        check(&[
            ("plain text", &[], "plain text"),
            ("a%%b", &[], "a%b"),
            ("a%5%b", &[], "a%b"),
            ("a%-05%b", &[], "a%b"),
            ("", &[], ""),
        ]);
    }

    #[test]
    fn format_stops_at_nul() {
        // The format is a C string: bytes after its NUL are never looked at.
        let ctx = Ctx::new();
        assert_eq!(ctx.run(b"ab\0%d", &[5]), b"ab");
    }

    // ----- integers ---------------------------------------------------------

    #[test]
    fn signed_decimal_flags() {
        // '-' left-justifies, '+' and ' ' only matter for signed conversions,
        // '+' beats ' ', '0' pads after the sign.
        check(&[
            ("%d", &[42], "42"),
            ("%d", &[neg(-42)], "-42"),
            ("%i", &[neg(-7)], "-7"),
            ("%5d|", &[42], "   42|"),
            ("%-5d|", &[42], "42   |"),
            ("%05d", &[neg(-42)], "-0042"),
            ("%+d", &[5], "+5"),
            ("% d", &[5], " 5"),
            ("%+ d", &[5], "+5"),
            ("% d", &[neg(-3)], "-3"),
            ("%+05d", &[5], "+0005"),
            ("%-08d|", &[5], "5       |"),
            ("%+u", &[5], "5"),
            ("% u", &[5], "5"),
        ]);
    }

    #[test]
    fn precision_on_integers() {
        // Kernel number(): precision sets minimum digits, '0' padding is NOT
        // dropped when a precision is given, and 0 with precision 0 prints "0".
        check(&[
            ("%.3d", &[5], "005"),
            ("%8.3d|", &[5], "     005|"),
            ("%-8.3d|", &[5], "005     |"),
            ("%08.3d", &[5], "00000005"),
            ("%.0d", &[0], "0"),
            ("%.3d", &[neg(-5)], "-005"),
            ("%2d", &[100], "100"),
            ("%.d", &[0], "0"),
        ]);
    }

    #[test]
    fn hex_and_octal_prefixes() {
        // '#' with base 16 always prints the prefix (0 -> "0x0"); with base 8
        // it prints a leading 0 only for non-zero values; the prefix counts
        // toward the width and zero padding goes after it.
        check(&[
            ("%x", &[255], "ff"),
            ("%X", &[255], "FF"),
            ("%#x", &[255], "0xff"),
            ("%#X", &[255], "0XFF"),
            ("%#x", &[0], "0x0"),
            ("%#o", &[8], "010"),
            ("%#o", &[0], "0"),
            ("%#5o|", &[0], "    0|"),
            ("%o", &[8], "10"),
            ("%#08x", &[255], "0x0000ff"),
            ("%#10x|", &[255], "      0xff|"),
            ("%-#10x|", &[255], "0xff      |"),
            ("%#.4x", &[255], "0x00ff"),
            ("%x", &[neg(-1)], "ffffffff"),
            ("%#d", &[5], "5"),
        ]);
    }

    #[test]
    fn length_modifiers_narrow_and_sign_extend() {
        // hh -> (un)signed char, h -> short, none -> int (low 32 bits),
        // l/ll/L/z/t -> the whole 64-bit slot.
        let max = u64::MAX;
        check(&[
            ("%hhd", &[0x1ff], "-1"),
            ("%hhu", &[0x1ff], "255"),
            ("%hhx", &[0x1ab], "ab"),
            ("%hd", &[0x18000], "-32768"),
            ("%hu", &[0x18000], "32768"),
            ("%hx", &[0x12345], "2345"),
            ("%d", &[0x1_0000_0005], "5"),
            ("%d", &[0xffff_ffff], "-1"),
            ("%u", &[0x1_ffff_ffff], "4294967295"),
            ("%ld", &[max], "-1"),
            ("%lu", &[max], "18446744073709551615"),
            ("%lx", &[max], "ffffffffffffffff"),
            ("%lld", &[1 << 63], "-9223372036854775808"),
            ("%llu", &[max], "18446744073709551615"),
            ("%Lu", &[max], "18446744073709551615"),
            ("%Ld", &[max], "-1"),
            ("%zd", &[max], "-1"),
            ("%zu", &[max], "18446744073709551615"),
            ("%td", &[max], "-1"),
            ("%tx", &[max], "ffffffffffffffff"),
            ("%lc", &[0x41], "A"),
        ]);
    }

    #[test]
    fn unsupported_conversions_stop_output() {
        // An unknown conversion (including %n, j, q, Z, doubled L/z) ends the
        // whole formatting run; only earlier text survives.
        check(&[
            ("a%qdb", &[1], "a"),
            ("a%jdb", &[1], "a"),
            ("a%Zdb", &[1], "a"),
            ("ab%ncd", &[1], "ab"),
            ("x%", &[], "x"),
            ("%lld%LLd", &[1, 2], "1"),
            ("%zzd", &[1], ""),
            ("%5", &[1], ""),
            ("a%hld", &[1], "a"),
            ("%d %y %d", &[1, 2, 3], "1 "),
        ]);
        let ctx = Ctx::new();
        ctx.s("%n", &[]);
        assert_eq!(
            ctx.warnings.borrow().as_slice(),
            ["Please remove unsupported %n in format string"]
        );
    }

    #[test]
    fn star_width_and_precision() {
        // '*' takes an int argument; a negative width means left-justify,
        // a negative precision becomes 0 (so "%.*s" with -1 prints nothing).
        check(&[
            ("%*d|", &[5, 7], "    7|"),
            ("%*d|", &[neg(-5), 7], "7    |"),
            ("%-*d|", &[5, 7], "7    |"),
            ("%.*d", &[neg(-1), 7], "7"),
            ("%.*s|", &[neg(-1), STR], "|"),
            ("%.*s", &[2, STR], "he"),
            ("%*.*s", &[6, 3, STR], "   hel"),
            ("%.s", &[STR], "hello"),
            ("%.0s|", &[STR], "|"),
            ("a%*", &[5], "a"),
            ("a%.*", &[5], "a"),
            ("%*d", &[0x1_0000_0003, 7], "  7"),
        ]);
    }

    #[test]
    fn width_and_precision_bitfield_limits() {
        // Literal widths are stored in 24 bits and precisions in 16 bits,
        // so large literals wrap; '*' values that do not fit are clamped
        // (width to +-8388607, precision to 0..=32767).
        check(&[
            ("%16777217d", &[7], "7"),
            ("%9000000d", &[7], "7"),
            ("%.70000s", &[STR], "hello"),
            ("%.65536s|", &[STR], "|"),
            ("%.40000s|", &[STR], "|"),
            ("%*d", &[neg(-8_388_608), 7], "7"),
        ]);
        let ctx = Ctx::new();
        let wide = ctx.s("%*d", &[100_000_000, 7]);
        assert_eq!(wide.len(), 8_388_607);
        assert!(wide.ends_with(" 7"));
        let long = ctx.s("%.*d", &[40_000, 7]);
        assert_eq!(long.len(), 32_767);
        assert_eq!(ctx.warnings.borrow().len(), 2);
    }

    // ----- %c and %s ----------------------------------------------------------

    #[test]
    fn chars() {
        // %c takes the low byte of an int; width pads with spaces only.
        check(&[
            ("%c", &[0x41], "A"),
            ("%3c|", &[0x41], "  A|"),
            ("%-3c|", &[0x41], "A  |"),
            ("%03c", &[0x41], "  A"),
            ("%c", &[0x141], "A"),
        ]);
        assert_eq!(Ctx::new().run(b"<%c>", &[0]), b"<\0>");
    }

    #[test]
    fn strings_and_bad_pointers() {
        // NULL -> "(null)", below one page or an ERR_PTR -> "(efault)"; error
        // text obeys width and an explicit precision; unreadable memory is
        // reported as "(efault)".
        check(&[
            ("%s", &[STR], "hello"),
            ("%8s|", &[STR], "   hello|"),
            ("%-8s|", &[STR], "hello   |"),
            ("%.1s", &[STR], "h"),
            ("%s", &[0], "(null)"),
            ("%s", &[1], "(efault)"),
            ("%s", &[0xfff], "(efault)"),
            ("%s", &[neg(-12)], "(efault)"),
            ("%10s|", &[0], "    (null)|"),
            ("%-10s|", &[0], "(null)    |"),
            ("%.3s", &[0], "(nu"),
            ("%.20s", &[0], "(null)"),
            ("%s", &[0x5000], "(efault)"),
        ]);
    }

    // ----- plain pointers ---------------------------------------------------

    #[test]
    fn plain_pointer_hashing() {
        // %p hashes; NULL and ERR_PTR values are printed raw; %px never
        // hashes; %pK behaves as %p with kptr_restrict=0; retired and
        // unknown extensions (e.g. %pF) print the hash and are skipped.
        let h = id(KADDR);
        check(&[
            ("%p", &[KADDR], &h),
            ("%pK", &[KADDR], &h),
            ("%pF", &[KADDR], &h),
            ("%pZZZ!", &[KADDR], &format!("{h}!")),
            ("%p-x", &[KADDR], &format!("{h}-x")),
            ("%p", &[0], "0000000000000000"),
            ("%p", &[neg(-12)], "fffffffffffffff4"),
            ("%px", &[KADDR], "ffff888000001000"),
            ("%px", &[0x1234], "0000000000001234"),
            ("%pe", &[KADDR], &h),
            ("%pe", &[0], "0000000000000000"),
        ]);
    }

    #[test]
    fn pointer_width_flags() {
        // An explicit width replaces the default 16-digit zero padding.
        let raw = format!("{:x}", fake_hash(KADDR));
        check(&[
            ("%20p|", &[KADDR], &format!("{raw:>20}|")),
            ("%-20p|", &[KADDR], &format!("{raw:<20}|")),
            ("%020p", &[KADDR], &format!("{raw:0>20}")),
            ("%#px", &[0x1234], "0x00000000001234"),
            ("%24px|", &[KADDR], "        ffff888000001000|"),
        ]);
    }

    #[test]
    fn pointer_hash_not_ready() {
        // Before the hash key exists, %p prints a 16-wide placeholder.
        let mut ctx = Ctx::new();
        ctx.hash_ready = false;
        assert_eq!(ctx.s("%p", &[KADDR]), "(____ptrval____)");
        assert_eq!(ctx.s("%10p", &[KADDR]), "(____ptrval____)");
        assert_eq!(ctx.s("%.5p|", &[KADDR]), "           (____|");
        assert_eq!(ctx.s("%p", &[0]), "0000000000000000");
    }

    #[test]
    fn pointer_suffix_skips_latin1_letters() {
        // Suffix skipping uses the kernel's Latin-1 ctype: 0xe9 is a letter,
        // 0xd7 (multiplication sign) is punctuation.
        let ctx = Ctx::new();
        let h = id(KADDR);
        assert_eq!(ctx.run(b"%p\xe9.", &[KADDR]), format!("{h}.").into_bytes());
        let mut want = h.into_bytes();
        want.extend_from_slice(b"\xd7.");
        assert_eq!(ctx.run(b"%p\xd7.", &[KADDR]), want);
    }

    // ----- symbols ----------------------------------------------------------

    #[test]
    fn symbols() {
        // %pS: name+0xoff/0xsize [module]; %ps: name [module]; vmlinux symbols
        // carry no module; unknown addresses print as 0x%lx.
        check(&[
            ("%pS", &[MOD_TEXT + 0x10], "hello_init+0x10/0x40 [hello_1]"),
            ("%ps", &[MOD_TEXT + 0x10], "hello_init [hello_1]"),
            ("%pSR", &[MOD_TEXT + 0x10], "hello_init+0x10/0x40 [hello_1]"),
            ("%pSb", &[MOD_TEXT + 0x10], "hello_init+0x10/0x40 [hello_1]"),
            ("%pS", &[MOD_TEXT + 0x40], "hello_exit+0x0/0x20 [hello_1]"),
            ("%pS", &[VMLINUX_TEXT], "printk+0x0/0x30"),
            ("%ps", &[VMLINUX_TEXT + 4], "printk"),
            ("%pS", &[0x1234], "0x1234"),
            ("%pS", &[0], "0x0"),
            ("%ps", &[0x1234], "0x1234"),
            ("%-20ps|", &[VMLINUX_TEXT], "printk              |"),
            ("%20ps|", &[VMLINUX_TEXT], "              printk|"),
            ("%.5ps", &[MOD_TEXT], "hello"),
        ]);
    }

    #[test]
    fn backtrace_symbols() {
        // %pB looks up addr-1 and adds 1 back to the offset, so a return
        // address just past a function still names that function.
        check(&[
            ("%pB", &[MOD_TEXT + 0x10], "hello_init+0x10/0x40 [hello_1]"),
            ("%pB", &[MOD_TEXT + 0x40], "hello_init+0x40/0x40 [hello_1]"),
            ("%pBb", &[MOD_TEXT + 0x40], "hello_init+0x40/0x40 [hello_1]"),
            ("%pB", &[0x1234], "0x1234"),
            ("%pB", &[MOD_TEXT], "0xffffffffc0001000"),
        ]);
    }

    #[test]
    fn long_symbol_names_are_cut() {
        // kallsyms copies names into a KSYM_NAME_LEN (512) buffer.
        let long: &'static str = Box::leak("x".repeat(600).into_boxed_str());
        let mut ctx = Ctx::new();
        ctx.syms.push(Sym {
            start: 0x10_0000,
            size: 8,
            name: long,
            module: None,
        });
        assert_eq!(ctx.s("%ps", &[0x10_0000]), "x".repeat(511));
    }

    // ----- IP addresses -----------------------------------------------------

    fn ip6(ctx: &mut Ctx, fmt: &str, addr: [u8; 16]) -> String {
        ctx.put(SCRATCH, &addr);
        ctx.s(fmt, &[SCRATCH])
    }

    fn words(w: [u16; 8]) -> [u8; 16] {
        let mut b = [0u8; 16];
        for (i, x) in w.iter().enumerate() {
            b[2 * i..2 * i + 2].copy_from_slice(&x.to_be_bytes());
        }
        b
    }

    #[test]
    fn ipv4() {
        // %pI4 dotted decimal, %pi4 zero-padded octets; 'h' and 'l' reverse
        // the bytes on little-endian, 'n' and 'b' keep network order.
        let mut ctx = Ctx::new();
        ctx.put(SCRATCH, &[1, 2, 3, 4]);
        let a = [SCRATCH];
        assert_eq!(ctx.s("%pI4", &a), "1.2.3.4");
        assert_eq!(ctx.s("%pi4", &a), "001.002.003.004");
        assert_eq!(ctx.s("%pI4h", &a), "4.3.2.1");
        assert_eq!(ctx.s("%pI4l", &a), "4.3.2.1");
        assert_eq!(ctx.s("%pI4n", &a), "1.2.3.4");
        assert_eq!(ctx.s("%pI4b", &a), "1.2.3.4");
        assert_eq!(ctx.s("%10pI4|", &a), "   1.2.3.4|");
        assert_eq!(ctx.s("%pI4", &[0]), "(null)");
        assert_eq!(ctx.s("%pI5", &a), "(%pI?)");
        assert_eq!(ctx.s("%pi5", &a), "(%pi?)");
        ctx.put(SCRATCH, &[192, 168, 0, 255]);
        assert_eq!(ctx.s("%pi4", &a), "192.168.000.255");
    }

    #[test]
    fn ipv6_full_forms() {
        // %pI6: eight 4-digit groups with colons; %pi6: 32 digits, no colons.
        let mut ctx = Ctx::new();
        let addr: [u8; 16] = core::array::from_fn(|i| i as u8);
        assert_eq!(
            ip6(&mut ctx, "%pI6", addr),
            "0001:0203:0405:0607:0809:0a0b:0c0d:0e0f"
        );
        assert_eq!(
            ip6(&mut ctx, "%pi6", addr),
            "000102030405060708090a0b0c0d0e0f"
        );
        assert_eq!(
            ip6(&mut ctx, "%pi6c", addr),
            "000102030405060708090a0b0c0d0e0f"
        );
    }

    #[test]
    fn ipv6_compressed() {
        // RFC 5952: leading zeros dropped, the first longest run of two or
        // more zero groups becomes "::", single zero groups stay, and
        // v4-mapped / ISATAP addresses end in a dotted quad.
        let mut ctx = Ctx::new();
        let cases: &[([u16; 8], &str)] = &[
            ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1], "2001:db8::1"),
            ([0; 8], "::"),
            ([0, 0, 0, 0, 0, 0, 0, 1], "::1"),
            ([1, 0, 0, 0, 0, 0, 0, 0], "1::"),
            ([1, 0, 2, 3, 4, 5, 6, 7], "1:0:2:3:4:5:6:7"),
            ([1, 0, 0, 2, 0, 0, 3, 4], "1::2:0:0:3:4"),
            ([1, 0, 0, 2, 0, 0, 0, 4], "1:0:0:2::4"),
            ([1, 0, 1, 0, 0, 0, 0, 0], "1:0:1::"),
            (
                [0xfe80, 0, 0, 0, 0x0202, 0xb3ff, 0xfe1e, 0x8329],
                "fe80::202:b3ff:fe1e:8329",
            ),
            ([0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304], "::ffff:1.2.3.4"),
            (
                [0xfe80, 0, 0, 0, 0, 0x5efe, 0x0a00, 0x0001],
                "fe80::5efe:10.0.0.1",
            ),
            (
                [0xfe80, 0, 0, 0, 0x0200, 0x5efe, 0xc0a8, 0x0001],
                "fe80::200:5efe:192.168.0.1",
            ),
            ([0, 0, 0, 0, 0, 0, 0x0102, 0x0304], "::102:304"),
        ];
        for (w, want) in cases {
            assert_eq!(ip6(&mut ctx, "%pI6c", words(*w)), *want, "{w:x?}");
        }
    }

    fn sockaddr_in6(port: u16, flow: u32, addr: [u16; 8], scope: u32) -> Vec<u8> {
        let mut b = vec![10, 0];
        b.extend_from_slice(&port.to_be_bytes());
        b.extend_from_slice(&flow.to_be_bytes());
        b.extend_from_slice(&words(addr));
        b.extend_from_slice(&scope.to_le_bytes());
        b
    }

    #[test]
    fn sockaddr_forms() {
        // %pIS picks v4/v6 from sa_family; 'p' port, 'f' flow label (low 28
        // bits), 's' scope id; any of them brackets a v6 address; 'c'
        // compresses v6; h/l/n/b set v4 byte order; other families: (einval).
        let mut ctx = Ctx::new();
        let v6 = sockaddr_in6(8080, 0x1234_5678, [0x2001, 0xdb8, 0, 0, 0, 0, 0, 1], 5);
        ctx.put(SCRATCH, &v6);
        let a = [SCRATCH];
        assert_eq!(ctx.s("%pISpc", &a), "[2001:db8::1]:8080");
        assert_eq!(ctx.s("%pISc", &a), "2001:db8::1");
        assert_eq!(ctx.s("%pIS", &a), "2001:0db8:0000:0000:0000:0000:0000:0001");
        assert_eq!(ctx.s("%piS", &a), "20010db8000000000000000000000001");
        assert_eq!(ctx.s("%pISpfsc", &a), "[2001:db8::1]:8080/36984440%5");
        assert_eq!(ctx.s("%pISsc", &a), "[2001:db8::1]%5");
        ctx.put(SCRATCH + 0x100, &[2, 0, 0, 80, 192, 168, 0, 1]);
        let b = [SCRATCH + 0x100];
        assert_eq!(ctx.s("%pIS", &b), "192.168.0.1");
        assert_eq!(ctx.s("%pISp", &b), "192.168.0.1:80");
        assert_eq!(ctx.s("%piS", &b), "192.168.000.001");
        assert_eq!(ctx.s("%pISh", &b), "1.0.168.192");
        assert_eq!(ctx.s("%pISpn", &b), "192.168.0.1:80");
        ctx.put(SCRATCH + 0x200, &[1, 0, 0, 0]);
        assert_eq!(ctx.s("%pIS", &[SCRATCH + 0x200]), "(einval)");
        assert_eq!(ctx.s("%pIS", &[0]), "(null)");
    }

    #[test]
    fn sockaddr_port_uses_callers_spec() {
        // The kernel formats the port with the caller's spec, so a width
        // pads both the port and the whole string.
        let mut ctx = Ctx::new();
        ctx.put(SCRATCH, &[2, 0, 0, 80, 10, 0, 0, 1]);
        assert_eq!(ctx.s("%5pISp|", &[SCRATCH]), "10.0.0.1:   80|");
    }

    // ----- MAC, hex buffers, escapes, UUIDs ---------------------------------

    #[test]
    fn mac_addresses() {
        // M: colons, MF: dashes, R: reversed byte order, m: no separators.
        let a = [BYTES];
        check(&[
            ("%pM", &a, "00:01:02:03:04:05"),
            ("%pMR", &a, "05:04:03:02:01:00"),
            ("%pMF", &a, "00-01-02-03-04-05"),
            ("%pm", &a, "000102030405"),
            ("%pmR", &a, "050403020100"),
            ("%20pM|", &a, "   00:01:02:03:04:05|"),
            ("%pM", &[0], "(null)"),
            ("%pM", &[0x5000], "(efault)"),
        ]);
    }

    #[test]
    fn hex_buffers() {
        // Width is the byte count (default 1, capped at 64, 0 prints
        // nothing); C/D/N choose ':' '-' or no separator; no padding.
        let ctx = Ctx::new();
        check(&[
            ("%*ph", &[4, BYTES], "00 01 02 03"),
            ("%*phC", &[4, BYTES], "00:01:02:03"),
            ("%*phD", &[4, BYTES], "00-01-02-03"),
            ("%*phN", &[4, BYTES], "00010203"),
            ("%ph", &[BYTES + 10], "0a"),
            ("%4ph", &[BYTES + 250], "(efault)"),
            ("%*ph|", &[0, BYTES], "|"),
            ("%*ph", &[neg(-3), BYTES], "00 01 02"),
            ("%*ph", &[6, 0], "(null)"),
            ("%*ph|", &[10, 0], "    (null)|"),
            ("%*ph", &[0, 0], ""),
        ]);
        assert_eq!(ctx.s("%*ph", &[100, BYTES]).len(), 64 * 3 - 1);
    }

    #[test]
    fn escaped_buffers() {
        // %pE: default is "any + printable passes"; printable (kernel ctype,
        // Latin-1 included) bytes pass first when 'p' is set; octal wins
        // over hex; width is the byte count and nothing is padded.
        let mut ctx = Ctx::new();
        ctx.put(SCRATCH, b"a\nb\x01\"\\\xe9\0");
        let a = [8, SCRATCH];
        let cases: &[(&str, &[u8])] = &[
            ("%*pE", b"a\\nb\\001\"\\\xe9\\0"),
            ("%*pEap", b"a\\nb\\001\"\\\xe9\\0"),
            ("%*pEh", b"\\x61\\x0a\\x62\\x01\\x22\\x5c\\xe9\\x00"),
            ("%*pEhp", b"a\\x0ab\\x01\"\\\xe9\\x00"),
            ("%*pEc", b"a\nb\x01\\\"\\\\\xe9\0"),
            ("%*pEs", b"a\\nb\x01\"\\\xe9\0"),
            ("%*pEn", b"a\nb\x01\"\\\xe9\\0"),
            ("%*pEo", b"\\141\\012\\142\\001\\042\\134\\351\\000"),
            ("%*pEoh", b"\\141\\012\\142\\001\\042\\134\\351\\000"),
            ("%*pEa", b"\\141\\n\\142\\001\\\"\\\\\\351\\0"),
        ];
        for (fmt, want) in cases {
            assert_eq!(ctx.run(fmt.as_bytes(), &a), *want, "{fmt}");
        }
        assert_eq!(ctx.s("%pE", &[SCRATCH]), "a");
        assert_eq!(ctx.s("%*pE|", &[0, SCRATCH]), "|");
        assert_eq!(ctx.s("%*pE", &[3, 0]), "(null)");
        ctx.put(SCRATCH, &[0x1b, 0x07]);
        assert_eq!(ctx.s("%*pEc", &[2, SCRATCH]), "\\e\\a");
    }

    #[test]
    fn uuids() {
        // b (default) big-endian lower, B upper; l/L byte-swap the first
        // three fields (GUID order).
        let a = [BYTES];
        check(&[
            ("%pU", &a, "00010203-0405-0607-0809-0a0b0c0d0e0f"),
            ("%pUb", &a, "00010203-0405-0607-0809-0a0b0c0d0e0f"),
            ("%pUB", &a, "00010203-0405-0607-0809-0A0B0C0D0E0F"),
            ("%pUl", &a, "03020100-0504-0706-0809-0a0b0c0d0e0f"),
            ("%pUL", &a, "03020100-0504-0706-0809-0A0B0C0D0E0F"),
            ("%pU", &[0], "(null)"),
        ]);
    }

    // ----- %pe %pa %pb %p4cc %pR %pN %pt ------------------------------------

    #[test]
    fn error_pointers() {
        // %pe names ERR_PTR codes (internal ones too), falls back to signed
        // decimal for unnamed codes, and obeys width.
        check(&[
            ("%pe", &[neg(-12)], "-ENOMEM"),
            ("%pe", &[neg(-517)], "-EPROBE_DEFER"),
            ("%pe", &[neg(-512)], "-ERESTARTSYS"),
            ("%pe", &[neg(-1)], "-EPERM"),
            ("%pe", &[neg(-4000)], "-4000"),
            ("%pe", &[neg(-4095)], "-4095"),
            ("%10pe|", &[neg(-12)], "   -ENOMEM|"),
            ("%-10pe|", &[neg(-12)], "-ENOMEM   |"),
            ("%.3pe", &[neg(-12)], "-EN"),
        ]);
    }

    #[test]
    fn address_values() {
        // %pa/%pap/%pad dereference and always print 0x + 16 digits.
        let mut ctx = Ctx::new();
        ctx.put_u64s(SCRATCH, &[0x1234]);
        assert_eq!(ctx.s("%pa", &[SCRATCH]), "0x0000000000001234");
        assert_eq!(ctx.s("%pap", &[SCRATCH]), "0x0000000000001234");
        assert_eq!(ctx.s("%pad", &[SCRATCH]), "0x0000000000001234");
        assert_eq!(ctx.s("%30pa|", &[SCRATCH]), "0x0000000000001234|");
        assert_eq!(ctx.s("%pa", &[0]), "(null)");
    }

    #[test]
    fn bitmaps() {
        // Width = bit count. Hex form: 32-bit chunks, most significant
        // first, top chunk only as wide as its bits need. List form: ranges.
        let mut ctx = Ctx::new();
        ctx.put_u64s(SCRATCH, &[0x0000_0012_3456_789a]);
        ctx.put_u64s(SCRATCH + 0x100, &[0x327]);
        ctx.put_u64s(SCRATCH + 0x200, &[1 << 63 | 1, 0b101]);
        let a = SCRATCH;
        assert_eq!(ctx.s("%*pb", &[40, a]), "12,3456789a");
        assert_eq!(ctx.s("%*pb", &[36, a]), "2,3456789a");
        assert_eq!(ctx.s("%*pb", &[8, a]), "9a");
        assert_eq!(ctx.s("%*pb", &[64, a]), "00000012,3456789a");
        assert_eq!(ctx.s("%*pb|", &[0, a]), "|");
        assert_eq!(ctx.s("%pb|", &[a]), "|");
        assert_eq!(ctx.s("%*pbl", &[64, SCRATCH + 0x100]), "0-2,5,8-9");
        assert_eq!(ctx.s("%*pbl", &[9, SCRATCH + 0x100]), "0-2,5,8");
        assert_eq!(ctx.s("%*pbl", &[128, SCRATCH + 0x200]), "0,63-64,66");
        // The bit count is also the field width for the error text.
        assert_eq!(ctx.s("%*pb", &[8, 0]), "  (null)");
        assert_eq!(ctx.s("%*pb", &[128, a]), format!("{:>128}", "(efault)"));
    }

    #[test]
    fn fourcc() {
        // Four characters ('.' for non-printable), endianness from bit 31,
        // then the raw value as 0x%08x; anything but "4cc" is "(%p4?)".
        let mut ctx = Ctx::new();
        ctx.put(SCRATCH, &0x3432_5241u32.to_le_bytes());
        ctx.put(SCRATCH + 8, &0xb432_5241u32.to_le_bytes());
        ctx.put(SCRATCH + 16, &0x0000_0141u32.to_le_bytes());
        assert_eq!(
            ctx.s("%p4cc", &[SCRATCH]),
            "AR24 little-endian (0x34325241)"
        );
        assert_eq!(
            ctx.s("%p4cc", &[SCRATCH + 8]),
            "AR24 big-endian (0xb4325241)"
        );
        assert_eq!(
            ctx.s("%p4cc", &[SCRATCH + 16]),
            "A... little-endian (0x00000141)"
        );
        assert_eq!(ctx.s("%p4x", &[SCRATCH]), "(%p4?)");
        assert_eq!(ctx.s("%p4c", &[SCRATCH]), "(%p4?)");
        assert_eq!(ctx.s("%p4cc", &[0]), "(null)");
        assert_eq!(ctx.s("%.4p4cc", &[SCRATCH]), "AR24");
    }

    fn resource(ctx: &mut Ctx, start: u64, end: u64, flags: u64) -> [u64; 1] {
        ctx.put_u64s(SCRATCH, &[start, end, 0, flags]);
        [SCRATCH]
    }

    #[test]
    fn resources() {
        // %pR decodes type and attribute flags, %pr prints raw flags;
        // io/mem values are 0x-prefixed and zero-padded to 4/8 digits.
        let mut ctx = Ctx::new();
        let a = resource(&mut ctx, 0xfe00_0000, 0xfe0f_ffff, 0x0010_2200);
        assert_eq!(ctx.s("%pR", &a), "[mem 0xfe000000-0xfe0fffff 64bit pref]");
        assert_eq!(
            ctx.s("%pr", &a),
            "[mem 0xfe000000-0xfe0fffff flags 0x102200]"
        );
        let a = resource(&mut ctx, 0x3f8, 0x3ff, 0x100);
        assert_eq!(ctx.s("%pR", &a), "[io  0x03f8-0x03ff]");
        let a = resource(&mut ctx, 5, 5, 0x400);
        assert_eq!(ctx.s("%pR", &a), "[irq 5]");
        let a = resource(&mut ctx, 0, 0xfff, 0x2000_0200);
        assert_eq!(ctx.s("%pR", &a), "[mem size 0x00001000]");
        let a = resource(&mut ctx, 0, 0xff, 0x1000);
        assert_eq!(ctx.s("%pR", &a), "[bus 00-ff]");
        let a = resource(&mut ctx, 0, 0xf, 0);
        assert_eq!(ctx.s("%pR", &a), "[??? 0x00000000-0x0000000f flags 0x0]");
        let a = resource(&mut ctx, 0x1000, 0x1fff, 0x1020_0200);
        assert_eq!(
            ctx.s("%pR", &a),
            "[mem 0x00001000-0x00001fff window disabled]"
        );
        assert_eq!(ctx.s("%pR", &[0]), "(null)");
    }

    #[test]
    fn netdev_features() {
        // %pNF dereferences a 64-bit netdev_features_t.
        let mut ctx = Ctx::new();
        ctx.put_u64s(SCRATCH, &[0xff]);
        assert_eq!(ctx.s("%pNF", &[SCRATCH]), "0x00000000000000ff");
        assert_eq!(ctx.s("%pNx", &[SCRATCH]), "(%pN?)");
        assert_eq!(ctx.s("%pNF", &[0]), "(null)");
    }

    #[test]
    fn rtc_time_and_time64() {
        // %ptR: struct rtc_time as ISO 8601; d/t select date/time, r skips
        // the 1900/1 offsets, s uses a space separator. %ptT: time64_t UTC.
        let mut ctx = Ctx::new();
        let tm: Vec<u8> = [5i32, 4, 3, 2, 0, 124, 0, 0, 0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        ctx.put(SCRATCH, &tm);
        let a = [SCRATCH];
        assert_eq!(ctx.s("%ptR", &a), "2024-01-02T03:04:05");
        assert_eq!(ctx.s("%ptRd", &a), "2024-01-02");
        assert_eq!(ctx.s("%ptRt", &a), "03:04:05");
        assert_eq!(ctx.s("%ptRr", &a), "0124-00-02T03:04:05");
        assert_eq!(ctx.s("%ptRs", &a), "2024-01-02 03:04:05");
        assert_eq!(ctx.s("%ptRdr", &a), "0124-00-02");
        assert_eq!(ctx.s("%30ptR|", &a), "2024-01-02T03:04:05|");
        for (t, want) in [
            (1_700_000_000i64, "2023-11-14T22:13:20"),
            (0, "1970-01-01T00:00:00"),
            (-1, "1969-12-31T23:59:59"),
            (951_782_400, "2000-02-29T00:00:00"),
            (253_402_300_799, "9999-12-31T23:59:59"),
        ] {
            ctx.put(SCRATCH + 0x100, &t.to_le_bytes());
            assert_eq!(ctx.s("%ptT", &[SCRATCH + 0x100]), want, "{t}");
        }
        assert_eq!(ctx.s("%ptX", &a), "(%pt?)");
        assert_eq!(ctx.s("%ptR", &[0]), "(null)");
    }

    // ----- misc extensions ----------------------------------------------------

    #[test]
    fn error_only_and_string_extensions() {
        // %pO needs F and %pf needs w (else fixed error strings); %pks/%pus
        // print strings; other %pk/%pu forms are "(einval)".
        let h = id(KADDR);
        check(&[
            ("%pO", &[KADDR], "(%pO?)"),
            ("%pOx", &[KADDR], "(%pO?)"),
            ("%pf", &[KADDR], "(%pf?)"),
            ("%pks", &[STR], "hello"),
            ("%pus", &[STR], "hello"),
            ("%8pks|", &[STR], "   hello|"),
            ("%pks", &[0], "(null)"),
            ("%pkx", &[STR], "(einval)"),
            ("%pu", &[STR], "(einval)"),
            ("%pOF", &[KADDR], &h),
            ("%pfw", &[KADDR], &h),
        ]);
    }

    #[test]
    fn not_yet_emulated_extensions_print_hash() {
        // Recognised but unrendered extensions consume one argument, print
        // the hashed pointer, and warn.
        let ctx = Ctx::new();
        let h = id(KADDR);
        for fmt in ["%pd", "%pd2", "%pD", "%pg", "%pGp", "%pC", "%pCn", "%pA"] {
            assert_eq!(
                ctx.s(&format!("{fmt}|%d"), &[KADDR, 7]),
                format!("{h}|7"),
                "{fmt}"
            );
        }
        assert_eq!(ctx.warnings.borrow().len(), 8);
        assert!(ctx.warnings.borrow()[0].contains("dentry"));
    }

    #[test]
    fn va_format_recursion() {
        // %pV formats a nested (fmt, va_list) pair in place; a bad
        // conversion inside stops only the nested run.
        let mut ctx = Ctx::new();
        ctx.put(SCRATCH + 0x100, b"inner %d-%s\0");
        ctx.put(SCRATCH + 0x200, b"x%qy\0");
        ctx.put_u64s(SCRATCH, &[SCRATCH + 0x100, 0x7000]);
        ctx.put_u64s(SCRATCH + 0x10, &[SCRATCH + 0x200, 0x7000]);
        ctx.put_u64s(SCRATCH + 0x20, &[SCRATCH + 0x100, 0x7777]);
        ctx.va_lists.insert(0x7000, vec![5, STR]);
        assert_eq!(ctx.s("<%pV> %d", &[SCRATCH, 9]), "<inner 5-hello> 9");
        assert_eq!(ctx.s("<%pV> %d", &[SCRATCH + 0x10, 9]), "<x> 9");
        assert_eq!(ctx.s("%pV", &[0]), "(null)");
        // No va_list available: falls back to the hashed pointer.
        assert_eq!(ctx.s("%pV", &[SCRATCH + 0x20]), id(SCRATCH + 0x20));
    }

    #[test]
    fn va_format_self_reference_is_bounded() {
        // A va_format whose own argument is itself stops at the depth limit.
        let mut ctx = Ctx::new();
        ctx.put(SCRATCH + 0x100, b"%pV\0");
        ctx.put_u64s(SCRATCH, &[SCRATCH + 0x100, 0x7000]);
        ctx.va_lists.insert(0x7000, vec![SCRATCH]);
        assert_eq!(ctx.s("%pV", &[SCRATCH]), id(SCRATCH));
        assert!(ctx
            .warnings
            .borrow()
            .iter()
            .any(|w| w.contains("too deeply")));
    }

    #[test]
    fn sysv_va_list_reads_registers_then_stack() {
        // x86_64 va_list: integer slots come from reg_save_area until
        // gp_offset reaches 48, then from overflow_arg_area.
        let mut ctx = Ctx::new();
        ctx.sysv_va_lists = true;
        let (va, regs, stack) = (SCRATCH + 0x300, SCRATCH + 0x400, SCRATCH + 0x500);
        ctx.put(va, &40u32.to_le_bytes());
        ctx.put(va + 4, &48u32.to_le_bytes());
        ctx.put_u64s(va + 8, &[stack, regs]);
        ctx.put_u64s(regs, &[0, 0, 0, 0, 0, 11]);
        ctx.put_u64s(stack, &[22, 33]);
        ctx.put(SCRATCH + 0x100, b"%d %d %d\0");
        ctx.put_u64s(SCRATCH, &[SCRATCH + 0x100, va]);
        assert_eq!(ctx.s("%pV", &[SCRATCH]), "11 22 33");
        // The caller's va_list object is left untouched (va_copy semantics).
        assert_eq!(ctx.read_bytes(va, 4), Some(40u32.to_le_bytes().to_vec()));
    }

    // ----- errname --------------------------------------------------------------

    #[test]
    fn errname_table() {
        // Negative codes keep the '-', positive ones drop it; aliases map to
        // the canonical name; holes and out-of-range values have no name.
        assert_eq!(errname(-12), Some("-ENOMEM"));
        assert_eq!(errname(12), Some("ENOMEM"));
        assert_eq!(errname(0), None);
        assert_eq!(errname(-41), None);
        assert_eq!(errname(-58), None);
        assert_eq!(errname(-11), Some("-EAGAIN"));
        assert_eq!(errname(-35), Some("-EDEADLK"));
        assert_eq!(errname(-95), Some("-EOPNOTSUPP"));
        assert_eq!(errname(-133), Some("-EHWPOISON"));
        assert_eq!(errname(-134), None);
        assert_eq!(errname(-511), None);
        assert_eq!(errname(-512), Some("-ERESTARTSYS"));
        assert_eq!(errname(516), Some("ERESTART_RESTARTBLOCK"));
        assert_eq!(errname(-517), Some("-EPROBE_DEFER"));
        assert_eq!(errname(-520), None);
        assert_eq!(errname(-524), Some("-ENOTSUPP"));
        assert_eq!(errname(-530), Some("-ERECALLCONFLICT"));
        assert_eq!(errname(-531), None);
        assert_eq!(errname(i64::MIN), None);
        assert_eq!(errname(i64::from(i32::MIN)), None);
        let named = (1..=600).filter(|&e| errname(-e).is_some()).count();
        assert_eq!(named, 131 + 18);
    }

    // ----- robustness -------------------------------------------------------

    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            self.0 >> 33
        }
    }

    #[test]
    fn fuzz_random_formats_do_not_panic() {
        // Arbitrary format bytes and arguments must never panic.
        const ALPHABET: &[u8] = b"%%%%%-+ #0123456789**..hhllLztjqZcdiuoxXspn%SsBRrbhMmIi46cSEUVKNa4eOfxukCdDgGAtTlFw\0\xe9\xd7 \n";
        let mut ctx = Ctx::new();
        ctx.put(
            SCRATCH,
            &(0..=255u8).cycle().take(4096).collect::<Vec<u8>>(),
        );
        ctx.put_u64s(SCRATCH + 0x1000, &[STR, 0x7000, 2]);
        ctx.va_lists.insert(0x7000, vec![1, STR, KADDR]);
        let interesting = [
            0,
            1,
            7,
            64,
            0xfff,
            STR,
            SCRATCH,
            SCRATCH + 0x1000,
            KADDR,
            MOD_TEXT,
            neg(-1),
            neg(-12),
            neg(-4096),
            u64::from(u32::MAX),
            1 << 31,
            100_000,
            8_388_607,
        ];
        let mut rng = Lcg(0x1234_5678);
        let iterations = std::env::var("VSPRINTF_FUZZ_ITERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20_000);
        for _ in 0..iterations {
            let len = (rng.next() % 24) as usize;
            let fmt: Vec<u8> = (0..len)
                .map(|_| {
                    if rng.next() % 8 == 0 {
                        rng.next() as u8
                    } else {
                        ALPHABET[(rng.next() as usize) % ALPHABET.len()]
                    }
                })
                .collect();
            let args: Vec<u64> = (0..8)
                .map(|_| match rng.next() % 4 {
                    0 => rng.next() << 31 ^ rng.next(),
                    _ => interesting[(rng.next() as usize) % interesting.len()],
                })
                .collect();
            let _ = ctx.run(&fmt, &args);
        }
    }

    #[test]
    fn ctype_table_matches_kernel_classes() {
        // Spot checks of lib/ctype.c: Latin-1 letters are alphanumeric,
        // 0x80..0x9f have no class, NBSP (0xa0) is printable.
        assert!(is_alnum(b'a') && is_alnum(b'Z') && is_alnum(b'0'));
        assert!(is_alnum(0xc0) && is_alnum(0xdf) && is_alnum(0xff));
        assert!(!is_alnum(0xd7) && !is_alnum(0xf7) && !is_alnum(b'_'));
        assert!(!is_print(0x7f) && !is_print(0x80) && !is_print(0x9f));
        assert!(is_print(b' ') && is_print(0xa0) && is_print(0xe9));
        assert!(is_alpha(0xe9) && !is_alpha(b'5'));
    }
}
