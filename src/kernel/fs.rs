//! The emulated files users read and write with `kload cat` and
//! `kload write`: /proc (procfs.rs) and /sys (sysfs.rs).

use std::sync::Arc;

use super::Kernel;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FsError {
    #[error("{0}: No such file or directory")]
    NoEntry(String),
    #[error("{0}: Permission denied")]
    Permission(String),
    #[error("{0}: Is a directory")]
    IsDir(String),
    #[error("{path}: {detail}")]
    Invalid {
        path: String,
        detail: String,
        errno: i32,
    },
}

impl FsError {
    pub fn errno(&self) -> i32 {
        match self {
            FsError::NoEntry(_) => libc::ENOENT,
            FsError::Permission(_) => libc::EACCES,
            FsError::IsDir(_) => libc::EISDIR,
            FsError::Invalid { errno, .. } => *errno,
        }
    }
}

/// Read a file. Before the first module boots the kernel, /proc/modules is
/// empty and /sys/module has no entries.
pub fn read(kernel: Option<&Arc<Kernel>>, path: &str) -> Result<String, FsError> {
    let path = path.trim_end_matches('/');
    match (kernel, path) {
        (_, "/proc/modules") => Ok(kernel
            .map(|k| super::procfs::proc_modules(k))
            .unwrap_or_default()),
        (k, "/proc/dynamic_debug/control" | "/sys/kernel/debug/dynamic_debug/control") => {
            Ok(super::dynamic_debug::control_read(k.map(|k| &**k)))
        }
        (Some(k), p) if p.starts_with("/sys/module/") => super::sysfs::read(k, p),
        (Some(k), "/proc/sys/kernel/tainted") => Ok(format!("{}\n", k.taint.mask())),
        (Some(k), "/sys/kernel/tracing/trace" | "/sys/kernel/debug/tracing/trace") => {
            Ok(k.trace.format(k).iter().map(|l| format!("{l}\n")).collect())
        }
        (None, "/proc/sys/kernel/tainted") => Ok("0\n".into()),
        _ => Err(FsError::NoEntry(path.to_owned())),
    }
}

/// Write a file (module parameters, as root would).
pub fn write(kernel: Option<&Arc<Kernel>>, path: &str, data: &str) -> Result<(), FsError> {
    match kernel {
        Some(k) if path.starts_with("/sys/module/") => super::sysfs::write(k, path, data),
        _ if path == "/proc/dynamic_debug/control"
            || path == "/sys/kernel/debug/dynamic_debug/control" =>
        {
            // Before the first module boots the kernel there is no site
            // to match: every well-formed query matches nothing.
            match kernel {
                Some(k) => super::dynamic_debug::control_write(k, data.as_bytes()).map(|_| ()),
                None => Ok(()),
            }
            .map_err(|errno| FsError::Invalid {
                path: path.to_owned(),
                detail: "dynamic debug query failed (see the kernel log)".into(),
                errno,
            })
        }
        _ if path == "/proc/modules" => Err(FsError::Permission(path.to_owned())),
        _ => Err(FsError::NoEntry(path.to_owned())),
    }
}
