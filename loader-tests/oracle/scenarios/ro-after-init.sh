# ro-after-init: exit writes a __ro_after_init variable: page-fault Oops
# (write access, permissions violation), rmmod is killed. Fresh boot.
insmod ro-after-init.ko
cat /proc/modules
rmmod ro_after_init
cat /proc/modules
cat /proc/sys/kernel/tainted
