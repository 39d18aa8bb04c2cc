# hello-2: module_init/module_exit with __init/__exit. Fresh boot.
insmod hello-2.ko
cat /proc/modules
lsmod
rmmod hello_2
cat /proc/modules
