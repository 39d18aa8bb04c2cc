// SPDX-License-Identifier: GPL-2.0
/*
 * exit-only.c - module_exit but no module_init: loading calls nothing,
 * and the module can be unloaded (a module is permanent only if it has an
 * init and no exit); rmmod runs the exit.
 */
#include <linux/init.h>
#include <linux/module.h>

static void __exit exit_only_exit(void)
{
	pr_info("exit-only: exit called; there was no init\n");
}

module_exit(exit_only_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("module_exit without module_init");
