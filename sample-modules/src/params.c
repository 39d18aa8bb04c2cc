// SPDX-License-Identifier: GPL-2.0
/*
 * params.c - module parameters of every standard type (byte, short, ushort,
 * int, uint, long, ulong, ullong, hexint, charp, bool, invbool, bint, an int
 * array and a fixed-size string), with sysfs permissions 0644, 0444 and 0600
 * and a MODULE_PARM_DESC each. init prints every value, so a scenario shows
 * how insmod arguments were parsed (quotes, hex, octal, negatives, arrays),
 * /sys/module/params/parameters/<name> shows how each type is formatted,
 * and bad values show the kernel's parameter error messages.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

static unsigned char p_byte = 1;
module_param(p_byte, byte, 0644);
MODULE_PARM_DESC(p_byte, "a byte (unsigned char, 0..255)");

static short p_short = -2;
module_param(p_short, short, 0644);
MODULE_PARM_DESC(p_short, "a short");

static unsigned short p_ushort = 3;
module_param(p_ushort, ushort, 0444);
MODULE_PARM_DESC(p_ushort, "an unsigned short (read-only in sysfs)");

static int p_int = -4;
module_param(p_int, int, 0644);
MODULE_PARM_DESC(p_int, "an int");

static unsigned int p_uint = 5;
module_param(p_uint, uint, 0600);
MODULE_PARM_DESC(p_uint, "an unsigned int (root only in sysfs)");

static long p_long = -6;
module_param(p_long, long, 0644);
MODULE_PARM_DESC(p_long, "a long");

static unsigned long p_ulong = 7;
module_param(p_ulong, ulong, 0444);
MODULE_PARM_DESC(p_ulong, "an unsigned long (read-only in sysfs)");

static unsigned long long p_ullong = 8;
module_param(p_ullong, ullong, 0644);
MODULE_PARM_DESC(p_ullong, "an unsigned long long");

static unsigned int p_hexint = 0x9;
module_param(p_hexint, hexint, 0644);
MODULE_PARM_DESC(p_hexint, "an unsigned int shown in hex");

static char *p_charp = "default";
module_param(p_charp, charp, 0644);
MODULE_PARM_DESC(p_charp, "a string pointer (charp)");

static bool p_bool = false;
module_param(p_bool, bool, 0644);
MODULE_PARM_DESC(p_bool, "a bool");

static bool p_invbool = false;
module_param(p_invbool, invbool, 0644);
MODULE_PARM_DESC(p_invbool, "an inverted bool (stores the opposite)");

static int p_bint = 0;
module_param(p_bint, bint, 0600);
MODULE_PARM_DESC(p_bint, "a bool stored in an int (bint)");

static int p_array[4] = { 10, 20 };
static unsigned int p_array_count = 2;
module_param_array(p_array, int, &p_array_count, 0644);
MODULE_PARM_DESC(p_array, "up to 4 ints, comma separated");

static char p_string[8] = "str";
module_param_string(p_string, p_string, sizeof(p_string), 0644);
MODULE_PARM_DESC(p_string, "a string copied into char[8] (at most 7 chars)");

static void params_print(const char *when)
{
	unsigned int i;

	pr_info("params: %s\n", when);
	pr_info("params: p_byte=%u p_short=%d p_ushort=%u\n", p_byte, p_short, p_ushort);
	pr_info("params: p_int=%d p_uint=%u p_long=%ld p_ulong=%lu p_ullong=%llu\n",
		p_int, p_uint, p_long, p_ulong, p_ullong);
	pr_info("params: p_hexint=%#x p_charp='%s' p_string='%s'\n",
		p_hexint, p_charp, p_string);
	pr_info("params: p_bool=%d p_invbool=%d p_bint=%d\n", p_bool, p_invbool, p_bint);
	pr_info("params: p_array has %u elements\n", p_array_count);
	for (i = 0; i < p_array_count; i++)
		pr_info("params: p_array[%u]=%d\n", i, p_array[i]);
}

static int __init params_init(void)
{
	params_print("init");
	return 0;
}

static void __exit params_exit(void)
{
	params_print("exit");
}

module_init(params_init);
module_exit(params_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("module parameters of every standard type");
