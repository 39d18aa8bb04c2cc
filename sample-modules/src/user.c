// SPDX-License-Identifier: GPL-2.0
/*
 * user.c - uses everything exporter.ko exports: the plain function
 * exporter_add, the data object exporter_counter, the GPL-only function
 * exporter_gpl_hello, and exporter_ns_value from namespace KLOAD_TEST (with
 * MODULE_IMPORT_NS). Loading it takes a reference on exporter (refcnt,
 * /sys/module/exporter/holders/user); without exporter it fails with
 * "Unknown symbol".
 */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/version.h>

extern int exporter_counter;
int exporter_add(int a, int b);
void exporter_gpl_hello(void);
int exporter_ns_value(void);

static int __init user_init(void)
{
	int sum;

	pr_info("user: exporter_counter = %d\n", exporter_counter);
	sum = exporter_add(2, 3);
	pr_info("user: exporter_add(2, 3) returned %d\n", sum);
	exporter_counter += 100;
	pr_info("user: set exporter_counter to %d\n", exporter_counter);
	exporter_gpl_hello();
	pr_info("user: exporter_ns_value() returned %d\n", exporter_ns_value());
	return 0;
}

static void __exit user_exit(void)
{
	pr_info("user: unloading, exporter_counter = %d\n", exporter_counter);
}

module_init(user_init);
module_exit(user_exit);

/* See exporter.c: the string form only exists from upstream 6.13. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 13, 0)
MODULE_IMPORT_NS("KLOAD_TEST");
#else
MODULE_IMPORT_NS(KLOAD_TEST);
#endif
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("uses exporter's plain, data, GPL-only and namespaced exports");
