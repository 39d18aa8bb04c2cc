# gpl-only: a module with MODULE_LICENSE("Proprietary") using a GPL-only
# export: the license taints the kernel (P) even though the load then fails
# with Unknown symbol. Fresh boot.
insmod exporter.ko
cat /proc/sys/kernel/tainted
insmod proprietary-user.ko
cat /proc/sys/kernel/tainted
cat /proc/modules
cat /sys/module/exporter/refcnt
