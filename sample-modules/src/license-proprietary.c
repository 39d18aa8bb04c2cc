// SPDX-License-Identifier: GPL-2.0
/*
 * license-proprietary.c - MODULE_LICENSE("Proprietary") and nothing else of
 * note: loading it taints the kernel (P, "module license 'Proprietary'
 * taints kernel." and "Disabling lock debugging due to kernel taint"),
 * visible in /proc/modules, /sys/module/<name>/taint and
 * /proc/sys/kernel/tainted. (The source file itself is GPL like every
 * sample; only the module's declared license is "Proprietary".)
 */
#include <linux/init.h>
#include <linux/module.h>

static int __init license_proprietary_init(void)
{
	pr_info("license-proprietary: loaded\n");
	return 0;
}

static void __exit license_proprietary_exit(void)
{
	pr_info("license-proprietary: unloaded\n");
}

module_init(license_proprietary_init);
module_exit(license_proprietary_exit);

MODULE_LICENSE("Proprietary");
MODULE_DESCRIPTION("a proprietary-licensed module: taint P");
