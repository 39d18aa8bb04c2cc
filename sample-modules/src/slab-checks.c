// SPDX-License-Identifier: GPL-2.0
/*
 * slab-checks.c - memory for modules, and kload's checks of it.
 *
 * The `mode` parameter selects what init does:
 *   0  clean: every kind of allocation, used and freed (kmalloc with a
 *      constant and a run-time size, kzalloc, kmalloc_large, krealloc,
 *      kmemdup, kstrdup, kstrndup, ksize, vmalloc, vzalloc, kvmalloc,
 *      a kmem_cache, __get_free_pages)
 *   1  leaks one kmalloc and one vmalloc (kmemleak-style report at unload)
 *   2  frees a kmalloc twice (double free)
 *   3  writes to a freed object, then frees something else (use after free)
 *   4  writes one byte past the end of a kmalloc(13) (redzone)
 *   5  allocates in a loop until NULL (fault injection) and says how many
 *      allocations succeeded
 */
#include <linux/gfp.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

static int mode;
module_param(mode, int, 0444);
MODULE_PARM_DESC(mode, "0 clean, 1 leak, 2 double free, 3 use after free, 4 overflow, 5 fault injection");

struct slab_checks_item {
	long id;
	char tag[20];
};

static void *leaked_kmalloc;
static void *leaked_vmalloc;
/* volatile: keep the compiler from seeing through sizes and indices. */
static volatile size_t runtime_size = 100;
static volatile int past_end = 13;

/*
 * Byte loops through volatile pointers: the stub kernel need not provide
 * memset, memcpy or strcmp for this module.
 */
static bool all_bytes(const void *p, size_t n, unsigned char v)
{
	const volatile unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i] != v)
			return false;
	return true;
}

static void fill(void *p, size_t n, unsigned char v)
{
	volatile unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = v;
}

static bool same(const char *a, const char *b)
{
	const volatile char *x = a, *y = b;

	while (*x && *x == *y) {
		x++;
		y++;
	}
	return *x == *y;
}

static void copy(char *dst, const char *src, size_t n)
{
	volatile char *d = dst;
	size_t i;

	for (i = 0; i < n; i++)
		d[i] = src[i];
}

static int clean(void)
{
	struct kmem_cache *cache;
	struct slab_checks_item *item;
	char *a, *b, *s, *sn, *d, *v, *vz, *kv, *big;
	unsigned long pages;
	int bad = 0;

	a = kmalloc(13, GFP_KERNEL);
	b = kzalloc(runtime_size, GFP_KERNEL);
	big = kmalloc(20000, GFP_KERNEL);
	if (!a || !b || !big)
		return -ENOMEM;
	if (!all_bytes(b, runtime_size, 0))
		bad |= 1;
	if (ksize(a) < 13)
		bad |= 2;
	copy(a, "hello, slab!", 13);
	fill(big, 20000, 0x5a);
	a = krealloc(a, 200, GFP_KERNEL);
	if (!a || !same(a, "hello, slab!"))
		bad |= 4;
	s = kstrdup(a, GFP_KERNEL);
	sn = kstrndup(a, 5, GFP_KERNEL);
	d = kmemdup(big, 20000, GFP_KERNEL);
	if (!s || !same(s, a) || !sn || !same(sn, "hello") || !d || d[19999] != 0x5a)
		bad |= 8;
	v = vmalloc(10000);
	vz = vzalloc(5000);
	kv = kvmalloc(100000, GFP_KERNEL);
	if (!v || !vz || !kv || !all_bytes(vz, 5000, 0))
		bad |= 16;
	if (v)
		fill(v, 10000, 1);
	if (kv)
		fill(kv, 100000, 2);
	cache = kmem_cache_create("slab_checks_item", sizeof(*item), 0, 0, NULL);
	item = cache ? kmem_cache_alloc(cache, GFP_KERNEL) : NULL;
	if (!item)
		bad |= 32;
	else
		item->id = 42;
	pages = __get_free_pages(GFP_KERNEL, 1);
	if (!pages || (pages & (PAGE_SIZE - 1)))
		bad |= 64;
	else
		fill((void *)pages, 2 * PAGE_SIZE, 3);

	free_pages(pages, 1);
	if (item)
		kmem_cache_free(cache, item);
	kmem_cache_destroy(cache);
	kvfree(kv);
	vfree(vz);
	vfree(v);
	kfree(d);
	kfree(sn);
	kfree(s);
	kfree(a);
	kfree(b);
	kfree(big);
	pr_info("slab-checks: clean run done, bad=%#x\n", bad);
	return 0;
}

static int __init slab_checks_init(void)
{
	char *p, *q;
	void *ptrs[64];
	int i, n;

	pr_info("slab-checks: mode %d\n", mode);
	switch (mode) {
	case 0:
		return clean();
	case 1:
		leaked_kmalloc = kmalloc(32, GFP_KERNEL);
		leaked_vmalloc = vmalloc(8192);
		pr_info("slab-checks: leaking %px and %px\n", leaked_kmalloc, leaked_vmalloc);
		return 0;
	case 2:
		p = kmalloc(16, GFP_KERNEL);
		kfree(p);
		kfree(p);
		return 0;
	case 3:
		p = kmalloc(24, GFP_KERNEL);
		kfree(p);
		((volatile char *)p)[3] = 'x';
		q = kmalloc(24, GFP_KERNEL);
		kfree(q);
		return 0;
	case 4:
		p = kmalloc(13, GFP_KERNEL);
		if (!p)
			return -ENOMEM;
		((volatile char *)p)[past_end] = 1;
		kfree(p);
		return 0;
	case 5:
		for (n = 0; n < 64; n++) {
			ptrs[n] = kmalloc(64, GFP_KERNEL);
			if (!ptrs[n])
				break;
		}
		pr_info("slab-checks: %d of 64 allocations succeeded\n", n);
		for (i = 0; i < n; i++)
			kfree(ptrs[i]);
		return 0;
	}
	return -EINVAL;
}

static void __exit slab_checks_exit(void)
{
	pr_info("slab-checks: exit\n");
}

module_init(slab_checks_init);
module_exit(slab_checks_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kload's slab checks: clean use, leaks, double free, use after free, overflow");
