# ratelimit: ___ratelimit (see sample-modules/src/ratelimit.c):
# printk_ratelimited's burst of 10, a short interval crossed with msleep
# ("callbacks suppressed"), RATELIMIT_MSG_ON_RELEASE (reported by
# ratelimit_state_exit instead) and interval 0 (never limited). Fresh boot.
insmod ratelimit.ko
rmmod ratelimit
