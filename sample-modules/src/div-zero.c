// SPDX-License-Identifier: GPL-2.0
/*
 * div-zero.c - an integer division by a runtime zero in init (the divisor
 * is a module parameter, default 0): a "divide error" Oops, the insmod task
 * dies and the module stays listed as loading.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

static int divisor;
module_param(divisor, int, 0444);

static int __init div_zero_init(void)
{
	int dividend = 100;

	pr_info("div-zero: dividing %d by %d\n", dividend, divisor);
	pr_info("div-zero: quotient %d\n", dividend / divisor);
	return 0;
}

static void __exit div_zero_exit(void)
{
	pr_info("div-zero: exit\n");
}

module_init(div_zero_init);
module_exit(div_zero_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("divide by zero in init");
