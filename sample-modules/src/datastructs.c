// SPDX-License-Identifier: GPL-2.0
/*
 * datastructs.c - the kernel's core data structures from a module: a
 * red-black tree (plain and cached), an IDR (plain, based, cyclic, with
 * preloading), an IDA, XArrays (plain, marked, allocating) and reference
 * counts (kref and the refcount_dec_and_* helpers). Everything printed is
 * deterministic (keys, ids, counts and tree shapes, never addresses).
 *
 * The `bug` parameter adds a deliberate mistake:
 *   1  a refcount_t underflow and an increment from zero (refcount WARNs)
 *   2  ida_free() of an id that is not allocated (ida WARN)
 */
#include <linux/idr.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/kref.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/rbtree.h>
#include <linux/refcount.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/xarray.h>

static int bug;
module_param(bug, int, 0444);
MODULE_PARM_DESC(bug, "0 none, 1 refcount underflow, 2 ida double free");

struct item {
	struct rb_node node;
	int key;
};

static const int keys[] = { 50, 20, 80, 10, 30, 70, 90, 60, 65, 15 };
static struct item items[ARRAY_SIZE(keys)];
static struct item cached[4];
static struct rb_root tree = RB_ROOT;
static struct rb_root_cached ctree = RB_ROOT_CACHED;
static char line[256];

static int key_of(struct rb_node *n)
{
	return n ? rb_entry(n, struct item, node)->key : -1;
}

static void insert(struct rb_root *root, struct item *it)
{
	struct rb_node **link = &root->rb_node, *parent = NULL;

	while (*link) {
		parent = *link;
		if (it->key < key_of(parent))
			link = &parent->rb_left;
		else
			link = &parent->rb_right;
	}
	rb_link_node(&it->node, parent, link);
	rb_insert_color(&it->node, root);
}

static bool cached_less(struct rb_node *a, const struct rb_node *b)
{
	return rb_entry(a, struct item, node)->key <
	       rb_entry(b, struct item, node)->key;
}

/* The tree in order, then its shape: each node as key(left,right). */
static void show_tree(const char *what)
{
	struct rb_node *n;
	int len = 0;

	for (n = rb_first(&tree); n; n = rb_next(n))
		len += scnprintf(line + len, sizeof(line) - len, " %d", key_of(n));
	pr_info("datastructs: rbtree %s:%s\n", what, line);
	len = 0;
	for (n = rb_first(&tree); n; n = rb_next(n))
		len += scnprintf(line + len, sizeof(line) - len, " %d(%d,%d)%c",
				 key_of(n), key_of(n->rb_left), key_of(n->rb_right),
				 rb_parent(n) ? (n == rb_parent(n)->rb_left ? 'l' : 'r') : '^');
	pr_info("datastructs: rbtree shape:%s\n", line);
}

static void rbtree_demo(void)
{
	struct rb_node *n;
	int i, len = 0;

	for (i = 0; i < ARRAY_SIZE(keys); i++) {
		items[i].key = keys[i];
		insert(&tree, &items[i]);
	}
	show_tree("after insert");
	pr_info("datastructs: rbtree root %d, last %d, prev of last %d\n",
		key_of(tree.rb_node), key_of(rb_last(&tree)), key_of(rb_prev(rb_last(&tree))));
	for (n = rb_first_postorder(&tree); n; n = rb_next_postorder(n))
		len += scnprintf(line + len, sizeof(line) - len, " %d", key_of(n));
	pr_info("datastructs: rbtree postorder:%s\n", line);
	rb_erase(&items[1].node, &tree);	/* 20 */
	rb_erase(&items[0].node, &tree);	/* 50, the root */
	rb_erase(&items[6].node, &tree);	/* 90 */
	show_tree("after erase");
	items[1].key = 61;	/* replace 60 by a 61 in place */
	rb_replace_node(&items[7].node, &items[1].node, &tree);
	show_tree("after replace");
	for (i = 0; i < ARRAY_SIZE(cached); i++) {
		cached[i].key = 40 - 10 * i;
		rb_add_cached(&cached[i].node, &ctree, cached_less);
	}
	pr_info("datastructs: cached leftmost %d\n", key_of(rb_first_cached(&ctree)));
	rb_erase_cached(&cached[3].node, &ctree);
	pr_info("datastructs: cached leftmost after erase %d\n",
		key_of(rb_first_cached(&ctree)));
}

static DEFINE_IDR(idr);
static DEFINE_IDA(ida);

static int show_entry(int id, void *p, void *data)
{
	int *count = data;

	(*count)++;
	pr_info("datastructs: idr_for_each %d -> %d\n", id, ((struct item *)p)->key);
	return 0;
}

static void idr_demo(void)
{
	struct idr based;
	struct item *it;
	u32 id32 = 100;
	int id, ret, count = 0;

	pr_info("datastructs: idr empty %d\n", idr_is_empty(&idr));
	pr_info("datastructs: idr_alloc %d %d %d %d\n",
		idr_alloc(&idr, &items[2], 0, 0, GFP_KERNEL),
		idr_alloc(&idr, &items[3], 5, 10, GFP_KERNEL),
		idr_alloc(&idr, &items[4], 5, 6, GFP_KERNEL),
		idr_alloc(&idr, &items[5], 5, 7, GFP_KERNEL));
	ret = idr_alloc_u32(&idr, &items[8], &id32, 200, GFP_KERNEL);
	pr_info("datastructs: idr_alloc_u32 %d id %u, empty %d\n", ret, id32, idr_is_empty(&idr));
	pr_info("datastructs: idr_find 5 -> %d, 7 -> %s\n",
		((struct item *)idr_find(&idr, 5))->key, idr_find(&idr, 7) ? "?" : "NULL");
	pr_info("datastructs: idr_replace 6 %s, 8 %ld\n",
		idr_replace(&idr, &items[9], 6) == &items[5] ? "ok" : "bad",
		PTR_ERR(idr_replace(&idr, &items[9], 8)));
	pr_info("datastructs: idr_remove 0 %s\n", idr_remove(&idr, 0) == &items[2] ? "ok" : "bad");
	idr_for_each_entry(&idr, it, id)
		pr_info("datastructs: idr entry %d -> %d\n", id, it->key);
	idr_for_each(&idr, show_entry, &count);
	pr_info("datastructs: idr_for_each visited %d\n", count);
	idr_destroy(&idr);
	pr_info("datastructs: idr empty after destroy %d\n", idr_is_empty(&idr));

	for (id = 0; id < 4; id++)
		pr_info("datastructs: idr_alloc_cyclic %d\n",
			idr_alloc_cyclic(&idr, &items[2], 1, 4, GFP_KERNEL));
	idr_remove(&idr, 2);
	pr_info("datastructs: idr_alloc_cyclic after remove %d\n",
		idr_alloc_cyclic(&idr, &items[2], 1, 4, GFP_KERNEL));
	idr_destroy(&idr);

	idr_init_base(&based, 1);
	idr_preload(GFP_KERNEL);
	ret = idr_alloc(&based, &items[2], 0, 0, GFP_NOWAIT);
	idr_preload_end();
	pr_info("datastructs: based idr first id %d, find 0 %s\n", ret,
		idr_find(&based, 0) ? "?" : "NULL");
	idr_destroy(&based);

	pr_info("datastructs: ida_alloc %d %d %d\n", ida_alloc(&ida, GFP_KERNEL),
		ida_alloc(&ida, GFP_KERNEL), ida_alloc(&ida, GFP_KERNEL));
	ida_free(&ida, 1);
	pr_info("datastructs: ida_alloc after free %d, min 10 %d, range 3..3 %d %d\n",
		ida_alloc(&ida, GFP_KERNEL), ida_alloc_min(&ida, 10, GFP_KERNEL),
		ida_alloc_range(&ida, 3, 3, GFP_KERNEL), ida_alloc_range(&ida, 3, 3, GFP_KERNEL));
	if (bug == 2)
		ida_free(&ida, 7);
	ida_destroy(&ida);
	pr_info("datastructs: ida empty after destroy %d\n", ida_is_empty(&ida));
}

static DEFINE_XARRAY(xa);
static DEFINE_XARRAY_ALLOC(xa_alloc0);
static DEFINE_XARRAY_ALLOC1(xa_alloc1);

static void xarray_demo(void)
{
	unsigned long index;
	void *entry;
	u32 id, next = 0;
	int len = 0, ret;

	pr_info("datastructs: xa empty %d\n", xa_empty(&xa));
	xa_store(&xa, 3, xa_mk_value(30), GFP_KERNEL);
	xa_store(&xa, 7, xa_mk_value(70), GFP_KERNEL);
	xa_store(&xa, 100, xa_mk_value(1000), GFP_KERNEL);
	entry = xa_store(&xa, 7, xa_mk_value(77), GFP_KERNEL);
	pr_info("datastructs: xa old 7 = %lu, load 7 = %lu, load 8 %s, empty %d\n",
		xa_to_value(entry), xa_to_value(xa_load(&xa, 7)),
		xa_load(&xa, 8) ? "?" : "NULL", xa_empty(&xa));
	xa_for_each(&xa, index, entry)
		len += scnprintf(line + len, sizeof(line) - len, " %lu=%lu", index, xa_to_value(entry));
	pr_info("datastructs: xa_for_each:%s\n", line);
	xa_set_mark(&xa, 100, XA_MARK_1);
	pr_info("datastructs: xa marked %d %d, get_mark 100 %d, 3 %d\n",
		xa_marked(&xa, XA_MARK_1), xa_marked(&xa, XA_MARK_2),
		xa_get_mark(&xa, 100, XA_MARK_1), xa_get_mark(&xa, 3, XA_MARK_1));
	xa_for_each_marked(&xa, index, entry, XA_MARK_1)
		pr_info("datastructs: xa marked entry %lu\n", index);
	xa_clear_mark(&xa, 100, XA_MARK_1);
	pr_info("datastructs: xa marked after clear %d\n", xa_marked(&xa, XA_MARK_1));
	pr_info("datastructs: xa_insert 3 %d, 4 %d\n",
		xa_insert(&xa, 3, xa_mk_value(1), GFP_KERNEL),
		xa_insert(&xa, 4, xa_mk_value(40), GFP_KERNEL));
	entry = xa_erase(&xa, 7);
	pr_info("datastructs: xa_erase 7 = %lu, load 7 %s\n", xa_to_value(entry),
		xa_load(&xa, 7) ? "?" : "NULL");
	xa_destroy(&xa);
	pr_info("datastructs: xa empty after destroy %d\n", xa_empty(&xa));

	ret = xa_alloc(&xa_alloc0, &id, &items[2], xa_limit_32b, GFP_KERNEL);
	pr_info("datastructs: xa_alloc %d id %u\n", ret, id);
	ret = xa_alloc(&xa_alloc0, &id, NULL, xa_limit_32b, GFP_KERNEL);
	pr_info("datastructs: xa_alloc NULL %d id %u, load %s\n", ret, id,
		xa_load(&xa_alloc0, id) ? "?" : "NULL");
	ret = xa_alloc(&xa_alloc0, &id, &items[3], XA_LIMIT(0, 1), GFP_KERNEL);
	pr_info("datastructs: xa_alloc full %d\n", ret);
	ret = xa_alloc(&xa_alloc1, &id, &items[2], xa_limit_31b, GFP_KERNEL);
	pr_info("datastructs: xa_alloc1 %d id %u\n", ret, id);
	next = 2;
	ret = xa_alloc_cyclic(&xa_alloc1, &id, &items[3], XA_LIMIT(1, 3), &next, GFP_KERNEL);
	pr_info("datastructs: xa_alloc_cyclic %d id %u next %u\n", ret, id, next);
	ret = xa_alloc_cyclic(&xa_alloc1, &id, &items[4], XA_LIMIT(1, 3), &next, GFP_KERNEL);
	pr_info("datastructs: xa_alloc_cyclic %d id %u next %u\n", ret, id, next);
	xa_erase(&xa_alloc1, 1);
	ret = xa_alloc_cyclic(&xa_alloc1, &id, &items[5], XA_LIMIT(1, 3), &next, GFP_KERNEL);
	pr_info("datastructs: xa_alloc_cyclic wrapped %d id %u next %u\n", ret, id, next);
	xa_destroy(&xa_alloc0);
	xa_destroy(&xa_alloc1);
}

struct counted {
	struct kref ref;
	int value;
};

static void counted_release(struct kref *ref)
{
	struct counted *c = container_of(ref, struct counted, ref);

	pr_info("datastructs: kref release value %d\n", c->value);
	kfree(c);
}

static DEFINE_SPINLOCK(lock);
static DEFINE_MUTEX(mutex);

static void refcount_demo(void)
{
	struct counted *c = kzalloc(sizeof(*c), GFP_KERNEL);
	refcount_t r = REFCOUNT_INIT(3), z;
	unsigned long flags;

	if (!c)
		return;
	kref_init(&c->ref);
	c->value = 7;
	kref_get(&c->ref);
	pr_info("datastructs: kref %u\n", kref_read(&c->ref));
	pr_info("datastructs: kref_put %d\n", kref_put(&c->ref, counted_release));
	pr_info("datastructs: kref_put %d\n", kref_put(&c->ref, counted_release));

	pr_info("datastructs: dec_not_one %d -> %u\n", refcount_dec_not_one(&r), refcount_read(&r));
	pr_info("datastructs: dec_if_one %d -> %u\n", refcount_dec_if_one(&r), refcount_read(&r));
	pr_info("datastructs: dec_and_lock %d -> %u\n", refcount_dec_and_lock(&r, &lock),
		refcount_read(&r));
	pr_info("datastructs: dec_not_one at one %d -> %u\n", refcount_dec_not_one(&r),
		refcount_read(&r));
	if (refcount_dec_and_mutex_lock(&r, &mutex)) {
		pr_info("datastructs: dec_and_mutex_lock took the lock at zero (%u)\n",
			refcount_read(&r));
		mutex_unlock(&mutex);
	}
	refcount_set(&r, 1);
	if (refcount_dec_and_lock_irqsave(&r, &lock, &flags)) {
		pr_info("datastructs: dec_and_lock_irqsave took the lock at zero\n");
		spin_unlock_irqrestore(&lock, flags);
	}
	refcount_set(&r, 1);
	pr_info("datastructs: dec_if_one at one %d -> %u\n", refcount_dec_if_one(&r),
		refcount_read(&r));

	if (bug == 1) {
		refcount_set(&r, 1);
		pr_info("datastructs: dec_and_test %d\n", refcount_dec_and_test(&r));
		pr_info("datastructs: dec_and_test %d\n", refcount_dec_and_test(&r));
		pr_info("datastructs: saturated at %d\n", refcount_read(&r));
		refcount_set(&z, 0);
		refcount_inc(&z);
		pr_info("datastructs: inc from zero gives %d\n", refcount_read(&z));
	}
}

static int __init datastructs_init(void)
{
	rbtree_demo();
	idr_demo();
	xarray_demo();
	refcount_demo();
	pr_info("datastructs: done\n");
	return 0;
}

static void __exit datastructs_exit(void)
{
	pr_info("datastructs: exit\n");
}

module_init(datastructs_init);
module_exit(datastructs_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kload sample: rbtree, idr, ida, xarray, kref and refcount_t");
