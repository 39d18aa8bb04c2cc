# needs-missing: a reboot notifier; the real kernel registers it. kload does not provide register_reboot_notifier. Fresh boot.
insmod needs-missing.ko
rmmod needs_missing
