# namespaces: a symbol exported with EXPORT_SYMBOL_NS(..., KLOAD_TEST) is
# refused to a module without MODULE_IMPORT_NS(KLOAD_TEST), and resolved for
# one that imports it. Fresh boot.
insmod exporter.ko
insmod user-no-ns.ko
cat /proc/modules
insmod user.ko
cat /proc/modules
rmmod user
rmmod exporter
