// SPDX-License-Identifier: GPL-2.0
/*
 * workq.c - alloc_workqueue with a formatted name, queue_work (twice: the
 * second finds the work pending), flush_workqueue, schedule_work and
 * flush_work on the system workqueue, destroy_workqueue at exit.
 * oops=1: init only queues a work item that writes through NULL (an Oops
 * that kills the kworker); the module cannot be removed afterwards.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <linux/workqueue.h>

static int oops;
module_param(oops, int, 0444);

static struct workqueue_struct *workq_wq;
static struct work_struct workq_one, workq_two;
static int *volatile nowhere;

static void workq_fn(struct work_struct *w)
{
	int n = w == &workq_one ? 1 : 2;

	pr_info("workq: work %d runs, in_task=%d kworker=%d pending=%d\n", n,
		!!in_task(), !strncmp(current->comm, "kworker/", 8),
		work_pending(w));
	if (oops)
		*nowhere = n;
}

static int __init workq_init(void)
{
	bool a, b, f;

	workq_wq = alloc_workqueue("kload_wq%d", 0, 1, 7);
	if (!workq_wq)
		return -ENOMEM;
	INIT_WORK(&workq_one, workq_fn);
	INIT_WORK(&workq_two, workq_fn);
	if (oops) {
		queue_work(workq_wq, &workq_two);
		pr_info("workq: queued a work item that will fault\n");
		return 0;
	}
	a = queue_work(workq_wq, &workq_one);
	b = queue_work(workq_wq, &workq_one);
	pr_info("workq: queued %d %d, pending=%d\n", a, b, work_pending(&workq_one));
	queue_work(workq_wq, &workq_two);
	flush_workqueue(workq_wq);
	pr_info("workq: flushed, pending=%d %d\n", work_pending(&workq_one),
		work_pending(&workq_two));
	/*
	 * On the real kernel the woken kworker may run the work before
	 * flush_work is called (its return value then says 0): only the
	 * second flush, which always finds nothing to wait for, is printed.
	 */
	schedule_work(&workq_one);
	flush_work(&workq_one);
	f = flush_work(&workq_one);
	pr_info("workq: system_wq work flushed, again %d\n", f);
	return 0;
}

static void __exit workq_exit(void)
{
	destroy_workqueue(workq_wq);
	pr_info("workq: exit\n");
}

module_init(workq_init);
module_exit(workq_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("A workqueue: queue, flush, destroy");
