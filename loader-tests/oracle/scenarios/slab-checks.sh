# slab-checks: the allocations of a clean run (mode 0: kmalloc with constant
# and run-time sizes, kzalloc, kmalloc_large, krealloc, kmemdup, kstrdup,
# kstrndup, ksize, vmalloc, vzalloc, kvmalloc, a kmem_cache, pages) and the
# allocation loop of mode 5 without fault injection. The buggy modes (double
# free, use after free, overflow) are kload's own checks: the real kernel
# corrupts itself or oopses, so they are not recorded. Fresh boot.
insmod slab-checks.ko
rmmod slab_checks
insmod slab-checks.ko mode=5
rmmod slab_checks
insmod slab-checks.ko mode=1
rmmod slab_checks
