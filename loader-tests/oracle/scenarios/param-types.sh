# param-types: module parameters of every kind (sample-modules/src/param-types.c):
# how insmod arguments are tokenised and parsed, the kernel's messages for
# bad values (busybox insmod retries a failed finit_module with init_module,
# so a failing load prints its messages twice), unknown parameters, `--',
# and the /sys/module/param_types/parameters files (formats, writes, perms).
# Fresh boot.
#
# defaults, and every sysfs file
insmod param-types.ko
ls /sys/module/param_types/parameters
for f in /sys/module/param_types/parameters/*; do printf '%s=' ${f##*/}; cat $f; done
rmmod param_types
# every type at its limits
insmod param-types.ko b=255 sh=-32768 ush=65535 i=-2147483648 ui=4294967295 l=-9223372036854775808 ul=18446744073709551615 ull=18446744073709551615 hex=0xdeadbeef cp=hello bo bi=y inv=n eo=1 arr=1,-2,0x10,010 fixed=1,2 names=a,bb str=1234567 even=4 flag under_score=3
for f in /sys/module/param_types/parameters/*; do printf '%s=' ${f##*/}; cat $f; done
rmmod param_types
# bases and signs, a hidden (perm 0) parameter
insmod param-types.ko i=0x7fffffff ui=010 sh=+5 l=-0x10 hex=0 b=0X1f ull=0 ul=0x0 bo=on inv=off bi=N hidden=12
rmmod param_types
# quoting, '-' and '_', repeated parameters, a NOARG custom flag given a value
insmod param-types.ko 'cp="a b"' '"str=x y"' 'names="p q",r' under-score=5 i=1 i=2 '"bo"' flag=x
rmmod param_types
# unknown parameters are ignored with a warning; async_probe and dyndbg are consumed
insmod param-types.ko foo=1 bar async_probe async-probe=1 dyndbg=+p param_types.dyndbg x.y=1 i=3
rmmod param_types
# everything after -- is ignored
insmod param-types.ko i=1 -- b=2 c
rmmod param_types
insmod param-types.ko i=1 --
rmmod param_types
# bad values: each failure is logged, the last one fails the load
insmod param-types.ko i=abc
insmod param-types.ko i=99999999999
insmod param-types.ko b=256
insmod param-types.ko ui=-1
insmod param-types.ko i
insmod param-types.ko inv
insmod param-types.ko cp
insmod param-types.ko arr=1,2,3,4,5
insmod param-types.ko arr=1,,2
insmod param-types.ko arr=
insmod param-types.ko str=12345678
insmod param-types.ko cp=$(printf '%1025s' | tr ' ' x)
insmod param-types.ko even=3
insmod param-types.ko even=102
insmod param-types.ko eo=1 eo=0
insmod param-types.ko b=300 i=x
insmod param-types.ko i=x b=300
insmod param-types.ko i=x -- b=1
insmod param-types.ko bo=maybe names=a,b,c,d
insmod param-types.ko bo=e
# sysfs: reads, writes, permissions, errors
insmod param-types.ko eo=1
echo 12 > /sys/module/param_types/parameters/i; cat /sys/module/param_types/parameters/i
echo x > /sys/module/param_types/parameters/i
echo 5 > /sys/module/param_types/parameters/ush
cat /sys/module/param_types/parameters/hidden
echo hello > /sys/module/param_types/parameters/cp; cat /sys/module/param_types/parameters/cp
echo 123456789 > /sys/module/param_types/parameters/str
echo 1,2,3 > /sys/module/param_types/parameters/arr; cat /sys/module/param_types/parameters/arr
echo 1,2,3,4,5 > /sys/module/param_types/parameters/arr; cat /sys/module/param_types/parameters/arr
echo 0 > /sys/module/param_types/parameters/eo
echo 3 > /sys/module/param_types/parameters/even
echo 40 > /sys/module/param_types/parameters/even; cat /sys/module/param_types/parameters/even
echo a,b > /sys/module/param_types/parameters/names; cat /sys/module/param_types/parameters/names
echo 0x10 > /sys/module/param_types/parameters/hex; cat /sys/module/param_types/parameters/hex
echo off > /sys/module/param_types/parameters/bo; cat /sys/module/param_types/parameters/bo
echo -n 4 > /sys/module/param_types/parameters/fixed; cat /sys/module/param_types/parameters/fixed
echo 1 > /sys/module/param_types/parameters/danger
rmmod param_types
cat /proc/sys/kernel/tainted
