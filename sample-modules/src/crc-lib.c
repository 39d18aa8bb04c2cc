// SPDX-License-Identifier: GPL-2.0
/*
 * crc-lib.c - the CRC library modules Debian builds separately (crc16,
 * crc-itu-t, crc7, crc8), called from a module: each CRC over the
 * catalogue's check string "123456789", incrementally too, and through the
 * exported tables the inline byte helpers use.
 */
#include <linux/crc16.h>
#include <linux/crc7.h>
#include <linux/crc8.h>
#include <linux/crc-itu-t.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

static const u8 check[] = "123456789";
DECLARE_CRC8_TABLE(smbus);
DECLARE_CRC8_TABLE(maxim);

static int __init crc_lib_init(void)
{
	u16 part;

	pr_info("crc-lib: crc16=%#06x crc16(~0)=%#06x\n", crc16(0, check, 9),
		crc16(0xffff, check, 9));
	part = crc16(0, check, 4);
	pr_info("crc-lib: crc16 in two parts=%#06x crc16_byte=%#06x\n",
		crc16(part, check + 4, 5), crc16_byte(0, '1'));
	pr_info("crc-lib: crc_itu_t=%#06x crc_itu_t_byte=%#06x\n",
		crc_itu_t(0, check, 9), crc_itu_t_byte(0, '1'));
	pr_info("crc-lib: crc7_be=%#04x (crc7/mmc %#04x)\n", crc7_be(0, check, 9),
		crc7_be(0, check, 9) >> 1);
	crc8_populate_msb(smbus, 0x07);
	crc8_populate_lsb(maxim, 0x8c);
	pr_info("crc-lib: crc8 smbus=%#04x maxim=%#04x table[1]=%#04x/%#04x\n",
		crc8(smbus, check, 9, 0), crc8(maxim, check, 9, 0), smbus[1], maxim[1]);
	return 0;
}

static void __exit crc_lib_exit(void)
{
	pr_info("crc-lib: exit\n");
}

module_init(crc_lib_init);
module_exit(crc_lib_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kload sample: crc16, crc-itu-t, crc7 and crc8");
