# params: module parameters of every standard type (see
# sample-modules/src/params.c): parsing of insmod arguments (quotes, hex,
# octal, negatives, arrays), their sysfs files and formatting, writes through
# sysfs, and the kernel's errors for bad values. Fresh boot.
insmod params.ko
ls /sys/module/params/parameters
cat /sys/module/params/parameters/p_byte
cat /sys/module/params/parameters/p_hexint
cat /sys/module/params/parameters/p_array
cat /sys/module/params/parameters/p_string
cat /sys/module/params/parameters/p_invbool
rmmod params
# every type; p_charp="a b" reaches the kernel as p_charp=a b (insmod does not
# quote), so the kernel sees a parameter "b"; the kernel's own quoting works
insmod params.ko p_byte=255 p_short=-32768 p_ushort=0xffff p_int=-0x10 p_uint=010 p_long=-9223372036854775808 p_ulong=18446744073709551615 p_ullong=0x123456789abcdef0 p_hexint=0xdeadbeef p_charp="hello world" p_bool=Y p_invbool=n p_bint=1 p_array=1,-2,0x3 p_string=seven77
cat /sys/module/params/parameters/p_byte
cat /sys/module/params/parameters/p_short
cat /sys/module/params/parameters/p_ushort
cat /sys/module/params/parameters/p_int
cat /sys/module/params/parameters/p_uint
cat /sys/module/params/parameters/p_long
cat /sys/module/params/parameters/p_ulong
cat /sys/module/params/parameters/p_ullong
cat /sys/module/params/parameters/p_hexint
cat /sys/module/params/parameters/p_charp
cat /sys/module/params/parameters/p_bool
cat /sys/module/params/parameters/p_invbool
cat /sys/module/params/parameters/p_bint
cat /sys/module/params/parameters/p_array
cat /sys/module/params/parameters/p_string
# writes through sysfs (0644 and 0600 ones)
echo 7 > /sys/module/params/parameters/p_byte
cat /sys/module/params/parameters/p_byte
echo -0x20 > /sys/module/params/parameters/p_int
cat /sys/module/params/parameters/p_int
echo 42 > /sys/module/params/parameters/p_uint
cat /sys/module/params/parameters/p_uint
echo 0x1f > /sys/module/params/parameters/p_hexint
cat /sys/module/params/parameters/p_hexint
echo new charp value > /sys/module/params/parameters/p_charp
cat /sys/module/params/parameters/p_charp
echo n > /sys/module/params/parameters/p_bool
cat /sys/module/params/parameters/p_bool
echo y > /sys/module/params/parameters/p_invbool
cat /sys/module/params/parameters/p_invbool
echo 9,8,7,6 > /sys/module/params/parameters/p_array
cat /sys/module/params/parameters/p_array
echo abc > /sys/module/params/parameters/p_string
cat /sys/module/params/parameters/p_string
# bad values through sysfs
echo 256 > /sys/module/params/parameters/p_byte
echo xyz > /sys/module/params/parameters/p_int
echo 1,2,3,4,5 > /sys/module/params/parameters/p_array
echo toolongstring > /sys/module/params/parameters/p_string
cat /sys/module/params/parameters/p_string
echo maybe > /sys/module/params/parameters/p_bool
# read-only (0444) parameters, even for root
echo 1 > /sys/module/params/parameters/p_ushort
echo 1 > /sys/module/params/parameters/p_ulong
cat /sys/module/params/parameters/p_ushort
rmmod params
# the kernel's own double quotes keep the space in one value
insmod params.ko 'p_charp="hello world"' 'p_string="a b"'
cat /sys/module/params/parameters/p_charp
cat /sys/module/params/parameters/p_string
rmmod params
# bad values at load time, one per insmod
insmod params.ko p_int=abc
insmod params.ko p_byte=256
insmod params.ko p_array=1,2,3,4,5
insmod params.ko p_string=toolongstring
insmod params.ko p_ulong=-1
insmod params.ko p_int=
insmod params.ko p_charp
insmod params.ko nosuchparam=1
rmmod params
# bool and bint without a value mean true
insmod params.ko p_bool
rmmod params
# invbool has no "no value" form (unlike bool and bint): refused
insmod params.ko p_invbool
insmod params.ko p_bint
rmmod params
cat /proc/modules
