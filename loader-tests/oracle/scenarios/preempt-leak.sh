# preempt-leak: init returns with preemption disabled; do_one_initcall WARNs. Fresh boot.
insmod preempt-leak.ko
rmmod preempt_leak
