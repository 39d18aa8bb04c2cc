// SPDX-License-Identifier: GPL-2.0
/*
 * kthread.c - a kthread (kthread_run with a formatted name) that waits on
 * completions and on a wait queue, then sleeps in schedule() until
 * kthread_stop, whose return value exit prints. Each side prints only while
 * the other waits, so the order of lines is fixed.
 * leak=1: exit does not stop the thread (a crash later on a real kernel).
 */
#include <linux/completion.h>
#include <linux/err.h>
#include <linux/init.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/wait.h>

static int leak;
module_param(leak, int, 0444);

static struct task_struct *kt_thread;
static DECLARE_COMPLETION(kt_started);
static DECLARE_COMPLETION(kt_go);
static DECLARE_COMPLETION(kt_acked);
static DECLARE_COMPLETION(kt_woken);
static DECLARE_COMPLETION(kt_never);
static DECLARE_WAIT_QUEUE_HEAD(kt_wq);
static int kt_flag;

static int kt_fn(void *data)
{
	pr_info("kthread: %s started, data=%lu should_stop=%d\n", current->comm,
		(unsigned long)data, kthread_should_stop());
	complete(&kt_started);
	wait_for_completion(&kt_go);
	pr_info("kthread: got go\n");
	complete(&kt_acked);
	wait_event_interruptible(kt_wq, kt_flag || kthread_should_stop());
	pr_info("kthread: woken, flag=%d\n", kt_flag);
	complete(&kt_woken);
	for (;;) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (kthread_should_stop())
			break;
		schedule();
	}
	__set_current_state(TASK_RUNNING);
	pr_info("kthread: stopping\n");
	return 42;
}

static int __init kt_init(void)
{
	unsigned long left;

	kt_thread = kthread_run(kt_fn, (void *)7, "kload-kt%d", 3);
	if (IS_ERR(kt_thread))
		return PTR_ERR(kt_thread);
	wait_for_completion(&kt_started);
	pr_info("kthread: init saw it start, done=%d\n", completion_done(&kt_started));
	complete(&kt_go);
	wait_for_completion(&kt_acked);
	left = wait_for_completion_timeout(&kt_never, msecs_to_jiffies(20));
	pr_info("kthread: timed out waiting, left=%lu waitqueue_active=%d\n", left,
		waitqueue_active(&kt_wq));
	return 0;
}

static void __exit kt_exit(void)
{
	int ret;

	if (leak) {
		pr_info("kthread: exit leaves the thread running\n");
		return;
	}
	kt_flag = 1;
	wake_up_interruptible(&kt_wq);
	wait_for_completion(&kt_woken);
	ret = kthread_stop(kt_thread);
	pr_info("kthread: stopped, ret=%d\n", ret);
}

module_init(kt_init);
module_exit(kt_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("A kthread with completions and a wait queue");
