# taint: a module whose MODULE_LICENSE is "Proprietary" taints the kernel (P)
# on top of the out-of-tree (O) and unsigned (E) taints. Fresh boot.
insmod license-proprietary.ko
cat /proc/modules
cat /sys/module/license_proprietary/taint
cat /proc/sys/kernel/tainted
insmod hello-2.ko
cat /proc/modules
cat /sys/module/hello_2/taint
rmmod license_proprietary
rmmod hello_2
cat /proc/sys/kernel/tainted
