// SPDX-License-Identifier: GPL-2.0
/*
 * exporter.c - exports symbols for other modules (user.c, user-no-ns.c,
 * proprietary-user.c): EXPORT_SYMBOL of a function (exporter_add) and of a
 * data object (exporter_counter), EXPORT_SYMBOL_GPL of a function
 * (exporter_gpl_hello), and EXPORT_SYMBOL_NS of a function in the namespace
 * KLOAD_TEST (exporter_ns_value). Users pin it (refcnt, holders/, "in use").
 *
 * Two more exports exist for the modules that break the rules on purpose,
 * which modpost would refuse to build against this module (see
 * exporter-old.c): exporter_now_gpl (EXPORT_SYMBOL_GPL, used by the
 * proprietary proprietary-user.ko) and exporter_now_ns (in KLOAD_TEST, used
 * by user-no-ns.ko, which does not import the namespace).
 */
#include <linux/export.h>
#include <linux/init.h>
#include <linux/module.h>
#include <linux/version.h>

int exporter_counter = 40;
EXPORT_SYMBOL(exporter_counter);

int exporter_add(int a, int b)
{
	exporter_counter++;
	pr_info("exporter: exporter_add(%d, %d) = %d, counter now %d\n",
		a, b, a + b, exporter_counter);
	return a + b;
}
EXPORT_SYMBOL(exporter_add);

void exporter_gpl_hello(void)
{
	pr_info("exporter: hello from a GPL-only export\n");
}
EXPORT_SYMBOL_GPL(exporter_gpl_hello);

int exporter_ns_value(void)
{
	pr_info("exporter: exporter_ns_value() from namespace KLOAD_TEST\n");
	return 42;
}
/*
 * Upstream 6.13 (commit cdd30ebb1b9f) made the namespace argument a string
 * literal. Both Debian trees used here (6.1.0-56 and 6.12.117+deb12) still
 * have the old form, EXPORT_SYMBOL_NS(sym, ns) -> __stringify(ns), which
 * takes a bare identifier (a string literal there would become the namespace
 * "\"KLOAD_TEST\"").
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 13, 0)
EXPORT_SYMBOL_NS(exporter_ns_value, "KLOAD_TEST");
#else
EXPORT_SYMBOL_NS(exporter_ns_value, KLOAD_TEST);
#endif

/* Plain EXPORT_SYMBOL in exporter-old.c; GPL-only here. */
void exporter_now_gpl(void)
{
	pr_info("exporter: exporter_now_gpl() called\n");
}
EXPORT_SYMBOL_GPL(exporter_now_gpl);

/* No namespace in exporter-old.c; in KLOAD_TEST here. */
int exporter_now_ns(void)
{
	pr_info("exporter: exporter_now_ns() called\n");
	return 7;
}
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 13, 0)
EXPORT_SYMBOL_NS(exporter_now_ns, "KLOAD_TEST");
#else
EXPORT_SYMBOL_NS(exporter_now_ns, KLOAD_TEST);
#endif

static int __init exporter_init(void)
{
	pr_info("exporter: loaded, counter = %d\n", exporter_counter);
	return 0;
}

static void __exit exporter_exit(void)
{
	pr_info("exporter: unloaded, counter = %d\n", exporter_counter);
}

module_init(exporter_init);
module_exit(exporter_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("exports a function, a data object, a GPL-only function and a namespaced function");
