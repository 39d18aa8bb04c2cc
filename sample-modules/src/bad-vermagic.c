// SPDX-License-Identifier: GPL-2.0
/*
 * bad-vermagic.c - a module whose vermagic says it was built for a kernel
 * of the same release without CONFIG_PREEMPT ("<release> SMP mod_unload
 * modversions " instead of "<release> SMP preempt mod_unload modversions "):
 * the kernel refuses it with "version magic '...' should be '...'".
 *
 * kbuild adds the real vermagic itself (6.1: in <name>.mod.c; 6.12: in the
 * module-common.o linked into every module), after this object's .modinfo;
 * the kernel reads the first "vermagic=" entry, which is this one. (A module
 * built for the other series does not get that far: 6.1 first rejects its
 * module_layout CRC, 6.12 the size of its .gnu.linkonce.this_module.) With
 * modversions, the kernel compares vermagic from the first space on, so the
 * release part alone would not make a difference.
 */
#include <linux/init.h>
#include <linux/module.h>
#define INCLUDE_VERMAGIC
#include <linux/vermagic.h>

static int __init bad_vermagic_init(void)
{
	pr_info("bad-vermagic: loaded (should not happen)\n");
	return 0;
}

static void __exit bad_vermagic_exit(void)
{
	pr_info("bad-vermagic: unloaded\n");
}

module_init(bad_vermagic_init);
module_exit(bad_vermagic_exit);

MODULE_INFO(vermagic, UTS_RELEASE " SMP mod_unload modversions ");
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vermagic of a non-preempt build of the same release");
