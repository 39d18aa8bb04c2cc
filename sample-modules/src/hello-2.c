// SPDX-License-Identifier: GPL-2.0
/*
 * hello-2.c - the modern form of hello-1: module_init()/module_exit() with
 * __init and __exit, so init lives in .init.text and exit in .exit.text.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

static int __init hello_2_init(void)
{
	pr_info("Hello, world 2\n");
	return 0;
}

static void __exit hello_2_exit(void)
{
	pr_info("Goodbye, world 2\n");
}

module_init(hello_2_init);
module_exit(hello_2_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("kload sample modules");
MODULE_DESCRIPTION("module_init/module_exit with __init and __exit");
