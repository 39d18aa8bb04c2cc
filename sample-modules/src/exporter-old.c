// SPDX-License-Identifier: GPL-2.0
/*
 * exporter-old.c - an older version of exporter's API, as the rule-breaking
 * samples were "built against": exporter_now_gpl is a plain EXPORT_SYMBOL
 * here (exporter.c exports it GPL-only) and exporter_now_ns has no namespace
 * here (exporter.c puts it in KLOAD_TEST). It is what lets build.sh build
 * proprietary-user.ko and user-no-ns.ko at all.
 *
 * modpost checks the same rules as the kernel at build time, against every
 * export it knows: with only exporter.c in the build it stops with "ERROR:
 * modpost: GPL-incompatible module proprietary-user.ko uses GPL-only symbol
 * 'exporter_now_gpl'" and "ERROR: modpost: module user-no-ns uses symbol
 * exporter_now_ns from namespace KLOAD_TEST, but does not import it.". When
 * two modules of an external (M=) build export the same name, modpost
 * resolves references to the one later in modules.order (the obj-m order in
 * Kbuild), without complaint; so this file must come after exporter.o in
 * Kbuild, and then proprietary-user.ko and user-no-ns.ko are built against
 * these exports (their modinfo says depends=[exporter,]exporter-old, and the
 * __versions CRCs are the same as exporter's, the prototypes being the
 * same). Nothing else uses these two names, so user.ko is unaffected.
 *
 * In the scenarios exporter.ko is what gets loaded, and the kernel applies
 * exporter's GPL-only and namespace rules. Loading exporter-old.ko next to
 * exporter.ko fails: the kernel refuses duplicate exports.
 */
#include <linux/export.h>
#include <linux/init.h>
#include <linux/module.h>

void exporter_now_gpl(void)
{
	pr_info("exporter-old: exporter_now_gpl() called\n");
}
EXPORT_SYMBOL(exporter_now_gpl);

int exporter_now_ns(void)
{
	pr_info("exporter-old: exporter_now_ns() called\n");
	return 7;
}
EXPORT_SYMBOL(exporter_now_ns);

static int __init exporter_old_init(void)
{
	pr_info("exporter-old: loaded\n");
	return 0;
}

static void __exit exporter_old_exit(void)
{
	pr_info("exporter-old: unloaded\n");
}

module_init(exporter_old_init);
module_exit(exporter_old_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("older exporter API: exporter_now_gpl not GPL-only, exporter_now_ns not namespaced");
