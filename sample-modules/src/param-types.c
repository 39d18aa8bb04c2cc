// SPDX-License-Identifier: GPL-2.0
/*
 * param-types.c - one module parameter of each standard type, arrays (with
 * and without a count, of ints and of charp), a fixed-size string, a
 * bool_enable_only, an unsafe parameter, a hidden one (perm 0), and
 * parameters with the module's own kernel_param_ops (set/get are this
 * module's code calling kstrtoint and param_set_int/param_get_int). init
 * prints every value, so a command line shows exactly how the kernel parsed
 * it; bad values show the kernel's error messages and load failures.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

static unsigned char b = 1;
module_param(b, byte, 0644);
static short sh = -2;
module_param(sh, short, 0644);
static unsigned short ush = 3;
module_param(ush, ushort, 0444);
static int i = -4;
module_param(i, int, 0644);
static unsigned int ui = 5;
module_param(ui, uint, 0644);
static long l = -6;
module_param(l, long, 0644);
static unsigned long ul = 7;
module_param(ul, ulong, 0644);
static unsigned long long ull = 8;
module_param(ull, ullong, 0644);
static unsigned int hex = 0x9;
module_param(hex, hexint, 0644);
static char *cp = "default";
module_param(cp, charp, 0644);
static bool bo;
module_param(bo, bool, 0644);
static bool inv;
module_param(inv, invbool, 0644);
static int bi;
module_param(bi, bint, 0644);
static bool eo;
module_param(eo, bool_enable_only, 0644);

static int arr[4] = { 10, 20 };
static unsigned int arr_n = 2;
module_param_array(arr, int, &arr_n, 0644);

static unsigned short fixed[3] = { 7, 8, 9 };
module_param_array(fixed, ushort, NULL, 0644);

static char *names[3];
static unsigned int names_n;
module_param_array(names, charp, &names_n, 0644);

static char str[8] = "str";
module_param_string(str, str, sizeof(str), 0644);

static int hidden = 11;
module_param(hidden, int, 0);

static int danger;
module_param_unsafe(danger, int, 0644);

/* '-' and '_' are the same character in parameter names. */
static int under_score;
module_param(under_score, int, 0644);

/* Even numbers up to 100: odd is -EINVAL, too big -ENOSPC. */
static int even_set(const char *val, const struct kernel_param *kp)
{
	int n, ret;

	ret = kstrtoint(val, 0, &n);
	if (ret)
		return ret;
	if (n > 100)
		return -ENOSPC;
	if (n & 1)
		return -EINVAL;
	return param_set_int(val, kp);
}

static int even_get(char *buffer, const struct kernel_param *kp)
{
	return param_get_int(buffer, kp);
}

static const struct kernel_param_ops even_ops = {
	.set = even_set,
	.get = even_get,
};

static int even = 2;
module_param_cb(even, &even_ops, &even, 0644);

/* A flag with its own NOARG ops: a bare "flag" sets 42. */
static int flag_set(const char *val, const struct kernel_param *kp)
{
	*(int *)kp->arg = val ? 7 : 42;
	return 0;
}

static const struct kernel_param_ops flag_ops = {
	.flags = KERNEL_PARAM_OPS_FL_NOARG,
	.set = flag_set,
	.get = param_get_int,
};

static int flag;
module_param_cb(flag, &flag_ops, &flag, 0600);

static void show(const char *when)
{
	pr_info("param-types %s: b=%u sh=%d ush=%u i=%d ui=%u\n", when, b, sh,
		ush, i, ui);
	pr_info("param-types %s: l=%ld ul=%lu ull=%llu hex=%#x\n", when, l, ul,
		ull, hex);
	pr_info("param-types %s: cp='%s' str='%s' bo=%d inv=%d bi=%d eo=%d\n",
		when, cp, str, bo, inv, bi, eo);
	pr_info("param-types %s: arr_n=%u arr=%d,%d,%d,%d fixed=%u,%u,%u\n",
		when, arr_n, arr[0], arr[1], arr[2], arr[3], fixed[0], fixed[1],
		fixed[2]);
	pr_info("param-types %s: names_n=%u names=%s|%s|%s\n", when, names_n,
		names[0], names[1], names[2]);
	pr_info("param-types %s: hidden=%d danger=%d even=%d flag=%d under_score=%d\n",
		when, hidden, danger, even, flag, under_score);
}

static int __init param_types_init(void)
{
	show("init");
	return 0;
}

static void __exit param_types_exit(void)
{
	show("exit");
}

module_init(param_types_init);
module_exit(param_types_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("one module parameter of each kind, printed from init");
