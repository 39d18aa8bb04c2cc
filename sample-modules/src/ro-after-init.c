// SPDX-License-Identifier: GPL-2.0
/*
 * ro-after-init.c - exit writes a __ro_after_init variable, which became
 * read-only when init returned: a page fault (write access, permissions
 * violation), rmmod is killed.
 */
#include <linux/cache.h>
#include <linux/compiler.h>
#include <linux/init.h>
#include <linux/module.h>

static int ro_setting __ro_after_init = 1;

static int __init ro_after_init_init(void)
{
	WRITE_ONCE(ro_setting, 2);
	pr_info("ro-after-init: setting is %d\n", READ_ONCE(ro_setting));
	return 0;
}

static void __exit ro_after_init_exit(void)
{
	pr_info("ro-after-init: writing the sealed setting\n");
	WRITE_ONCE(ro_setting, 3);
	pr_info("ro-after-init: setting is now %d\n", READ_ONCE(ro_setting));
}

module_init(ro_after_init_init);
module_exit(ro_after_init_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("writes a __ro_after_init variable after init");
