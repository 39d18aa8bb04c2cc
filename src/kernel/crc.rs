//! CRCs (lib/crc32.c, lib/crc-ccitt.c, lib/crc-t10dif.c, lib/crc16.c,
//! lib/crc-itu-t.c, lib/crc7.c, lib/crc8.c): `crc32_le`, `crc32_be`,
//! `__crc32c_le`, `crc_ccitt`, `crc_ccitt_false` (6.1), `crc_t10dif`,
//! `crc16`, `crc_itu_t`, `crc7_be`, `crc8` and the exported tables.
//! Debian builds crc16, crc-itu-t, crc7, crc8 (and on 6.1 crc-t10dif) as
//! library modules; kload's kernel has them built in, as a kernel with
//! `CONFIG_CRC16=y` would (tools/profile-probe/symvers.py keeps their
//! exports with vmlinux's), so modules that need them load without the
//! library module (docs/fidelity.md).
//!
//! The tables are computed here from the polynomials, byte-at-a-time, and
//! give the kernel's results (no pre- or post-inversion: callers do that).

use std::sync::OnceLock;

use super::string::{read, write};
use super::symbols::{Access, DataCtx, Registry};
use crate::exec::dispatch::CallArgs;
use crate::profile::MissingField;

/// CRC-32 (IEEE 802.3), reflected.
pub const CRC32_POLY_LE: u32 = 0xedb8_8320;
/// CRC-32 (IEEE 802.3), MSB first.
pub const CRC32_POLY_BE: u32 = 0x04c1_1db7;
/// CRC-32C (Castagnoli), reflected.
pub const CRC32C_POLY_LE: u32 = 0x82f6_3b78;

/// A reflected (LSB-first) table for `poly` of width <= 32.
fn table_lsb(poly: u32) -> [u32; 256] {
    let mut t = [0u32; 256];
    for (i, e) in t.iter_mut().enumerate() {
        let mut c = i as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 { (c >> 1) ^ poly } else { c >> 1 };
        }
        *e = c;
    }
    t
}

/// An MSB-first table for a `width`-bit `poly`.
fn table_msb(poly: u32, width: u32) -> [u32; 256] {
    let top = 1u32 << (width - 1);
    let mask = if width == 32 { !0 } else { (1 << width) - 1 };
    let mut t = [0u32; 256];
    for (i, e) in t.iter_mut().enumerate() {
        let mut c = (i as u32) << (width - 8);
        for _ in 0..8 {
            c = if c & top != 0 {
                (c << 1) ^ poly
            } else {
                c << 1
            };
        }
        *e = c & mask;
    }
    t
}

macro_rules! table {
    ($name:ident, $init:expr) => {
        fn $name() -> &'static [u32; 256] {
            static T: OnceLock<[u32; 256]> = OnceLock::new();
            T.get_or_init(|| $init)
        }
    };
}

table!(t_crc32_le, table_lsb(CRC32_POLY_LE));
table!(t_crc32c, table_lsb(CRC32C_POLY_LE));
table!(t_crc32_be, table_msb(CRC32_POLY_BE, 32));
table!(t_ccitt, table_lsb(0x8408));
table!(t_ccitt_false, table_msb(0x1021, 16));
table!(t_t10dif, table_msb(0x8bb7, 16));
table!(t_crc16, table_lsb(0xa001));
// CRC-7 (x^7 + x^3 + 1) kept left-aligned in a byte: an 8-bit MSB-first
// table of the polynomial shifted up by one.
table!(t_crc7_be, table_msb(0x12, 8));

fn lsb(t: &[u32; 256], mut crc: u32, p: &[u8]) -> u32 {
    for &b in p {
        crc = (crc >> 8) ^ t[((crc ^ u32::from(b)) & 0xff) as usize];
    }
    crc
}

fn msb(t: &[u32; 256], width: u32, mut crc: u32, p: &[u8]) -> u32 {
    let mask = if width == 32 { !0 } else { (1u32 << width) - 1 };
    for &b in p {
        crc = ((crc << 8) ^ t[(((crc >> (width - 8)) ^ u32::from(b)) & 0xff) as usize]) & mask;
    }
    crc
}

pub fn crc32_le(crc: u32, p: &[u8]) -> u32 {
    lsb(t_crc32_le(), crc, p)
}

pub fn crc32_be(crc: u32, p: &[u8]) -> u32 {
    msb(t_crc32_be(), 32, crc, p)
}

pub fn crc32c_le(crc: u32, p: &[u8]) -> u32 {
    lsb(t_crc32c(), crc, p)
}

pub fn crc_ccitt(crc: u16, p: &[u8]) -> u16 {
    lsb(t_ccitt(), u32::from(crc), p) as u16
}

pub fn crc_ccitt_false(crc: u16, p: &[u8]) -> u16 {
    msb(t_ccitt_false(), 16, u32::from(crc), p) as u16
}

pub fn crc_t10dif(p: &[u8]) -> u16 {
    msb(t_t10dif(), 16, 0, p) as u16
}

pub fn crc16(crc: u16, p: &[u8]) -> u16 {
    lsb(t_crc16(), u32::from(crc), p) as u16
}

pub fn crc_itu_t(crc: u16, p: &[u8]) -> u16 {
    msb(t_ccitt_false(), 16, u32::from(crc), p) as u16
}

pub fn crc7_be(crc: u8, p: &[u8]) -> u8 {
    msb(t_crc7_be(), 8, u32::from(crc), p) as u8
}

/// The `crc8_populate_msb`/`_lsb` table of an 8-bit polynomial.
pub fn crc8_table(poly: u8, msb_first: bool) -> [u8; 256] {
    let t = if msb_first {
        table_msb(u32::from(poly), 8)
    } else {
        table_lsb(u32::from(poly))
    };
    t.map(|e| e as u8)
}

fn buf(func: &str, a: &CallArgs, p: usize, len: usize) -> Option<Vec<u8>> {
    read(func, "the buffer", a.arg(p), a.arg(len))
}

/// `u32 crc32_le(u32 crc, const u8 *p, size_t len)`.
fn sys_crc32_le(a: &mut CallArgs) -> u64 {
    buf("crc32_le", a, 1, 2).map_or(0, |b| u64::from(crc32_le(a.arg(0) as u32, &b)))
}

fn sys_crc32_be(a: &mut CallArgs) -> u64 {
    buf("crc32_be", a, 1, 2).map_or(0, |b| u64::from(crc32_be(a.arg(0) as u32, &b)))
}

fn sys_crc32c_le(a: &mut CallArgs) -> u64 {
    buf("__crc32c_le", a, 1, 2).map_or(0, |b| u64::from(crc32c_le(a.arg(0) as u32, &b)))
}

/// `u16 crc_ccitt(u16 crc, const u8 *buffer, size_t len)`.
fn sys_crc_ccitt(a: &mut CallArgs) -> u64 {
    buf("crc_ccitt", a, 1, 2).map_or(0, |b| u64::from(crc_ccitt(a.arg(0) as u16, &b)))
}

fn sys_crc_ccitt_false(a: &mut CallArgs) -> u64 {
    buf("crc_ccitt_false", a, 1, 2).map_or(0, |b| u64::from(crc_ccitt_false(a.arg(0) as u16, &b)))
}

/// `__u16 crc_t10dif(const unsigned char *buffer, size_t len)`.
fn sys_crc_t10dif(a: &mut CallArgs) -> u64 {
    buf("crc_t10dif", a, 0, 1).map_or(0, |b| u64::from(crc_t10dif(&b)))
}

/// `u16 crc16(u16 crc, const u8 *buffer, size_t len)`.
fn sys_crc16(a: &mut CallArgs) -> u64 {
    buf("crc16", a, 1, 2).map_or(0, |b| u64::from(crc16(a.arg(0) as u16, &b)))
}

/// `u16 crc_itu_t(u16 crc, const u8 *buffer, size_t len)`.
fn sys_crc_itu_t(a: &mut CallArgs) -> u64 {
    buf("crc_itu_t", a, 1, 2).map_or(0, |b| u64::from(crc_itu_t(a.arg(0) as u16, &b)))
}

/// `u8 crc7_be(u8 crc, const u8 *buffer, size_t len)`.
fn sys_crc7_be(a: &mut CallArgs) -> u64 {
    buf("crc7_be", a, 1, 2).map_or(0, |b| u64::from(crc7_be(a.arg(0) as u8, &b)))
}

fn populate(func: &str, a: &CallArgs, msb_first: bool) -> u64 {
    let table = crc8_table(a.arg(1) as u8, msb_first);
    write(func, "the table", a.arg(0), &table);
    0
}

/// `void crc8_populate_msb(u8 table[256], u8 polynomial)`.
fn sys_crc8_populate_msb(a: &mut CallArgs) -> u64 {
    populate("crc8_populate_msb", a, true)
}

/// `void crc8_populate_lsb(u8 table[256], u8 polynomial)`.
fn sys_crc8_populate_lsb(a: &mut CallArgs) -> u64 {
    populate("crc8_populate_lsb", a, false)
}

/// `u8 crc8(const u8 table[256], const u8 *pdata, size_t nbytes, u8 crc)`.
fn sys_crc8(a: &mut CallArgs) -> u64 {
    let (Some(table), Some(data)) = (
        read("crc8", "the table", a.arg(0), 256),
        buf("crc8", a, 1, 2),
    ) else {
        return 0;
    };
    let crc = data
        .iter()
        .fold(a.arg(3) as u8, |crc, &b| table[usize::from(crc ^ b)]);
    u64::from(crc)
}

fn u16_table(t: &[u32; 256]) -> Vec<u8> {
    t.iter().flat_map(|&e| (e as u16).to_le_bytes()).collect()
}

fn crc16_table(_: &DataCtx<'_>) -> Result<Vec<u8>, MissingField> {
    Ok(u16_table(t_crc16()))
}

fn crc_itu_t_table(_: &DataCtx<'_>) -> Result<Vec<u8>, MissingField> {
    Ok(u16_table(t_ccitt_false()))
}

fn crc7_be_syndrome_table(_: &DataCtx<'_>) -> Result<Vec<u8>, MissingField> {
    Ok(t_crc7_be().iter().map(|&e| e as u8).collect())
}

pub(super) fn register(r: &mut Registry) {
    r.func("crc16", sys_crc16);
    r.func("crc_itu_t", sys_crc_itu_t);
    r.func("crc7_be", sys_crc7_be);
    r.func("crc8_populate_msb", sys_crc8_populate_msb);
    r.func("crc8_populate_lsb", sys_crc8_populate_lsb);
    r.func("crc8", sys_crc8);
    r.data("crc16_table", Access::ReadOnly, crc16_table);
    r.data("crc_itu_t_table", Access::ReadOnly, crc_itu_t_table);
    r.data(
        "crc7_be_syndrome_table",
        Access::ReadOnly,
        crc7_be_syndrome_table,
    );
    r.func("crc32_le", sys_crc32_le);
    r.func("crc32_be", sys_crc32_be);
    r.func("__crc32c_le", sys_crc32c_le);
    r.func("crc_ccitt", sys_crc_ccitt);
    r.func("crc_ccitt_false", sys_crc_ccitt_false);
    r.func("crc_t10dif", sys_crc_t10dif);
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHECK: &[u8] = b"123456789";

    #[test]
    fn check_values() {
        // The catalogue "check" values of each CRC over "123456789".
        assert_eq!(crc32_le(!0, CHECK) ^ !0, 0xcbf4_3926);
        assert_eq!(crc32_be(!0, CHECK) ^ !0, 0xfc89_1918);
        assert_eq!(crc32c_le(!0, CHECK) ^ !0, 0xe306_9283);
        assert_eq!(crc_ccitt(0, CHECK), 0x2189);
        assert_eq!(crc_ccitt(0xffff, CHECK) ^ 0xffff, 0x906e);
        assert_eq!(crc_ccitt_false(0xffff, CHECK), 0x29b1);
        assert_eq!(crc_t10dif(CHECK), 0xd0db);
        assert_eq!(crc16(0, CHECK), 0xbb3d); // CRC-16/ARC
        assert_eq!(crc_itu_t(0, CHECK), 0x31c3); // CRC-16/XMODEM
        assert_eq!(crc7_be(0, CHECK) >> 1, 0x75); // CRC-7/MMC
        let smbus = crc8_table(0x07, true);
        assert_eq!(
            CHECK.iter().fold(0u8, |c, &b| smbus[usize::from(c ^ b)]),
            0xf4
        );
        // CRC-8/MAXIM-DOW: 0x31 reflected is 0x8c.
        let maxim = crc8_table(0x8c, false);
        assert_eq!(
            CHECK.iter().fold(0u8, |c, &b| maxim[usize::from(c ^ b)]),
            0xa1
        );
        assert_eq!(t_crc7_be()[1], 0x12);
        assert_eq!(crc32_le(0, b""), 0);
        assert_eq!(t_crc32_le()[1], 0x7707_3096);
    }

    #[test]
    fn incremental() {
        let whole = crc32_le(!0, CHECK);
        assert_eq!(crc32_le(crc32_le(!0, &CHECK[..4]), &CHECK[4..]), whole);
    }
}
