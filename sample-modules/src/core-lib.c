// SPDX-License-Identifier: GPL-2.0
/*
 * core-lib.c - the kernel's core library from a module: strings, the
 * printf and scanf families, sort/bsearch, lists and list_sort, bitmaps,
 * CRCs, a mutex, a spinlock, jiffies and msleep. Prints only results that
 * are the same on every run.
 */
#include <linux/bitmap.h>
#include <linux/bsearch.h>
#include <linux/crc-ccitt.h>
#include <linux/crc32.h>
#include <linux/delay.h>
#include <linux/init.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/list.h>
#include <linux/list_sort.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/preempt.h>
#include <linux/sort.h>
#include <linux/spinlock.h>
#include <linux/string.h>

static char words[64] = "  alpha,beta,,gamma  ";
static char hello[16] = "Hello";
static char digits[] = "123456789";
static const char * const modes[] = { "off", "on", "auto", NULL };
static int values[] = { 42, -7, 19, 3, 100, 0, 19, -50 };

struct item {
	struct list_head node;
	int key;
	char tag;
};

static struct item items[5] = {
	{ .key = 3, .tag = 'a' }, { .key = 1, .tag = 'b' },
	{ .key = 3, .tag = 'c' }, { .key = 2, .tag = 'd' },
	{ .key = 1, .tag = 'e' },
};

static DEFINE_MUTEX(static_mutex);
static DEFINE_SPINLOCK(lock);
static struct mutex dyn_mutex;

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return x < y ? -1 : x > y;
}

static int cmp_item(void *priv, const struct list_head *a,
		    const struct list_head *b)
{
	return list_entry(a, struct item, node)->key -
	       list_entry(b, struct item, node)->key;
}

static noinline void strings(void)
{
	char buf[16], *s, *tok;
	ssize_t r;

	pr_info("core-lib: strlen=%zu strnlen=%zu\n", strlen(words),
		strnlen(words, 5));
	pr_info("core-lib: strcmp=%d strncmp=%d strcasecmp=%d strncasecmp=%d\n",
		strcmp(hello, "Help"), strncmp(hello, "Help", 3),
		strcasecmp(hello, "hELLO"), strncasecmp(hello, "HELP", 4) < 0);
	r = strscpy(buf, words, sizeof(buf));
	pr_info("core-lib: strscpy=%zd '%s'\n", r, buf);
	r = strscpy(buf, hello, sizeof(buf));
	pr_info("core-lib: strscpy=%zd '%s'\n", r, buf);
	strlcat(buf, ", world", sizeof(buf));
	pr_info("core-lib: strlcat '%s'\n", buf);
	pr_info("core-lib: strchr=%td strrchr=%td strstr=%td strnstr=%d\n",
		strchr(words, 'a') - words, strrchr(words, 'a') - words,
		strstr(words, "beta") - words, strnstr(words, "gamma", 8) == NULL);
	s = strim(words);
	pr_info("core-lib: strim '%s' skip_spaces '%s'\n", s,
		skip_spaces("   x y"));
	while ((tok = strsep(&s, ",")))
		pr_info("core-lib: strsep '%s'\n", tok);
	memset(buf, 'z', sizeof(buf));
	pr_info("core-lib: memchr_inv=%d memcmp=%d\n",
		memchr_inv(buf, 'z', sizeof(buf)) == NULL,
		memcmp(hello, "Hellp", 5) < 0);
	pr_info("core-lib: sysfs_streq=%d match_string=%d sysfs_match=%d\n",
		sysfs_streq("auto\n", "auto"), match_string(modes, -1, "auto"),
		sysfs_match_string(modes, "on\n"));
}

static noinline void printf_scanf(void)
{
	char buf[8], name[8];
	int n, a, b;
	unsigned int x;

	n = snprintf(buf, sizeof(buf), "%d-%s", 12345, "abcdef");
	pr_info("core-lib: snprintf=%d '%s'\n", n, buf);
	n = scnprintf(buf, sizeof(buf), "%d-%s", 12345, "abcdef");
	pr_info("core-lib: scnprintf=%d '%s'\n", n, buf);
	n = snprintf(NULL, 0, "%08x", 0xbeef);
	pr_info("core-lib: snprintf(NULL, 0)=%d\n", n);
	n = sprintf(buf, "%3d|%-2s|", 7, "x");
	pr_info("core-lib: sprintf=%d '%s'\n", n, buf);
	n = sscanf("12 -34 0x1f name7 rest", "%d %d %x %7s", &a, &b, &x, name);
	pr_info("core-lib: sscanf=%d %d %d %u '%s'\n", n, a, b, x, name);
	n = sscanf("1.2", "%d.%d.%d", &a, &b, &x);
	pr_info("core-lib: sscanf partial=%d\n", n);
}

static noinline void sorting(void)
{
	struct item *it;
	LIST_HEAD(head);
	int key = 19, *found, i;

	sort(values, ARRAY_SIZE(values), sizeof(values[0]), cmp_int, NULL);
	for (i = 0; i < ARRAY_SIZE(values); i++)
		pr_cont("%s%d", i ? " " : "core-lib: sorted ", values[i]);
	pr_cont("\n");
	found = bsearch(&key, values, ARRAY_SIZE(values), sizeof(values[0]),
			cmp_int);
	pr_info("core-lib: bsearch 19 -> %d\n", found ? *found : -1);
	key = 5;
	found = bsearch(&key, values, ARRAY_SIZE(values), sizeof(values[0]),
			cmp_int);
	pr_info("core-lib: bsearch 5 -> %s\n", found ? "found" : "NULL");

	for (i = 0; i < ARRAY_SIZE(items); i++)
		list_add_tail(&items[i].node, &head);
	list_sort(NULL, &head, cmp_item);
	pr_info("core-lib: list_sort:");
	list_for_each_entry(it, &head, node)
		pr_cont(" %d%c", it->key, it->tag);
	pr_cont("\n");
	list_del(&items[2].node);
	pr_info("core-lib: after list_del: %zu entries\n", list_count_nodes(&head));
}

static noinline void bitmaps(void)
{
	DECLARE_BITMAP(map, 200);
	DECLARE_BITMAP(other, 200);

	bitmap_zero(map, 200);
	bitmap_set(map, 3, 5);
	__set_bit(130, map);
	bitmap_copy(other, map, 200);
	bitmap_shift_left(other, other, 10, 200);
	pr_info("core-lib: weight=%u first=%lu next=%lu last=%lu zero=%lu\n",
		bitmap_weight(map, 200), find_first_bit(map, 200),
		find_next_bit(map, 200, 8), find_last_bit(map, 200),
		find_first_zero_bit(map, 200));
	pr_info("core-lib: shifted first=%lu intersects=%d equal=%d\n",
		find_first_bit(other, 200), bitmap_intersects(map, other, 200),
		bitmap_equal(map, map, 200));
	bitmap_clear(map, 0, 200);
	pr_info("core-lib: cleared weight=%u\n", bitmap_weight(map, 200));
}

static noinline void crcs(void)
{
	pr_info("core-lib: crc32_le=%08x crc32c=%08x crc32_be=%08x ccitt=%04x\n",
		crc32_le(~0, digits, 9) ^ ~0, __crc32c_le(~0, digits, 9) ^ ~0,
		crc32_be(~0, digits, 9) ^ ~0, crc_ccitt(0, digits, 9));
}

static noinline void locks(void)
{
	unsigned long flags, start;

	mutex_init(&dyn_mutex);
	mutex_lock(&static_mutex);
	pr_info("core-lib: mutex locked=%d trylock=%d\n",
		mutex_is_locked(&static_mutex), mutex_trylock(&dyn_mutex));
	mutex_unlock(&dyn_mutex);
	mutex_unlock(&static_mutex);
	pr_info("core-lib: mutex unlocked=%d\n", !mutex_is_locked(&static_mutex));

	spin_lock(&lock);
	pr_info("core-lib: in spin_lock preempt_count=%d locked=%d\n",
		preempt_count(), spin_is_locked(&lock));
	spin_unlock(&lock);
	spin_lock_irqsave(&lock, flags);
	pr_info("core-lib: irqsave saved IF=%d\n", !!(flags & X86_EFLAGS_IF));
	spin_unlock_irqrestore(&lock, flags);
	pr_info("core-lib: after unlock preempt_count=%d locked=%d\n",
		preempt_count(), spin_is_locked(&lock));

	start = jiffies;
	msleep(20);
	pr_info("core-lib: msleep(20) advanced jiffies: %d, ms=%u\n",
		time_after_eq(jiffies, start + msecs_to_jiffies(20)),
		jiffies_to_msecs(msecs_to_jiffies(20)));
}

static int __init core_lib_init(void)
{
	strings();
	printf_scanf();
	sorting();
	bitmaps();
	crcs();
	locks();
	return 0;
}

static void __exit core_lib_exit(void)
{
	pr_info("core-lib: exit\n");
}

module_init(core_lib_init);
module_exit(core_lib_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("The kernel's core library from a module");
