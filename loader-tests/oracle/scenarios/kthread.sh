# kthread: kthread_run, completions, a wait queue, schedule() until
# kthread_stop, whose return value exit prints. Fresh boot.
insmod kthread.ko
sleep 1
rmmod kthread
