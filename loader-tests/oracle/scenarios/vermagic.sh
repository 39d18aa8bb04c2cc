# vermagic: a module built for the other kernel series (/modules/other/, staged
# by record.sh from sample-modules/<other series>/) is refused, before its
# vermagic is even looked at; a module of this kernel's build whose vermagic
# differs (bad-vermagic.ko: no "preempt") is refused with "version magic".
# Fresh boot.
insmod other/hello-2.ko
cat /proc/modules
insmod other/exporter.ko
cat /proc/modules
insmod bad-vermagic.ko
cat /proc/modules
# this kernel's own build still loads
insmod hello-2.ko
cat /proc/modules
rmmod hello_2
