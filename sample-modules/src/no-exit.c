// SPDX-License-Identifier: GPL-2.0
/*
 * no-exit.c - module_init but no module_exit: the kernel cannot unload it.
 * /proc/modules shows "[permanent]," in the "used by" column, rmmod fails
 * with EBUSY, and only a forced unload (rmmod -f, CONFIG_MODULE_FORCE_UNLOAD)
 * removes it, tainting the kernel (R).
 */
#include <linux/init.h>
#include <linux/module.h>

static int __init no_exit_init(void)
{
	pr_info("no-exit: loaded; there is no exit function\n");
	return 0;
}

module_init(no_exit_init);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("module_init without module_exit (permanent)");
