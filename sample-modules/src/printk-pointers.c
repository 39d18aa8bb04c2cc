// SPDX-License-Identifier: GPL-2.0
/*
 * printk-pointers.c - the deterministic %p extensions of the kernel's
 * vsprintf: symbols, IPv4/IPv6 and MAC addresses, hex buffers, error
 * pointers, UUIDs and physical addresses, with widths and flags.
 */
#include <linux/err.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/types.h>
#include <linux/uuid.h>

static noinline int printk_pointers_target(void)
{
	return 7;
}

static int __init printk_pointers_init(void)
{
	static const u8 ip4[4] = { 192, 168, 1, 42 };
	static const u8 ip6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	static const u8 mapped[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1 };
	static const u8 mac[6] = { 0x00, 0x1b, 0x21, 0x3a, 0x4b, 0x5c };
	static const u8 buf[8] = { 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04 };
	static const guid_t guid = GUID_INIT(0x12345678, 0x9abc, 0xdef0, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef);
	phys_addr_t phys = 0x12345000;

	pr_info("sym: [%pS] [%ps] [%pSR] [%pB]\n", printk_pointers_target, printk_pointers_target,
		printk_pointers_target, (char *)printk_pointers_target + 3);
	pr_info("ip4: [%pI4] [%pi4] [%pI4h]\n", ip4, ip4, ip4);
	pr_info("ip6: [%pI6] [%pI6c] [%pi6] [%pI6c]\n", ip6, ip6, ip6, mapped);
	pr_info("mac: [%pM] [%pMR] [%pMF] [%pm]\n", mac, mac, mac, mac);
	pr_info("hex: [%*ph] [%*phC] [%*phD] [%*phN] [%ph]\n", 8, buf, 4, buf, 4, buf, 4, buf, buf);
	pr_info("err: [%pe] [%pe] [%pe] [%pe]\n", ERR_PTR(-ENOMEM), ERR_PTR(-EINVAL), ERR_PTR(-EPROBE_DEFER),
		ERR_PTR(-4095));
	pr_info("uuid: [%pUb] [%pUB] [%pUl] [%pUL]\n", &guid, &guid, &guid, &guid);
	pr_info("phys: [%pa] [%pap]\n", &phys, &phys);
	pr_info("null: [%pS] [%pI4] [%pM] [%px]\n", NULL, NULL, NULL, NULL);
	pr_info("width: [%20ps] [%-20ps|]\n", printk_pointers_target, printk_pointers_target);
	pr_info("value: %d\n", printk_pointers_target());
	return 0;
}

static void __exit printk_pointers_exit(void)
{
}

module_init(printk_pointers_init);
module_exit(printk_pointers_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("deterministic printk %p extensions");
