//! Module reference counts (kernel/module/main.c): `try_module_get`,
//! `__module_get`, `module_put`. A `struct module *` is matched against
//! the loaded modules' `__this_module`; the count they change is the one
//! `lsmod`, `/sys/module/*/refcnt` and `rmmod` see (`Module::refcount`).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::symbols::Registry;
use crate::exec::dispatch::CallArgs;
use crate::exec::task;
use crate::module::{Module, ModuleState};

/// The loaded module whose `struct module` is at `ptr`; a pointer that is
/// no module's kills the task (the kernel would use it as one).
fn module_at(ptr: u64, func: &str) -> Option<Arc<Module>> {
    let k = task::current_kernel()?;
    let m = k.module_list().into_iter().find(|m| m.this_module == ptr);
    if m.is_none() {
        task::kill(&format!(
            "{func}: {ptr:#x} is not a loaded module's struct module"
        ));
    }
    m
}

/// `try_module_get(mod)`: NULL (built-in code) always succeeds; otherwise
/// a reference is taken unless the module is going away
/// (`module_is_live`: any state but GOING).
fn sys_try_module_get(a: &mut CallArgs) -> u64 {
    if a.arg(0) == 0 {
        return 1;
    }
    let Some(m) = module_at(a.arg(0), "try_module_get") else {
        return 0;
    };
    if m.state() == ModuleState::Going {
        return 0;
    }
    m.extra_refs.fetch_add(1, Ordering::Relaxed);
    1
}

/// `__module_get(mod)`: a reference, unconditionally.
fn sys_module_get(a: &mut CallArgs) -> u64 {
    if a.arg(0) != 0 {
        if let Some(m) = module_at(a.arg(0), "__module_get") {
            m.extra_refs.fetch_add(1, Ordering::Relaxed);
        }
    }
    0
}

/// `module_put(mod)`: drop a reference taken by the two above.
fn sys_module_put(a: &mut CallArgs) -> u64 {
    if a.arg(0) == 0 {
        return 0;
    }
    if let Some(m) = module_at(a.arg(0), "module_put") {
        let dropped = m
            .extra_refs
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        if dropped.is_err() {
            log::warn!("module_put({}): no reference to drop", m.name);
        }
    }
    0
}

pub(super) fn register(r: &mut Registry) {
    r.func("try_module_get", sys_try_module_get);
    r.func("__module_get", sys_module_get);
    r.func("module_put", sys_module_put);
}
