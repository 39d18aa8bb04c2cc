// SPDX-License-Identifier: GPL-2.0
/*
 * cpu-data.c - the kernel data and inline fast paths that nearly every
 * driver reaches without calling a function: the CPU masks and counts,
 * per-CPU variables through __per_cpu_offset and this_cpu_off, interrupt
 * flags through pv_ops, bottom halves, cond_resched and might_sleep,
 * boot_cpu_has, the I/O resource roots, and kasprintf. Prints only what is
 * the same on every machine with one CPU.
 */
#include <linux/cpumask.h>
#include <linux/init.h>
#include <linux/ioport.h>
#include <linux/irqflags.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/percpu.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/spinlock.h>
#include <asm/cpufeature.h>

static DEFINE_PER_CPU(int, hits);
static DEFINE_SPINLOCK(lock);
static int shared;

static int __init cpu_data_init(void)
{
	unsigned long flags;
	int cpu, online = 0, possible_seen = 0, sum = 0;
	char *s;

	pr_info("cpu-data: online=%u possible>=1:%d\n", num_online_cpus(),
		num_possible_cpus() >= 1);
	for_each_online_cpu(cpu) {
		online++;
		per_cpu(hits, cpu) = 10 + cpu;
	}
	for_each_possible_cpu(cpu)
		possible_seen = 1;
	pr_info("cpu-data: for_each_online_cpu visited %d, possible %d\n",
		online, possible_seen);

	cpu = get_cpu();
	this_cpu_add(hits, 5);
	pr_info("cpu-data: this_cpu_ptr==per_cpu_ptr(cpu %d): %d, hits=%d\n", cpu,
		this_cpu_ptr(&hits) == per_cpu_ptr(&hits, cpu), __this_cpu_read(hits));
	put_cpu();
	for_each_online_cpu(cpu)
		sum += per_cpu(hits, cpu);
	pr_info("cpu-data: sum over online cpus=%d\n", sum);

	local_irq_save(flags);
	pr_info("cpu-data: irqs_disabled inside local_irq_save: %d\n", irqs_disabled() ? 1 : 0);
	local_irq_restore(flags);

	spin_lock_bh(&lock);
	shared++;
	pr_info("cpu-data: in_softirq under spin_lock_bh: %d\n", in_softirq() ? 1 : 0);
	spin_unlock_bh(&lock);
	local_bh_disable();
	local_bh_enable();
	pr_info("cpu-data: in_softirq after local_bh_enable: %d, preemptible: %d\n",
		in_softirq() ? 1 : 0, preemptible() ? 1 : 0);

	might_sleep();
	cond_resched();
	pr_info("cpu-data: fpu=%d lm=%d\n", boot_cpu_has(X86_FEATURE_FPU) ? 1 : 0,
		boot_cpu_has(X86_FEATURE_LM) ? 1 : 0);
	pr_info("cpu-data: ioport_resource end=%#llx io=%d\n",
		(unsigned long long)ioport_resource.end,
		!!(ioport_resource.flags & IORESOURCE_IO));

	s = kasprintf(GFP_KERNEL, "%s-%d-%04x", "kas", 42, 0xbeef);
	if (!s)
		return -ENOMEM;
	pr_info("cpu-data: kasprintf gave \"%s\" (len %zu)\n", s, strlen(s));
	kfree(s);
	return 0;
}

static void __exit cpu_data_exit(void)
{
	pr_info("cpu-data: exit, shared=%d\n", shared);
}

module_init(cpu_data_init);
module_exit(cpu_data_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kload sample: CPU masks, per-CPU data, pv_ops, bottom halves, kasprintf");
