//! Memory rendered byte by byte: `%ph` hex buffers, `%pb`/`%pbl` bitmaps,
//! `%pU` UUIDs and `%pE` escaped strings.

use super::ctype::is_print;
use super::{
    at, le_u64, number, push_hex_byte, put_string, Spec, Writer, DEC_SPEC, SMALL, ZEROPAD,
};

// --- %ph, %pb, %pbl, %pU, %pE -----------------------------------------------

impl Writer<'_> {
    /// Width = byte count (default 1, at most 64); nothing for width 0.
    pub(super) fn hex_string(&mut self, ptr: u64, spec: Spec, ext: &[u8]) {
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
    pub(super) fn bitmap_string(&mut self, ptr: u64, spec: Spec) {
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
    pub(super) fn bitmap_list_string(&mut self, ptr: u64, spec: Spec) {
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

    pub(super) fn uuid_string(&mut self, ptr: u64, spec: Spec, ext: &[u8]) {
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
    pub(super) fn escaped_string(&mut self, ptr: u64, spec: Spec, ext: &[u8]) {
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
