#!/bin/sh
# kload oracle: /init of the initramfs that record.sh boots under QEMU.
#
# It runs as PID 1 (busybox sh). It sets up proc/sys/dev/tracefs, silences
# the console (so that kernel messages never interleave with command output
# on the serial line), runs each line of /scenario.sh and, for each one,
# prints: a "cmd" marker, the command's own stdout+stderr, a "dmesg" marker,
# every kernel log line the command produced (dmesg -c before and after), and
# a "status" marker with the exit code. Then it powers the machine off.
#
# record.sh keeps only the lines between the "begin" and "end" markers.

export PATH=/bin:/sbin
M='### kload-oracle:'

mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null ||
	mount -t debugfs nodev /sys/kernel/debug 2>/dev/null

# Console loglevel 1: from now on only KERN_EMERG reaches the serial console
# directly; everything else is read back with dmesg, in order, after each
# command. (The kernel is also booted with loglevel=1, which keeps the boot
# quiet and fast; this repeats it in case something changed it.)
dmesg -n 1

# Let the boot settle: wait until no new kernel message arrives for a full
# second (at most ~10 s), so late boot messages (clocksource switches, crng
# init, ...) are not attributed to the first command.
n=0
while [ $n -lt 10 ]; do
	dmesg -c -s 1048576 >>/boot.log
	sleep 1
	[ -z "$(dmesg -s 1048576)" ] && break
	n=$((n + 1))
done
dmesg -c -s 1048576 >>/boot.log

# A fresh line first: the serial line may still hold firmware escape codes.
echo
echo "$M boot log:"
cat /boot.log
echo "$M uname: $(uname -r)"
echo "$M version: $(cat /proc/version)"
echo "$M cmdline: $(cat /proc/cmdline)"
echo "$M tainted-before: $(cat /proc/sys/kernel/tainted)"
echo "$M begin"

cd /modules
i=0
while IFS= read -r line || [ -n "$line" ]; do
	case "$line" in
	'' | '#'*) continue ;;
	esac
	i=$((i + 1))
	dmesg -c -s 1048576 >/tmp/stray.log
	if [ -s /tmp/stray.log ]; then
		# Should not happen after the settle loop; reported, never hidden.
		echo "$M stray kernel log before cmd $i:"
		cat /tmp/stray.log
	fi
	echo "$M cmd $i: $line"
	sh -c "$line" </dev/null 2>&1
	rc=$?
	echo "$M dmesg $i:"
	dmesg -c -s 1048576
	echo "$M status $i: $rc"
done </scenario.sh

echo "$M end"
echo "$M tainted-after: $(cat /proc/sys/kernel/tainted)"
sync
poweroff -f
