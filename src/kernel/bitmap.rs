//! Bitmaps: lib/find_bit.c (`_find_*_bit`), lib/bitmap.c (`__bitmap_*`)
//! and lib/hweight.c (`__sw_hweight*`).
//!
//! A bitmap is an array of `unsigned long` words, bit `i` in word `i / 64`.
//! The operations read and write whole words as the kernel does: `or`,
//! `xor` and `complement` write every word of the last partial one, `and`,
//! `andnot`, `equal`, `weight` mask the bits past `nbits` off.

use super::string::{read, write, MAX_RANGE};
use super::symbols::Registry;
use crate::exec::dispatch::CallArgs;

const BITS: u64 = 64;

fn words(nbits: u64) -> u64 {
    nbits.div_ceil(BITS)
}

/// `BITMAP_LAST_WORD_MASK(nbits)`.
fn last_word_mask(nbits: u64) -> u64 {
    !0u64 >> (nbits.wrapping_neg() & (BITS - 1))
}

fn load(func: &str, addr: u64, nwords: u64) -> Option<Vec<u64>> {
    if nwords > MAX_RANGE / 8 {
        super::string::bad_access(func, "a bitmap", addr, nwords.wrapping_mul(8));
        return None;
    }
    let b = read(func, "a bitmap", addr, nwords * 8)?;
    Some(
        b.chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
            .collect(),
    )
}

fn store(func: &str, addr: u64, w: &[u64]) -> bool {
    let bytes: Vec<u8> = w.iter().flat_map(|x| x.to_le_bytes()).collect();
    write(func, "a bitmap", addr, &bytes)
}

/// `_find_next_bit` and friends: the first set bit of `word(i)` at or after
/// `start`, below `size`; `size` if none.
pub fn find_next(size: u64, start: u64, word: impl Fn(usize) -> u64) -> u64 {
    if start >= size {
        return size;
    }
    let mut idx = start / BITS;
    let mut w = word(idx as usize) & (!0u64 << (start % BITS));
    loop {
        if w != 0 {
            return (idx * BITS + u64::from(w.trailing_zeros())).min(size);
        }
        idx += 1;
        if idx * BITS >= size {
            return size;
        }
        w = word(idx as usize);
    }
}

/// `_find_last_bit`: the last set bit below `size`, or `size`.
pub fn find_last(size: u64, w: &[u64]) -> u64 {
    if size == 0 {
        return 0;
    }
    let mut idx = (size - 1) / BITS;
    let mut mask = last_word_mask(size);
    loop {
        let v = w[idx as usize] & mask;
        if v != 0 {
            return idx * BITS + 63 - u64::from(v.leading_zeros());
        }
        if idx == 0 {
            return size;
        }
        idx -= 1;
        mask = !0;
    }
}

/// `__bitmap_weight`.
pub fn weight(w: &[u64], nbits: u64) -> u64 {
    let full = (nbits / BITS) as usize;
    let mut n: u64 = w[..full].iter().map(|x| u64::from(x.count_ones())).sum();
    if nbits % BITS != 0 {
        n += u64::from((w[full] & last_word_mask(nbits)).count_ones());
    }
    n
}

/// `__bitmap_shift_right`.
pub fn shift_right(src: &[u64], shift: u64, nbits: u64) -> Vec<u64> {
    let lim = words(nbits);
    let (off, rem) = (shift / BITS, shift % BITS);
    let mask = last_word_mask(nbits);
    let mut dst = src.to_vec();
    let mut k = 0;
    while off + k < lim {
        let upper = if rem == 0 || off + k + 1 >= lim {
            0
        } else {
            let mut u = src[(off + k + 1) as usize];
            if off + k + 1 == lim - 1 {
                u &= mask;
            }
            u << (BITS - rem)
        };
        let mut lower = src[(off + k) as usize];
        if off + k == lim - 1 {
            lower &= mask;
        }
        dst[k as usize] = (lower >> rem) | upper;
        k += 1;
    }
    if off > 0 {
        for x in &mut dst[lim.saturating_sub(off) as usize..] {
            *x = 0;
        }
    }
    dst
}

/// `__bitmap_shift_left`.
pub fn shift_left(src: &[u64], shift: u64, nbits: u64) -> Vec<u64> {
    let lim = words(nbits) as i64;
    let (off, rem) = ((shift / BITS) as i64, shift % BITS);
    let mut dst = src.to_vec();
    let mut k = lim - off - 1;
    while k >= 0 {
        let lower = if rem != 0 && k > 0 {
            src[(k - 1) as usize] >> (BITS - rem)
        } else {
            0
        };
        dst[(k + off) as usize] = lower | (src[k as usize] << rem);
        k -= 1;
    }
    for x in dst.iter_mut().take(off.min(lim).max(0) as usize) {
        *x = 0;
    }
    dst
}

/// Set (`on`) or clear `len` bits from `start`.
pub fn set_range(w: &mut [u64], start: u64, len: u64, on: bool) {
    for i in start..start + len {
        let (word, bit) = ((i / BITS) as usize, i % BITS);
        if on {
            w[word] |= 1 << bit;
        } else {
            w[word] &= !(1 << bit);
        }
    }
}

// ---------------------------------------------------------------------------
// Stubs
// ---------------------------------------------------------------------------

fn find_stub(
    a: &CallArgs,
    func: &str,
    maps: usize,
    size: u64,
    start: u64,
    combine: fn(&[Vec<u64>], usize) -> u64,
) -> u64 {
    if start >= size {
        return size;
    }
    let n = words(size);
    let mut loaded = Vec::new();
    for i in 0..maps {
        match load(func, a.arg(i), n) {
            Some(w) => loaded.push(w),
            None => return size,
        }
    }
    find_next(size, start, |i| combine(&loaded, i))
}

fn sys_find_next_bit(a: &mut CallArgs) -> u64 {
    find_stub(a, "_find_next_bit", 1, a.arg(1), a.arg(2), |m, i| m[0][i])
}

fn sys_find_first_bit(a: &mut CallArgs) -> u64 {
    find_stub(a, "_find_first_bit", 1, a.arg(1), 0, |m, i| m[0][i])
}

fn sys_find_next_zero_bit(a: &mut CallArgs) -> u64 {
    find_stub(a, "_find_next_zero_bit", 1, a.arg(1), a.arg(2), |m, i| {
        !m[0][i]
    })
}

fn sys_find_first_zero_bit(a: &mut CallArgs) -> u64 {
    find_stub(a, "_find_first_zero_bit", 1, a.arg(1), 0, |m, i| !m[0][i])
}

fn sys_find_next_and_bit(a: &mut CallArgs) -> u64 {
    find_stub(a, "_find_next_and_bit", 2, a.arg(2), a.arg(3), |m, i| {
        m[0][i] & m[1][i]
    })
}

fn sys_find_next_andnot_bit(a: &mut CallArgs) -> u64 {
    find_stub(a, "_find_next_andnot_bit", 2, a.arg(2), a.arg(3), |m, i| {
        m[0][i] & !m[1][i]
    })
}

fn sys_find_last_bit(a: &mut CallArgs) -> u64 {
    let size = a.arg(1);
    if size == 0 {
        return 0;
    }
    load("_find_last_bit", a.arg(0), words(size)).map_or(size, |w| find_last(size, &w))
}

fn sys_bitmap_weight(a: &mut CallArgs) -> u64 {
    let nbits = u64::from(a.arg(1) as u32);
    load("__bitmap_weight", a.arg(0), words(nbits)).map_or(0, |w| weight(&w, nbits))
}

fn sys_bitmap_weight_and(a: &mut CallArgs) -> u64 {
    let nbits = u64::from(a.arg(2) as u32);
    let f = "__bitmap_weight_and";
    let (Some(x), Some(y)) = (
        load(f, a.arg(0), words(nbits)),
        load(f, a.arg(1), words(nbits)),
    ) else {
        return 0;
    };
    let w: Vec<u64> = x.iter().zip(&y).map(|(p, q)| p & q).collect();
    weight(&w, nbits)
}

/// Binary operations `dst = op(src1, src2)` over `nbits` (arg 3).
/// `masked`: the last partial word is masked (and/andnot), and the return
/// value says whether any bit is set.
fn binop(a: &CallArgs, func: &str, masked: bool, op: fn(u64, u64) -> u64) -> u64 {
    let nbits = u64::from(a.arg(3) as u32);
    let n = words(nbits);
    let (Some(x), Some(y)) = (load(func, a.arg(1), n), load(func, a.arg(2), n)) else {
        return 0;
    };
    let mut d: Vec<u64> = x.iter().zip(&y).map(|(&p, &q)| op(p, q)).collect();
    if masked && nbits % BITS != 0 {
        if let Some(last) = d.last_mut() {
            *last &= last_word_mask(nbits);
        }
    }
    let any = d.iter().any(|&w| w != 0);
    store(func, a.arg(0), &d);
    u64::from(masked && any)
}

fn sys_bitmap_and(a: &mut CallArgs) -> u64 {
    binop(a, "__bitmap_and", true, |p, q| p & q)
}

fn sys_bitmap_andnot(a: &mut CallArgs) -> u64 {
    binop(a, "__bitmap_andnot", true, |p, q| p & !q)
}

fn sys_bitmap_or(a: &mut CallArgs) -> u64 {
    binop(a, "__bitmap_or", false, |p, q| p | q);
    0
}

fn sys_bitmap_xor(a: &mut CallArgs) -> u64 {
    binop(a, "__bitmap_xor", false, |p, q| p ^ q);
    0
}

fn sys_bitmap_complement(a: &mut CallArgs) -> u64 {
    let nbits = u64::from(a.arg(2) as u32);
    if let Some(w) = load("__bitmap_complement", a.arg(1), words(nbits)) {
        let d: Vec<u64> = w.iter().map(|x| !x).collect();
        store("__bitmap_complement", a.arg(0), &d);
    }
    0
}

/// Predicates over two bitmaps (`equal`, `intersects`, `subset`), the last
/// partial word masked.
fn pred(a: &CallArgs, func: &str, f: fn(&[u64], &[u64]) -> bool) -> u64 {
    let nbits = u64::from(a.arg(2) as u32);
    let n = words(nbits);
    let (Some(mut x), Some(mut y)) = (load(func, a.arg(0), n), load(func, a.arg(1), n)) else {
        return 0;
    };
    if nbits % BITS != 0 {
        let m = last_word_mask(nbits);
        if let (Some(p), Some(q)) = (x.last_mut(), y.last_mut()) {
            *p &= m;
            *q &= m;
        }
    }
    u64::from(f(&x, &y))
}

fn sys_bitmap_equal(a: &mut CallArgs) -> u64 {
    pred(a, "__bitmap_equal", |x, y| x == y)
}

fn sys_bitmap_intersects(a: &mut CallArgs) -> u64 {
    pred(a, "__bitmap_intersects", |x, y| {
        x.iter().zip(y).any(|(p, q)| p & q != 0)
    })
}

fn sys_bitmap_subset(a: &mut CallArgs) -> u64 {
    pred(a, "__bitmap_subset", |x, y| {
        x.iter().zip(y).all(|(p, q)| p & !q == 0)
    })
}

/// `void __bitmap_replace(dst, old, new, mask, nbits)`.
fn sys_bitmap_replace(a: &mut CallArgs) -> u64 {
    let f = "__bitmap_replace";
    let nbits = u64::from(a.arg(4) as u32);
    let n = words(nbits);
    let (Some(old), Some(new), Some(mask)) = (
        load(f, a.arg(1), n),
        load(f, a.arg(2), n),
        load(f, a.arg(3), n),
    ) else {
        return 0;
    };
    let d: Vec<u64> = (0..n as usize)
        .map(|i| (old[i] & !mask[i]) | (new[i] & mask[i]))
        .collect();
    store(f, a.arg(0), &d);
    0
}

/// `__bitmap_set`/`__bitmap_clear(map, start, len)`: only the words the
/// range touches are written.
fn range_stub(a: &CallArgs, func: &str, on: bool) -> u64 {
    let (map, start, len) = (
        a.arg(0),
        u64::from(a.arg(1) as u32),
        u64::from(a.arg(2) as u32),
    );
    if len == 0 {
        return 0;
    }
    let (first, last) = (start / BITS, (start + len - 1) / BITS);
    if let Some(mut w) = load(func, map + first * 8, last - first + 1) {
        set_range(&mut w, start - first * BITS, len, on);
        store(func, map + first * 8, &w);
    }
    0
}

fn sys_bitmap_set(a: &mut CallArgs) -> u64 {
    range_stub(a, "__bitmap_set", true)
}

fn sys_bitmap_clear(a: &mut CallArgs) -> u64 {
    range_stub(a, "__bitmap_clear", false)
}

/// `__bitmap_shift_{left,right}(dst, src, shift, nbits)`.
fn shift_stub(a: &CallArgs, func: &str, left: bool) -> u64 {
    let (shift, nbits) = (u64::from(a.arg(2) as u32), u64::from(a.arg(3) as u32));
    if let Some(src) = load(func, a.arg(1), words(nbits)) {
        let d = if left {
            shift_left(&src, shift, nbits)
        } else {
            shift_right(&src, shift, nbits)
        };
        store(func, a.arg(0), &d);
    }
    0
}

fn sys_bitmap_shift_left(a: &mut CallArgs) -> u64 {
    shift_stub(a, "__bitmap_shift_left", true)
}

fn sys_bitmap_shift_right(a: &mut CallArgs) -> u64 {
    shift_stub(a, "__bitmap_shift_right", false)
}

fn sys_sw_hweight32(a: &mut CallArgs) -> u64 {
    u64::from((a.arg(0) as u32).count_ones())
}

fn sys_sw_hweight64(a: &mut CallArgs) -> u64 {
    u64::from(a.arg(0).count_ones())
}

pub(super) fn register(r: &mut Registry) {
    r.func("_find_next_bit", sys_find_next_bit);
    r.func("_find_first_bit", sys_find_first_bit);
    r.func("_find_next_zero_bit", sys_find_next_zero_bit);
    r.func("_find_first_zero_bit", sys_find_first_zero_bit);
    r.func("_find_next_and_bit", sys_find_next_and_bit);
    r.func("_find_next_andnot_bit", sys_find_next_andnot_bit);
    r.func("_find_last_bit", sys_find_last_bit);
    r.func("__bitmap_weight", sys_bitmap_weight);
    r.func("__bitmap_weight_and", sys_bitmap_weight_and);
    r.func("__bitmap_and", sys_bitmap_and);
    r.func("__bitmap_andnot", sys_bitmap_andnot);
    r.func("__bitmap_or", sys_bitmap_or);
    r.func("__bitmap_xor", sys_bitmap_xor);
    r.func("__bitmap_complement", sys_bitmap_complement);
    r.func("__bitmap_equal", sys_bitmap_equal);
    r.func("__bitmap_intersects", sys_bitmap_intersects);
    r.func("__bitmap_subset", sys_bitmap_subset);
    r.func("__bitmap_replace", sys_bitmap_replace);
    r.func("__bitmap_set", sys_bitmap_set);
    r.func("__bitmap_clear", sys_bitmap_clear);
    r.func("__bitmap_shift_left", sys_bitmap_shift_left);
    r.func("__bitmap_shift_right", sys_bitmap_shift_right);
    r.func("__sw_hweight32", sys_sw_hweight32);
    r.func("__sw_hweight64", sys_sw_hweight64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_bits() {
        let w = [0b1010_0000u64, 0, 1 << 3];
        let f = |i: usize| w[i];
        assert_eq!(find_next(192, 0, f), 5);
        assert_eq!(find_next(192, 6, f), 7);
        assert_eq!(find_next(192, 8, f), 131);
        assert_eq!(find_next(130, 8, f), 130);
        assert_eq!(find_next(192, 132, f), 192);
        assert_eq!(find_next(6, 0, f), 5);
        assert_eq!(find_next(5, 0, f), 5);
        assert_eq!(find_next(192, 0, |i| !w[i]), 0);
        assert_eq!(find_last(192, &w), 131);
        assert_eq!(find_last(100, &w), 7);
        assert_eq!(find_last(5, &w), 5);
    }

    #[test]
    fn weight_and_ranges() {
        let mut w = vec![0u64; 3];
        set_range(&mut w, 60, 10, true);
        assert_eq!(w[0], 0xf << 60);
        assert_eq!(w[1], 0x3f);
        assert_eq!(weight(&w, 192), 10);
        assert_eq!(weight(&w, 62), 2);
        set_range(&mut w, 62, 4, false);
        assert_eq!(weight(&w, 192), 6);
        assert_eq!(last_word_mask(64), !0);
        assert_eq!(last_word_mask(3), 7);
    }

    #[test]
    fn shifts() {
        let src = vec![0x8000_0000_0000_0001u64, 0x1];
        assert_eq!(shift_left(&src, 1, 128), [2, 3]);
        assert_eq!(shift_left(&src, 64, 128), [0, 0x8000_0000_0000_0001]);
        assert_eq!(shift_right(&src, 1, 128), [0xc000_0000_0000_0000, 0]);
        assert_eq!(shift_right(&src, 64, 128), [1, 0]);
        // Bits past nbits are masked off before shifting right.
        assert_eq!(shift_right(&[0, !0], 4, 66), [0x3 << 60, 0]);
    }
}
