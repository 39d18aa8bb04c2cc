//! `%ph`, `%pE`, `%pU` and `%pb`/`%pbl`.

use super::*;

// ----- hex buffers, escapes, UUIDs, bitmaps ---------------------------------

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
