//! `do_init_module` and `do_one_initcall`: run the module's init on a
//! kernel task, judge its result as the kernel does, then make the module
//! live and drop its init memory.

use std::sync::Arc;

use super::error::LoadError;
use super::params::{destroy_module_params, parse_args};
use super::state::{Module, ModuleState};
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
        if module.init_fn == 0 {
            return Ok(0);
        }
        let ret = do_one_initcall(kernel, module);
        if matches!(ret, Ok(r) if r < 0) {
            // The failure path frees the parameters (charp copies) on
            // this task, before the module's memory goes.
            destroy_module_params(kernel, module);
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
        Err(e @ LoadError::InitKilled { .. }) => return Err(e),
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
    if ret > 0 {
        suspicious_return(kernel, &module.name, ret);
    }
    module.set_state(ModuleState::Live);
    module
        .extra_refs
        .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
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
    module.memory().allocs.clear();
}

/// After a successful init: init memory and init symbols go, and
/// `__ro_after_init` data becomes read-only.
fn free_init_memory(module: &Module) -> Result<(), crate::mm::MmError> {
    module
        .kallsyms
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .drop_init();
    let mut mem = module.memory();
    mem.allocs.retain(|a| !a.is_init());
    for a in &mem.allocs {
        a.protect(true)?;
    }
    Ok(())
}
