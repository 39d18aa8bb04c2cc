//! The net_device printk family and the allocation it needs
//! (net/core/dev.c `__netdev_printk`, `alloc_netdev_mqs`, `free_netdev`).
//!
//! Messages read `"<driver> <parent> <name><state>: <text>"` when the
//! net_device has a parent device (`SET_NETDEV_DEV`), `"<name><state>: "`
//! without one, `"(NULL net_device): "` for NULL; the name is
//! `"(unnamed net_device)"` while empty or still a template (`eth%d`), the
//! state suffix is `netdev_reg_state`'s (" (uninitialized)" until
//! registered).
//!
//! `alloc_netdev_mqs` gives a zeroed `struct net_device` of the profile's
//! size (with the private area after it: `netdev_priv` is
//! `ALIGN(sizeof(struct net_device), NETDEV_ALIGN)` on 6.1 and the
//! cacheline-aligned flexible `priv[]` at the end of the struct on 6.12),
//! its name from the template, `reg_state` NETREG_UNINITIALIZED, and calls
//! the module's `setup`. The rest of the kernel's initialisation (queues,
//! lists, per-CPU counters) is not done: registering
//! (`register_netdev`) and everything else of networking stay named traps,
//! so such a device is good for naming and printing, as the kernel's is
//! before registration.

use std::collections::HashMap;
use std::sync::Mutex;

use super::device::{dev_name, driver_string};
use super::dynamic_debug::{ddebug_enabled, ddebug_prefix};
use super::printk::{
    level_digit, read_fmt, read_level, store_at_level, LOGLEVEL_DEBUG, LOGLEVEL_ERR,
};
use super::symbols::Registry;
use super::vsprintf::vsnprintf;
use super::Kernel;
use crate::exec::dispatch::CallArgs;
use crate::exec::task;
use crate::mm;

/// `IFNAMSIZ`.
const IFNAMSIZ: usize = 16;
/// `NETDEV_ALIGN`.
const NETDEV_ALIGN: u64 = 32;

/// `enum netdev_reg_state` (the same in 6.1 and 6.12).
const NETREG_UNINITIALIZED: u8 = 0;

/// The net_devices `alloc_netdev_mqs` handed out: (kernel, device) -> the
/// allocation holding it.
static NETDEVS: Mutex<Option<HashMap<(usize, u64), u64>>> = Mutex::new(None);

fn kernel_key(k: &Kernel) -> usize {
    k as *const Kernel as usize
}

/// `netdev_name(dev)`.
fn netdev_name(k: &Kernel, dev: u64) -> String {
    let name = k
        .profile
        .field("net_device.name")
        .ok()
        .and_then(|off| mm::read_bytes(dev.wrapping_add(off), IFNAMSIZ))
        .unwrap_or_default();
    let name = name.split(|&b| b == 0).next().unwrap_or_default();
    if name.is_empty() || name.contains(&b'%') {
        return "(unnamed net_device)".into();
    }
    String::from_utf8_lossy(name).into_owned()
}

/// `netdev_reg_state(dev)`.
fn netdev_reg_state(k: &Kernel, dev: u64) -> &'static str {
    let state = k
        .profile
        .field("net_device.reg_state")
        .ok()
        .and_then(|off| mm::read_bytes(dev.wrapping_add(off), 1))
        .map_or(u8::MAX, |b| b[0]);
    match state {
        0 => " (uninitialized)",
        1 => "",
        2 => " (unregistering)",
        3 => " (unregistered)",
        4 => " (released)",
        5 => " (dummy)",
        s => {
            // The kernel's WARN_ONCE("%s: unknown reg_state %d") is not
            // emulated; kload says it in its own diagnostics.
            log::warn!("netdev_reg_state: unknown reg_state {s}");
            " (unknown)"
        }
    }
}

/// `dev->dev.parent`.
fn parent_of(k: &Kernel, dev: u64) -> u64 {
    match (
        k.profile.field("net_device.dev"),
        k.profile.field("device.parent"),
    ) {
        (Ok(d), Ok(p)) => mm::read_u64(dev.wrapping_add(d + p)).unwrap_or(0),
        _ => 0,
    }
}

/// The prefix `__netdev_printk` (and `__dynamic_netdev_dbg`, after its own
/// dynamic debug prefix) puts before the text.
fn netdev_prefix(k: &Kernel, dev: u64) -> String {
    if dev == 0 {
        return "(NULL net_device): ".into();
    }
    let (name, state) = (netdev_name(k, dev), netdev_reg_state(k, dev));
    match parent_of(k, dev) {
        0 => format!("{name}{state}: "),
        parent => format!(
            "{} {} {name}{state}: ",
            driver_string(k, parent),
            dev_name(k, parent)
        ),
    }
}

/// `__netdev_printk(level, dev, vaf)` with the text formatted. With a
/// parent it is `dev_printk_emit(level[1] - '0', ...)`, else a `printk`
/// with the level string in front.
fn netdev_printk(k: &Kernel, level: &[u8], dev: u64, msg: &[u8]) {
    let mut text = netdev_prefix(k, dev).into_bytes();
    text.extend_from_slice(msg);
    if dev != 0 && parent_of(k, dev) != 0 {
        store_at_level(k, level_digit(level), &text);
    } else {
        let mut raw = level.to_vec();
        raw.extend_from_slice(&text);
        super::printk::store_current(k, &raw);
    }
}

fn netdev_level(a: &mut CallArgs, level: u8) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let msg = vsnprintf(&read_fmt(a.arg(1)), &mut a.va(2), &*k);
    netdev_printk(&k, &[super::printk::KERN_SOH, b'0' + level], a.arg(0), &msg);
    0
}

fn sys_netdev_emerg(a: &mut CallArgs) -> u64 {
    netdev_level(a, 0)
}
fn sys_netdev_alert(a: &mut CallArgs) -> u64 {
    netdev_level(a, 1)
}
fn sys_netdev_crit(a: &mut CallArgs) -> u64 {
    netdev_level(a, 2)
}
fn sys_netdev_err(a: &mut CallArgs) -> u64 {
    netdev_level(a, 3)
}
fn sys_netdev_warn(a: &mut CallArgs) -> u64 {
    netdev_level(a, 4)
}
fn sys_netdev_notice(a: &mut CallArgs) -> u64 {
    netdev_level(a, 5)
}
fn sys_netdev_info(a: &mut CallArgs) -> u64 {
    netdev_level(a, 6)
}

/// `netdev_printk(const char *level, const struct net_device *dev, const char *format, ...)`.
fn sys_netdev_printk(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let level = read_level(a.arg(0));
    let msg = vsnprintf(&read_fmt(a.arg(2)), &mut a.va(3), &*k);
    netdev_printk(&k, &level, a.arg(1), &msg);
    0
}

/// `__dynamic_netdev_dbg(struct _ddebug *descriptor, const struct
/// net_device *dev, const char *fmt, ...)`: `__netdev_printk`'s prefix
/// at KERN_DEBUG, after the dynamic debug one (except for a device
/// without a parent).
fn sys_dynamic_netdev_dbg(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let (desc, dev) = (a.arg(0), a.arg(1));
    if !ddebug_enabled(desc) {
        return 0;
    }
    let msg = vsnprintf(&read_fmt(a.arg(2)), &mut a.va(3), &*k);
    // The kernel puts the dynamic debug prefix before a parent's driver
    // and device names and before "(NULL net_device)", but not before a
    // parentless device's name.
    let mut text = if dev != 0 && parent_of(&k, dev) == 0 {
        Vec::new()
    } else {
        ddebug_prefix(&k, desc).into_bytes()
    };
    text.extend_from_slice(netdev_prefix(&k, dev).as_bytes());
    text.extend_from_slice(&msg);
    store_at_level(&k, i32::from(LOGLEVEL_DEBUG), &text);
    0
}

/// `struct net_device *alloc_netdev_mqs(int sizeof_priv, const char *name,
/// unsigned char name_assign_type, void (*setup)(struct net_device *),
/// unsigned int txqs, unsigned int rxqs)`.
fn sys_alloc_netdev_mqs(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let (sizeof_priv, setup) = (a.int(0), a.arg(3));
    let (txqs, rxqs) = (a.arg(4) as u32, a.arg(5) as u32);
    let name = mm::read_cstr(a.arg(1), 4096).unwrap_or_default();
    if name.len() >= IFNAMSIZ {
        // BUG_ON(strlen(name) >= sizeof(dev->name)).
        let what = format!(
            "alloc_netdev_mqs: BUG_ON(strlen(\"{}\") >= IFNAMSIZ)",
            String::from_utf8_lossy(&name)
        );
        super::panic::kload_bug(&what, a.caller());
        task::kill(&what);
        return 0;
    }
    if txqs < 1 {
        k.log.emit(
            LOGLEVEL_ERR,
            "alloc_netdev: Unable to allocate device with zero queues",
        );
        return 0;
    }
    if rxqs < 1 {
        k.log.emit(
            LOGLEVEL_ERR,
            "alloc_netdev: Unable to allocate device with zero RX queues",
        );
        return 0;
    }
    let (Ok(size), Ok(name_off)) = (
        k.profile.field("sizeof(struct net_device)"),
        k.profile.field("net_device.name"),
    ) else {
        let what = "alloc_netdev_mqs: struct net_device is not in the profile";
        super::panic::kload_bug(what, a.caller());
        task::kill(what);
        return 0;
    };
    let priv_size = u64::try_from(sizeof_priv.max(0)).unwrap_or(0);
    let total = size.div_ceil(NETDEV_ALIGN) * NETDEV_ALIGN + priv_size + NETDEV_ALIGN - 1;
    let Some(base) = k.slab.kmalloc_internal(&k, total) else {
        return 0;
    };
    let dev = base.div_ceil(NETDEV_ALIGN) * NETDEV_ALIGN;
    let mut field = vec![0u8; IFNAMSIZ];
    field[..name.len()].copy_from_slice(&name);
    // 6.12's `u32 priv_len` (the size of the flexible `priv[]`).
    let priv_len = k
        .profile
        .get("net_device.priv_len")
        .map(|off| (off, (priv_size as u32).to_le_bytes()));
    if mm::write_bytes(dev + name_off, &field).is_err()
        || priv_len.is_some_and(|(off, v)| mm::write_bytes(dev + off, &v).is_err())
    {
        k.slab.kfree_internal(&k, base);
        return 0;
    }
    debug_assert_eq!(
        NETREG_UNINITIALIZED, 0,
        "a zeroed reg_state is NETREG_UNINITIALIZED"
    );
    NETDEVS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get_or_insert_with(HashMap::new)
        .insert((kernel_key(&k), dev), base);
    if setup != 0 && task::call_module(setup, [dev, 0, 0, 0, 0, 0]).is_err() {
        // The task died in setup; the device stays allocated, as the
        // kernel's would.
        return 0;
    }
    dev
}

/// `void free_netdev(struct net_device *dev)`: a device never registered
/// (NETREG_UNINITIALIZED) is freed at once.
fn sys_free_netdev(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    let dev = a.arg(0);
    let base = NETDEVS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get_or_insert_with(HashMap::new)
        .get(&(kernel_key(&k), dev))
        .copied();
    let state = k
        .profile
        .field("net_device.reg_state")
        .ok()
        .and_then(|off| mm::read_bytes(dev.wrapping_add(off), 1))
        .map(|b| b[0]);
    match (base, state) {
        (Some(base), Some(NETREG_UNINITIALIZED)) => {
            if let Some(m) = NETDEVS.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
                m.remove(&(kernel_key(&k), dev));
            }
            k.slab.kfree_internal(&k, base);
        }
        (Some(_), s) => {
            let what = format!(
                "free_netdev: reg_state {s:?} of a device kload never registered \
                 (registering is not emulated)"
            );
            super::panic::kload_bug(&what, a.caller());
            task::kill(&what);
        }
        (None, _) => {
            let what = format!("free_netdev({dev:#x}): not a net_device from alloc_netdev_mqs");
            super::panic::kload_bug(&what, a.caller());
            task::kill(&what);
        }
    }
    0
}

pub(super) fn register(r: &mut Registry) {
    r.func("netdev_printk", sys_netdev_printk);
    r.func("netdev_emerg", sys_netdev_emerg);
    r.func("netdev_alert", sys_netdev_alert);
    r.func("netdev_crit", sys_netdev_crit);
    r.func("netdev_err", sys_netdev_err);
    r.func("netdev_warn", sys_netdev_warn);
    r.func("netdev_notice", sys_netdev_notice);
    r.func("netdev_info", sys_netdev_info);
    r.func("__dynamic_netdev_dbg", sys_dynamic_netdev_dbg);
    r.func("alloc_netdev_mqs", sys_alloc_netdev_mqs);
    r.func("free_netdev", sys_free_netdev);
}
