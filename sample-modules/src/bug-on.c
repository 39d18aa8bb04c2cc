// SPDX-License-Identifier: GPL-2.0
/*
 * bug-on.c - BUG() in init: "kernel BUG at file:line!", an invalid opcode
 * Oops, the insmod task dies and the module stays listed as loading.
 */
#include <linux/bug.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

static int bug_on_trigger = 1;
module_param(bug_on_trigger, int, 0444);

static int __init bug_on_init(void)
{
	pr_info("bug-on: about to BUG()\n");
	BUG_ON(bug_on_trigger);
	pr_info("bug-on: BUG_ON did not fire\n");
	return 0;
}

static void __exit bug_on_exit(void)
{
	pr_info("bug-on: exit\n");
}

module_init(bug_on_init);
module_exit(bug_on_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("BUG() in init");
