# hello-1: load, list, read the ftrace buffer (hello-1 calls trace_printk in
# init and exit), unload, list, read the buffer again. Runs in a fresh boot,
# so the first-load messages (taint, trace_printk banner) appear here too.
# tracefs is mounted on /sys/kernel/tracing by init.
insmod hello-1.ko
lsmod
cat /proc/modules
cat /sys/kernel/tracing/trace
rmmod hello_1
lsmod
cat /proc/modules
cat /sys/kernel/tracing/trace
