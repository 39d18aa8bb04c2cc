// SPDX-License-Identifier: GPL-2.0
/*
 * lock-held.c - init takes a mutex and returns without releasing it (and,
 * with exit_lock=1, exit does the same with another one). Without lockdep
 * (Debian) the real kernel says nothing; kload reports it the way
 * lockdep's "lock held when returning to user space" does.
 */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/mutex.h>

static DEFINE_MUTEX(held_mutex);
static DEFINE_MUTEX(exit_mutex);

static int exit_lock;
module_param(exit_lock, int, 0444);

static int __init lock_held_init(void)
{
	mutex_lock(&held_mutex);
	pr_info("lock-held: returning with held_mutex locked\n");
	return 0;
}

static void __exit lock_held_exit(void)
{
	if (exit_lock)
		mutex_lock(&exit_mutex);
	pr_info("lock-held: exit\n");
}

module_init(lock_held_init);
module_exit(lock_held_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("init returns with a mutex held");
