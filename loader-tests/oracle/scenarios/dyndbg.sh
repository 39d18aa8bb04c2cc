# dyndbg: dynamic debug (see sample-modules/src/dyndbg.c): call sites are
# off by default, the dyndbg= module parameter and queries written to
# /proc/dynamic_debug/control turn them on, the control file lists them
# (filtered to the module: the real kernel also lists vmlinux's), and bad
# queries get the kernel's errors. Fresh boot.
insmod dyndbg.ko
rmmod dyndbg
insmod dyndbg.ko dyndbg=+p
grep -F '[dyndbg]' /proc/dynamic_debug/control
echo 'module dyndbg +mfl' > /proc/dynamic_debug/control
echo 1 > /sys/module/dyndbg/parameters/poke
grep -F '[dyndbg]' /proc/dynamic_debug/control
echo 'module dyndbg func dyndbg_sites -p' > /proc/dynamic_debug/control
echo 2 > /sys/module/dyndbg/parameters/poke
echo 'module dyndbg format dev_dbg +p' > /proc/dynamic_debug/control
echo 3 > /sys/module/dyndbg/parameters/poke
echo 'file dyndbg.c =_' > /proc/dynamic_debug/control
grep -F '[dyndbg]' /proc/dynamic_debug/control
echo 'module dyndbg nosuchkeyword x +p' > /proc/dynamic_debug/control
echo 'module dyndbg +q' > /proc/dynamic_debug/control
echo 'module dyndbg p' > /proc/dynamic_debug/control
echo 'module dyndbg' > /proc/dynamic_debug/control
echo 'module dyndbg line 30-20 +p' > /proc/dynamic_debug/control
echo 'module dyndbg module dyndbg +p' > /proc/dynamic_debug/control
echo 'func "dyndbg_sites +p' > /proc/dynamic_debug/control
echo 'module nosuchmodule +p' > /proc/dynamic_debug/control
echo 'module nosuchmodule +p; module dyndbg func dyndbg_exit +p' > /proc/dynamic_debug/control
echo 'module dyndbg +x; module dyndbg format "round %d \"" +p' > /proc/dynamic_debug/control
grep -F '[dyndbg]' /proc/dynamic_debug/control
echo 4 > /sys/module/dyndbg/parameters/poke
rmmod dyndbg
insmod dyndbg.ko dyndbg
rmmod dyndbg
insmod dyndbg.ko 'dyndbg="func dyndbg_sites +p"'
rmmod dyndbg
insmod dyndbg.ko dyndbg=+x
rmmod dyndbg
insmod dyndbg.ko dyndbg.dyndbg=+p
rmmod dyndbg
