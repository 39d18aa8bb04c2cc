//! `check_modinfo` and the module taints (kernel/module/main.c): the
//! messages the kernel prints when it loads an out-of-tree, unsigned or
//! non-GPL module, once per kernel as the kernel does.

use super::load_info::LoadInfo;
use crate::kernel::panic::{
    TAINT_CRAP, TAINT_OOT_MODULE, TAINT_PROPRIETARY_MODULE, TAINT_TEST, TAINT_UNSIGNED_MODULE,
};
use crate::kernel::printk::{LOGLEVEL_NOTICE, LOGLEVEL_WARNING};
use crate::kernel::{take_once, Kernel};

/// Licences the kernel treats as GPL-compatible (`license_is_gpl_compatible`).
pub const GPL_COMPATIBLE: &[&str] = &[
    "GPL",
    "GPL v2",
    "GPL and additional rights",
    "Dual BSD/GPL",
    "Dual MIT/GPL",
    "Dual MPL/GPL",
];

pub fn license_is_gpl_compatible(license: &str) -> bool {
    GPL_COMPATIBLE.contains(&license)
}

/// Set the module's taints and print the kernel's messages, in the kernel's
/// order: out-of-tree, staging, licence, test, the signature notice, and on
/// 6.4+ a final "module license taints kernel." when P was newly set.
/// Returns the module's taint mask.
pub fn module_augment_kernel_taints(kernel: &Kernel, info: &LoadInfo, sig_ok: bool) -> u32 {
    let name = &info.name;
    let prev_proprietary = kernel.taint.test(TAINT_PROPRIETARY_MODULE);
    let mut taints = 0u32;
    let mut taint = |flag: u32, msg: Option<String>| {
        taints |= 1 << flag;
        if kernel.taint.add(flag) {
            if let Some(m) = msg {
                kernel.log.emit(LOGLEVEL_WARNING, &m);
            }
        }
    };
    if info.modinfo.get("intree").is_none() {
        taint(
            TAINT_OOT_MODULE,
            Some(format!("{name}: loading out-of-tree module taints kernel.")),
        );
    }
    if info.modinfo.get("staging").is_some() {
        taint(
            TAINT_CRAP,
            Some(format!(
                "{name}: module is from the staging directory, the quality is unknown, you have been warned."
            )),
        );
    }
    let license = info.modinfo.get("license").unwrap_or("unspecified");
    if !license_is_gpl_compatible(license) {
        let newly = !kernel.taint.test(TAINT_PROPRIETARY_MODULE);
        taint(
            TAINT_PROPRIETARY_MODULE,
            Some(format!("{name}: module license '{license}' taints kernel.")),
        );
        if newly {
            kernel.log.emit(
                LOGLEVEL_WARNING,
                "Disabling lock debugging due to kernel taint",
            );
        }
    }
    if info.modinfo.get("test").is_some() {
        taint(
            TAINT_TEST,
            Some(format!("{name}: loading test module taints kernel.")),
        );
    }
    if !sig_ok {
        taints |= 1 << TAINT_UNSIGNED_MODULE;
        kernel.taint.add(TAINT_UNSIGNED_MODULE);
        if take_once(&kernel.sig_notice_done) {
            kernel.log.emit(
                LOGLEVEL_NOTICE,
                &format!("{name}: module verification failed: signature and/or required key missing - tainting kernel"),
            );
        }
    }
    // 6.4+ gathered these checks into module_augment_kernel_taints, which
    // also reports a newly set P once more at its end.
    if kernel.profile.version() >= (6, 4)
        && !prev_proprietary
        && kernel.taint.test(TAINT_PROPRIETARY_MODULE)
    {
        kernel.log.emit(
            LOGLEVEL_WARNING,
            &format!("{name}: module license taints kernel."),
        );
    }
    taints
}
