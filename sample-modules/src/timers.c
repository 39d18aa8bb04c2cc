// SPDX-License-Identifier: GPL-2.0
/*
 * timers.c - a timer that re-arms itself from its callback until it has
 * ticked three times, and a delayed work item on the system workqueue.
 * Nothing fires within 300 ms of init, so that on a real kernel every line
 * lands in the scenario's `sleep` (not between two commands).
 * leak=1: exit leaves the timer armed and the work queued (a crash later on
 * a real kernel). oops=1: the timer callback writes through NULL (an Oops
 * in softirq context).
 */
#include <linux/init.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/timer.h>
#include <linux/workqueue.h>

static int leak;
module_param(leak, int, 0444);
static int oops;
module_param(oops, int, 0444);

static struct timer_list timers_timer;
static struct delayed_work timers_dwork;
static int ticks;
static int *volatile nowhere;

static void timers_tick(struct timer_list *t)
{
	ticks++;
	pr_info("timers: tick %d in_softirq=%d in_task=%d pending=%d\n", ticks,
		!!in_softirq(), !!in_task(), timer_pending(t));
	if (oops)
		*nowhere = ticks;
	if (ticks < 3)
		mod_timer(t, jiffies + msecs_to_jiffies(100));
}

static void timers_work(struct work_struct *w)
{
	struct delayed_work *dw = to_delayed_work(w);

	pr_info("timers: delayed work ran, in_task=%d pending=%d ticks=%d\n",
		!!in_task(), delayed_work_pending(dw), ticks);
}

static int __init timers_init(void)
{
	int was;

	timer_setup(&timers_timer, timers_tick, 0);
	pr_info("timers: set up, pending=%d\n", timer_pending(&timers_timer));
	was = mod_timer(&timers_timer, jiffies + msecs_to_jiffies(300));
	pr_info("timers: armed (was %d), pending=%d\n", was,
		timer_pending(&timers_timer));
	INIT_DELAYED_WORK(&timers_dwork, timers_work);
	was = schedule_delayed_work(&timers_dwork, msecs_to_jiffies(800));
	pr_info("timers: delayed work queued (%d), pending=%d\n", was,
		delayed_work_pending(&timers_dwork));
	return 0;
}

static void __exit timers_exit(void)
{
	int t, w;

	if (leak) {
		mod_timer(&timers_timer, jiffies + 10 * HZ);
		schedule_delayed_work(&timers_dwork, 10 * HZ);
		pr_info("timers: exit leaves the timer armed and the work queued\n");
		return;
	}
	t = del_timer_sync(&timers_timer);
	w = cancel_delayed_work_sync(&timers_dwork);
	pr_info("timers: exit, ticks=%d del_timer_sync=%d cancel=%d\n", ticks, t, w);
}

module_init(timers_init);
module_exit(timers_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("A re-arming timer and a delayed work item");
