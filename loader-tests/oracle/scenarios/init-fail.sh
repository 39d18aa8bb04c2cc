# init-fail: init returns -ENODEV. The module must be gone afterwards and
# its exit never called. Fresh boot.
insmod init-fail.ko
cat /proc/modules
rmmod init_fail
