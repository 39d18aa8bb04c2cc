# printk-basics: the printk grammar and %pS of module functions. Fresh boot.
insmod printk-basics.ko
rmmod printk_basics
