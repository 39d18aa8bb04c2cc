//! `do_init_module` and `do_one_initcall`: run the module's init on a
//! kernel task, judge its result as the kernel does, then make the module
//! live and drop its init memory.

use std::sync::Arc;

use super::error::LoadError;
use super::layout_sections::page_align;
use super::params::{destroy_module_params, parse_args};
use super::state::{Allocation, FreedInit, Module, ModuleState};
use crate::exec::task::{self, run_task};
use crate::kernel::panic::{report_header, TAINT_WARN};
use crate::kernel::printk::LOGLEVEL_WARNING;
use crate::kernel::Kernel;

/// Where the module's `__param` table is and how many entries it has.
#[derive(Debug, Clone, Copy, Default)]
pub struct ParamTable {
    pub addr: u64,
    pub count: u64,
}

/// Run parameters and init on the "insmod" task. On a negative return the
/// module is unlinked and freed without calling exit; a positive return is
/// warned about and the load goes on.
pub fn do_init_module(
    kernel: &Arc<Kernel>,
    module: &Arc<Module>,
    args: &str,
    params: ParamTable,
) -> Result<(), LoadError> {
    let nomem = |e: crate::mm::MmError| LoadError::NoMemory {
        module: module.name.clone(),
        detail: e.to_string(),
    };
    let ret = run_task(kernel, "insmod", || -> Result<i32, LoadError> {
        let strings = parse_args(kernel, module, args, params.addr, params.count)?;
        *module.args_mem.lock().unwrap_or_else(|p| p.into_inner()) = strings;
        let ret = if module.init_fn == 0 {
            Ok(0)
        } else {
            let ret = do_one_initcall(kernel, module);
            if !matches!(ret, Err(LoadError::InitKilled { .. })) {
                // `lockdep_sys_exit`: insmod returns to user space.
                release_held_locks(kernel);
            }
            if matches!(ret, Ok(r) if r < 0) {
                // What the failed init left armed or queued would run in
                // freed memory.
                crate::kernel::unload_task_check(kernel, module);
                // The failure path frees the parameters (charp copies) on
                // this task, before the module's memory goes.
                destroy_module_params(kernel, module);
            }
            ret
        };
        if let Ok(r) = ret {
            if r >= 0 {
                // Still on the CPU: the module is LIVE before any task
                // init woke (a worker, a kthread) runs.
                if r > 0 {
                    suspicious_return(kernel, &module.name, r);
                }
                module.set_state(ModuleState::Live);
                module
                    .extra_refs
                    .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        ret
    })
    .map_err(|e| LoadError::NoMemory {
        module: module.name.clone(),
        detail: e.to_string(),
    })?;
    let ret = match ret {
        Ok(r) => r,
        // The task died in init: the module stays COMING, with the
        // loader's reference still held, as the kernel leaves it.
        Err(e @ LoadError::InitKilled { .. }) => {
            module
                .init_died
                .store(true, std::sync::atomic::Ordering::Relaxed);
            return Err(e);
        }
        Err(e) => {
            unlink_and_free(kernel, module);
            return Err(e);
        }
    };
    if ret < 0 {
        unlink_and_free(kernel, module);
        return Err(LoadError::InitFailed {
            module: module.name.clone(),
            ret,
        });
    }
    free_init_memory(module).map_err(nomem)
}

/// `do_one_initcall`: call init and check the preempt count it leaves behind.
fn do_one_initcall(kernel: &Arc<Kernel>, module: &Arc<Module>) -> Result<i32, LoadError> {
    let nomem = |e: crate::mm::MmError| LoadError::NoMemory {
        module: module.name.clone(),
        detail: e.to_string(),
    };
    let before = kernel.sched.preempt_count(&kernel.percpu).map_err(nomem)?;
    let rax =
        task::call_module(module.init_fn, [0; 6]).map_err(|reason| LoadError::InitKilled {
            module: module.name.clone(),
            reason,
        })?;
    let after = kernel.sched.preempt_count(&kernel.percpu).map_err(nomem)?;
    if after != before {
        kernel
            .sched
            .set_preempt_count(&kernel.percpu, before)
            .map_err(nomem)?;
        let msg = format!(
            "initcall {} returned with preemption imbalance ",
            kernel.symbolize(module.init_fn)
        );
        warn(kernel, &msg);
    }
    Ok(rax as u32 as i32)
}

/// A `WARN(1, ...)` raised by the emulated kernel itself: cut-here line,
/// message, WARNING line, modules, the CPU line and the end marker.
/// (The register dump and call trace of the real report are not emulated.)
fn warn(kernel: &Kernel, msg: &str) {
    let log = &kernel.log;
    log.emit(LOGLEVEL_WARNING, "------------[ cut here ]------------");
    log.emit(LOGLEVEL_WARNING, msg);
    let pid = task::current_task().map_or(0, |t| t.pid);
    log.emit(
        LOGLEVEL_WARNING,
        &format!("WARNING: CPU: 0 PID: {pid} at do_one_initcall"),
    );
    log.emit(
        LOGLEVEL_WARNING,
        &format!("Modules linked in:{}", kernel.modules_linked_in()),
    );
    for line in report_header(kernel) {
        log.emit(LOGLEVEL_WARNING, &line);
    }
    log.emit(LOGLEVEL_WARNING, "---[ end trace 0000000000000000 ]---");
    kernel.taint.add(TAINT_WARN);
}

fn suspicious_return(kernel: &Kernel, name: &str, ret: i32) {
    kernel.log.emit(
        LOGLEVEL_WARNING,
        &format!(
            "do_init_module: '{name}'->init suspiciously returned {ret}, it should follow 0/-E convention\ndo_init_module: loading module anyway..."
        ),
    );
    for line in report_header(kernel) {
        kernel.log.emit(LOGLEVEL_WARNING, &line);
    }
}

/// The failure path of `do_init_module`: GOING, unlinked, freed; exit is not called.
pub(crate) fn unlink_and_free(kernel: &Kernel, module: &Arc<Module>) {
    // kload's leak check: what the module still holds is reported before
    // its memory (and so its symbols) goes.
    crate::kernel::slab::report_leaks(kernel, module);
    module.set_state(ModuleState::Going);
    module.drop_uses();
    kernel.modules().retain(|m| !Arc::ptr_eq(m, module));
    let mut mem = module.memory();
    mem.allocs.clear();
    mem.freed_init.clear();
}

/// After a successful init: init memory and init symbols go, and
/// `__ro_after_init` data becomes read-only. kload remembers what the init
/// memory held (`FreedInit`), so that a later access to it, which faults
/// (freed pages are left PROT_NONE), can be named.
fn free_init_memory(module: &Module) -> Result<(), crate::mm::MmError> {
    let mut mem = module.memory();
    {
        let mut kallsyms = module.kallsyms.lock().unwrap_or_else(|p| p.into_inner());
        let ranges = mem
            .allocs
            .iter()
            .filter(|a| a.is_init())
            .flat_map(|a| {
                let (base, end) = (a.region.addr(), a.region.addr() + a.region.len());
                a.parts
                    .iter()
                    .filter(|p| p.2 > 0)
                    .map(move |&(m, off, size)| {
                        let start = base + off;
                        (m, start, (start + page_align(size)).min(end))
                    })
            })
            .collect();
        *module.freed_init.lock().unwrap_or_else(|p| p.into_inner()) = Some(FreedInit {
            ranges,
            symbols: kallsyms.clone(),
        });
        kallsyms.drop_init();
    }
    let (init, core): (Vec<_>, Vec<_>) = std::mem::take(&mut mem.allocs)
        .into_iter()
        .partition(Allocation::is_init);
    mem.allocs = core;
    for a in &init {
        a.region.protect(0, None, crate::mm::Prot::None)?;
    }
    mem.freed_init = init;
    for a in &mem.allocs {
        a.protect(true)?;
    }
    Ok(())
}

/// `lockdep_sys_exit`, run by kload when a module's init or exit returns:
/// every lock the task still holds is reported, the way lockdep's "lock
/// held when returning to user space" does (Debian's kernels have no
/// lockdep and say nothing), then released through its unlock function so
/// that the emulated kernel's state stays consistent. Runs on the task.
/// Returns how many locks were held.
pub(crate) fn release_held_locks(kernel: &Arc<Kernel>) -> usize {
    let Some(t) = task::current_task() else {
        return 0;
    };
    let held = crate::kernel::locking::held_locks_in(kernel, t.pid);
    if held.is_empty() {
        return 0;
    }
    let log = |s: &str| kernel.log.emit(LOGLEVEL_WARNING, &format!("kload: {s}"));
    log("================================================");
    log("WARNING: lock held when returning to user space!");
    log(&format!(
        "{} #1 {}",
        kernel.profile.release,
        kernel.taint.print_tainted()
    ));
    log("------------------------------------------------");
    log(&format!(
        "{}/{} is leaving the kernel with locks still held!",
        t.comm, t.pid
    ));
    let n = held.len();
    log(&format!(
        "{n} lock{} held by {}/{}:",
        if n > 1 { "s" } else { "" },
        t.comm,
        t.pid
    ));
    for (i, &(addr, site)) in held.iter().enumerate() {
        log(&format!(
            " #{i}: {addr:016x} ({}), at: {}",
            lock_name(kernel, addr),
            kernel.symbolize_return_address(site)
        ));
    }
    // Unlock the newest first; the unlock functions change the preempt
    // count (spinlocks), which do_one_initcall has already judged.
    let count = kernel.sched.preempt_count(&kernel.percpu).ok();
    for &(addr, site) in held.iter().rev() {
        let taken_by = lock_function(kernel, site);
        let unlock = taken_by.as_deref().and_then(unlock_for);
        let released = unlock.and_then(|(name, arg1)| {
            let f = kernel.resolve_kernel_symbol(name).ok().flatten()?;
            task::call_module(f, [addr, arg1, 0, 0, 0, 0]).ok()?;
            Some(name)
        });
        match released {
            Some(name) => log(&format!("released {addr:016x} with {name}()")),
            None => log(&format!(
                "cannot release {addr:016x}: taken by {}, no known unlock",
                taken_by.as_deref().unwrap_or("an unknown function")
            )),
        }
    }
    if let Some(c) = count {
        let _ = kernel.sched.set_preempt_count(&kernel.percpu, c);
    }
    n
}

/// The lock's name as lockdep would show it for a static lock: its symbol
/// (`DEFINE_MUTEX(name)`), else `lock`.
fn lock_name(kernel: &Kernel, addr: u64) -> String {
    let s = kernel.symbolize(addr);
    match s.split_once('+') {
        Some((name, rest)) if rest.starts_with("0x0/") => name.to_owned(),
        _ => "lock".to_owned(),
    }
}

/// The function that took a lock, from the `call rel32` that returns to
/// `site`.
fn lock_function(kernel: &Kernel, site: u64) -> Option<String> {
    let b = crate::mm::read_bytes(site.checked_sub(5)?, 5)?;
    if b[0] != 0xe8 {
        return None;
    }
    let target = site.wrapping_add_signed(i64::from(i32::from_le_bytes([b[1], b[2], b[3], b[4]])));
    let s = kernel.symbolize(target);
    let name = s.split_once('+').map_or(s.as_str(), |(n, _)| n);
    (!name.starts_with("0x")).then(|| name.to_owned())
}

/// The unlock function of a lock function, and its second argument.
fn unlock_for(lock_fn: &str) -> Option<(&'static str, u64)> {
    Some(match lock_fn {
        "mutex_lock"
        | "mutex_lock_io"
        | "mutex_lock_interruptible"
        | "mutex_lock_killable"
        | "mutex_trylock" => ("mutex_unlock", 0),
        "_raw_spin_lock" | "_raw_spin_trylock" => ("_raw_spin_unlock", 0),
        "_raw_spin_lock_irqsave" => (
            "_raw_spin_unlock_irqrestore",
            crate::kernel::locking::X86_EFLAGS_IF,
        ),
        "_raw_spin_lock_irq" => ("_raw_spin_unlock_irq", 0),
        "_raw_spin_lock_bh" => ("_raw_spin_unlock_bh", 0),
        "down_read" | "down_read_trylock" => ("up_read", 0),
        "down_write" | "down_write_trylock" => ("up_write", 0),
        _ => return None,
    })
}

/// After exit returns: the preempt count must be what it was before
/// (`do_one_initcall`'s check, which the kernel does not make for exit:
/// kload's own line). Restores it. Runs on the task.
pub(crate) fn check_exit_preempt(kernel: &Kernel, module: &Module, before: Option<u32>) {
    let Some(before) = before else { return };
    let Ok(after) = kernel.sched.preempt_count(&kernel.percpu) else {
        return;
    };
    if after != before {
        let _ = kernel.sched.set_preempt_count(&kernel.percpu, before);
        kernel.log.emit(
            LOGLEVEL_WARNING,
            &format!(
                "kload: {}: exit {} returned with preemption imbalance (preempt count {before:#x}, now {after:#x}); restored",
                module.name,
                kernel.symbolize(module.exit_fn)
            ),
        );
    }
}
