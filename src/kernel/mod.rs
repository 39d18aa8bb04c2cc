//! The stub kernel: kernel functions and data re-implemented in Rust, one
//! file per subsystem, and the `Kernel` instance that holds the emulated
//! kernel's state (log, per-CPU area, modules, taint).
//!
//! Several kernels may live in one process (tests do this); stub functions
//! find theirs through the task running on the calling thread.

pub mod bitmap;
pub mod bug;
pub mod cpu;
pub mod crc;
pub mod data;
pub mod device;
pub mod devres;
pub mod disasm;
pub mod dynamic_debug;
pub mod fs;
pub mod idr;
pub mod kstrtox;
pub mod kthread;
pub mod list;
pub mod locking;
pub mod module_refs;
pub mod net_namespace;
pub mod netdev;
pub mod page;
pub mod panic;
pub mod params;
pub mod printk;
pub mod procfs;
pub mod random;
pub mod ratelimit;
pub mod rbtree;
pub mod rcu;
pub mod refcount;
pub mod resource;
pub mod sched;
pub mod slab;
pub mod softirq;
pub mod string;
pub mod symbols;
pub mod sysfs;
pub mod time;
pub mod timer;
pub mod trace;
pub mod unemulated;
pub mod unwind_orc;
pub mod vsprintf;
pub mod wait;
pub mod workqueue;
pub mod x86;
pub mod xarray;

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use crate::exec::percpu::PerCpu;
use crate::mm::{self, MmError};
use crate::module::Module;
use crate::profile::KernelProfile;
use panic::Taint;
use printk::LogBuffer;
use sched::{Sched, SchedError};
use trace::TraceBuffer;
use vsprintf::{FormatContext, SymbolHit};

#[derive(Debug, thiserror::Error)]
pub enum BootError {
    #[error(transparent)]
    Mm(#[from] MmError),
    #[error(transparent)]
    Sched(#[from] SchedError),
    #[error(transparent)]
    Data(#[from] data::DataError),
}

/// The state `Kernel::rollback` restores.
pub struct Checkpoint {
    log: u64,
    taint: u32,
    sig_notice_done: bool,
    once: HashSet<String>,
    percpu: u64,
}

/// One emulated kernel.
pub struct Kernel {
    pub profile: &'static KernelProfile,
    pub log: LogBuffer,
    pub trace: TraceBuffer,
    pub percpu: PerCpu,
    pub sched: Sched,
    pub data: data::KernelData,
    pub taint: Taint,
    /// The slab allocator and its checks (kmalloc, vmalloc, kmem_cache, pages).
    pub slab: slab::Slab,
    /// The contents of the modules' XArrays, IDRs and IDAs.
    pub xa: xarray::XaStore,
    /// Which device owns which devm allocation.
    pub devres: devres::Devres,
    /// Loaded modules, newest first (the kernel's `modules` list order).
    pub(crate) modules: Mutex<Vec<Arc<Module>>>,
    /// Names of modules being loaded (UNFORMED: invisible, but they block a duplicate).
    loading: Mutex<HashSet<String>>,
    /// The one emulated CPU: a task holds it while it runs module code.
    pub cpu: crate::exec::cpu::Cpu,
    /// Every live kernel task by its `task_struct` address.
    tasks: Mutex<HashMap<u64, Arc<crate::exec::task::Task>>>,
    /// Pending timers and the timer softirq's task.
    pub timers: timer::Timers,
    /// Workqueues, work items and the worker task.
    pub workqueues: workqueue::Workqueues,
    /// kthreads by task_struct.
    pub kthreads: kthread::Kthreads,
    /// Key of the `%p` pointer hash.
    ptr_key: u64,
    /// `pr_notice_once` state of the unsigned-module notice.
    pub(crate) sig_notice_done: AtomicBool,
    /// Keys of the `*_once` messages already printed.
    once: Mutex<HashSet<String>>,
    /// `last_unloaded_module`: name and taint letters, for "Modules linked in".
    last_unloaded: Mutex<Option<String>>,
    /// `die_counter`: Oopses so far.
    die_counter: AtomicU32,
    /// The CPU's CR2: the address of the last page fault the kernel took
    /// (module faults, and its own failed reads of code bytes).
    cr2: AtomicU64,
    /// Reports disassemble their `Code:` bytes (`kload run -v`).
    verbose_faults: AtomicBool,
    /// Timers, work and kthreads that modules left behind at unload.
    pub task_findings: AtomicU32,
}

impl Kernel {
    /// Boot a kernel for `profile`.
    pub fn boot(profile: &'static KernelProfile) -> Result<Arc<Kernel>, BootError> {
        let boot = Instant::now();
        // Make sure the stub table exists before any module needs it.
        symbols::lookup("_printk")?;
        let percpu = PerCpu::new(crate::host::random_u64())?;
        let sched = Sched::new(profile, &percpu)?;
        let data = data::KernelData::build(profile, percpu.base())?;
        let kernel = Arc::new(Kernel {
            profile,
            log: LogBuffer::new(boot, printk::log_line_max(profile.version())),
            trace: TraceBuffer::new(boot),
            percpu,
            sched,
            data,
            taint: Taint::default(),
            slab: slab::Slab::new(),
            xa: xarray::XaStore::default(),
            devres: devres::Devres::default(),
            modules: Mutex::default(),
            loading: Mutex::default(),
            cpu: crate::exec::cpu::Cpu::default(),
            tasks: Mutex::default(),
            timers: timer::Timers::default(),
            workqueues: workqueue::Workqueues::default(),
            kthreads: kthread::Kthreads::default(),
            ptr_key: crate::host::random_u64(),
            sig_notice_done: AtomicBool::new(false),
            once: Mutex::default(),
            last_unloaded: Mutex::default(),
            die_counter: AtomicU32::new(0),
            cr2: AtomicU64::new(0),
            verbose_faults: AtomicBool::new(false),
            task_findings: AtomicU32::new(0),
        });
        crate::exec::task::start_jiffies_ticker(&kernel);
        Ok(kernel)
    }

    /// What the loader's stages may change before a module is formed: the
    /// log, the taints and their once-only notices, per-CPU reservations.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            log: self.log.mark(),
            taint: self.taint.mask(),
            sig_notice_done: self.sig_notice_done.load(Ordering::Relaxed),
            once: self.once.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            percpu: self.percpu.mark(),
        }
    }

    /// Return to `cp` (`kload check`); gives back the log records made
    /// since.
    pub fn rollback(&self, cp: Checkpoint) -> Result<Vec<printk::Record>, MmError> {
        self.taint.restore(cp.taint);
        self.sig_notice_done
            .store(cp.sig_notice_done, Ordering::Relaxed);
        *self.once.lock().unwrap_or_else(|p| p.into_inner()) = cp.once;
        self.percpu.rewind(cp.percpu)?;
        Ok(self.log.take_since(cp.log))
    }

    /// For `pr_*_once` messages: true the first time `key` is seen.
    pub fn note_once(&self, key: &str) -> bool {
        self.once
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_owned())
    }

    /// The number of the next Oops (`++die_counter`), 1 for the first.
    pub fn next_die_counter(&self) -> u32 {
        self.die_counter.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// CR2: the last page-fault address.
    pub fn cr2(&self) -> u64 {
        self.cr2.load(Ordering::Relaxed)
    }

    pub fn set_cr2(&self, addr: u64) {
        self.cr2.store(addr, Ordering::Relaxed);
    }

    /// Whether reports disassemble their code bytes.
    pub fn verbose_faults(&self) -> bool {
        self.verbose_faults.load(Ordering::Relaxed)
    }

    /// `kload run -v`: disassemble the code bytes of reports.
    pub fn set_verbose_faults(&self, on: bool) {
        self.verbose_faults.store(on, Ordering::Relaxed);
    }

    pub(crate) fn register_task(&self, task: &Arc<crate::exec::task::Task>) {
        self.tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(task.task_struct, Arc::clone(task));
    }

    pub(crate) fn unregister_task(&self, task_struct: u64) {
        self.tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&task_struct);
    }

    /// The live task whose `task_struct` is at `addr`.
    pub fn task_by_struct(&self, addr: u64) -> Option<Arc<crate::exec::task::Task>> {
        self.tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&addr)
            .cloned()
    }

    pub(crate) fn loading(&self) -> MutexGuard<'_, HashSet<String>> {
        self.loading.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The loaded modules, newest first.
    pub fn module_list(&self) -> Vec<Arc<Module>> {
        self.modules().clone()
    }

    pub(crate) fn modules(&self) -> MutexGuard<'_, Vec<Arc<Module>>> {
        self.modules.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Resolve a symbol the way `find_symbol` would for vmlinux: per-CPU
    /// variables first (their values are per-CPU offsets), then functions.
    pub fn resolve_kernel_symbol(&self, name: &str) -> Result<Option<u64>, MmError> {
        if let Some(off) = self.sched.symbol(name) {
            return Ok(Some(off));
        }
        if let Some(addr) = self.data.lookup(name) {
            return Ok(Some(addr));
        }
        symbols::lookup(name)
    }

    /// Symbolise `addr` (module symbols, then the stub kernel's) for `%pS`.
    pub fn with_symbol(&self, addr: u64, f: &mut dyn FnMut(Option<SymbolHit<'_>>)) {
        let module = self.modules().iter().find(|m| m.contains(addr)).cloned();
        if let Some(m) = module {
            if let Some((name, off, size)) = m.kallsyms_lookup(addr) {
                return f(Some(SymbolHit {
                    name: &name,
                    offset: off,
                    size,
                    module: Some(&m.name),
                }));
            }
            return f(None);
        }
        match symbols::symbolize(addr) {
            Some((name, off, size)) => f(Some(SymbolHit {
                name,
                offset: off,
                size,
                module: None,
            })),
            None => f(None),
        }
    }

    /// `%ps` of an address: the symbol without its offset.
    pub fn symbol_name(&self, addr: u64) -> String {
        let mut out = format!("0x{addr:x}");
        self.with_symbol(addr, &mut |hit| {
            if let Some(h) = hit {
                out = match h.module {
                    Some(m) => format!("{} [{m}]", h.name),
                    None => h.name.to_owned(),
                };
            }
        });
        out
    }

    /// Oopses so far.
    pub fn oopses(&self) -> u32 {
        self.die_counter.load(Ordering::Relaxed)
    }

    /// Whether the CPU runs in interrupt context (a softirq or hardirq
    /// count in the preempt count): `in_interrupt()`.
    pub fn in_interrupt(&self) -> bool {
        let mask = ["SOFTIRQ_OFFSET", "HARDIRQ_OFFSET"]
            .iter()
            .filter_map(|n| self.profile.get(n))
            .fold(0u64, |m, off| m | (off * 0xff));
        self.sched
            .preempt_count(&self.percpu)
            .is_ok_and(|c| u64::from(c) & mask != 0)
    }

    /// `%pS` of an address.
    pub fn symbolize(&self, addr: u64) -> String {
        let mut out = format!("0x{addr:x}");
        self.with_symbol(addr, &mut |hit| {
            if let Some(h) = hit {
                out = format_hit(&h, h.offset);
            }
        });
        out
    }

    /// `%pB` of a return address: looked up at `addr - 1`, so a call at the
    /// very end of a function is attributed to it. A return into kload's own
    /// code (a tail call from the module's entry point) names kload's entry.
    pub fn symbolize_return_address(&self, addr: u64) -> String {
        let mut out = if mm::region_tag(addr).is_none() {
            "kload_enter (kload's call into module code)".to_owned()
        } else {
            format!("0x{addr:x}")
        };
        self.with_symbol(addr.wrapping_sub(1), &mut |hit| {
            if let Some(h) = hit {
                out = format_hit(&h, h.offset + 1);
            }
        });
        out
    }

    /// The module list as `print_modules` shows it after "Modules linked in:".
    pub fn modules_linked_in(&self) -> String {
        let mut s: String = self
            .modules()
            .iter()
            .map(|m| format!(" {}", m.name_with_flags()))
            .collect();
        if let Some(last) = self
            .last_unloaded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            s.push_str(&format!(" [last unloaded: {last}]"));
        }
        s
    }

    /// Remember an unloaded module for "[last unloaded: name(flags)]".
    pub(crate) fn set_last_unloaded(&self, m: &Module) {
        let flags = panic::module_flags(m.taints);
        let entry = if flags.is_empty() {
            m.name.clone()
        } else {
            format!("{}({flags})", m.name)
        };
        *self.last_unloaded.lock().unwrap_or_else(|p| p.into_inner()) = Some(entry);
    }

    /// A taint that makes lock debugging unreliable: the kernel turns
    /// debug_locks off and says so, once.
    pub fn lockdep_off(&self) {
        if self.note_once("debug_locks_off") {
            self.log.emit(
                printk::LOGLEVEL_WARNING,
                "Disabling lock debugging due to kernel taint",
            );
        }
    }
}

fn format_hit(h: &SymbolHit<'_>, offset: u64) -> String {
    match h.module {
        Some(m) => format!("{}+{:#x}/{:#x} [{m}]", h.name, offset, h.size),
        None => format!("{}+{:#x}/{:#x}", h.name, offset, h.size),
    }
}

impl FormatContext for Kernel {
    fn read_bytes(&self, addr: u64, len: usize) -> Option<Vec<u8>> {
        mm::read_bytes(addr, len)
    }

    fn read_cstr(&self, addr: u64, max: usize) -> Option<Vec<u8>> {
        mm::read_cstr(addr, max)
    }

    fn lookup_symbol(&self, addr: u64, f: &mut dyn FnMut(Option<SymbolHit<'_>>)) {
        self.with_symbol(addr, f)
    }

    /// `%pV`: a `struct va_format` carries a pointer to the caller's va_list.
    fn open_va_list(&self, addr: u64) -> Option<Box<dyn vsprintf::VaList + '_>> {
        vsprintf::SysVVaList::open(self, addr)
            .map(|v| Box::new(v) as Box<dyn vsprintf::VaList + '_>)
    }

    /// The kernel WARNs here (bad format strings); kload reports it as a
    /// diagnostic of its own, and notes what it does not emulate yet.
    fn warn(&self, message: &str) {
        log::warn!("vsprintf: {message}");
    }

    /// The kernel hashes pointers with siphash under a boot-time random key
    /// and prints the low 32 bits; so does kload, with its own key.
    fn hash_pointer(&self, addr: u64) -> Option<u64> {
        let mut h = DefaultHasher::new();
        (self.ptr_key, addr).hash(&mut h);
        Some(h.finish() & 0xffff_ffff)
    }
}

/// When a module's memory is about to go (after exit, after a failed
/// init, at a forced removal): its timers still pending, work still
/// queued and kthreads still running are reported and ended (the real
/// kernel would run freed code later); counted in `task_findings`.
pub fn unload_task_check(k: &Kernel, m: &Module) {
    let n = timer::unload_check(k, m) + workqueue::unload_check(k, m) + kthread::unload_check(k, m);
    k.task_findings.fetch_add(n as u32, Ordering::Relaxed);
}

/// Whether the pr_notice_once of the unsigned-module message is still due.
pub(crate) fn take_once(flag: &AtomicBool) -> bool {
    !flag.swap(true, Ordering::Relaxed)
}
