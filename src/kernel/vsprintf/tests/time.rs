//! `%ptR` and `%ptT`.

use super::*;

// ----- %pt ------------------------------------------------------------------

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
