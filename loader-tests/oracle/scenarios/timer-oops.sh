# timer-oops: a timer callback writes through NULL: an Oops in softirq
# context, then "Kernel panic - not syncing: Fatal exception in interrupt"
# (the guest stops; no transcript, see loader-tests/faults2-real/).
insmod timers.ko oops=1
sleep 2
cat /proc/sys/kernel/tainted
