//! The one emulated CPU and its scheduler.
//!
//! Kernel tasks are host threads; exactly one of them holds the CPU at a
//! time and runs module code. The CPU passes between tasks only at blocking
//! points (a task blocks, yields or ends), never by preemption, and the
//! tasks that want it queue in a FIFO run queue. A task that wakes another
//! holds the CPU while it does, so the order of the run queue — and so the
//! order in which blocked tasks get the CPU back — is decided by module
//! code alone, except for timers and timeouts, which join the queue when
//! their time has come.
//!
//! Blocking is "until woken": a task blocks with a key (the address of what
//! it waits for: a completion, a work item, a task) and, optionally, a
//! timeout; `wake_key` and `wake_pid` move blocked tasks to the end of the
//! run queue. Callers re-check their condition after every wake-up, as the
//! kernel's wait loops do.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// One blocked task.
#[derive(Debug, Clone, Copy)]
struct Blocked {
    pid: u32,
    key: u64,
    /// Whether it may be woken by `wake_pid` (a sleep in `schedule()` or a
    /// wait loop) or only by its key (the stopped state of a new kthread).
    by_pid: bool,
}

#[derive(Debug, Default)]
struct CpuState {
    /// The task running on the CPU.
    owner: Option<u32>,
    /// Tasks waiting for the CPU, in order.
    runq: VecDeque<u32>,
    /// Tasks blocked until woken, in the order they blocked.
    blocked: Vec<Blocked>,
    /// How many of them have a timeout.
    timed: usize,
}

/// The CPU token, its run queue and its blocked tasks.
#[derive(Debug, Default)]
pub struct Cpu {
    st: Mutex<CpuState>,
    cv: Condvar,
}

/// How a block ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// Another task woke it.
    Woken,
    /// Its timeout passed first.
    TimedOut,
}

impl Cpu {
    fn state(&self) -> MutexGuard<'_, CpuState> {
        self.st.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wait (holding the state lock) until `pid` is first in the run queue
    /// and the CPU is free, then take it.
    fn run_when_first<'a>(
        &'a self,
        mut st: MutexGuard<'a, CpuState>,
        pid: u32,
    ) -> MutexGuard<'a, CpuState> {
        while !(st.owner.is_none() && st.runq.front() == Some(&pid)) {
            st = self.cv.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        st.runq.pop_front();
        st.owner = Some(pid);
        st
    }

    /// Take the CPU for `pid`: join the end of the run queue and wait for
    /// its turn.
    pub fn acquire(&self, pid: u32) {
        let mut st = self.state();
        if !st.runq.contains(&pid) {
            st.runq.push_back(pid);
        }
        drop(self.run_when_first(st, pid));
    }

    /// Give the CPU up (the task ends or leaves the CPU without blocking).
    pub fn release(&self, pid: u32) {
        let mut st = self.state();
        if st.owner == Some(pid) {
            st.owner = None;
        }
        drop(st);
        self.cv.notify_all();
    }

    /// Whether `pid` holds the CPU.
    pub fn holds(&self, pid: u32) -> bool {
        self.state().owner == Some(pid)
    }

    /// `pid` (holding the CPU, or not yet running) blocks on `key` until a
    /// wake-up or the timeout; it holds the CPU again when this returns.
    pub fn block(&self, pid: u32, key: u64, timeout: Option<Duration>) -> Wake {
        self.block_as(pid, key, timeout, true)
    }

    /// Record `pid` (a task whose thread has not started yet) as parked on
    /// `key`: only `wake_key(key)` ends it, and the wake-up is kept even if
    /// it comes before the thread waits (`wait_parked`).
    pub fn preblock(&self, pid: u32, key: u64) {
        self.state().blocked.push(Blocked {
            pid,
            key,
            by_pid: false,
        });
    }

    /// The thread of a `preblock`ed task waits for its wake-up and the CPU.
    pub fn wait_parked(&self, pid: u32) {
        let mut st = self.state();
        while st.blocked.iter().any(|b| b.pid == pid) {
            st = self.cv.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        drop(self.run_when_first(st, pid));
    }

    fn block_as(&self, pid: u32, key: u64, timeout: Option<Duration>, by_pid: bool) -> Wake {
        let mut st = self.state();
        if st.owner == Some(pid) {
            st.owner = None;
        }
        st.blocked.push(Blocked { pid, key, by_pid });
        let deadline = timeout.map(|t| Instant::now() + t);
        if deadline.is_some() {
            st.timed += 1;
        }
        self.cv.notify_all();
        let mut how = Wake::Woken;
        loop {
            let still_blocked = st.blocked.iter().any(|b| b.pid == pid);
            if !still_blocked {
                break;
            }
            match deadline {
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        st.blocked.retain(|b| b.pid != pid);
                        st.runq.push_back(pid);
                        how = Wake::TimedOut;
                        break;
                    }
                    st = self
                        .cv
                        .wait_timeout(st, d - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
                None => st = self.cv.wait(st).unwrap_or_else(|p| p.into_inner()),
            }
        }
        if deadline.is_some() {
            st.timed -= 1;
        }
        drop(self.run_when_first(st, pid));
        how
    }

    /// Whether, apart from `pid` (which holds the CPU), no task runs,
    /// waits for the CPU or sleeps with a timeout: every other task is
    /// blocked until something wakes it, and nothing on the CPU will.
    pub fn stalled_but(&self, pid: u32) -> bool {
        let st = self.state();
        st.owner.is_none_or(|o| o == pid) && st.runq.is_empty() && st.timed == 0
    }

    /// Wake up to `nr` tasks blocked on `key` (0: all), oldest first; they
    /// join the run queue in that order. Returns how many were woken.
    pub fn wake_key(&self, key: u64, nr: usize) -> usize {
        let mut st = self.state();
        let mut woken = 0;
        let mut i = 0;
        while i < st.blocked.len() {
            if st.blocked[i].key == key && (nr == 0 || woken < nr) {
                let b = st.blocked.remove(i);
                st.runq.push_back(b.pid);
                woken += 1;
            } else {
                i += 1;
            }
        }
        drop(st);
        if woken > 0 {
            self.cv.notify_all();
        }
        woken
    }

    /// Wake `pid` whatever it waits for (`try_to_wake_up`); false if it was
    /// not blocked (or may only be woken by its key).
    pub fn wake_pid(&self, pid: u32) -> bool {
        let mut st = self.state();
        let Some(i) = st.blocked.iter().position(|b| b.pid == pid && b.by_pid) else {
            return false;
        };
        st.blocked.remove(i);
        st.runq.push_back(pid);
        drop(st);
        self.cv.notify_all();
        true
    }

    /// Wait until no task runs or waits for the CPU (every runnable task
    /// ran until it blocked or ended), or `limit` passed. Whether it is.
    pub fn wait_idle(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut st = self.state();
        while st.owner.is_some() || !st.runq.is_empty() {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = self
                .cv
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        true
    }

    /// Whether `pid` is blocked.
    pub fn is_blocked(&self, pid: u32) -> bool {
        self.state().blocked.iter().any(|b| b.pid == pid)
    }

    /// `pid`, holding the CPU, lets every task queued before it run first.
    pub fn yield_now(&self, pid: u32) {
        let mut st = self.state();
        if st.owner == Some(pid) {
            st.owner = None;
        }
        st.runq.push_back(pid);
        self.cv.notify_all();
        drop(self.run_when_first(st, pid));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Tasks woken by the CPU holder get the CPU back in the order they
    /// were woken, whatever the host scheduler does.
    #[test]
    fn woken_tasks_run_in_wake_order() {
        let cpu = Arc::new(Cpu::default());
        let order = Arc::new(Mutex::new(Vec::new()));
        cpu.acquire(1);
        let mut threads = Vec::new();
        for pid in [2u32, 3, 4] {
            let (cpu, order) = (Arc::clone(&cpu), Arc::clone(&order));
            cpu.preblock(pid, 100 + u64::from(pid));
            threads.push(std::thread::spawn(move || {
                cpu.wait_parked(pid);
                order.lock().unwrap().push(pid);
                cpu.release(pid);
            }));
        }
        // Parked tasks ignore wake_pid.
        assert!(!cpu.wake_pid(2));
        for key in [104, 102, 103] {
            assert_eq!(cpu.wake_key(key, 1), 1);
        }
        cpu.release(1);
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![4, 2, 3]);
    }

    #[test]
    fn a_block_times_out_and_takes_the_cpu_back() {
        let cpu = Cpu::default();
        cpu.acquire(1);
        let how = cpu.block(1, 7, Some(Duration::from_millis(5)));
        assert_eq!(how, Wake::TimedOut);
        assert!(cpu.holds(1));
        assert_eq!(cpu.wake_key(7, 0), 0);
    }
}
