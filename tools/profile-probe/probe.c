// SPDX-License-Identifier: GPL-2.0
/*
 * kload profile probe.
 *
 * This module is compiled with real kbuild against a kernel headers tree and
 * is NEVER loaded or run.  Every quantity kload needs (struct sizes, field
 * offsets, constants) is evaluated by the compiler and stored as a constant
 * record in the dedicated section ".kload_probe":
 *
 *     static const struct kload_probe_entry kload_probe__<sym> = {
 *             .key = "<key>", .value = <expr> };
 *
 * tools/profile-probe/extract.py finds each record through its
 * kload_probe__* symbol in the .ko's ELF symbol table and reads the bytes
 * of the section directly (the records hold no pointers, so the section
 * carries no relocations).  String facts (UTS_RELEASE) go in
 * ".kload_probe_str" the same way.
 *
 * Keys that do not exist on a given kernel are guarded out with
 * LINUX_VERSION_CODE / config tests and are simply absent from the output.
 */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/version.h>
#include <generated/utsrelease.h>
#include <linux/export.h>
#include <linux/sched.h>
#include <linux/cred.h>
#include <linux/thread_info.h>
#include <linux/bug.h>
#include <linux/list.h>
#include <linux/timer.h>
#include <linux/workqueue.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/ratelimit_types.h>
#include <linux/spinlock.h>
#include <linux/completion.h>
#include <linux/wait.h>
#include <linux/kobject.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/proc_fs.h>
#include <linux/mm_types.h>
#include <linux/page-flags.h>
#include <linux/gfp_types.h>
#include <linux/dynamic_debug.h>
#include <linux/xarray.h>
#include <linux/idr.h>
#include <linux/rbtree.h>
#include <linux/kref.h>
#include <linux/jump_label.h>
#include <linux/cpumask.h>
#include <linux/ioport.h>
#include <linux/netdevice.h>
#include <linux/swait.h>
#include <linux/bottom_half.h>
#include <linux/hardirq.h>
#include <net/net_namespace.h>
#include <asm/paravirt_types.h>
#include <asm/current.h>
#include <asm/processor.h>

#define KLOAD_PROBE_KEY_LEN 56
#define KLOAD_PROBE_STR_LEN 200

/* 64 bytes per record: key (NUL-padded) then a little-endian u64 value. */
struct kload_probe_entry {
	char key[KLOAD_PROBE_KEY_LEN];
	u64 value;
};

struct kload_probe_str {
	char key[KLOAD_PROBE_KEY_LEN];
	char value[KLOAD_PROBE_STR_LEN];
};

#define KLOAD_PROBE(sym, keystr, expr)					\
	static const struct kload_probe_entry kload_probe__##sym	\
	__used __section(".kload_probe") __aligned(8) = {		\
		.key = keystr, .value = (u64)(expr) }

#define KLOAD_PROBE_STR(sym, keystr, str)				\
	static const struct kload_probe_str kload_probe_str__##sym	\
	__used __section(".kload_probe_str") __aligned(8) = {		\
		.key = keystr, .value = str }

/* key "sizeof(struct foo)" / "sizeof(foo_t)" */
#define SIZE(sym, type)	KLOAD_PROBE(sizeof__##sym, "sizeof(" #type ")", sizeof(type))
/* key "foo.field" = offsetof(struct foo, field) */
#define OFF(st, f)	KLOAD_PROBE(st##__##f, #st "." #f, offsetof(struct st, f))
/* key "foo.a.b" = offsetof(struct foo, a.b) */
#define OFF2(st, a, b)	KLOAD_PROBE(st##__##a##__##b, #st "." #a "." #b, \
				    offsetof(struct st, a.b))
/* key "NAME" = value of the macro NAME */
#define CONST(name)	KLOAD_PROBE(const__##name, #name, name)

/* The key strings must fit with their NUL terminator. */
static_assert(sizeof(struct kload_probe_entry) == 64);

/* ---- struct module ---------------------------------------------------- */
SIZE(module, struct module);
OFF(module, state);
OFF(module, name);
OFF(module, init);
#ifdef CONFIG_MODULE_UNLOAD
OFF(module, exit);
OFF(module, refcnt);
OFF(module, source_list);
OFF(module, target_list);
#endif
OFF(module, taints);
OFF(module, args);
OFF(module, kp);
OFF(module, num_kp);
OFF(module, syms);
OFF(module, num_syms);
#ifdef CONFIG_MODVERSIONS
OFF(module, crcs);
OFF(module, gpl_crcs);
#endif
OFF(module, gpl_syms);
OFF(module, num_gpl_syms);
OFF(module, list);
#ifdef CONFIG_SMP
OFF(module, percpu);
OFF(module, percpu_size);
#endif
#ifdef CONFIG_GENERIC_BUG
OFF(module, num_bugs);
OFF(module, bug_table);
#endif
OFF(module, mkobj);

/* ---- constants -------------------------------------------------------- */
CONST(MODULE_NAME_LEN);
CONST(TASK_COMM_LEN);
CONST(THREAD_SIZE);
CONST(PAGE_SIZE);

/* ---- task_struct / cred ----------------------------------------------- */
SIZE(task_struct, struct task_struct);
OFF(task_struct, pid);
OFF(task_struct, tgid);
OFF(task_struct, comm);
OFF(task_struct, stack);
OFF(task_struct, flags);
OFF(task_struct, __state);
OFF(task_struct, cred);
OFF(task_struct, real_cred);
OFF(task_struct, mm);
OFF(task_struct, group_leader);

SIZE(cred, struct cred);
OFF(cred, uid);
OFF(cred, euid);

/* ---- module parameters ------------------------------------------------ */
SIZE(kernel_param, struct kernel_param);
OFF(kernel_param, name);
OFF(kernel_param, mod);
OFF(kernel_param, ops);
OFF(kernel_param, perm);
OFF(kernel_param, level);
OFF(kernel_param, flags);
OFF(kernel_param, arg);

SIZE(kernel_param_ops, struct kernel_param_ops);
OFF(kernel_param_ops, flags);
OFF(kernel_param_ops, set);
OFF(kernel_param_ops, get);
OFF(kernel_param_ops, free);

SIZE(kparam_string, struct kparam_string);
OFF(kparam_string, maxlen);
OFF(kparam_string, string);

SIZE(kparam_array, struct kparam_array);
OFF(kparam_array, max);
OFF(kparam_array, elemsize);
OFF(kparam_array, num);
OFF(kparam_array, ops);
OFF(kparam_array, elem);

/* ---- module ELF sections ---------------------------------------------- */
SIZE(modversion_info, struct modversion_info);
SIZE(bug_entry, struct bug_entry);
SIZE(list_head, struct list_head);

/*
 * struct kernel_symbol: up to 6.4 it is defined in <linux/export.h>; from
 * 6.5 it lives in kernel/module/internal.h, which the headers package does
 * not ship.  Either way, the probe exports two symbols below and extract.py
 * measures the real per-entry stride of the __ksymtab section kbuild emits;
 * where the struct is visible it is recorded here too and the two must agree.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0)
SIZE(kernel_symbol, struct kernel_symbol);
#endif

void kload_probe_export_a(void);
void kload_probe_export_b(void);
void kload_probe_export_a(void) { }
void kload_probe_export_b(void) { }
EXPORT_SYMBOL(kload_probe_export_a);
EXPORT_SYMBOL(kload_probe_export_b);

/* ---- x86-64 per-CPU areas --------------------------------------------- */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
/* struct pcpu_hot was introduced in 6.2 (absent on 6.1). */
SIZE(pcpu_hot, struct pcpu_hot);
OFF(pcpu_hot, current_task);
OFF(pcpu_hot, preempt_count);
OFF(pcpu_hot, cpu_number);
OFF(pcpu_hot, top_of_stack);
#endif
#ifdef CONFIG_X86_64
OFF(fixed_percpu_data, stack_canary);
#endif

/* ---- timers, work, locks ---------------------------------------------- */
SIZE(timer_list, struct timer_list);
OFF(timer_list, entry);
OFF(timer_list, expires);
OFF(timer_list, function);
OFF(timer_list, flags);

SIZE(work_struct, struct work_struct);
OFF(work_struct, data);
OFF(work_struct, entry);
OFF(work_struct, func);

SIZE(delayed_work, struct delayed_work);
OFF(delayed_work, work);
OFF(delayed_work, timer);

SIZE(mutex, struct mutex);
OFF(mutex, owner);
OFF(mutex, wait_list);
SIZE(rw_semaphore, struct rw_semaphore);
OFF(rw_semaphore, count);
OFF(rw_semaphore, owner);
OFF(rw_semaphore, wait_list);
SIZE(ratelimit_state, struct ratelimit_state);
OFF(ratelimit_state, interval);
OFF(ratelimit_state, burst);
OFF(ratelimit_state, printed);
OFF(ratelimit_state, missed);
OFF(ratelimit_state, begin);
OFF(ratelimit_state, flags);
SIZE(spinlock_t, spinlock_t);
SIZE(completion, struct completion);
SIZE(wait_queue_head_t, wait_queue_head_t);

/* ---- driver model, files ---------------------------------------------- */
SIZE(kobject, struct kobject);

SIZE(device, struct device);
OFF(device, init_name);
OFF(device, driver);
OFF(device, kobj);
OFF(device, bus);
OFF(device, class);
OFF(device, parent);

SIZE(file_operations, struct file_operations);
OFF(file_operations, owner);
OFF(file_operations, read);
OFF(file_operations, write);
OFF(file_operations, open);
OFF(file_operations, release);
OFF(file_operations, unlocked_ioctl);

SIZE(miscdevice, struct miscdevice);
OFF(miscdevice, minor);
OFF(miscdevice, name);
OFF(miscdevice, fops);

SIZE(proc_ops, struct proc_ops);
OFF(proc_ops, proc_open);
OFF(proc_ops, proc_read);
OFF(proc_ops, proc_write);
OFF(proc_ops, proc_release);

/* ---- pages (mm_types.h) ----------------------------------------------- */
SIZE(page, struct page);
OFF(page, flags);
OFF(page, _refcount);
OFF(page, _mapcount);
OFF(page, private);
OFF(page, mapping);
OFF(page, index);
OFF(page, compound_head);
OFF(page, lru);
KLOAD_PROBE(pageflags__PG_head, "pageflags.PG_head", PG_head);
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
/* The order of a compound page: 6.1 keeps it in the first tail page. */
OFF(page, compound_order);
OFF(page, compound_nr);
#else
/* 6.3+: the low byte of the folio's second flags word. */
OFF(folio, _flags_1);
OFF(folio, _folio_nr_pages);
#endif
CONST(__GFP_BITS_SHIFT);
CONST(PAGE_SHIFT);
#ifdef MAX_PAGE_ORDER
CONST(MAX_PAGE_ORDER);
#else
CONST(MAX_ORDER);
#endif
CONST(SOFTIRQ_DISABLE_OFFSET);
CONST(SOFTIRQ_OFFSET);
CONST(HARDIRQ_OFFSET);
CONST(NR_CPUS);
SIZE(cpumask, struct cpumask);

/* ---- core library data structures ------------------------------------- */
SIZE(xarray, struct xarray);
OFF(xarray, xa_lock);
OFF(xarray, xa_flags);
OFF(xarray, xa_head);
SIZE(idr, struct idr);
OFF(idr, idr_rt);
OFF(idr, idr_base);
OFF(idr, idr_next);
SIZE(ida, struct ida);
OFF(ida, xa);
SIZE(rb_node, struct rb_node);
OFF(rb_node, __rb_parent_color);
OFF(rb_node, rb_right);
OFF(rb_node, rb_left);
SIZE(rb_root_cached, struct rb_root_cached);
OFF(rb_root_cached, rb_root);
OFF(rb_root_cached, rb_leftmost);
SIZE(kref, struct kref);
OFF(kref, refcount);
SIZE(refcount_t, refcount_t);
SIZE(static_key, struct static_key);

/* ---- dynamic debug descriptors and jump labels ----------------------- */
SIZE(_ddebug, struct _ddebug);
OFF(_ddebug, modname);
OFF(_ddebug, function);
OFF(_ddebug, filename);
OFF(_ddebug, format);
#ifdef CONFIG_JUMP_LABEL
OFF(_ddebug, key);
#endif
SIZE(jump_entry, struct jump_entry);
OFF(jump_entry, code);
OFF(jump_entry, target);
OFF(jump_entry, key);
OFF(ratelimit_state, lock);

/* ---- completions, wait queues ----------------------------------------- */
OFF(completion, done);
OFF(completion, wait);
OFF(wait_queue_head, lock);
OFF(wait_queue_head, head);
SIZE(wait_queue_entry, struct wait_queue_entry);
OFF(wait_queue_entry, flags);
OFF(wait_queue_entry, private);
OFF(wait_queue_entry, func);
OFF(wait_queue_entry, entry);
SIZE(swait_queue_head, struct swait_queue_head);
OFF(swait_queue_head, lock);
OFF(swait_queue_head, task_list);

/* ---- x86 data objects modules read ------------------------------------ */
SIZE(cpuinfo_x86, struct cpuinfo_x86);
OFF(cpuinfo_x86, x86);
OFF(cpuinfo_x86, x86_vendor);
OFF(cpuinfo_x86, x86_model);
OFF(cpuinfo_x86, x86_stepping);
OFF(cpuinfo_x86, x86_capability);
OFF(cpuinfo_x86, x86_vendor_id);
OFF(cpuinfo_x86, x86_model_id);
OFF(cpuinfo_x86, x86_cache_alignment);
OFF(cpuinfo_x86, x86_clflush_size);
CONST(NCAPINTS);
SIZE(resource, struct resource);
OFF(resource, start);
OFF(resource, end);
OFF(resource, name);
OFF(resource, flags);
SIZE(net, struct net);
SIZE(net_device, struct net_device);
OFF(net_device, name);
OFF(net_device, reg_state);
OFF(net_device, dev);
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
OFF(net_device, priv_len);
#endif
SIZE(paravirt_patch_template, struct paravirt_patch_template);
OFF2(paravirt_patch_template, irq, save_fl);
OFF2(paravirt_patch_template, irq, irq_disable);
OFF2(paravirt_patch_template, irq, irq_enable);
OFF2(paravirt_patch_template, cpu, io_delay);
OFF2(paravirt_patch_template, cpu, cpuid);
OFF2(paravirt_patch_template, cpu, read_msr);
OFF2(paravirt_patch_template, cpu, write_msr);
OFF2(paravirt_patch_template, cpu, read_msr_safe);
OFF2(paravirt_patch_template, cpu, write_msr_safe);
OFF2(paravirt_patch_template, lock, queued_spin_unlock);
OFF2(paravirt_patch_template, lock, vcpu_is_preempted);
OFF(paravirt_patch_template, cpu);
OFF(paravirt_patch_template, irq);
OFF(paravirt_patch_template, mmu);
OFF(paravirt_patch_template, lock);

/* ---- strings ---------------------------------------------------------- */
KLOAD_PROBE_STR(const__UTS_RELEASE, "UTS_RELEASE", UTS_RELEASE);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kload profile probe: compiled for its constants, never loaded");
