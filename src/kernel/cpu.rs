//! The emulated machine's CPUs as modules see them: the CPU masks and counts
//! (kernel/cpu.c), the per-CPU offsets (`__per_cpu_offset`), `boot_cpu_data`
//! (arch/x86/kernel/cpu/common.c) filled from the host's CPUID, and the
//! `pv_ops` table of paravirt operations (arch/x86/kernel/paravirt.c) that
//! unpatched call sites reach indirectly.
//!
//! kload emulates one CPU: every mask has bit 0 set and nothing else, and
//! `nr_cpu_ids` is 1, so `for_each_online_cpu` and `num_online_cpus()`
//! inlined in module code see one CPU.

use std::arch::x86_64::__cpuid_count;

use super::symbols::{Access, DataCtx, Registry};
use crate::exec::dispatch::CallArgs;
use crate::exec::task;
use crate::mm;
use crate::profile::MissingField;

/// A `struct cpumask` (NR_CPUS bits) with only CPU 0 set.
fn one_cpu_mask(ctx: &DataCtx<'_>) -> Result<Vec<u8>, MissingField> {
    let mut mask = vec![0u8; ctx.profile.field("sizeof(struct cpumask)")? as usize];
    mask[0] = 1;
    Ok(mask)
}

/// `unsigned int nr_cpu_ids` and `atomic_t __num_online_cpus`: 1.
fn one_u32(_: &DataCtx<'_>) -> Result<Vec<u8>, MissingField> {
    Ok(1u32.to_le_bytes().to_vec())
}

fn per_cpu_offset_size(ctx: &DataCtx<'_>) -> Result<u64, MissingField> {
    Ok(ctx.profile.field("NR_CPUS")? * 8)
}

/// `unsigned long __per_cpu_offset[NR_CPUS]`: `per_cpu_ptr(p, cpu)` adds
/// entry `cpu` to a per-CPU symbol's offset. CPU 0's area is the one `%gs`
/// points at; the others do not exist (0, as for a CPU never brought up).
fn per_cpu_offset(ctx: &DataCtx<'_>) -> Result<Vec<u8>, MissingField> {
    let mut table = vec![0u8; ctx.profile.field("NR_CPUS")? as usize * 8];
    table[..8].copy_from_slice(&ctx.percpu_base.to_le_bytes());
    Ok(table)
}

fn cpuid(leaf: u32, sub: u32) -> [u32; 4] {
    let r = __cpuid_count(leaf, sub);
    [r.eax, r.ebx, r.ecx, r.edx]
}

/// `X86_VENDOR_*` of a CPUID vendor string.
fn x86_vendor(id: &[u8]) -> u8 {
    match id {
        b"GenuineIntel" => 0,
        b"CyrixInstead" => 1,
        b"AuthenticAMD" => 2,
        b"CentaurHauls" => 5,
        b"HygonGenuine" => 9,
        b"  Shanghai  " => 10,
        _ => 0xff,
    }
}

/// The capability words filled from CPUID leaves (cpufeatures.h's word
/// numbering, the same on 6.1 and 6.12): (word, leaf, subleaf, register).
/// Words the kernel synthesises itself (3, 7, 8, 11, 21) stay 0.
const CPUID_WORDS: &[(usize, u32, u32, usize)] = &[
    (0, 0x1, 0, 3),
    (1, 0x8000_0001, 0, 3),
    (4, 0x1, 0, 2),
    (6, 0x8000_0001, 0, 2),
    (9, 0x7, 0, 1),
    (10, 0xd, 1, 0),
    (12, 0x7, 1, 0),
    (13, 0x8000_0008, 0, 1),
    (14, 0x6, 0, 0),
    (15, 0x8000_000a, 0, 3),
    (16, 0x7, 0, 2),
    (17, 0x8000_0007, 0, 1),
    (18, 0x7, 0, 3),
    (19, 0x8000_001f, 0, 0),
    (20, 0x8000_0021, 0, 0),
];

fn cpuinfo_size(ctx: &DataCtx<'_>) -> Result<u64, MissingField> {
    ctx.profile.field("sizeof(struct cpuinfo_x86)")
}

/// `struct cpuinfo_x86 boot_cpu_data`, as `identify_boot_cpu` would fill it
/// on this host: vendor, family, model, stepping, the CPUID capability
/// words, the brand string, and the cache line sizes.
fn boot_cpu_data(ctx: &DataCtx<'_>) -> Result<Vec<u8>, MissingField> {
    let p = ctx.profile;
    let mut b = vec![0u8; p.field("sizeof(struct cpuinfo_x86)")? as usize];
    let [max_leaf, ebx, ecx, edx] = cpuid(0, 0);
    let mut vendor = Vec::with_capacity(12);
    for r in [ebx, edx, ecx] {
        vendor.extend_from_slice(&r.to_le_bytes());
    }
    let [sig, misc, _, _] = cpuid(1, 0);
    let base_family = (sig >> 8) & 0xf;
    let family = if base_family == 0xf {
        base_family + ((sig >> 20) & 0xff)
    } else {
        base_family
    };
    let mut model = (sig >> 4) & 0xf;
    if family >= 6 {
        model += ((sig >> 16) & 0xf) << 4;
    }
    b[p.field("cpuinfo_x86.x86")? as usize] = family as u8;
    b[p.field("cpuinfo_x86.x86_vendor")? as usize] = x86_vendor(&vendor);
    b[p.field("cpuinfo_x86.x86_model")? as usize] = model as u8;
    b[p.field("cpuinfo_x86.x86_stepping")? as usize] = (sig & 0xf) as u8;
    let max_ext = cpuid(0x8000_0000, 0)[0];
    let caps = p.field("cpuinfo_x86.x86_capability")? as usize;
    let ncapints = p.field("NCAPINTS")? as usize;
    for &(word, leaf, sub, reg) in CPUID_WORDS {
        let present = if leaf >= 0x8000_0000 {
            leaf <= max_ext
        } else {
            leaf <= max_leaf
        };
        if word < ncapints && present {
            let v = cpuid(leaf, sub)[reg];
            b[caps + 4 * word..caps + 4 * word + 4].copy_from_slice(&v.to_le_bytes());
        }
    }
    let vid = p.field("cpuinfo_x86.x86_vendor_id")? as usize;
    b[vid..vid + 12].copy_from_slice(&vendor);
    if max_ext >= 0x8000_0004 {
        let mut brand = Vec::with_capacity(48);
        for leaf in 0x8000_0002..=0x8000_0004 {
            for r in cpuid(leaf, 0) {
                brand.extend_from_slice(&r.to_le_bytes());
            }
        }
        // The kernel strips leading spaces and keeps at most 63 bytes.
        let start = brand.iter().position(|&c| c != b' ').unwrap_or(brand.len());
        let brand: Vec<u8> = brand[start..]
            .iter()
            .copied()
            .take_while(|&c| c != 0)
            .collect();
        let mid = p.field("cpuinfo_x86.x86_model_id")? as usize;
        b[mid..mid + brand.len()].copy_from_slice(&brand);
    }
    // CLFLUSH line size: CPUID 1 EBX[15:8] in 8-byte units.
    let clflush = ((misc >> 8) & 0xff) as u16 * 8;
    let clflush = if clflush == 0 { 64 } else { clflush };
    let cf = p.field("cpuinfo_x86.x86_clflush_size")? as usize;
    b[cf..cf + 2].copy_from_slice(&clflush.to_le_bytes());
    let ca = p.field("cpuinfo_x86.x86_cache_alignment")? as usize;
    b[ca..ca + 4].copy_from_slice(&i32::from(clflush).to_le_bytes());
    Ok(b)
}

// ---- pv_ops ----

/// `irq.save_fl` (callee-save: only %rax changes): the host's flags with IF
/// cleared while kload's virtual IF (the per-CPU byte at `IRQS_OFF_OFFSET`,
/// 0x30) says interrupts are off:
/// `pushf; pop %rax; testb $1, %gs:0x30; jz 1f; and $~0x200, %rax; 1: ret`.
const PV_SAVE_FL: &[u8] = &[
    0x9c, 0x58, // pushf; pop %rax
    0x65, 0xf6, 0x04, 0x25, 0x30, 0x00, 0x00, 0x00, 0x01, // testb $1, %gs:0x30
    0x74, 0x06, // jz +6
    0x48, 0x25, 0xff, 0xfd, 0xff, 0xff, // and $0xfffffffffffffdff, %rax
    0xc3,
];
/// `irq.irq_disable`: `movb $1, %gs:0x30; ret`. kload delivers no
/// interrupts; the flag is what `irqs_disabled()` and the lock stubs see.
const PV_IRQ_DISABLE: &[u8] = &[0x65, 0xc6, 0x04, 0x25, 0x30, 0x00, 0x00, 0x00, 0x01, 0xc3];
/// `irq.irq_enable`: `movb $0, %gs:0x30; ret`.
const PV_IRQ_ENABLE: &[u8] = &[0x65, 0xc6, 0x04, 0x25, 0x30, 0x00, 0x00, 0x00, 0x00, 0xc3];
/// `cpu.io_delay`: `ret` (no port 0x80 to write).
const PV_NOP: &[u8] = &[0xc3];
/// `lock.queued_spin_unlock(lock)` (callee-save): `movb $0, (%rdi); ret`,
/// the native unlock.
const PV_SPIN_UNLOCK: &[u8] = &[0xc6, 0x07, 0x00, 0xc3];
/// `lock.vcpu_is_preempted(cpu)` (callee-save): `xor %eax, %eax; ret`;
/// the one emulated CPU is never preempted by a hypervisor.
const PV_VCPU_NOT_PREEMPTED: &[u8] = &[0x31, 0xc0, 0xc3];

/// The operations kload implements, by `struct paravirt_patch_template`
/// field; every other slot calls `pv_ops_unemulated`.
const PV_SLOTS: &[(&str, &str)] = &[
    ("paravirt_patch_template.irq.save_fl", "pv_native_save_fl"),
    (
        "paravirt_patch_template.irq.irq_disable",
        "pv_native_irq_disable",
    ),
    (
        "paravirt_patch_template.irq.irq_enable",
        "pv_native_irq_enable",
    ),
    ("paravirt_patch_template.cpu.io_delay", "native_io_delay"),
    ("paravirt_patch_template.cpu.cpuid", "native_cpuid"),
    (
        "paravirt_patch_template.lock.queued_spin_unlock",
        "native_queued_spin_unlock",
    ),
    (
        "paravirt_patch_template.lock.vcpu_is_preempted",
        "native_vcpu_is_preempted",
    ),
];

fn pv_ops(ctx: &DataCtx<'_>) -> Result<Vec<u8>, MissingField> {
    let p = ctx.profile;
    let size = p.field("sizeof(struct paravirt_patch_template)")? as usize;
    let trap = ctx.func("pv_ops_unemulated");
    let mut b = Vec::with_capacity(size);
    while b.len() + 8 <= size {
        b.extend_from_slice(&trap.to_le_bytes());
    }
    b.resize(size, 0);
    for (field, func) in PV_SLOTS {
        let off = p.field(field)? as usize;
        b[off..off + 8].copy_from_slice(&ctx.func(func).to_le_bytes());
    }
    Ok(b)
}

/// `cpu.cpuid(unsigned *eax, unsigned *ebx, unsigned *ecx, unsigned *edx)`:
/// CPUID of the host for the leaf in `*eax` and subleaf in `*ecx`.
fn native_cpuid(a: &mut CallArgs) -> u64 {
    let ptrs = [a.arg(0), a.arg(1), a.arg(2), a.arg(3)];
    let (Some(leaf), Some(sub)) = (mm::read_u32(ptrs[0]), mm::read_u32(ptrs[2])) else {
        return bad_cpuid_pointers(a);
    };
    for (p, v) in ptrs.iter().zip(cpuid(leaf, sub)) {
        if mm::write_bytes(*p, &v.to_le_bytes()).is_err() {
            return bad_cpuid_pointers(a);
        }
    }
    0
}

fn bad_cpuid_pointers(a: &CallArgs) -> u64 {
    let what = "paravirt cpuid called with unwritable register pointers";
    super::panic::kload_bug(what, a.caller());
    task::kill(what);
    0
}

/// Every `pv_ops` slot kload does not implement (MSRs, page tables, TLB
/// flushes, ...): loud, like a named trap.
fn pv_ops_unemulated(a: &mut CallArgs) -> u64 {
    let what = "paravirt operations are not emulated: an unemulated pv_ops slot was called";
    super::panic::kload_bug(what, a.caller());
    task::kill(what);
    0
}

pub(super) fn register(r: &mut Registry) {
    r.data("__cpu_online_mask", Access::ReadWrite, one_cpu_mask);
    r.data("__cpu_possible_mask", Access::ReadWrite, one_cpu_mask);
    r.data("__cpu_present_mask", Access::ReadWrite, one_cpu_mask);
    r.data("__cpu_active_mask", Access::ReadWrite, one_cpu_mask);
    r.data("nr_cpu_ids", Access::ReadWrite, one_u32);
    r.data("__num_online_cpus", Access::ReadWrite, one_u32);
    // 64 KiB (NR_CPUS entries), used by few modules: built on first use.
    r.data_lazy("__per_cpu_offset", per_cpu_offset_size, per_cpu_offset);
    r.data_lazy("boot_cpu_data", cpuinfo_size, boot_cpu_data);
    r.data("pv_ops", Access::ReadWrite, pv_ops);
    r.internal_code("pv_native_save_fl", PV_SAVE_FL);
    r.internal_code("pv_native_irq_disable", PV_IRQ_DISABLE);
    r.internal_code("pv_native_irq_enable", PV_IRQ_ENABLE);
    r.internal_code("native_io_delay", PV_NOP);
    r.internal_code("native_queued_spin_unlock", PV_SPIN_UNLOCK);
    r.internal_code("native_vcpu_is_preempted", PV_VCPU_NOT_PREEMPTED);
    r.internal("native_cpuid", native_cpuid);
    r.internal("pv_ops_unemulated", pv_ops_unemulated);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::PROFILES;

    fn ctx_for(p: &'static crate::profile::KernelProfile) -> DataCtx<'static> {
        DataCtx {
            profile: p,
            resolve: &|n: &str| crate::kernel::symbols::function_address(n).unwrap(),
            percpu_base: 0x4000_0000,
        }
    }

    #[test]
    fn boot_cpu_data_names_the_host_vendor_and_family() {
        let [_, ebx, _, _] = cpuid(0, 0);
        for p in PROFILES {
            let b = boot_cpu_data(&ctx_for(p)).unwrap();
            let vid = p.field("cpuinfo_x86.x86_vendor_id").unwrap() as usize;
            assert_eq!(&b[vid..vid + 4], &ebx.to_le_bytes());
            assert_ne!(b[p.field("cpuinfo_x86.x86").unwrap() as usize], 0);
            // FPU (word 0 bit 0) is on every x86-64 CPU.
            let caps = p.field("cpuinfo_x86.x86_capability").unwrap() as usize;
            assert_eq!(b[caps] & 1, 1);
        }
    }

    #[test]
    fn pv_ops_slots_point_at_their_operations() {
        for p in PROFILES {
            let b = pv_ops(&ctx_for(p)).unwrap();
            let word = |off: u64| u64::from_le_bytes(b[off as usize..][..8].try_into().unwrap());
            let f = |n| {
                crate::kernel::symbols::function_address(n)
                    .unwrap()
                    .unwrap()
            };
            let save_fl = p.field("paravirt_patch_template.irq.save_fl").unwrap();
            assert_eq!(word(save_fl), f("pv_native_save_fl"));
            let read_msr = p.field("paravirt_patch_template.cpu.read_msr").unwrap();
            assert_eq!(word(read_msr), f("pv_ops_unemulated"));
        }
    }

    /// The raw irq operations address the virtual IF byte at its offset.
    #[test]
    fn irq_operations_use_the_virtual_if_slot() {
        let disp = (crate::exec::percpu::IRQS_OFF_OFFSET as u32).to_le_bytes();
        assert_eq!(&PV_SAVE_FL[6..10], &disp);
        assert_eq!(&PV_IRQ_DISABLE[4..8], &disp);
        assert_eq!(&PV_IRQ_ENABLE[4..8], &disp);
    }

    #[test]
    fn per_cpu_offset_of_cpu0_is_the_gs_base() {
        for p in PROFILES {
            let b = per_cpu_offset(&ctx_for(p)).unwrap();
            assert_eq!(&b[..8], &0x4000_0000u64.to_le_bytes());
            assert!(b[8..].iter().all(|&x| x == 0));
        }
    }
}
