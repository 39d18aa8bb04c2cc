# layout: where the kernel put hello-1's and hello-2's sections, and the sizes it reports.
insmod hello-1.ko
cat /sys/module/hello_1/coresize /sys/module/hello_1/initsize
cd /sys/module/hello_1/sections && for f in .* *; do [ -f "$f" ] && echo "$f $(cat $f)"; done
insmod hello-2.ko
cat /sys/module/hello_2/coresize /sys/module/hello_2/initsize
cd /sys/module/hello_2/sections && for f in .* *; do [ -f "$f" ] && echo "$f $(cat $f)"; done
cat /proc/modules
