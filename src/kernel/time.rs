//! Time (kernel/time/): `jiffies`, the jiffies conversions, sleeping and
//! delays, and the ktime clocks.
//!
//! `jiffies` (and `jiffies_64`, the same counter under its other name) are
//! writable data symbols holding a u64 that starts at the kernel's
//! `INITIAL_JIFFIES` (5 minutes before wrap-around of its low 32 bits) and
//! advances with host time at `HZ` = 250 (`CONFIG_HZ` of both Debian
//! kernels). kload cannot tick: the counter is brought up to date lazily by
//! every stub here, and by whoever calls `update_jiffies` (the dispatcher
//! or the task switch, for module code that polls `jiffies` inline).
//!
//! Sleeps (`msleep`, `schedule_timeout`) are blocking points: the task
//! gives the one CPU up until its time is over, so timers, workers and
//! kthreads run meanwhile. Delays (`udelay`, `usleep_range`) busy-wait in
//! the kernel; here they sleep the host thread holding the CPU.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::string::write;
use super::symbols::{Access, DataCtx, Registry};
use super::Kernel;
use crate::exec::dispatch::CallArgs;
use crate::exec::task;
use crate::mm;
use crate::profile::MissingField;

/// `CONFIG_HZ` of Debian's 6.1 and 6.12 kernels.
pub const HZ: u64 = 250;
/// `INITIAL_JIFFIES`: `(unsigned long)(unsigned int)(-300 * HZ)`.
pub const INITIAL_JIFFIES: u64 = (-300i64 * HZ as i64) as u32 as u64;
/// `MAX_JIFFY_OFFSET`: `(LONG_MAX >> 1) - 1`.
pub const MAX_JIFFY_OFFSET: u64 = ((i64::MAX >> 1) - 1) as u64;
/// `MAX_SCHEDULE_TIMEOUT`: `LONG_MAX`.
pub const MAX_SCHEDULE_TIMEOUT: u64 = i64::MAX as u64;
const NSEC_PER_SEC: u64 = 1_000_000_000;

/// When each kernel instance's clocks started (first use).
fn start_of(k: &Kernel) -> Instant {
    static S: OnceLock<Mutex<HashMap<usize, Instant>>> = OnceLock::new();
    let mut m = S
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    *m.entry(k as *const Kernel as usize)
        .or_insert_with(Instant::now)
}

/// Nanoseconds of `CLOCK_MONOTONIC` for the current kernel.
fn mono_ns() -> u64 {
    match task::current_kernel() {
        Some(k) => start_of(&k).elapsed().as_nanos() as u64,
        None => 0,
    }
}

/// The jiffies count `ns` after boot.
pub fn jiffies_at(ns: u64) -> u64 {
    INITIAL_JIFFIES.wrapping_add(ns / (NSEC_PER_SEC / HZ))
}

/// Bring `k`'s `jiffies` and `jiffies_64` up to host time; returns the value.
pub fn update_jiffies(k: &Kernel) -> u64 {
    let j = jiffies_at(start_of(k).elapsed().as_nanos() as u64);
    for name in ["jiffies", "jiffies_64"] {
        if let Some(addr) = k.data.lookup(name) {
            let _ = mm::write_bytes(addr, &j.to_le_bytes());
        }
    }
    j
}

fn now_jiffies() -> u64 {
    task::current_kernel().map_or(INITIAL_JIFFIES, |k| update_jiffies(&k))
}

fn jiffies_init(_: &DataCtx<'_>) -> Result<Vec<u8>, MissingField> {
    Ok(INITIAL_JIFFIES.to_le_bytes().to_vec())
}

/// `unsigned int jiffies_to_msecs(unsigned long j)`.
pub fn jiffies_to_msecs(j: u64) -> u32 {
    ((1000 / HZ) as u32).wrapping_mul(j as u32)
}

/// `unsigned int jiffies_to_usecs(unsigned long j)`.
pub fn jiffies_to_usecs(j: u64) -> u32 {
    ((1_000_000 / HZ) as u32).wrapping_mul(j as u32)
}

/// `unsigned long __msecs_to_jiffies(const unsigned int m)`.
pub fn msecs_to_jiffies(m: u32) -> u64 {
    if (m as i32) < 0 {
        return MAX_JIFFY_OFFSET;
    }
    u64::from(m).div_ceil(1000 / HZ)
}

/// `unsigned long __usecs_to_jiffies(const unsigned int u)`.
pub fn usecs_to_jiffies(u: u32) -> u64 {
    if u > jiffies_to_usecs(MAX_JIFFY_OFFSET) {
        return MAX_JIFFY_OFFSET;
    }
    u64::from(u).div_ceil(1_000_000 / HZ)
}

/// How long `j` jiffies last.
pub fn jiffies_duration(j: u64) -> Duration {
    Duration::from_nanos(j.saturating_mul(NSEC_PER_SEC / HZ))
}

/// Sleep `j` jiffies: a blocking point, where the CPU goes to other tasks
/// (timers, workers, kthreads) until the time is up. Outside a task (unit
/// tests) the host thread just sleeps.
fn sleep_jiffies(j: u64) {
    // Start the clock before sleeping if nothing has yet.
    now_jiffies();
    let deadline = Instant::now() + jiffies_duration(j);
    if task::current_task().is_none() {
        std::thread::sleep(jiffies_duration(j));
        return;
    }
    // Spurious wake-ups (`wake_up_process` of an uninterruptible sleeper)
    // sleep again, as msleep's loop does.
    loop {
        let now = Instant::now();
        if now >= deadline || task::is_dying() {
            break;
        }
        task::block(0, Some(deadline - now));
    }
    now_jiffies();
}

fn sys_jiffies_to_msecs(a: &mut CallArgs) -> u64 {
    now_jiffies();
    u64::from(jiffies_to_msecs(a.arg(0)))
}

fn sys_jiffies_to_usecs(a: &mut CallArgs) -> u64 {
    now_jiffies();
    u64::from(jiffies_to_usecs(a.arg(0)))
}

fn sys_msecs_to_jiffies(a: &mut CallArgs) -> u64 {
    now_jiffies();
    msecs_to_jiffies(a.arg(0) as u32)
}

fn sys_usecs_to_jiffies(a: &mut CallArgs) -> u64 {
    now_jiffies();
    usecs_to_jiffies(a.arg(0) as u32)
}

/// `void msleep(unsigned int msecs)`: at least `msecs_to_jiffies(m) + 1`
/// jiffies.
fn sys_msleep(a: &mut CallArgs) -> u64 {
    sleep_jiffies(msecs_to_jiffies(a.arg(0) as u32) + 1);
    0
}

/// `unsigned long msleep_interruptible(unsigned int msecs)`: no signal
/// interrupts it here, so 0 ms are left.
fn sys_msleep_interruptible(a: &mut CallArgs) -> u64 {
    sleep_jiffies(msecs_to_jiffies(a.arg(0) as u32) + 1);
    0
}

/// `void usleep_range_state(unsigned long min, unsigned long max, unsigned int state)`.
fn sys_usleep_range_state(a: &mut CallArgs) -> u64 {
    std::thread::sleep(Duration::from_micros(a.arg(0).min(u64::from(u32::MAX))));
    now_jiffies();
    0
}

/// `__const_udelay(xloops)`: `xloops` is microseconds × 2^32 / 10^6
/// (`udelay` multiplies by 0x10c7). A busy-wait in the kernel; a sleep here.
fn sys_const_udelay(a: &mut CallArgs) -> u64 {
    let usecs = a.arg(0).div_ceil(0x10c7);
    std::thread::sleep(Duration::from_micros(usecs));
    now_jiffies();
    0
}

fn sys_udelay(a: &mut CallArgs) -> u64 {
    std::thread::sleep(Duration::from_micros(a.arg(0).min(u64::from(u32::MAX))));
    now_jiffies();
    0
}

fn sys_ndelay(a: &mut CallArgs) -> u64 {
    std::thread::sleep(Duration::from_nanos(a.arg(0).min(u64::from(u32::MAX))));
    now_jiffies();
    0
}

fn schedule_timeout(func: &str, timeout: u64, state: Option<u32>) -> u64 {
    super::wait::schedule_timeout(func, timeout, state)
}

/// `TASK_INTERRUPTIBLE` (1).
fn sys_schedule_timeout_interruptible(a: &mut CallArgs) -> u64 {
    schedule_timeout("schedule_timeout_interruptible", a.arg(0), Some(1))
}

/// `TASK_UNINTERRUPTIBLE` (2).
fn sys_schedule_timeout_uninterruptible(a: &mut CallArgs) -> u64 {
    schedule_timeout("schedule_timeout_uninterruptible", a.arg(0), Some(2))
}

fn realtime_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// `ktime_t ktime_get(void)`: monotonic nanoseconds.
fn sys_ktime_get(_: &mut CallArgs) -> u64 {
    now_jiffies();
    mono_ns()
}

/// `ktime_t ktime_get_with_offset(enum tk_offsets offs)`: REAL (0) is wall
/// time, BOOT (1) monotonic (nothing was suspended), TAI (2) wall + 37 s.
fn sys_ktime_get_with_offset(a: &mut CallArgs) -> u64 {
    now_jiffies();
    match a.arg(0) as u32 {
        0 => realtime_ns(),
        2 => realtime_ns() + 37 * NSEC_PER_SEC,
        _ => mono_ns(),
    }
}

fn sys_ktime_get_mono_fast_ns(_: &mut CallArgs) -> u64 {
    mono_ns()
}

fn sys_ktime_get_seconds(_: &mut CallArgs) -> u64 {
    mono_ns() / NSEC_PER_SEC
}

fn sys_ktime_get_real_seconds(_: &mut CallArgs) -> u64 {
    realtime_ns() / NSEC_PER_SEC
}

fn store_ts64(func: &str, addr: u64, ns: u64) -> u64 {
    let mut b = (ns / NSEC_PER_SEC).to_le_bytes().to_vec();
    b.extend_from_slice(&(ns % NSEC_PER_SEC).to_le_bytes());
    write(func, "the timespec64", addr, &b);
    now_jiffies();
    0
}

/// `void ktime_get_real_ts64(struct timespec64 *ts)`.
fn sys_ktime_get_real_ts64(a: &mut CallArgs) -> u64 {
    store_ts64("ktime_get_real_ts64", a.arg(0), realtime_ns())
}

/// `void ktime_get_ts64(struct timespec64 *ts)`.
fn sys_ktime_get_ts64(a: &mut CallArgs) -> u64 {
    store_ts64("ktime_get_ts64", a.arg(0), mono_ns())
}

pub(super) fn register(r: &mut Registry) {
    r.data("jiffies", Access::ReadWrite, jiffies_init);
    r.data("jiffies_64", Access::ReadWrite, jiffies_init);
    r.func("jiffies_to_msecs", sys_jiffies_to_msecs);
    r.func("jiffies_to_usecs", sys_jiffies_to_usecs);
    r.func("__msecs_to_jiffies", sys_msecs_to_jiffies);
    r.func("__usecs_to_jiffies", sys_usecs_to_jiffies);
    r.func("msleep", sys_msleep);
    r.func("msleep_interruptible", sys_msleep_interruptible);
    r.func("usleep_range_state", sys_usleep_range_state);
    r.func("__const_udelay", sys_const_udelay);
    r.func("__udelay", sys_udelay);
    r.func("__ndelay", sys_ndelay);
    r.func(
        "schedule_timeout_interruptible",
        sys_schedule_timeout_interruptible,
    );
    r.func(
        "schedule_timeout_uninterruptible",
        sys_schedule_timeout_uninterruptible,
    );
    r.func("ktime_get", sys_ktime_get);
    r.func("ktime_get_with_offset", sys_ktime_get_with_offset);
    r.func("ktime_get_mono_fast_ns", sys_ktime_get_mono_fast_ns);
    r.func("ktime_get_seconds", sys_ktime_get_seconds);
    r.func("ktime_get_real_seconds", sys_ktime_get_real_seconds);
    r.func("ktime_get_real_ts64", sys_ktime_get_real_ts64);
    r.func("ktime_get_ts64", sys_ktime_get_ts64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_at_hz_250() {
        assert_eq!(INITIAL_JIFFIES, 0xfffe_db08);
        assert_eq!(jiffies_to_msecs(250), 1000);
        assert_eq!(jiffies_to_usecs(1), 4000);
        assert_eq!(msecs_to_jiffies(0), 0);
        assert_eq!(msecs_to_jiffies(1), 1);
        assert_eq!(msecs_to_jiffies(4), 1);
        assert_eq!(msecs_to_jiffies(5), 2);
        assert_eq!(msecs_to_jiffies(1000), 250);
        assert_eq!(msecs_to_jiffies(u32::MAX), MAX_JIFFY_OFFSET);
        assert_eq!(usecs_to_jiffies(1), 1);
        assert_eq!(usecs_to_jiffies(4000), 1);
        assert_eq!(usecs_to_jiffies(4001), 2);
        assert_eq!(jiffies_at(0), INITIAL_JIFFIES);
        assert_eq!(jiffies_at(NSEC_PER_SEC), INITIAL_JIFFIES + 250);
    }
}
