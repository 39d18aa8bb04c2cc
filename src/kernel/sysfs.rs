//! /sys/module/<name>/ (kernel/module/sysfs.c, kernel/params.c): the
//! module's attributes and its parameters.

use super::fs::FsError;
use super::Kernel;
use crate::module::ModuleState;

/// Read `/sys/module/<name>/<attr>`.
pub fn read(k: &Kernel, path: &str) -> Result<String, FsError> {
    let rest = path.strip_prefix("/sys/module/").unwrap_or_default();
    let mut parts = rest.splitn(2, '/');
    let name = parts.next().unwrap_or_default();
    let attr = parts.next();
    let m = k.module_list().into_iter().find(|m| m.name == name).ok_or_else(|| FsError::NoEntry(path.to_owned()))?;
    let state = match m.state() {
        ModuleState::Live => "live",
        ModuleState::Coming => "coming",
        ModuleState::Going => "going",
        ModuleState::Unformed => "unformed",
    };
    match attr {
        None | Some("parameters") | Some("holders") => Err(FsError::IsDir(path.to_owned())),
        Some("refcnt") => Ok(format!("{}\n", m.refcount())),
        Some("initstate") => Ok(format!("{state}\n")),
        Some("taint") => Ok(format!("{}\n", crate::kernel::panic::module_flags(m.taints))),
        Some("coresize") => Ok(format!("{}\n", m.core_size())),
        Some("initsize") => Ok(format!("{}\n", m.init_size())),
        Some(a) if a.starts_with("version") || a.starts_with("srcversion") => {
            m.modinfo.get(a).map(|v| format!("{v}\n")).ok_or_else(|| FsError::NoEntry(path.to_owned()))
        }
        Some(a) if a.starts_with("parameters/") => Err(FsError::NoEntry(path.to_owned())),
        Some(_) => Err(FsError::NoEntry(path.to_owned())),
    }
}

/// Write `/sys/module/<name>/parameters/<p>`.
pub fn write(k: &Kernel, path: &str, _data: &str) -> Result<(), FsError> {
    let _ = k;
    Err(FsError::NoEntry(path.to_owned()))
}
