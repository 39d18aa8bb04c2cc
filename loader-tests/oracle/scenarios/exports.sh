# exports: a module using another module's exports (plain function, data
# object, GPL-only function, namespaced function with MODULE_IMPORT_NS);
# refcounts, holders, "in use", and the Unknown symbol lines without the
# exporter. Fresh boot.
insmod exporter.ko
insmod user.ko
lsmod
cat /proc/modules
cat /sys/module/exporter/refcnt
ls /sys/module/exporter/holders
cat /sys/module/user/refcnt
# exporter-old.ko exports two names exporter.ko already exports: refused
insmod exporter-old.ko
# in use by user: refused
rmmod exporter
# forcing does not help while another module holds it
rmmod -f exporter
rmmod user
cat /sys/module/exporter/refcnt
ls /sys/module/exporter/holders
rmmod exporter
cat /proc/modules
# without the exporter every imported symbol is unknown
insmod user.ko
cat /proc/modules
