//! Random numbers (drivers/char/random.c): `get_random_bytes`,
//! `get_random_u8/u16/u32/u64` and `__get_random_u32_below`.
//!
//! Each kernel instance has its own generator (a ChaCha-free xoshiro256**,
//! nothing here is cryptographic), seeded from the host's entropy unless
//! `set_seed` fixes it for a deterministic run.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use super::string::write;
use super::symbols::Registry;
use super::Kernel;
use crate::exec::dispatch::CallArgs;
use crate::exec::task;

/// xoshiro256**.
#[derive(Debug, Clone)]
pub struct Rng([u64; 4]);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // splitmix64 spreads the seed over the state.
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        Rng([next(), next(), next(), next()])
    }

    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let r = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        r
    }

    pub fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// Generators by kernel instance (its address).
fn states() -> &'static Mutex<HashMap<usize, Rng>> {
    static S: OnceLock<Mutex<HashMap<usize, Rng>>> = OnceLock::new();
    S.get_or_init(Mutex::default)
}

fn key(k: &Kernel) -> usize {
    k as *const Kernel as usize
}

/// Make kernel `k`'s random numbers a function of `seed`.
pub fn set_seed(k: &Kernel, seed: u64) {
    let mut s = states().lock().unwrap_or_else(|p| p.into_inner());
    s.insert(key(k), Rng::new(seed));
}

fn with_rng<R>(f: impl FnOnce(&mut Rng) -> R) -> R {
    let k = task::current_kernel();
    let id = k.as_deref().map_or(0, key);
    let mut s = states().lock().unwrap_or_else(|p| p.into_inner());
    let rng = s
        .entry(id)
        .or_insert_with(|| Rng::new(crate::host::random_u64()));
    f(rng)
}

/// `void get_random_bytes(void *buf, size_t len)`.
fn sys_get_random_bytes(a: &mut CallArgs) -> u64 {
    let len = a.arg(1);
    if len > super::string::MAX_RANGE {
        super::string::bad_access_rw("get_random_bytes", "the buffer", a.arg(0), len, true);
        return 0;
    }
    let mut buf = vec![0u8; len as usize];
    with_rng(|r| r.fill(&mut buf));
    write("get_random_bytes", "the buffer", a.arg(0), &buf);
    0
}

fn sys_get_random_u64(_: &mut CallArgs) -> u64 {
    with_rng(Rng::next_u64)
}

fn sys_get_random_u32(_: &mut CallArgs) -> u64 {
    with_rng(|r| r.next_u64() & 0xffff_ffff)
}

fn sys_get_random_u16(_: &mut CallArgs) -> u64 {
    with_rng(|r| r.next_u64() & 0xffff)
}

fn sys_get_random_u8(_: &mut CallArgs) -> u64 {
    with_rng(|r| r.next_u64() & 0xff)
}

/// `u32 __get_random_u32_below(u32 ceil)`: uniform in [0, ceil), by the
/// kernel's multiply-and-reject method (ceil 0 gives 0).
fn sys_get_random_u32_below(a: &mut CallArgs) -> u64 {
    let ceil = a.arg(0) as u32;
    u64::from(with_rng(|r| below(ceil, || r.next_u64() as u32)))
}

/// Lemire's method, as random.c's `__get_random_u32_below`.
pub fn below(ceil: u32, mut next: impl FnMut() -> u32) -> u32 {
    let mut mult = u64::from(ceil) * u64::from(next());
    if (mult as u32) < ceil {
        let bound = ceil.wrapping_neg() % ceil.max(1);
        while (mult as u32) < bound {
            mult = u64::from(ceil) * u64::from(next());
        }
    }
    (mult >> 32) as u32
}

pub(super) fn register(r: &mut Registry) {
    r.func("get_random_bytes", sys_get_random_bytes);
    r.func("get_random_u64", sys_get_random_u64);
    r.func("get_random_u32", sys_get_random_u32);
    r.func("get_random_u16", sys_get_random_u16);
    r.func("get_random_u8", sys_get_random_u8);
    r.func("__get_random_u32_below", sys_get_random_u32_below);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_is_deterministic() {
        let (mut a, mut b) = (Rng::new(42), Rng::new(42));
        let (mut x, mut y) = ([0u8; 13], [0u8; 13]);
        a.fill(&mut x);
        b.fill(&mut y);
        assert_eq!(x, y);
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }

    #[test]
    fn below_is_in_range() {
        let mut r = Rng::new(7);
        for ceil in [1u32, 2, 3, 10, 1000, u32::MAX] {
            for _ in 0..100 {
                assert!(below(ceil, || r.next_u64() as u32) < ceil);
            }
        }
        assert_eq!(below(0, || 5), 0);
    }
}
