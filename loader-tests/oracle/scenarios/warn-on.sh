# warn-on: WARN_ON(1), a WARN_ON_ONCE site reached twice (one report), and
# WARN(1, fmt) in init; init returns 0, so the module is live (taint W).
# Fresh boot.
insmod warn-on.ko
cat /proc/modules
rmmod warn_on
cat /proc/sys/kernel/tainted
