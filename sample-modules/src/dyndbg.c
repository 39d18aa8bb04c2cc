// SPDX-License-Identifier: GPL-2.0
/*
 * dyndbg.c - dynamic debug call sites: pr_debug and dev_dbg (on a static
 * struct device with a driver), off by default, turned on by the dyndbg=
 * module parameter or by queries written to
 * /proc/dynamic_debug/control. Writing the "poke" parameter runs the
 * call sites again.
 */
#include <linux/device.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/printk.h>

static struct device_driver dyndbg_driver = {
	.name = "dyndbg_drv",
};

static struct device dyndbg_dev = {
	.init_name = "dyndbg0",
	.driver = &dyndbg_driver,
};

static noinline void dyndbg_sites(int round)
{
	pr_debug("pr_debug round %d\n", round);
	dev_dbg(&dyndbg_dev, "dev_dbg round %d \"quoted\"\ttab\n", round);
	pr_info("sites ran, round %d\n", round);
}

static int poke_set(const char *val, const struct kernel_param *kp)
{
	int ret = param_set_int(val, kp);

	if (!ret)
		dyndbg_sites(*(int *)kp->arg);
	return ret;
}

static const struct kernel_param_ops poke_ops = {
	.set = poke_set,
	.get = param_get_int,
};

static int poke;
module_param_cb(poke, &poke_ops, &poke, 0644);
MODULE_PARM_DESC(poke, "write a number to run the debug call sites again");

static int __init dyndbg_init(void)
{
	dyndbg_sites(0);
	return 0;
}

static void __exit dyndbg_exit(void)
{
	pr_debug("exit\n");
	pr_info("unloaded\n");
}

module_init(dyndbg_init);
module_exit(dyndbg_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kload sample: dynamic debug call sites");
