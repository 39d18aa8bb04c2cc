# permanent: a module with init but no exit cannot be unloaded ([permanent],
# EBUSY) except by a forced unload (CONFIG_MODULE_FORCE_UNLOAD=y on Debian,
# taints R); a module with exit but no init loads and unloads. Fresh boot.
insmod no-exit.ko
cat /proc/modules
lsmod
cat /sys/module/no_exit/refcnt
rmmod no_exit
cat /proc/sys/kernel/tainted
rmmod -f no_exit
cat /proc/sys/kernel/tainted
cat /proc/modules
insmod exit-only.ko
cat /proc/modules
cat /sys/module/exit_only/initstate
rmmod exit_only
cat /proc/modules
