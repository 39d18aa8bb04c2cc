# div-zero: division by a runtime zero in init: divide error Oops, insmod
# dies, the module stays listed as loading. Fresh boot.
insmod div-zero.ko
cat /proc/modules
rmmod div_zero
cat /proc/sys/kernel/tainted
