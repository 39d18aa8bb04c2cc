//! CRCs (lib/crc32.c, lib/crc-ccitt.c, lib/crc-t10dif.c), the ones vmlinux
//! exports: `crc32_le`, `crc32_be`, `__crc32c_le`, `crc_ccitt`,
//! `crc_ccitt_false` (6.1) and `crc_t10dif` (6.12). `crc16`, `crc7_be`,
//! `crc8` and `crc_itu_t` live in modules of their own (crc16.ko, ...),
//! not in vmlinux, so kload does not offer them.
//!
//! The tables are computed here from the polynomials, byte-at-a-time, and
//! give the kernel's results (no pre- or post-inversion: callers do that).

use std::sync::OnceLock;

use super::string::read;
use super::symbols::Registry;
use crate::exec::dispatch::CallArgs;

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

pub(super) fn register(r: &mut Registry) {
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
        assert_eq!(crc32_le(0, b""), 0);
        assert_eq!(t_crc32_le()[1], 0x7707_3096);
    }

    #[test]
    fn incremental() {
        let whole = crc32_le(!0, CHECK);
        assert_eq!(crc32_le(crc32_le(!0, &CHECK[..4]), &CHECK[4..]), whole);
    }
}
