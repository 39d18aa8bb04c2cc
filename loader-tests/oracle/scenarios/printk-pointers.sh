# printk-pointers: deterministic %p extensions. Fresh boot.
insmod printk-pointers.ko
rmmod printk_pointers
