// SPDX-License-Identifier: GPL-2.0
/*
 * null-deref.c - init writes through a NULL struct pointer: the page-fault
 * Oops ("BUG: kernel NULL pointer dereference"), the insmod task is killed,
 * and the module stays listed as loading (null_deref(OE+)) for good.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

struct null_deref_thing {
	long a;
	long b;
	int value;
};

/* volatile: the compiler must not assume anything about the pointer. */
static struct null_deref_thing *volatile thing;

static int __init null_deref_init(void)
{
	pr_info("null-deref: about to write through a NULL pointer\n");
	thing->value = 1;
	pr_info("null-deref: still alive?\n");
	return 0;
}

static void __exit null_deref_exit(void)
{
	pr_info("null-deref: exit must never run\n");
}

module_init(null_deref_init);
module_exit(null_deref_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("NULL pointer write in init");
