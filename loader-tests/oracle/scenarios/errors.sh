# errors: what the kernel and busybox print, and the exit codes, on failures.
# Fresh boot.
insmod hello-1.ko
# second load of the same module: EEXIST
insmod hello-1.ko
rmmod hello_1
# unloading a module that is not loaded
rmmod nonexistent
# unknown module parameter
insmod /modules/hello-1.ko foo=1
cat /proc/modules
# loading a file that does not exist
insmod /modules/nonexistent.ko
