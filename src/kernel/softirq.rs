//! Bottom halves (kernel/softirq.c): `local_bh_disable()` is inline (it adds
//! `SOFTIRQ_DISABLE_OFFSET` to the preempt count); enabling them again is
//! out of line. kload raises no softirqs, so there is never pending work to
//! run when bottom halves come back on: only the count changes.

use super::symbols::Registry;
use super::Kernel;
use crate::exec::dispatch::CallArgs;
use crate::exec::task;

/// Take `cnt` off the preempt count of the emulated CPU.
fn preempt_count_sub(k: &Kernel, cnt: u32) {
    if let Ok(count) = k.sched.preempt_count(&k.percpu) {
        let _ = k
            .sched
            .set_preempt_count(&k.percpu, count.wrapping_sub(cnt));
    }
}

/// `__local_bh_enable_ip(unsigned long ip, unsigned int cnt)`: the end of
/// `local_bh_enable()` / `spin_unlock_bh()`.
fn sys_local_bh_enable_ip(a: &mut CallArgs) -> u64 {
    if let Some(k) = task::current_kernel() {
        preempt_count_sub(&k, a.arg(1) as u32);
    }
    0
}

/// `_local_bh_enable(void)`: drop one `SOFTIRQ_DISABLE_OFFSET` without
/// running softirqs.
fn sys_local_bh_enable(_: &mut CallArgs) -> u64 {
    if let Some(k) = task::current_kernel() {
        if let Ok(off) = k.profile.field("SOFTIRQ_DISABLE_OFFSET") {
            preempt_count_sub(&k, off as u32);
        }
    }
    0
}

pub(super) fn register(r: &mut Registry) {
    r.func("__local_bh_enable_ip", sys_local_bh_enable_ip);
    r.func("_local_bh_enable", sys_local_bh_enable);
}
