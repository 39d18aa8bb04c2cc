# core-lib: strings, printf/scanf, sort/bsearch, lists, bitmaps, CRCs,
# mutex, spinlock, jiffies and msleep from a module; prints only
# deterministic results. Fresh boot.
insmod core-lib.ko
rmmod core_lib
