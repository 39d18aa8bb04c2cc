#include <linux/kernel.h>
#include <linux/module.h>

void dummy(void)
{
        pr_info("Dummy\n");
}

int init_module(void)
{
        pr_info("Hello world 1.\n");
        trace_printk("(trace debug) Hello world 1.\n");

        dummy();

        return 0;
}

void cleanup_module(void)
{
        pr_info("Goodbye world 1.\n");
        trace_printk("(trace debug) Goodbye world 1.\n");
}

MODULE_LICENSE("GPL");
