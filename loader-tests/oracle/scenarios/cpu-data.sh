# cpu-data: CPU masks and counts, per-CPU variables, interrupt flags
# through pv_ops, bottom halves, boot_cpu_has, the I/O resource roots and
# kasprintf, from a module. Fresh boot, one CPU.
insmod cpu-data.ko
rmmod cpu_data
