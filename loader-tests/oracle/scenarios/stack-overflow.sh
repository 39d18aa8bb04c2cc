# stack-overflow: unbounded recursion in init runs into the stack guard
# page: "stack guard page" Oops, insmod dies. Fresh boot.
insmod stack-overflow.ko
cat /proc/modules
cat /proc/sys/kernel/tainted
