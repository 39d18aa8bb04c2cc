// SPDX-License-Identifier: GPL-2.0
/*
 * proprietary-user.c - MODULE_LICENSE("Proprietary") module that uses
 * exporter's plain export exporter_add and its GPL-only export
 * exporter_now_gpl. The license taints the kernel (P) as soon as the module
 * is examined; the GPL-only symbol is not visible to it, so the load fails
 * with "Unknown symbol exporter_now_gpl". (The source file itself is GPL
 * like every sample; only the module's declared license is "Proprietary".)
 *
 * modpost would refuse to build it against exporter.c; it is built against
 * exporter-old.c's plain export of the same function (see there): its
 * modinfo says depends=exporter,exporter-old.
 */
#include <linux/init.h>
#include <linux/module.h>

int exporter_add(int a, int b);
void exporter_now_gpl(void);

static int __init proprietary_user_init(void)
{
	pr_info("proprietary-user: exporter_add(1, 1) = %d\n", exporter_add(1, 1));
	exporter_now_gpl();
	return 0;
}

static void __exit proprietary_user_exit(void)
{
	pr_info("proprietary-user: unloading\n");
}

module_init(proprietary_user_init);
module_exit(proprietary_user_exit);

MODULE_LICENSE("Proprietary");
MODULE_DESCRIPTION("non-GPL module using a GPL-only export");
