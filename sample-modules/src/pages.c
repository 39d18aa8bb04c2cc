// SPDX-License-Identifier: GPL-2.0
/*
 * pages.c - the page allocator and struct page from a module:
 * alloc_pages of order 0 and 2 (with __GFP_ZERO), page_address, the
 * struct page <-> address arithmetic, get_page/put_page, a compound
 * (__GFP_COMP) allocation released by put_page, __get_free_pages,
 * get_zeroed_page, free_pages, is_vmalloc_addr. Everything printed is
 * deterministic (no addresses).
 *
 * The `bug` parameter adds a deliberate mistake:
 *   1  leaks an order-1 allocation (kload reports it at unload)
 *   2  frees an order-0 page twice (kload reports the double free)
 */
#include <linux/gfp.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

static int bug;
module_param(bug, int, 0444);
MODULE_PARM_DESC(bug, "0 none, 1 leak pages, 2 double free");

static struct page *leaked;

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

static int __init pages_init(void)
{
	struct page *p, *q, *c;
	unsigned long addr;
	void *v, *k;

	p = alloc_pages(GFP_KERNEL, 0);
	if (!p)
		return -ENOMEM;
	v = page_address(p);
	fill(v, PAGE_SIZE, 0x5a);
	pr_info("pages: order 0: aligned %d, filled %d, virt_to_page %d, count %d\n",
		IS_ALIGNED((unsigned long)v, PAGE_SIZE), all_bytes(v, PAGE_SIZE, 0x5a),
		virt_to_page(v) == p, page_count(p));
	get_page(p);
	pr_info("pages: after get_page count %d\n", page_count(p));
	put_page(p);
	pr_info("pages: after put_page count %d\n", page_count(p));
	__free_pages(p, 0);

	q = alloc_pages(GFP_KERNEL | __GFP_ZERO, 2);
	if (!q)
		return -ENOMEM;
	v = page_address(q);
	pr_info("pages: order 2: aligned %d, zeroed %d, next page %d, pfn step %lu, head %d\n",
		IS_ALIGNED((unsigned long)v, 4 * PAGE_SIZE), all_bytes(v, 4 * PAGE_SIZE, 0),
		virt_to_page(v + 3 * PAGE_SIZE) == q + 3, page_to_pfn(q + 1) - page_to_pfn(q),
		PageHead(q));
	fill(v, 4 * PAGE_SIZE, 0xa5);
	__free_pages(q, 2);

	c = alloc_pages(GFP_KERNEL | __GFP_COMP, 1);
	if (!c)
		return -ENOMEM;
	pr_info("pages: compound: head %d, tail's head %d, tail %d\n", PageHead(c),
		compound_head(c + 1) == c, PageTail(c + 1));
	get_page(c + 1);
	pr_info("pages: compound count after get_page(tail) %d\n", page_count(c));
	put_page(c + 1);
	put_page(c);	/* the last reference: frees the compound page */

	addr = __get_free_pages(GFP_KERNEL, 1);
	if (!addr)
		return -ENOMEM;
	fill((void *)addr, 2 * PAGE_SIZE, 1);
	pr_info("pages: __get_free_pages order 1: aligned %d, page count %d\n",
		IS_ALIGNED(addr, 2 * PAGE_SIZE), page_count(virt_to_page((void *)addr)));
	free_pages(addr, 1);

	addr = get_zeroed_page(GFP_KERNEL);
	if (!addr)
		return -ENOMEM;
	pr_info("pages: get_zeroed_page zeroed %d\n", all_bytes((void *)addr, PAGE_SIZE, 0));
	free_page(addr);

	v = vmalloc(3 * PAGE_SIZE);
	k = kmalloc(64, GFP_KERNEL);
	pr_info("pages: is_vmalloc_addr vmalloc %d, kmalloc %d\n",
		v && is_vmalloc_addr(v), k && is_vmalloc_addr(k));
	vfree(v);
	kfree(k);

	if (bug == 1) {
		leaked = alloc_pages(GFP_KERNEL, 1);
		pr_info("pages: leaking an order-1 allocation\n");
	}
	if (bug == 2) {
		p = alloc_pages(GFP_KERNEL, 0);
		__free_pages(p, 0);
		pr_info("pages: freeing it again\n");
		__free_pages(p, 0);
	}
	pr_info("pages: done\n");
	return 0;
}

static void __exit pages_exit(void)
{
	pr_info("pages: exit\n");
}

module_init(pages_init);
module_exit(pages_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kload sample: the page allocator and struct page");
