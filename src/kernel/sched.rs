//! The scheduler's per-CPU state as modules see it: `current`, the preempt
//! count and the CPU number, at the per-CPU offsets each kernel uses
//! (6.1: `current_task`, `__preempt_count`, `cpu_number`; 6.2+: inside
//! `pcpu_hot`), and the `task_struct`s of kernel tasks.

use crate::host::NameMap;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::exec::percpu::PerCpu;
use crate::mm::{LowRegion, MmError, Prot};
use crate::profile::{KernelProfile, MissingField};

/// `PREEMPT_ENABLED` on x86: the need-resched bit is kept inverted, so an
/// idle preempt count reads 0x80000000.
pub const PREEMPT_ENABLED: u32 = 0x8000_0000;

#[derive(Debug, thiserror::Error)]
pub enum SchedError {
    #[error(transparent)]
    Mm(#[from] MmError),
    #[error(transparent)]
    Profile(#[from] MissingField),
}

/// Where the scheduler's per-CPU variables live.
pub struct Sched {
    current: u64,
    preempt_count: u64,
    symbols: NameMap<&'static str, u64>,
    next_pid: AtomicU32,
}

/// A freshly made `task_struct`.
pub struct NewTask {
    pub pid: u32,
    pub region: LowRegion,
}

impl Sched {
    /// Lay out the per-CPU variables `profile`'s modules use.
    pub fn new(profile: &KernelProfile, percpu: &PerCpu) -> Result<Sched, SchedError> {
        let mut symbols = NameMap::default();
        let this_cpu_off = percpu.alloc(8, 8)?;
        symbols.insert("this_cpu_off", this_cpu_off);
        let (current, preempt_count, cpu_number) = if profile.has_pcpu_hot() {
            let hot = percpu.alloc(profile.field("sizeof(struct pcpu_hot)")?, 64)?;
            symbols.insert("pcpu_hot", hot);
            symbols.insert("const_pcpu_hot", hot);
            (
                hot + profile.field("pcpu_hot.current_task")?,
                hot + profile.field("pcpu_hot.preempt_count")?,
                hot + profile.field("pcpu_hot.cpu_number")?,
            )
        } else {
            let current = percpu.alloc(8, 8)?;
            let preempt = percpu.alloc(4, 4)?;
            let cpu = percpu.alloc(4, 4)?;
            symbols.insert("current_task", current);
            symbols.insert("__preempt_count", preempt);
            symbols.insert("cpu_number", cpu);
            (current, preempt, cpu)
        };
        percpu.write(this_cpu_off, &percpu.base().to_le_bytes())?;
        percpu.write(preempt_count, &PREEMPT_ENABLED.to_le_bytes())?;
        percpu.write(cpu_number, &0u32.to_le_bytes())?;
        Ok(Sched {
            current,
            preempt_count,
            symbols,
            next_pid: AtomicU32::new(1),
        })
    }

    /// The per-CPU offset of a scheduler per-CPU symbol.
    pub fn symbol(&self, name: &str) -> Option<u64> {
        self.symbols.get(name).copied()
    }

    /// Make `task_struct` the CPU's `current` (0: none).
    pub fn switch_to(&self, percpu: &PerCpu, task_struct: u64) -> Result<(), MmError> {
        percpu.write(self.current, &task_struct.to_le_bytes())
    }

    /// The raw per-CPU preempt count (with the inverted need-resched bit).
    pub fn preempt_count(&self, percpu: &PerCpu) -> Result<u32, MmError> {
        percpu.read_u32(self.preempt_count)
    }

    pub fn set_preempt_count(&self, percpu: &PerCpu, value: u32) -> Result<(), MmError> {
        percpu.write(self.preempt_count, &value.to_le_bytes())
    }

    /// Allocate and fill a `task_struct` for a new kernel task (`pid`:
    /// a fixed pid, else the next one).
    pub fn new_task_struct(
        &self,
        profile: &KernelProfile,
        stack: &LowRegion,
        comm: &str,
        pid: Option<u32>,
    ) -> Result<NewTask, SchedError> {
        let size = profile.field("sizeof(struct task_struct)")?;
        let region = LowRegion::alloc(size, Prot::ReadWrite, "task_struct")?;
        let pid = pid.unwrap_or_else(|| self.next_pid.fetch_add(1, Ordering::Relaxed));
        region.write(profile.field("task_struct.pid")?, &pid.to_le_bytes())?;
        region.write(profile.field("task_struct.tgid")?, &pid.to_le_bytes())?;
        region.write(
            profile.field("task_struct.stack")?,
            &stack.addr().to_le_bytes(),
        )?;
        let group_leader = profile.field("task_struct.group_leader")?;
        region.write(group_leader, &region.addr().to_le_bytes())?;
        let comm_len = profile.field("TASK_COMM_LEN")? as usize;
        let mut name = comm.as_bytes().to_vec();
        name.truncate(comm_len - 1);
        name.resize(comm_len, 0);
        region.write(profile.field("task_struct.comm")?, &name)?;
        Ok(NewTask { pid, region })
    }
}
