// SPDX-License-Identifier: GPL-2.0
/*
 * init-after.c - exit uses init memory after it is freed: with what=call
 * it calls an __init function through a pointer kept by init, with
 * what=read it reads __initdata through a kept pointer. The real kernel's
 * behaviour is undefined (the pages are freed and may be reused); kload
 * keeps them unmapped and names the access.
 */
#include <linux/compiler.h>
#include <linux/init.h>
#include <linux/module.h>
#include <linux/string.h>

static char *what = "call";
module_param(what, charp, 0444);

static int init_table[4] __initdata = { 11, 22, 33, 44 };

static noinline int __init init_after_helper(void)
{
	return READ_ONCE(init_table[1]);
}

static int (*kept_fn)(void);
static int *kept_data;

static int __init init_after_init(void)
{
	WRITE_ONCE(kept_fn, init_after_helper);
	WRITE_ONCE(kept_data, &init_table[2]);
	pr_info("init-after: helper says %d\n", kept_fn());
	return 0;
}

static void __exit init_after_exit(void)
{
	if (!strcmp(what, "read"))
		pr_info("init-after: initdata holds %d\n", READ_ONCE(*kept_data));
	else
		pr_info("init-after: helper says %d\n", kept_fn());
}

module_init(init_after_init);
module_exit(init_after_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("uses __init code and __initdata after init");
