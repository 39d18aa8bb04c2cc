// SPDX-License-Identifier: GPL-2.0
/*
 * user-no-ns.c - calls exporter_now_ns, which exporter.ko exports in
 * namespace KLOAD_TEST, WITHOUT MODULE_IMPORT_NS(KLOAD_TEST), so the kernel
 * refuses the load: "module uses symbol (exporter_now_ns) from namespace
 * KLOAD_TEST, but does not import it."
 *
 * modpost would refuse to build it against exporter.c; it is built against
 * exporter-old.c's export of the same function without a namespace (see
 * there): its modinfo says depends=exporter-old.
 */
#include <linux/init.h>
#include <linux/module.h>

int exporter_now_ns(void);

static int __init user_no_ns_init(void)
{
	pr_info("user-no-ns: exporter_now_ns() returned %d\n", exporter_now_ns());
	return 0;
}

static void __exit user_no_ns_exit(void)
{
	pr_info("user-no-ns: unloading\n");
}

module_init(user_no_ns_init);
module_exit(user_no_ns_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("uses a namespaced export without MODULE_IMPORT_NS");
