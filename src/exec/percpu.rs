//! The per-CPU area of the emulated CPU, reached by module code through `%gs`.
//!
//! Per-CPU symbols resolve to small offsets inside this block, as in the
//! kernel, and `%gs.base` holds its address on every thread that runs
//! module code. Offsets 0..0x30 are `fixed_percpu_data` (stack canary at
//! `%gs:0x28`).

use std::sync::Mutex;

use crate::mm::{LowRegion, MmError, Prot};

/// Size of one CPU's per-CPU area.
pub const PERCPU_SIZE: u64 = 64 * 1024;
/// Offset of the stack canary (`fixed_percpu_data.stack_canary`).
pub const STACK_CANARY_OFFSET: u64 = 0x28;
/// kload's virtual interrupt flag (a byte, 1 = interrupts disabled), in
/// the gap after `fixed_percpu_data`: the `pv_ops` irq operations (raw
/// code, see kernel::cpu) and the spinlock stubs share it.
pub const IRQS_OFF_OFFSET: u64 = 0x30;
/// First offset free for per-CPU variables.
const FIRST_FREE: u64 = 0x40;

pub struct PerCpu {
    region: LowRegion,
    next: Mutex<u64>,
}

impl PerCpu {
    pub fn new(canary: u64) -> Result<PerCpu, MmError> {
        let region = LowRegion::alloc(PERCPU_SIZE, Prot::ReadWrite, "percpu")?;
        region.write(STACK_CANARY_OFFSET, &canary.to_le_bytes())?;
        Ok(PerCpu {
            region,
            next: Mutex::new(FIRST_FREE),
        })
    }

    /// `%gs.base` for this CPU.
    pub fn base(&self) -> u64 {
        self.region.addr()
    }

    /// Reserve a per-CPU variable; returns its offset (the symbol value).
    pub fn alloc(&self, size: u64, align: u64) -> Result<u64, MmError> {
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        let off = next.div_ceil(align.max(1)) * align.max(1);
        if off + size > PERCPU_SIZE {
            return Err(MmError::Exhausted(size));
        }
        *next = off + size;
        Ok(off)
    }

    /// The first free offset (for `rewind`).
    pub fn mark(&self) -> u64 {
        *self.next.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Give back, zeroed, every per-CPU variable reserved since `mark`.
    pub fn rewind(&self, mark: u64) -> Result<(), MmError> {
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        if *next > mark {
            self.region
                .write(mark, &vec![0u8; (*next - mark) as usize])?;
            *next = mark;
        }
        Ok(())
    }

    pub fn write(&self, offset: u64, bytes: &[u8]) -> Result<(), MmError> {
        self.region.write(offset, bytes)
    }

    pub fn read_u64(&self, offset: u64) -> Result<u64, MmError> {
        let b = self.region.read(offset, 8)?;
        Ok(u64::from_le_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ]))
    }

    pub fn read_u32(&self, offset: u64) -> Result<u32, MmError> {
        let b = self.region.read(offset, 4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// Point `%gs` of the calling thread at `base`.
pub fn set_gs_base(base: u64) -> std::io::Result<()> {
    const ARCH_SET_GS: libc::c_long = 0x1001;
    // SAFETY: ARCH_SET_GS only changes this thread's GS base register. Rust
    // and glibc use %fs for thread-local storage, never %gs, so no host code
    // depends on the old value.
    let rc = unsafe { libc::syscall(libc::SYS_arch_prctl, ARCH_SET_GS, base) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
