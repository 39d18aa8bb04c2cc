# stub-fault: init passes a NULL string to strlen(): the page fault is in
# the kernel's strlen, the call trace names the module's init; insmod dies,
# the module stays listed as loading, and an earlier module still unloads.
# Fresh boot.
insmod hello-1.ko
insmod stub-fault.ko
cat /proc/modules
rmmod hello_1
rmmod stub_fault
cat /proc/sys/kernel/tainted
