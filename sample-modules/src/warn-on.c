// SPDX-License-Identifier: GPL-2.0
/*
 * warn-on.c - warnings in init: WARN_ON(1) (a full WARNING report, taint W,
 * execution goes on), the same WARN_ON_ONCE site reached twice (reported
 * once: the kernel sets DONE in the module's __bug_table), and WARN(1, fmt)
 * (__warn_printk prints the cut-here line and the message first). init then
 * returns 0 and the module is live; exit prints.
 */
#include <linux/bug.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

static int warn_value = 42;
module_param(warn_value, int, 0444);

static noinline void warn_once_site(int i)
{
	WARN_ON_ONCE(i >= 0);
}

static int __init warn_on_init(void)
{
	int i;

	pr_info("warn-on: before WARN_ON(1)\n");
	WARN_ON(1);
	pr_info("warn-on: after WARN_ON(1)\n");
	for (i = 0; i < 2; i++)
		warn_once_site(i);
	pr_info("warn-on: after WARN_ON_ONCE twice\n");
	WARN(1, "warn-on: WARN with a value %d\n", warn_value);
	pr_info("warn-on: init returns 0\n");
	return 0;
}

static void __exit warn_on_exit(void)
{
	pr_info("warn-on: exit\n");
}

module_init(warn_on_init);
module_exit(warn_on_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("WARN_ON, WARN_ON_ONCE and WARN in init");
