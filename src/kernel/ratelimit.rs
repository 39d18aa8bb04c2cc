//! Rate limiting (lib/ratelimit.c): `___ratelimit`, behind `__ratelimit()`,
//! `printk_ratelimited()`, `dev_*_ratelimited()` and `printk_ratelimit()`.
//!
//! The rules, the same in 6.1 and 6.12 (lib/ratelimit.c only changed in
//! 6.16, with the atomic `rs_n_left`):
//! - `interval == 0` never limits (and touches nothing);
//! - a contended state lock suppresses the call without counting it;
//! - `begin == 0` starts the first interval at the current jiffies;
//! - once `begin + interval` is in the past, a new interval starts
//!   (`begin = jiffies`, `printed = 0`); if calls were suppressed (`missed`)
//!   and `RATELIMIT_MSG_ON_RELEASE` is clear, "<func>: N callbacks
//!   suppressed" is printed at KERN_WARNING and `missed` goes back to 0 (with
//!   the flag set, `missed` keeps counting until `ratelimit_state_exit`, an
//!   inline function of the module, reports it);
//! - a call passes while `burst > printed` (and `burst != 0`), else it is
//!   counted in `missed`.
//!
//! What changed in 6.12 is the layout: `flags` became an `unsigned int`
//! before `begin` (6.1: an `unsigned long` after it). Every offset comes
//! from the profile; `flags` is read as 32 bits, which holds
//! `RATELIMIT_MSG_ON_RELEASE` (bit 0) on both.

use super::printk::LOGLEVEL_WARNING;
use super::symbols::Registry;
use super::Kernel;
use crate::exec::dispatch::CallArgs;
use crate::exec::task;
use crate::mm;
use crate::profile::MissingField;

/// `RATELIMIT_MSG_ON_RELEASE`.
pub const RATELIMIT_MSG_ON_RELEASE: u32 = 1 << 0;
/// `DEFAULT_RATELIMIT_INTERVAL` (5 * HZ) and `DEFAULT_RATELIMIT_BURST`.
pub const DEFAULT_RATELIMIT_INTERVAL: i32 = 5 * super::time::HZ as i32;
pub const DEFAULT_RATELIMIT_BURST: i32 = 10;

/// The fields of a `struct ratelimit_state` that `___ratelimit` reads and
/// writes (the lock aside).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RatelimitState {
    pub interval: i32,
    pub burst: i32,
    pub printed: i32,
    pub missed: i32,
    pub begin: u64,
    pub flags: u32,
}

/// What one `___ratelimit` call decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// The return value: go ahead (true) or suppress.
    pub pass: bool,
    /// The "callbacks suppressed" count to print, when a new interval
    /// started after suppressed calls.
    pub suppressed: Option<i32>,
}

impl RatelimitState {
    pub fn new(interval: i32, burst: i32) -> RatelimitState {
        RatelimitState {
            interval,
            burst,
            ..RatelimitState::default()
        }
    }

    /// The body of `___ratelimit` once the lock is held, at `jiffies`.
    pub fn check(&mut self, jiffies: u64) -> Verdict {
        if self.interval == 0 {
            return Verdict {
                pass: true,
                suppressed: None,
            };
        }
        if self.begin == 0 {
            self.begin = jiffies;
        }
        let mut suppressed = None;
        // time_is_before_jiffies(begin + interval): jiffies is after it.
        let end = self.begin.wrapping_add(i64::from(self.interval) as u64);
        if (end.wrapping_sub(jiffies) as i64) < 0 {
            if self.missed != 0 && self.flags & RATELIMIT_MSG_ON_RELEASE == 0 {
                suppressed = Some(self.missed);
                self.missed = 0;
            }
            self.begin = jiffies;
            self.printed = 0;
        }
        let pass = self.burst != 0 && self.burst > self.printed;
        if pass {
            self.printed = self.printed.wrapping_add(1);
        } else {
            self.missed = self.missed.wrapping_add(1);
        }
        Verdict { pass, suppressed }
    }
}

/// Offsets of `struct ratelimit_state`, from the profile.
struct Layout {
    interval: u64,
    burst: u64,
    printed: u64,
    missed: u64,
    begin: u64,
    flags: u64,
}

impl Layout {
    fn of(k: &Kernel) -> Result<Layout, MissingField> {
        let f = |n: &str| k.profile.field(&format!("ratelimit_state.{n}"));
        Ok(Layout {
            interval: f("interval")?,
            burst: f("burst")?,
            printed: f("printed")?,
            missed: f("missed")?,
            begin: f("begin")?,
            flags: f("flags")?,
        })
    }
}

fn read_i32(addr: u64) -> Option<i32> {
    mm::read_u32(addr).map(|v| v as i32)
}

/// Print the "callbacks suppressed" line (`printk_deferred(KERN_WARNING ...)`).
pub fn report_suppressed(k: &Kernel, func: &str, missed: i32) {
    k.log.emit(
        LOGLEVEL_WARNING,
        &format!("{func}: {missed} callbacks suppressed"),
    );
}

/// `int ___ratelimit(struct ratelimit_state *rs, const char *func)`.
fn sys_ratelimit(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let (rs, func) = (a.arg(0), a.arg(1));
    let l = match Layout::of(&k) {
        Ok(l) => l,
        Err(e) => {
            super::panic::kload_bug(&format!("___ratelimit: {e}"), a.caller());
            task::kill("___ratelimit: struct ratelimit_state not in the profile");
            return 0;
        }
    };
    let at = |off: u64| rs.wrapping_add(off);
    let read = || -> Option<RatelimitState> {
        Some(RatelimitState {
            interval: read_i32(at(l.interval))?,
            burst: read_i32(at(l.burst))?,
            printed: read_i32(at(l.printed))?,
            missed: read_i32(at(l.missed))?,
            begin: mm::read_u64(at(l.begin))?,
            flags: read_i32(at(l.flags))? as u32,
        })
    };
    let Some(mut state) = read() else {
        task::kill("___ratelimit: unreadable struct ratelimit_state");
        return 0;
    };
    if state.interval == 0 {
        return 1;
    }
    // raw_spin_trylock_irqsave(&rs->lock): the lock is the struct's first
    // member (offset 0 by C's rules), a qspinlock whose low byte is the
    // locked byte. kload's stub runs without preemption on the one CPU, so
    // the lock is only looked at: held means contended, suppressed.
    match mm::read_bytes(rs, 1) {
        Some(b) if b[0] != 0 => return 0,
        Some(_) => {}
        None => {
            task::kill("___ratelimit: unreadable lock");
            return 0;
        }
    }
    let before = state;
    let verdict = state.check(super::time::update_jiffies(&k));
    let writes = [
        (
            l.begin,
            state.begin != before.begin,
            state.begin.to_le_bytes().to_vec(),
        ),
        (
            l.printed,
            state.printed != before.printed,
            state.printed.to_le_bytes().to_vec(),
        ),
        (
            l.missed,
            state.missed != before.missed,
            state.missed.to_le_bytes().to_vec(),
        ),
    ];
    for (off, changed, bytes) in writes {
        if changed && mm::write_bytes(at(off), &bytes).is_err() {
            task::kill("___ratelimit: struct ratelimit_state is not writable");
            return 0;
        }
    }
    if let Some(missed) = verdict.suppressed {
        let func = mm::read_cstr(func, 256).unwrap_or_default();
        report_suppressed(&k, &String::from_utf8_lossy(&func), missed);
    }
    u64::from(verdict.pass)
}

pub(super) fn register(r: &mut Registry) {
    r.func("___ratelimit", sys_ratelimit);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_suppressed_then_reported_at_the_next_interval() {
        let mut rs = RatelimitState::new(50, 3);
        let passed: Vec<bool> = (0..5).map(|_| rs.check(1000).pass).collect();
        assert_eq!(passed, [true, true, true, false, false]);
        assert_eq!((rs.printed, rs.missed, rs.begin), (3, 2, 1000));
        // Still inside the interval (begin + interval is not yet past).
        assert_eq!(rs.check(1050).suppressed, None);
        assert_eq!(rs.missed, 3);
        let v = rs.check(1051);
        assert_eq!(
            v,
            Verdict {
                pass: true,
                suppressed: Some(3)
            }
        );
        assert_eq!((rs.printed, rs.missed, rs.begin), (1, 0, 1051));
    }

    #[test]
    fn msg_on_release_keeps_counting_and_interval_zero_never_limits() {
        let mut rs = RatelimitState::new(50, 1);
        rs.flags = RATELIMIT_MSG_ON_RELEASE;
        rs.check(10);
        rs.check(10);
        let v = rs.check(100);
        assert_eq!(
            v,
            Verdict {
                pass: true,
                suppressed: None
            }
        );
        assert_eq!(rs.missed, 1);
        let mut off = RatelimitState::new(0, 0);
        assert!((0..20).all(|_| off.check(5).pass));
        assert_eq!(off, RatelimitState::new(0, 0));
        // burst 0 with an interval: everything is suppressed.
        let mut none = RatelimitState::new(10, 0);
        assert!(!none.check(5).pass);
        assert_eq!(none.missed, 1);
    }

    #[test]
    fn jiffies_wrap_is_handled_like_time_after() {
        let mut rs = RatelimitState::new(50, 1);
        rs.check(u64::MAX - 10);
        assert!(!rs.check(u64::MAX).pass);
        // 45 jiffies later, across the wrap: inside the interval still.
        assert!(!rs.check(34).pass);
        assert_eq!(rs.check(40).suppressed, Some(2));
    }
}
