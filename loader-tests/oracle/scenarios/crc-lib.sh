# crc-lib: crc16, crc-itu-t, crc7 and crc8 from a module. Debian builds
# them as library modules, loaded here from the kernel package first
# (/modules/debian); kload has them built in and skips those loads.
insmod debian/crc16.ko
insmod debian/crc-itu-t.ko
insmod debian/crc7.ko
insmod debian/crc8.ko
insmod crc-lib.ko
rmmod crc_lib
