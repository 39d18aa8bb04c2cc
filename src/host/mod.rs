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
