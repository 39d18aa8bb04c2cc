// SPDX-License-Identifier: GPL-2.0
/*
 * preempt-leak.c - init returns with preemption still disabled. The
 * preempt count lives in per-CPU data behind %gs; do_one_initcall notices
 * the imbalance, restores it and WARNs.
 */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/preempt.h>

static int __init preempt_leak_init(void)
{
	preempt_disable();
	pr_info("preempt-leak: returning with preemption disabled\n");
	return 0;
}

static void __exit preempt_leak_exit(void)
{
	pr_info("preempt-leak: exit\n");
}

module_init(preempt_leak_init);
module_exit(preempt_leak_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("init leaks a preempt_disable()");
