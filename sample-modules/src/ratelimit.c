// SPDX-License-Identifier: GPL-2.0
/*
 * ratelimit.c - ___ratelimit: printk_ratelimited (the default 5 s / 10
 * messages) in a burst, then a state of its own with a short interval
 * crossed with msleep, so the "callbacks suppressed" line appears, and one
 * with RATELIMIT_MSG_ON_RELEASE whose suppressed count is reported by
 * ratelimit_state_exit instead.
 */
#include <linux/delay.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/printk.h>
#include <linux/ratelimit.h>

static DEFINE_RATELIMIT_STATE(short_rs, HZ / 5, 3);
static DEFINE_RATELIMIT_STATE(release_rs, HZ / 5, 2);
static DEFINE_RATELIMIT_STATE(off_rs, 0, 0);

static int __init ratelimit_init(void)
{
	int i, passed = 0;

	for (i = 0; i < 15; i++)
		printk_ratelimited(KERN_INFO "ratelimited %d\n", i);

	for (i = 0; i < 8; i++)
		if (__ratelimit(&short_rs))
			pr_info("short %d\n", i);
	msleep(400);
	for (i = 8; i < 10; i++)
		if (__ratelimit(&short_rs))
			pr_info("short %d\n", i);

	ratelimit_set_flags(&release_rs, RATELIMIT_MSG_ON_RELEASE);
	for (i = 0; i < 6; i++)
		if (__ratelimit(&release_rs))
			pr_info("release %d\n", i);
	msleep(400);
	for (i = 6; i < 8; i++)
		if (__ratelimit(&release_rs))
			pr_info("release %d\n", i);
	pr_info("release_rs missed %d\n", release_rs.missed);
	ratelimit_state_exit(&release_rs);

	for (i = 0; i < 20; i++)
		passed += __ratelimit(&off_rs);
	pr_info("interval 0: %d of 20 passed\n", passed);
	return 0;
}

static void __exit ratelimit_exit(void)
{
	pr_info("ratelimit unloaded\n");
}

module_init(ratelimit_init);
module_exit(ratelimit_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kload sample: ___ratelimit");
