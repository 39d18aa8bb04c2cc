//! The stub kernel's only ways out to the host: entropy and the clock.
//! (Threads live in `exec::task`, memory in `mm`.)

/// 64 random bits from the host (`getrandom`), or a clock-derived value
/// if the host has none to give.
pub fn random_u64() -> u64 {
    let mut buf = [0u8; 8];
    // SAFETY: getrandom writes at most buf.len() bytes into buf, which is a
    // live, exclusively borrowed local array.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n == buf.len() as isize {
        return u64::from_le_bytes(buf);
    }
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (t.as_nanos() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// Use one malloc arena for the whole process. Kernel tasks run one at a
/// time, so glibc's per-thread arenas would only cost each task thread its
/// own 128 MiB reservation and page faults. Call it first thing in `main`.
pub fn single_malloc_arena() {
    // SAFETY: mallopt only sets an allocator tunable; changing the arena
    // limit is allowed at any time and affects only future thread arenas.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) };
}

/// FNV-1a, for the name-keyed tables kload builds at every start (the stub
/// table, data symbols): their keys are kload's own symbol names, not
/// attacker-chosen, so SipHash's flood resistance buys nothing and its cost
/// shows in the start-up profile.
#[derive(Clone, Copy)]
pub struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Fnv1a {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// A `HashMap` keyed by names, hashed with FNV-1a.
pub type NameMap<K, V> = std::collections::HashMap<K, V, std::hash::BuildHasherDefault<Fnv1a>>;

#[cfg(test)]
mod tests {
    use std::hash::Hasher;

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        let h = |s: &[u8]| {
            let mut f = super::Fnv1a::default();
            f.write(s);
            f.finish()
        };
        assert_eq!(h(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(h(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(h(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
