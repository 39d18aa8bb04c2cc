// SPDX-License-Identifier: GPL-2.0
/*
 * versioned.c - MODULE_VERSION("1.2.3") (which also makes modpost add a
 * srcversion), MODULE_ALIAS, MODULE_AUTHOR and MODULE_DESCRIPTION: modinfo
 * fields and /sys/module/versioned/{version,srcversion}.
 */
#include <linux/init.h>
#include <linux/module.h>

static int __init versioned_init(void)
{
	pr_info("versioned: version 1.2.3 loaded\n");
	return 0;
}

static void __exit versioned_exit(void)
{
	pr_info("versioned: unloaded\n");
}

module_init(versioned_init);
module_exit(versioned_exit);

MODULE_LICENSE("GPL");
MODULE_VERSION("1.2.3");
MODULE_ALIAS("kload-versioned-alias");
MODULE_AUTHOR("kload sample modules");
MODULE_DESCRIPTION("MODULE_VERSION, MODULE_ALIAS, MODULE_AUTHOR, MODULE_DESCRIPTION");
