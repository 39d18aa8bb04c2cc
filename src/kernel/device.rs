//! The device printk family (drivers/base/core.c `__dev_printk`,
//! `dev_driver_string`; lib/dynamic_debug.c `__dynamic_dev_dbg`).
//!
//! Messages read `"<driver> <device>: <text>"`: the driver string is the
//! bound driver's name (`device.driver`, then `struct device_driver`'s
//! first member, `name`), else the bus or class name (`dev_bus_name`); the
//! device name is `init_name` while set, else the kobject's name (the first
//! member of `struct kobject`). A NULL device prints `(NULL device *): `.
//!
//! `dev_bus_name` needs `device.bus` and `device.class`, which the profiles
//! do not measure yet: until they do, a device without a driver has an
//! empty driver string (and kload says so in its own diagnostics).

use std::sync::OnceLock;

use super::dynamic_debug::{ddebug_enabled, ddebug_prefix};
use super::printk::{
    format_va_list, level_digit, read_fmt, read_level, store_at_level, store_current,
    LOGLEVEL_DEBUG, LOGLEVEL_ERR,
};
use super::symbols::Registry;
use super::vsprintf::vsnprintf;
use super::Kernel;
use crate::exec::dispatch::CallArgs;
use crate::exec::task;
use crate::mm::{self, LowRegion, Prot};

/// `-EPROBE_DEFER` (include/linux/errno.h).
const EPROBE_DEFER: i32 = 517;
/// `-ENOMEM`.
const ENOMEM: i32 = 12;

/// A read-only page of zeroes: the `""` that `dev_driver_string` returns
/// for a device with no driver, bus or class.
fn empty_string() -> u64 {
    static EMPTY: OnceLock<Option<LowRegion>> = OnceLock::new();
    EMPTY
        .get_or_init(|| LowRegion::alloc(mm::PAGE_SIZE, Prot::Read, "empty-string").ok())
        .as_ref()
        .map_or(0, LowRegion::addr)
}

fn cstr(addr: u64) -> Option<String> {
    if addr == 0 {
        return None;
    }
    mm::read_cstr(addr, 4096).map(|s| String::from_utf8_lossy(&s).into_owned())
}

fn ptr_at(base: u64, off: u64) -> u64 {
    mm::read_u64(base.wrapping_add(off)).unwrap_or(0)
}

/// `dev_driver_string(dev)`: the address of the string.
pub fn driver_string_ptr(k: &Kernel, dev: u64) -> u64 {
    if let Ok(off) = k.profile.field("device.driver") {
        let drv = ptr_at(dev, off);
        if drv != 0 {
            // struct device_driver { const char *name; ... }
            return ptr_at(drv, 0);
        }
    }
    // dev_bus_name: dev->bus ? dev->bus->name : dev->class ? dev->class->name : "".
    // bus_type and class both start with `const char *name`.
    match (k.profile.get("device.bus"), k.profile.get("device.class")) {
        (Some(bus), Some(class)) => {
            for off in [bus, class] {
                let p = ptr_at(dev, off);
                if p != 0 {
                    return ptr_at(p, 0);
                }
            }
        }
        _ => {
            if k.note_once("kload: device.bus/device.class not measured") {
                log::warn!(
                    "dev_driver_string: profile {} has no device.bus/device.class: \
                     a device without a driver prints an empty driver string",
                    k.profile.release
                );
            }
        }
    }
    empty_string()
}

/// `dev_driver_string(dev)` as text.
pub fn driver_string(k: &Kernel, dev: u64) -> String {
    cstr(driver_string_ptr(k, dev)).unwrap_or_default()
}

/// `dev_name(dev)`: `init_name` while set, else `kobject_name(&dev->kobj)`.
pub fn dev_name(k: &Kernel, dev: u64) -> String {
    if let Ok(off) = k.profile.field("device.init_name") {
        if let Some(s) = cstr(ptr_at(dev, off)) {
            return s;
        }
    }
    k.profile
        .field("device.kobj")
        .ok()
        .and_then(|off| cstr(ptr_at(dev, off)))
        .unwrap_or_default()
}

/// `__dev_printk(level, dev, vaf)` with the message already formatted.
/// `level` is the `KERN_<LEVEL>` string.
pub fn dev_printk(k: &Kernel, level: &[u8], dev: u64, msg: &[u8]) {
    if dev == 0 {
        let mut raw = level.to_vec();
        raw.extend_from_slice(b"(NULL device *): ");
        raw.extend_from_slice(msg);
        store_current(k, &raw);
        return;
    }
    let mut text = format!("{} {}: ", driver_string(k, dev), dev_name(k, dev)).into_bytes();
    text.extend_from_slice(msg);
    store_at_level(k, level_digit(level), &text);
}

fn dev_level(a: &mut CallArgs, level: u8) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let msg = vsnprintf(&read_fmt(a.arg(1)), &mut a.va(2), &*k);
    dev_printk(&k, &[super::printk::KERN_SOH, b'0' + level], a.arg(0), &msg);
    0
}

fn sys_dev_emerg(a: &mut CallArgs) -> u64 {
    dev_level(a, 0)
}
fn sys_dev_alert(a: &mut CallArgs) -> u64 {
    dev_level(a, 1)
}
fn sys_dev_crit(a: &mut CallArgs) -> u64 {
    dev_level(a, 2)
}
fn sys_dev_err(a: &mut CallArgs) -> u64 {
    dev_level(a, 3)
}
fn sys_dev_warn(a: &mut CallArgs) -> u64 {
    dev_level(a, 4)
}
fn sys_dev_notice(a: &mut CallArgs) -> u64 {
    dev_level(a, 5)
}
fn sys_dev_info(a: &mut CallArgs) -> u64 {
    dev_level(a, 6)
}

/// `_dev_printk(const char *level, const struct device *dev, const char *fmt, ...)`.
fn sys_dev_printk(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let level = read_level(a.arg(0));
    let msg = vsnprintf(&read_fmt(a.arg(2)), &mut a.va(3), &*k);
    dev_printk(&k, &level, a.arg(1), &msg);
    0
}

/// `dev_printk_emit(int level, const struct device *dev, const char *fmt, ...)`:
/// the text as formatted (the caller wrote the prefix), at `level`.
fn sys_dev_printk_emit(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let text = vsnprintf(&read_fmt(a.arg(2)), &mut a.va(3), &*k);
    store_at_level(&k, a.int(0), &text) as u64
}

/// `dev_vprintk_emit(int level, const struct device *dev, const char *fmt, va_list args)`.
fn sys_dev_vprintk_emit(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let text = format_va_list(&k, &read_fmt(a.arg(2)), a.arg(3));
    store_at_level(&k, a.int(0), &text) as u64
}

/// `dev_driver_string(const struct device *dev)`.
fn sys_dev_driver_string(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    driver_string_ptr(&k, a.arg(0))
}

/// `dev_err_probe(const struct device *dev, int err, const char *fmt, ...)`:
/// `dev_err(dev, "error %pe: %pV")` and returns `err`; -EPROBE_DEFER is a
/// (dynamic, default off) debug message instead, and from 6.9 -ENOMEM
/// prints nothing. The deferred-probe reason (debugfs) is not kept.
fn sys_dev_err_probe(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let err = a.int(1);
    let quiet = err == -EPROBE_DEFER || (err == -ENOMEM && k.profile.version() >= (6, 9));
    if !quiet {
        let msg = vsnprintf(&read_fmt(a.arg(2)), &mut a.va(3), &*k);
        let mut text = vsnprintf(
            b"error %pe: ",
            &mut super::printk::Args::new(&[i64::from(err) as u64]),
            &*k,
        );
        text.extend_from_slice(&msg);
        dev_printk(
            &k,
            &[super::printk::KERN_SOH, b'0' + LOGLEVEL_ERR],
            a.arg(0),
            &text,
        );
    }
    i64::from(err) as u64
}

/// `__dynamic_dev_dbg(struct _ddebug *descriptor, const struct device *dev,
/// const char *fmt, ...)`: when the descriptor prints, `"<prefix><driver>
/// <device>: <text>"` at KERN_DEBUG, or `(NULL device *): ` without one.
fn sys_dynamic_dev_dbg(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let (desc, dev) = (a.arg(0), a.arg(1));
    if !ddebug_enabled(desc) {
        return 0;
    }
    let msg = vsnprintf(&read_fmt(a.arg(2)), &mut a.va(3), &*k);
    let mut text = if dev == 0 {
        b"(NULL device *): ".to_vec()
    } else {
        format!(
            "{}{} {}: ",
            ddebug_prefix(&k, desc),
            driver_string(&k, dev),
            dev_name(&k, dev)
        )
        .into_bytes()
    };
    text.extend_from_slice(&msg);
    store_at_level(&k, i32::from(LOGLEVEL_DEBUG), &text);
    0
}

pub(super) fn register(r: &mut Registry) {
    r.func("_dev_emerg", sys_dev_emerg);
    r.func("_dev_alert", sys_dev_alert);
    r.func("_dev_crit", sys_dev_crit);
    r.func("_dev_err", sys_dev_err);
    r.func("_dev_warn", sys_dev_warn);
    r.func("_dev_notice", sys_dev_notice);
    r.func("_dev_info", sys_dev_info);
    r.func("_dev_printk", sys_dev_printk);
    r.func("dev_printk_emit", sys_dev_printk_emit);
    r.func("dev_vprintk_emit", sys_dev_vprintk_emit);
    r.func("dev_driver_string", sys_dev_driver_string);
    r.func("dev_err_probe", sys_dev_err_probe);
    r.func("__dynamic_dev_dbg", sys_dynamic_dev_dbg);
}
