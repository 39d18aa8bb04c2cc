// SPDX-License-Identifier: GPL-2.0
/*
 * spin-forever.c - an init that never returns and never calls into the
 * kernel: it spins with cpu_relax(). A real kernel reports a soft lockup
 * after 2 * watchdog_thresh seconds (20 s by default); kload's watchdog
 * does the same and kills the task.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <asm/processor.h>

static int __init spin_forever_init(void)
{
	pr_info("spin-forever: spinning\n");
	for (;;)
		cpu_relax();
	return 0;
}

static void __exit spin_forever_exit(void)
{
	pr_info("spin-forever: exit\n");
}

module_init(spin_forever_init);
module_exit(spin_forever_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("init that spins forever (soft lockup)");
