# first-load: which messages appear only on the first module load of a boot,
# and which repeat. Fresh boot; hello-2 (no trace_printk) goes first.
cat /proc/sys/kernel/tainted
insmod hello-2.ko
cat /proc/sys/kernel/tainted
insmod hello-1.ko
cat /proc/sys/kernel/tainted
rmmod hello_1
rmmod hello_2
insmod hello-1.ko
insmod hello-2.ko
cat /proc/modules
rmmod hello_2
rmmod hello_1
cat /sys/kernel/tracing/trace
