// SPDX-License-Identifier: GPL-2.0
/*
 * netdev.c - the net_device printk family on a device that is allocated
 * but never registered: the "(unnamed net_device)" of a name template, a
 * name set by hand, a parent device (SET_NETDEV_DEV), the reg_state
 * suffix, a NULL device, netdev_dbg through dynamic debug, and
 * alloc_netdev_mqs refusing zero queues.
 */
#include <linux/device.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/string.h>

static struct device_driver netdev_sample_driver = {
	.name = "netdev_drv",
};

static struct device netdev_sample_parent = {
	.init_name = "netdev-parent0",
	.driver = &netdev_sample_driver,
};

static int setup_calls;

static void netdev_sample_setup(struct net_device *dev)
{
	setup_calls++;
}

static int __init netdev_sample_init(void)
{
	struct net_device *dev, *none;

	dev = alloc_netdev(0, "kl%d", NET_NAME_UNKNOWN, netdev_sample_setup);
	if (!dev)
		return -ENOMEM;
	pr_info("setup called %d time(s)\n", setup_calls);
	netdev_info(dev, "template name %d\n", 1);
	strscpy(dev->name, "kload0", IFNAMSIZ);
	netdev_warn(dev, "named\n");
	netdev_notice(dev, "notice\n");
	netdev_printk(KERN_INFO, dev, "netdev_printk %s\n", "works");
	netdev_dbg(dev, "debug without parent\n");
	SET_NETDEV_DEV(dev, &netdev_sample_parent);
	netdev_err(dev, "with parent\n");
	netdev_printk(KERN_CRIT, dev, "crit with parent\n");
	netdev_dbg(dev, "debug with parent\n");
	netdev_info(NULL, "null device\n");
	free_netdev(dev);

	none = alloc_netdev_mqs(0, "kl%d", NET_NAME_UNKNOWN, netdev_sample_setup, 0, 1);
	pr_info("zero tx queues: %s\n", none ? "allocated" : "NULL");
	none = alloc_netdev_mqs(0, "kl%d", NET_NAME_UNKNOWN, netdev_sample_setup, 1, 0);
	pr_info("zero rx queues: %s\n", none ? "allocated" : "NULL");
	return 0;
}

static void __exit netdev_sample_exit(void)
{
	pr_info("netdev unloaded\n");
}

module_init(netdev_sample_init);
module_exit(netdev_sample_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kload sample: netdev_* printk");
