//! The soft-lockup watchdog (kernel/watchdog.c): a task that stays inside
//! one call into module code for longer than the threshold, without
//! returning to kload (a stub call, a return), is stuck, like a CPU that
//! does not schedule for `2 * watchdog_thresh` seconds.
//!
//! Every running task has a `Watch`: `task::call_module` and the stub
//! dispatcher mark each entry into and return from module code. One host
//! thread per process (started with the first task) polls the watches;
//! for a stuck task it sends the task's thread `SIGNAL`, whose handler (in
//! `signal`) redirects module code to `kload_fault_entry` like a fault:
//! the kernel's soft lockup report is logged and the task is killed.
//!
//! The threshold is process-wide: `set_threshold` (`kload run
//! --watchdog=SECS`), else `KLOAD_WATCHDOG_SECS`, else 20 s (Debian's
//! `watchdog_thresh` of 10 s, doubled as the kernel does).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once, OnceLock, Weak};
use std::time::{Duration, Instant};

/// The signal the watchdog sends a stuck task.
pub const SIGNAL: libc::c_int = libc::SIGXCPU;

/// The default soft-lockup threshold (`2 * watchdog_thresh`).
pub const DEFAULT_SECS: u64 = 20;

/// The threshold in milliseconds; 0 until set or first read.
static THRESHOLD_MS: AtomicU64 = AtomicU64::new(0);

/// Set the threshold for every task of this process.
pub fn set_threshold(d: Duration) {
    THRESHOLD_MS.store((d.as_millis() as u64).max(1), Ordering::Relaxed);
}

/// Parse a threshold in seconds (`20`, `2.5`); at least 1 ms.
pub fn parse_secs(s: &str) -> Option<Duration> {
    let secs: f64 = s.trim().parse().ok()?;
    if !secs.is_finite() || secs <= 0.0 || secs > 1e9 {
        return None;
    }
    Some(Duration::from_secs_f64(secs))
}

/// The threshold: as set, else `KLOAD_WATCHDOG_SECS`, else 20 s.
pub fn threshold() -> Duration {
    let ms = THRESHOLD_MS.load(Ordering::Relaxed);
    if ms != 0 {
        return Duration::from_millis(ms);
    }
    let d = std::env::var("KLOAD_WATCHDOG_SECS")
        .ok()
        .and_then(|v| parse_secs(&v))
        .unwrap_or(Duration::from_secs(DEFAULT_SECS));
    let _ = THRESHOLD_MS.compare_exchange(
        0,
        (d.as_millis() as u64).max(1),
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    Duration::from_millis(THRESHOLD_MS.load(Ordering::Relaxed))
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ms() -> u64 {
    epoch().elapsed().as_millis() as u64
}

/// The watchdog's view of one running task.
pub struct Watch {
    /// The task's host thread; `None` once the task has ended (checked
    /// under the lock before signalling it).
    thread: Mutex<Option<libc::pthread_t>>,
    /// Inside module code (not in a stub or kload itself).
    in_module: AtomicBool,
    /// When the task last entered or left module code (ms since `epoch`).
    touched: AtomicU64,
    /// When the watchdog last signalled it (ms since `epoch`), 0 = never.
    signalled: AtomicU64,
    /// How long it was stuck when last signalled, in seconds.
    stuck_secs: AtomicU64,
}

impl Watch {
    fn touch(&self, in_module: bool) {
        self.touched.store(now_ms(), Ordering::Relaxed);
        self.in_module.store(in_module, Ordering::Relaxed);
    }

    /// The task enters (or returns to) module code.
    pub fn enter_module(&self) {
        self.touch(true);
    }

    /// The task is back in kload (a stub call, a return, a fault).
    pub fn leave_module(&self) {
        self.touch(false);
    }

    /// `duration` of the soft lockup report: how long the task had been
    /// stuck when the watchdog fired.
    pub fn stuck_secs(&self) -> u64 {
        self.stuck_secs.load(Ordering::Relaxed)
    }

    /// Whether the watchdog has fired for the current stretch in module code.
    pub fn fired(&self) -> bool {
        self.signalled.load(Ordering::Relaxed) >= self.touched.load(Ordering::Relaxed)
            && self.signalled.load(Ordering::Relaxed) != 0
    }

    /// The task ends: it is never signalled after this returns.
    pub fn retire(&self) {
        self.in_module.store(false, Ordering::Relaxed);
        if let Ok(mut t) = self.thread.lock() {
            *t = None;
        }
    }

    /// Signal the thread if it has been in module code for `limit_ms`.
    fn check(&self, now: u64, limit_ms: u64) {
        if !self.in_module.load(Ordering::Relaxed) {
            return;
        }
        let touched = self.touched.load(Ordering::Relaxed);
        let stuck = now.saturating_sub(touched);
        if stuck < limit_ms {
            return;
        }
        // Once per second at most: a signal that arrives while the task
        // is between module code and kload is ignored by the handler.
        let last = self.signalled.load(Ordering::Relaxed);
        if last >= touched && now.saturating_sub(last) < 1000 {
            return;
        }
        let Ok(thread) = self.thread.lock() else {
            return;
        };
        let Some(t) = *thread else {
            return;
        };
        self.stuck_secs.store(stuck / 1000, Ordering::Relaxed);
        self.signalled.store(now.max(1), Ordering::Relaxed);
        // SAFETY: `t` is the pthread_t of a live thread: the task clears
        // it under this lock (`retire`) before its thread ends.
        let rc = unsafe { libc::pthread_kill(t, SIGNAL) };
        if rc != 0 {
            log::warn!("watchdog: cannot signal a stuck task: error {rc}");
        }
    }
}

static WATCHES: Mutex<Vec<Weak<Watch>>> = Mutex::new(Vec::new());

/// Watch the calling thread, which starts running a kernel task.
pub fn register() -> Arc<Watch> {
    start();
    // SAFETY: pthread_self has no preconditions.
    let me = unsafe { libc::pthread_self() };
    let w = Arc::new(Watch {
        thread: Mutex::new(Some(me)),
        in_module: AtomicBool::new(false),
        touched: AtomicU64::new(now_ms()),
        signalled: AtomicU64::new(0),
        stuck_secs: AtomicU64::new(0),
    });
    if let Ok(mut v) = WATCHES.lock() {
        v.retain(|w| w.strong_count() > 0);
        v.push(Arc::downgrade(&w));
    }
    w
}

/// Start the watchdog thread (once per process).
fn start() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name("watchdog".into())
            .spawn(|| loop {
                let limit = threshold();
                let limit_ms = limit.as_millis() as u64;
                let now = now_ms();
                let watches: Vec<Arc<Watch>> = WATCHES
                    .lock()
                    .map(|v| v.iter().filter_map(Weak::upgrade).collect())
                    .unwrap_or_default();
                for w in &watches {
                    w.check(now, limit_ms);
                }
                drop(watches);
                // The kernel samples every threshold / 5; kload polls more
                // often so that a short threshold is kept closely.
                let poll =
                    (limit / 10).clamp(Duration::from_millis(10), Duration::from_millis(500));
                std::thread::sleep(poll);
            });
        if let Err(e) = spawned {
            log::warn!("no soft-lockup watchdog ({e}): a task stuck in module code hangs kload");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_thresholds() {
        assert_eq!(parse_secs("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_secs("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_secs("0"), None);
        assert_eq!(parse_secs("-1"), None);
        assert_eq!(parse_secs("x"), None);
    }

    #[test]
    fn a_watch_fires_only_in_module_code_past_the_limit() {
        let w = Watch {
            thread: Mutex::new(None),
            in_module: AtomicBool::new(false),
            touched: AtomicU64::new(0),
            signalled: AtomicU64::new(0),
            stuck_secs: AtomicU64::new(0),
        };
        // Not in module code: never stuck.
        w.check(100_000, 1000);
        assert!(!w.fired());
        w.in_module.store(true, Ordering::Relaxed);
        w.touched.store(1, Ordering::Relaxed);
        // In module code but the thread is gone: no signal.
        w.check(100_000, 1000);
        assert!(!w.fired());
    }
}
