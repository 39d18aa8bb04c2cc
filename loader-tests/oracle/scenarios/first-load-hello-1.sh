# first-load-hello-1: the very first module load of a boot is hello-1 (which
# uses trace_printk), then a second, different module. Fresh boot.
cat /proc/sys/kernel/tainted
insmod hello-1.ko
cat /proc/sys/kernel/tainted
insmod hello-2.ko
rmmod hello_2
rmmod hello_1
insmod hello-1.ko
rmmod hello_1
