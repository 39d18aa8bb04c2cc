# null-deref: init writes through a NULL pointer: page-fault Oops, insmod is
# killed, the module stays listed as loading (and cannot be removed).
# Fresh boot.
insmod null-deref.ko
cat /proc/modules
rmmod null_deref
cat /proc/sys/kernel/tainted
