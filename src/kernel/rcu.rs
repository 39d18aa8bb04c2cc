//! RCU read-side critical sections (kernel/rcu/tree_plugin.h, preemptible
//! RCU): `__rcu_read_lock`/`__rcu_read_unlock` only count the task's
//! nesting. With one emulated CPU and no grace periods to wait for, that
//! count is all there is to do.

use std::cell::Cell;

use super::symbols::Registry;
use crate::exec::dispatch::CallArgs;

thread_local! {
    /// `current->rcu_read_lock_nesting`: each kernel task is a host thread.
    static NESTING: Cell<i32> = const { Cell::new(0) };
}

/// The current task's `rcu_read_lock_nesting`.
pub fn nesting() -> i32 {
    NESTING.with(Cell::get)
}

fn sys_rcu_read_lock(_: &mut CallArgs) -> u64 {
    NESTING.with(|n| n.set(n.get() + 1));
    0
}

fn sys_rcu_read_unlock(_: &mut CallArgs) -> u64 {
    NESTING.with(|n| {
        if n.get() <= 0 {
            // The kernel checks this only under CONFIG_PROVE_RCU.
            log::warn!("__rcu_read_unlock without __rcu_read_lock");
        } else {
            n.set(n.get() - 1);
        }
    });
    0
}

pub(super) fn register(r: &mut Registry) {
    // Real: on one CPU a read-side section only needs its nesting count.
    r.func("__rcu_read_lock", sys_rcu_read_lock);
    r.func("__rcu_read_unlock", sys_rcu_read_unlock);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_counts_and_never_goes_negative() {
        let mut a = CallArgs::new([0; 6]);
        sys_rcu_read_lock(&mut a);
        sys_rcu_read_lock(&mut a);
        assert_eq!(nesting(), 2);
        sys_rcu_read_unlock(&mut a);
        sys_rcu_read_unlock(&mut a);
        sys_rcu_read_unlock(&mut a);
        assert_eq!(nesting(), 0);
    }
}
