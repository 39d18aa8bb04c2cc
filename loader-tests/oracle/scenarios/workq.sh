# workq: alloc_workqueue with a formatted name, queue_work twice, flush,
# schedule_work + flush_work, destroy_workqueue at exit. Fresh boot.
insmod workq.ko
rmmod workq
