// SPDX-License-Identifier: GPL-2.0
/*
 * stack-overflow.c - unbounded recursion in init, each frame holding a
 * large local array: the kernel stack runs into its guard page ("BUG: TASK
 * stack guard page was hit"), a "stack guard page" Oops.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

static int depth_limit = 1 << 30;
module_param(depth_limit, int, 0444);

static noinline int recurse(int depth)
{
	volatile char buf[1024];

	buf[0] = (char)depth;
	buf[sizeof(buf) - 1] = (char)depth;
	if (depth >= depth_limit)
		return buf[0];
	return recurse(depth + 1) + buf[sizeof(buf) - 1];
}

static int __init stack_overflow_init(void)
{
	pr_info("stack-overflow: recursing\n");
	pr_info("stack-overflow: result %d\n", recurse(0));
	return 0;
}

static void __exit stack_overflow_exit(void)
{
	pr_info("stack-overflow: exit\n");
}

module_init(stack_overflow_init);
module_exit(stack_overflow_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("unbounded recursion in init (stack guard page)");
