# versioned: MODULE_VERSION (and the srcversion modpost adds), MODULE_ALIAS,
# MODULE_AUTHOR, MODULE_DESCRIPTION as seen in sysfs. Fresh boot.
insmod versioned.ko
ls /sys/module/versioned
cat /sys/module/versioned/version
cat /sys/module/versioned/srcversion
cat /sys/module/versioned/initstate
cat /sys/module/versioned/coresize
cat /sys/module/versioned/initsize
cat /sys/module/versioned/refcnt
cat /sys/module/versioned/taint
cat /proc/modules
rmmod versioned
insmod hello-2.ko
ls /sys/module/hello_2
rmmod hello_2
