// SPDX-License-Identifier: GPL-2.0
/*
 * printk-basics.c - the printk grammar kload must reproduce exactly:
 * levels, continuation lines, integer flags/width/precision/length, strings,
 * chars, and %pS/%ps of the module's own functions (kallsyms sizes).
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/printk.h>

static noinline int printk_basics_helper(int x)
{
	return x * 3;
}

static int __init printk_basics_init(void)
{
	const char *none = NULL;
	long long big = -9223372036854775807LL - 1;

	pr_info("ints: [%d] [%5d] [%-5d] [%05d] [%+d] [% d] [%i]\n", 42, 42, 42, 42, 42, 42, -7);
	pr_info("unsigned: [%u] [%x] [%X] [%#x] [%#o] [%o] [%#x]\n", 3000000000u, 0xbeef, 0xbeef, 0xbeef, 8, 8, 0);
	pr_info("lengths: [%hhd] [%hd] [%ld] [%lld] [%zu] [%td] [%lu]\n",
		(signed char)-1, (short)-2, -3L, big, (size_t)4, (ptrdiff_t)-5, 18446744073709551615UL);
	pr_info("precision: [%.3d] [%8.3d] [%-8.3d] [%.0d]\n", 7, 7, 7, 0);
	pr_info("strings: [%s] [%10s] [%-10s] [%.3s] [%s] [%c%c] [%%]\n", "abc", "abc", "abc", "abcdef", none, 'o', 'k');
	pr_info("stars: [%*d] [%-*d] [%.*s]\n", 6, 1, 6, 2, 2, "xyz");
	pr_info("symbols: %pS %ps\n", printk_basics_helper, printk_basics_init);
	pr_info("value: %d\n", printk_basics_helper(14));
	pr_info("cont: one");
	pr_cont(" two");
	pr_cont(" three\n");
	pr_notice("notice level\n");
	pr_warn("warn level\n");
	pr_err("err level\n");
	printk("default level\n");
	return 0;
}

static void __exit printk_basics_exit(void)
{
	pr_info("exit: %pS\n", printk_basics_helper);
}

module_init(printk_basics_init);
module_exit(printk_basics_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("printk formats kload reproduces");
