# oops-deep: a NULL write two helper calls below init: the Oops's RIP is
# the inner helper, the call trace shows the outer helper and init (the ORC
# unwinder's reliable frames). insmod dies, the module stays loading.
# Fresh boot.
insmod oops-deep.ko
cat /proc/modules
cat /proc/sys/kernel/tainted
