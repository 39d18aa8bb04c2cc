# datastructs: rbtree (in-order keys and tree shapes after inserts, erases
# and a replace; a cached tree's leftmost), IDR (alloc, ranges, -ENOSPC,
# find, replace, remove, iteration, cyclic, a based IDR with preloading),
# IDA, XArrays (store, load, marks, insert, erase, allocating arrays and
# cyclic allocation) and kref/refcount_t helpers; then bug=1, a refcount_t
# underflow and an increment from zero (WARN_ONCE each), and bug=2,
# ida_free of an id that is not allocated (WARN). Fresh boot.
insmod datastructs.ko
rmmod datastructs
insmod datastructs.ko bug=1
rmmod datastructs
insmod datastructs.ko bug=2
rmmod datastructs
cat /proc/sys/kernel/tainted
