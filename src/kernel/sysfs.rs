//! /sys/module/<name>/ (kernel/module/sysfs.c, kernel/params.c): the
//! module's attributes and its parameters.
//!
//! `parameters/<p>` exists for each parameter with a non-zero `perm`
//! (`module_param_sysfs_setup`). Reading it runs the parameter's
//! `ops->get` into a page (`param_attr_show`), writing it runs `ops->set` on
//! what was written, NUL-terminated and at most a page per call
//! (`param_attr_store`, kernfs). As sysfs opens files (its root checks the
//! mode even for root), a file without a read bit cannot be read and one
//! without a write bit cannot be written: EACCES. The getter or setter runs
//! on a kernel task ("cat" or "write"), since it may be the module's code.

use std::sync::Arc;

use super::fs::FsError;
use super::params::{self, KernelParam, ParamLayout, ParamOps};
use super::Kernel;
use crate::exec::task::run_task;
use crate::mm::{LowRegion, Prot};
use crate::module::{Module, ModuleState};

/// Read `/sys/module/<name>/<attr>`.
pub fn read(k: &Arc<Kernel>, path: &str) -> Result<String, FsError> {
    let (m, attr) = lookup(k, path)?;
    let state = match m.state() {
        ModuleState::Live => "live",
        ModuleState::Coming => "coming",
        ModuleState::Going => "going",
        ModuleState::Unformed => "unformed",
    };
    match attr.as_deref() {
        None | Some("holders") => Err(FsError::IsDir(path.to_owned())),
        Some("parameters") if !visible_params(k, &m).is_empty() => {
            Err(FsError::IsDir(path.to_owned()))
        }
        Some("refcnt") => Ok(format!("{}\n", m.refcount())),
        Some("initstate") => Ok(format!("{state}\n")),
        Some("taint") => Ok(format!(
            "{}\n",
            crate::kernel::panic::module_flags(m.taints)
        )),
        Some("coresize") => Ok(format!("{}\n", m.core_size())),
        Some("initsize") => Ok(format!("{}\n", m.init_size())),
        Some(a) if a.starts_with("version") || a.starts_with("srcversion") => m
            .modinfo
            .get(a)
            .map(|v| format!("{v}\n"))
            .ok_or_else(|| FsError::NoEntry(path.to_owned())),
        Some(a) if a.starts_with("parameters/") => {
            read_param(k, &m, &a["parameters/".len()..], path)
        }
        Some(_) => Err(FsError::NoEntry(path.to_owned())),
    }
}

/// Write `/sys/module/<name>/parameters/<p>`.
pub fn write(k: &Arc<Kernel>, path: &str, data: &str) -> Result<(), FsError> {
    let (m, attr) = lookup(k, path)?;
    match attr.as_deref() {
        Some(a) if a.starts_with("parameters/") => {
            write_param(k, &m, &a["parameters/".len()..], data.as_bytes(), path)
        }
        None | Some("holders") => Err(FsError::IsDir(path.to_owned())),
        Some("parameters") if !visible_params(k, &m).is_empty() => {
            Err(FsError::IsDir(path.to_owned()))
        }
        // The other attributes are read-only (0444).
        Some(_) if read(k, path).is_ok() => Err(FsError::Permission(path.to_owned())),
        _ => Err(FsError::NoEntry(path.to_owned())),
    }
}

/// The module a /sys/module path names, and the rest of the path.
fn lookup(k: &Kernel, path: &str) -> Result<(Arc<Module>, Option<String>), FsError> {
    let rest = path.strip_prefix("/sys/module/").unwrap_or_default();
    let mut parts = rest.splitn(2, '/');
    let name = parts.next().unwrap_or_default();
    let attr = parts.next().map(str::to_owned);
    let m = k
        .module_list()
        .into_iter()
        .find(|m| m.name == name)
        .ok_or_else(|| FsError::NoEntry(path.to_owned()))?;
    Ok((m, attr))
}

/// The parameters that have a file (non-zero `perm`).
fn visible_params(k: &Kernel, m: &Module) -> Vec<KernelParam> {
    crate::module::params::module_params(k, m)
        .into_iter()
        .filter(|kp| kp.perm != 0)
        .collect()
}

/// An errno as a failed read or write reports it.
fn errno_error(path: &str, errno: i32) -> FsError {
    let text = std::io::Error::from_raw_os_error(errno).to_string();
    let detail = text.split(" (os error").next().unwrap_or(&text).to_owned();
    FsError::Invalid {
        path: path.to_owned(),
        detail,
        errno,
    }
}

/// The parameter file `pname`, its ops and the layouts.
fn param_file(
    k: &Kernel,
    m: &Module,
    pname: &str,
    path: &str,
) -> Result<(KernelParam, ParamOps, ParamLayout), FsError> {
    let kp = visible_params(k, m)
        .into_iter()
        .find(|kp| kp.name == pname.as_bytes())
        .ok_or_else(|| FsError::NoEntry(path.to_owned()))?;
    let l = ParamLayout::of(k.profile).map_err(|e| FsError::Invalid {
        path: path.to_owned(),
        detail: e.to_string(),
        errno: libc::EIO,
    })?;
    let ops = ParamOps::read(&l, kp.ops).ok_or_else(|| errno_error(path, libc::EFAULT))?;
    Ok((kp, ops, l))
}

/// A page for the getter or setter, followed by an inaccessible page (a
/// getter that overruns it fails instead of writing into other memory).
fn page_buffer(l: &ParamLayout, path: &str) -> Result<LowRegion, FsError> {
    let buf = LowRegion::alloc(2 * l.page_size, Prot::ReadWrite, "sysfs-buffer")
        .map_err(|_| errno_error(path, libc::ENOMEM))?;
    buf.protect(l.page_size, Some(l.page_size), Prot::None)
        .map_err(|_| errno_error(path, libc::ENOMEM))?;
    Ok(buf)
}

/// `param_attr_show` through `sysfs_kf_seq_show`.
fn read_param(k: &Arc<Kernel>, m: &Module, pname: &str, path: &str) -> Result<String, FsError> {
    let (kp, ops, l) = param_file(k, m, pname, path)?;
    if kp.perm & 0o444 == 0 {
        return Err(FsError::Permission(path.to_owned()));
    }
    if ops.get == 0 {
        return Err(errno_error(path, libc::EPERM));
    }
    if !params::callable(ops.get) {
        return Err(errno_error(path, libc::EFAULT));
    }
    let buf = page_buffer(&l, path)?;
    let (addr, page) = (buf.addr(), l.page_size);
    let count = on_task(k, "cat", path, || params::call(ops.get, addr, kp.addr))?;
    if count < 0 {
        return Err(errno_error(path, -count));
    }
    // sysfs_kf_seq_show: a count of a page or more is cut to PAGE_SIZE - 1.
    let count = (count as u64).min(page - 1);
    let bytes = buf
        .read(0, count as usize)
        .map_err(|_| errno_error(path, libc::EFAULT))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// `param_attr_store`: kernfs hands the setter at most a page per write
/// call, NUL-terminated; a longer write is several calls. An empty write
/// calls nothing.
fn write_param(
    k: &Arc<Kernel>,
    m: &Module,
    pname: &str,
    data: &[u8],
    path: &str,
) -> Result<(), FsError> {
    let (kp, ops, l) = param_file(k, m, pname, path)?;
    if kp.perm & 0o222 == 0 {
        return Err(FsError::Permission(path.to_owned()));
    }
    if ops.set == 0 {
        return Err(errno_error(path, libc::EPERM));
    }
    if !params::callable(ops.set) {
        return Err(errno_error(path, libc::EFAULT));
    }
    for chunk in data.chunks(l.page_size as usize) {
        let buf = page_buffer(&l, path)?;
        let mut bytes = chunk.to_vec();
        bytes.push(0);
        buf.write(0, &bytes)
            .map_err(|_| errno_error(path, libc::EFAULT))?;
        let addr = buf.addr();
        let ret = on_task(k, "write", path, || {
            params::param_check_unsafe(k, &kp);
            params::call(ops.set, addr, kp.addr)
        })?;
        // A positive return is taken as a byte count by the kernel; only a
        // negative one is an error.
        if ret < 0 {
            return Err(errno_error(path, -ret));
        }
    }
    Ok(())
}

/// Run a parameter getter or setter on a kernel task named `comm`; a task
/// that cannot start, or dies, is an error on `path`.
fn on_task<R: Send>(
    k: &Arc<Kernel>,
    comm: &str,
    path: &str,
    f: impl FnOnce() -> Result<R, String> + Send,
) -> Result<R, FsError> {
    run_task(k, comm, f)
        .map_err(|e| FsError::Invalid {
            path: path.to_owned(),
            detail: e.to_string(),
            errno: libc::ENOMEM,
        })?
        .map_err(|reason| FsError::Invalid {
            path: path.to_owned(),
            detail: format!("the kernel task died: {reason}"),
            errno: libc::EFAULT,
        })
}
