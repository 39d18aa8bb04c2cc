// SPDX-License-Identifier: GPL-2.0
/*
 * init-fail.c - an init that fails with -ENODEV: the kernel unloads the
 * module without calling its exit, and insmod reports the error.
 */
#include <linux/errno.h>
#include <linux/init.h>
#include <linux/module.h>

static int __init init_fail_init(void)
{
	pr_info("init-fail: probing for hardware that is not there\n");
	return -ENODEV;
}

static void __exit init_fail_exit(void)
{
	pr_info("init-fail: exit must never run after a failed init\n");
}

module_init(init_fail_init);
module_exit(init_fail_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("init returns -ENODEV");
