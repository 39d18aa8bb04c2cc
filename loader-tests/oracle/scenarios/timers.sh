# timers: a timer re-arms itself from its callback (three ticks in softirq
# context) and a delayed work item runs on the system workqueue; exit
# deletes the timer and cancels the work. Fresh boot.
insmod timers.ko
sleep 2
rmmod timers
