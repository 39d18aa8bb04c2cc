//! Running module code natively: assembly entry points, the stub dispatcher,
//! per-CPU state behind `%gs`, and kernel tasks.

pub mod cpu;
pub mod dispatch;
pub mod entry;
pub mod percpu;
pub mod signal;
pub mod task;
pub mod watchdog;
