# dump-stack: dump_stack() from a helper of init: the CPU line and a call
# trace through the module's helper and init; the module loads and unloads.
# Fresh boot.
insmod dump-stack.ko
rmmod dump_stack
