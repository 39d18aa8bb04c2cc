// SPDX-License-Identifier: GPL-2.0
/*
 * oops-deep.c - init calls two levels of helpers and the inner one writes
 * through a NULL pointer: the Oops's RIP is the inner helper, and the call
 * trace (the kernel's ORC unwinder) shows the outer helper and init, both
 * reliable, before the kernel's own frames.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

struct oops_deep_thing {
	long a;
	int value;
};

/* volatile: the compiler must not assume anything about the pointer. */
static struct oops_deep_thing *volatile oops_deep_target;
static int oops_deep_depth;

static noinline void oops_deep_inner(int v)
{
	oops_deep_target->value = v;
	oops_deep_depth += 2;
	pr_info("oops-deep: inner still alive?\n");
}

static noinline void oops_deep_outer(int v)
{
	oops_deep_depth++;
	oops_deep_inner(v + 1);
	pr_info("oops-deep: outer still alive? depth %d\n", oops_deep_depth);
}

static int __init oops_deep_init(void)
{
	pr_info("oops-deep: two calls down, then a NULL write\n");
	oops_deep_outer(41);
	pr_info("oops-deep: init still alive?\n");
	return 0;
}

static void __exit oops_deep_exit(void)
{
	pr_info("oops-deep: exit must never run\n");
}

module_init(oops_deep_init);
module_exit(oops_deep_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("NULL pointer write two calls below init");
