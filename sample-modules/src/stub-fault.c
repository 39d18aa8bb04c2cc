// SPDX-License-Identifier: GPL-2.0
/*
 * stub-fault.c - init hands a NULL string to strlen(): the fault happens
 * inside the kernel's strlen, not in module code. The page-fault Oops names
 * strlen as RIP and the module's init as its caller in the call trace; the
 * insmod task dies, other modules go on.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/string.h>

/* A parameter, so the compiler cannot know the pointer is NULL. */
static char *text;
module_param(text, charp, 0444);
MODULE_PARM_DESC(text, "the string to measure (NULL unless given)");

static int __init stub_fault_init(void)
{
	pr_info("stub-fault: measuring the text parameter\n");
	pr_info("stub-fault: strlen(text) = %zu\n", strlen(text));
	return 0;
}

static void __exit stub_fault_exit(void)
{
	pr_info("stub-fault: exit\n");
}

module_init(stub_fault_init);
module_exit(stub_fault_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("NULL string passed to strlen() in init");
