// SPDX-License-Identifier: GPL-2.0
/*
 * dump-stack.c - dump_stack() from a helper of init: the CPU line and a
 * call trace whose module frames (the helper, then init) the ORC unwinder
 * finds; init returns 0 and exit prints.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/printk.h>

static int dump_stack_calls;

static noinline void dump_stack_helper(void)
{
	dump_stack();
	dump_stack_calls++;
	pr_info("dump-stack: after dump_stack (%d)\n", dump_stack_calls);
}

static int __init dump_stack_init(void)
{
	pr_info("dump-stack: init\n");
	dump_stack_helper();
	pr_info("dump-stack: init returns 0\n");
	return 0;
}

static void __exit dump_stack_exit(void)
{
	pr_info("dump-stack: exit\n");
}

module_init(dump_stack_init);
module_exit(dump_stack_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("dump_stack() from a helper of init");
