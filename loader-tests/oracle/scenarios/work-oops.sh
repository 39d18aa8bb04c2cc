# work-oops: a work item writes through NULL: the Oops names the workqueue
# and the work function, the kworker dies, the kernel goes on. Fresh boot.
insmod workq.ko oops=1
sleep 1
cat /proc/sys/kernel/tainted
