// SPDX-License-Identifier: GPL-2.0
/*
 * needs-missing.c - calls a kernel export kload neither implements nor
 * traps as part of an unemulated subsystem (a reboot notifier): the load
 * fails with "Unknown symbol", and with --allow-missing the call lands on a
 * trap that names register_reboot_notifier.
 */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/notifier.h>
#include <linux/reboot.h>

static int needs_missing_reboot(struct notifier_block *nb, unsigned long action, void *data)
{
	return NOTIFY_DONE;
}

static struct notifier_block needs_missing_nb = {
	.notifier_call = needs_missing_reboot,
};

static int __init needs_missing_init(void)
{
	pr_info("needs-missing: registering a reboot notifier\n");
	return register_reboot_notifier(&needs_missing_nb);
}

static void __exit needs_missing_exit(void)
{
	unregister_reboot_notifier(&needs_missing_nb);
}

module_init(needs_missing_init);
module_exit(needs_missing_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("uses a kernel function kload does not provide");
