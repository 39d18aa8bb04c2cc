# lock-held: init returns with a mutex held. Without lockdep (Debian) the
# real kernel says nothing and the module is live. Fresh boot.
insmod lock-held.ko
cat /proc/modules
rmmod lock_held
cat /proc/sys/kernel/tainted
