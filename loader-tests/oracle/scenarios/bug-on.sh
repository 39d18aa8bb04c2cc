# bug-on: BUG() in init: "kernel BUG at", invalid opcode Oops, insmod dies,
# the module stays listed as loading. Fresh boot.
insmod bug-on.ko
cat /proc/modules
rmmod bug_on
cat /proc/sys/kernel/tainted
