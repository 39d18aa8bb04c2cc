# netdev: the net_device printk family (see sample-modules/src/netdev.c) on
# an allocated, never registered device; then with netdev_dbg's dynamic
# debug sites on. Fresh boot.
insmod netdev.ko
rmmod netdev
insmod netdev.ko dyndbg=+pf
rmmod netdev
