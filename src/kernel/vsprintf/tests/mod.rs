//! Tests for the vsprintf emulation: the fakes (`Args`, `Ctx`) and helpers
//! shared by every test, then the core (integers, `%c`, `%s`, errname,
//! robustness, ctype); the `%p` families have one submodule each.

use super::ctype::{is_alpha, is_print};
use super::*;
use std::cell::RefCell;
use std::collections::HashMap;

mod escape;
mod net;
mod pointer;
mod time;

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
