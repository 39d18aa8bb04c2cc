#!/usr/bin/env bash
# kload real-kernel oracle recorder.
#
# Usage: loader-tests/oracle/record.sh [--series 6.1|6.12]... [SCENARIO...]
#
# Boots Debian's real kernel for each series (the exact release whose headers
# built sample-modules/<series>/*.ko, read from sample-modules/<series>/BUILD-INFO)
# under QEMU (TCG, no KVM), runs each scenario (loader-tests/oracle/scenarios/
# <name>.sh; default: all of them) in a fresh boot, and writes what happened to
# loader-tests/golden/<series>/<scenario>.txt. See README.md next to this file.
#
# Environment:
#   KLOAD_ORACLE_CACHE    download cache   (default ~/.cache/kload-oracle)
#   KLOAD_ORACLE_WORK     scratch + raw serial logs (default /tmp/oracle-work)
#   KLOAD_ORACLE_TIMEOUT  seconds per boot (default 600)
#   KLOAD_ORACLE_JOBS     boots run in parallel (default 2)
#   KLOAD_ORACLE_RETRIES  re-boots of a run that failed or was noisy (default 2)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${KLOAD_ORACLE_CACHE:-$HOME/.cache/kload-oracle}
WORK=${KLOAD_ORACLE_WORK:-/tmp/oracle-work}
TIMEOUT=${KLOAD_ORACLE_TIMEOUT:-600}
JOBS=${KLOAD_ORACLE_JOBS:-2}
GOLDEN=$ROOT/loader-tests/golden
ALL_SERIES=(6.1 6.12)

log() { printf 'record.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

series=()
scenarios=()
while [ $# -gt 0 ]; do
	case "$1" in
	--series) series+=("$2"); shift 2 ;;
	--series=*) series+=("${1#--series=}"); shift ;;
	-h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) die "unknown option $1" ;;
	*) scenarios+=("${1%.sh}"); shift ;;
	esac
done
[ ${#series[@]} -gt 0 ] || series=("${ALL_SERIES[@]}")
if [ ${#scenarios[@]} -eq 0 ]; then
	for f in "$HERE"/scenarios/*.sh; do
		b=$(basename "$f")
		scenarios+=("${b%.sh}")
	done
fi
for s in "${scenarios[@]}"; do
	[ -f "$HERE/scenarios/$s.sh" ] || die "no such scenario: $HERE/scenarios/$s.sh"
done

# ---------------------------------------------------------------- host tools
APT_UPDATED=
apt_update_once() {
	[ -n "$APT_UPDATED" ] && return 0
	log "apt-get update"
	apt-get update -qq >/dev/null
	APT_UPDATED=1
}
ensure_cmd() { # ensure_cmd COMMAND PACKAGE
	command -v "$1" >/dev/null 2>&1 && return 0
	[ "$(id -u)" = 0 ] || die "$1 missing; install package $2 (needs root)"
	apt_update_once
	log "installing $2 (for $1)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null
	command -v "$1" >/dev/null 2>&1 || die "installing $2 did not provide $1"
}
ensure_cmd qemu-system-x86_64 qemu-system-x86
ensure_cmd cpio cpio
ensure_cmd gzip gzip
ensure_cmd dpkg-deb dpkg
ensure_cmd timeout coreutils

# apt-get download into $1 of the first existing package among $2...; prints
# the .deb path. Cached: a .deb already in $1 for one of the names is reused.
apt_download() {
	local dir=$1; shift
	local pkg deb
	mkdir -p "$dir"
	for pkg in "$@"; do
		deb=$(ls "$dir"/"${pkg}"_*.deb 2>/dev/null | head -n1 || true)
		if [ -n "$deb" ]; then echo "$deb"; return 0; fi
	done
	for pkg in "$@"; do
		apt_update_once_if_needed "$pkg" || continue
		log "apt-get download $pkg"
		(cd "$dir" && apt-get download -qq -o APT::Sandbox::User=root "$pkg" >/dev/null)
		deb=$(ls "$dir"/"${pkg}"_*.deb 2>/dev/null | head -n1 || true)
		[ -n "$deb" ] && { echo "$deb"; return 0; }
	done
	die "none of these packages could be downloaded: $*"
}
# true if apt knows a downloadable candidate for $1 (runs apt-get update once
# if it does not).
apt_update_once_if_needed() {
	has_candidate "$1" && return 0
	apt_update_once
	has_candidate "$1"
}
has_candidate() {
	local c
	c=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
	[ -n "$c" ] && [ "$c" != "(none)" ]
}

# ------------------------------------------------------------------ busybox
BB_DIR=$CACHE/busybox-static
if [ ! -x "$BB_DIR/root/bin/busybox" ]; then
	deb=$(apt_download "$CACHE/debs" busybox-static)
	rm -rf "$BB_DIR"; mkdir -p "$BB_DIR"
	dpkg-deb -x "$deb" "$BB_DIR/root"
	basename "$deb" >"$BB_DIR/deb"
fi
BUSYBOX=$BB_DIR/root/bin/busybox
BB_VERSION=$({ "$BUSYBOX" 2>&1 || true; } | head -n1 | sed "s/ multi-call binary.*//")
BB_APPLETS=$("$BUSYBOX" --list)
for applet in sh insmod rmmod lsmod dmesg mount poweroff; do
	grep -qx "$applet" <<<"$BB_APPLETS" || die "busybox-static lacks $applet"
done

QEMU_VERSION=$(qemu-system-x86_64 --version | head -n1)

# ------------------------------------------------------------------ kernels
# kernel_for SERIES -> sets RELEASE, KPKG (package file name) and VMLINUZ
kernel_for() {
	local s=$1 info rel deb kdir
	info=$ROOT/sample-modules/$s/BUILD-INFO
	[ -f "$info" ] || die "missing $info"
	rel=$(sed -n 's/^headers: *linux-headers-//p' "$info" | head -n1)
	[ -n "$rel" ] || die "no 'headers: linux-headers-<release>' line in $info"
	kdir=$CACHE/kernels/$rel
	if [ ! -f "$kdir/vmlinuz" ] || [ ! -d "$kdir/libmods" ]; then
		# The signed image is what a Debian machine boots; the -unsigned one
		# holds the same kernel without the EFI signature.
		deb=$(apt_download "$CACHE/debs" "linux-image-$rel" "linux-image-$rel-unsigned")
		rm -rf "$kdir"; mkdir -p "$kdir"
		dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$kdir" --wildcards './boot/vmlinuz-*' \
			"./lib/modules/$rel/kernel/lib/crc*.ko*"
		mv "$kdir"/boot/vmlinuz-* "$kdir/vmlinuz"
		# Debian's CRC library modules (crc16.ko, crc7.ko, ...), which kload
		# has built in: scenarios insmod them from /modules/debian first.
		mkdir -p "$kdir/libmods"
		for ko in "$kdir/lib/modules/$rel/kernel/lib"/crc*.ko*; do
			case "$ko" in
			*.xz) xz -dc "$ko" >"$kdir/libmods/$(basename "${ko%.xz}")" ;;
			*.zst) zstd -qdc "$ko" >"$kdir/libmods/$(basename "${ko%.zst}")" ;;
			*) cp "$ko" "$kdir/libmods/" ;;
			esac
		done
		rm -rf "$kdir/boot" "$kdir/lib"
		basename "$deb" >"$kdir/deb"
		rm -f "$deb" # ~100 MB of modules; only vmlinuz is kept
	fi
	RELEASE=$rel
	KPKG=$(cat "$kdir/deb")
	VMLINUZ=$kdir/vmlinuz
}

# ------------------------------------------------------------------ one run
# Kernel command line:
#   console=ttyS0   serial console (QEMU -nographic puts it on stdio)
#   loglevel=1      only KERN_EMERG on the console: boot is quick on the slow
#                   emulated UART and printk never interleaves with command
#                   output; init reads every message back with dmesg -c
#   nokaslr         deterministic kernel and module addresses (/proc/modules)
#   tsc=reliable    no clocksource watchdog: under TCG on a busy host it can
#                   mark the TSC unstable at any moment, and that message
#                   would land in the middle of a scenario
#   panic=-1        a panic reboots at once, and -no-reboot turns that into
#                   QEMU exiting (so a panic does not hang until the timeout)
#   rdinit=/init    the busybox script from init.sh
APPEND="console=ttyS0 loglevel=1 nokaslr tsc=reliable panic=-1 rdinit=/init"

# Kernel lines that are about the emulated machine, not the scenario (a slow
# or overloaded host). A run whose transcript has one is retried.
NOISE='clocksource|rcu: INFO|rcu_sched self-detected|INFO: task .* blocked|soft lockup|hard LOCKUP|### kload-oracle: stray'
RETRIES=${KLOAD_ORACLE_RETRIES:-2}

run_one() { # run_one SERIES SCENARIO RELEASE KPKG VMLINUZ
	local try=0
	while :; do
		if boot_one "$@"; then return 0; fi
		try=$((try + 1))
		[ $try -le "$RETRIES" ] || return 1
		log "[$1/$2] retrying ($try/$RETRIES)"
	done
}

boot_one() { # boot_one SERIES SCENARIO RELEASE KPKG VMLINUZ
	local s=$1 sc=$2 rel=$3 kpkg=$4 vmlinuz=$5
	local w=$WORK/$s/$sc stage initrd serial out rc=0 start end
	rm -rf "$w"; mkdir -p "$w"
	stage=$w/initramfs; initrd=$w/initrd.gz; serial=$w/serial.log
	mkdir -p "$stage"/{bin,dev,proc,sys,tmp,modules}
	cp "$BUSYBOX" "$stage/bin/busybox"
	local a
	for a in $BB_APPLETS; do
		[ "$a" = busybox ] || ln -s busybox "$stage/bin/$a"
	done
	ln -s bin "$stage/sbin"
	if [ "$(id -u)" = 0 ]; then
		mknod -m 600 "$stage/dev/console" c 5 1
		mknod -m 666 "$stage/dev/null" c 1 3
	fi
	local n=0 ko
	for ko in "$ROOT/sample-modules/$s"/*.ko; do
		[ -e "$ko" ] || continue
		cp "$ko" "$stage/modules/"
		n=$((n + 1))
	done
	[ $n -gt 0 ] || die "no *.ko in sample-modules/$s"
	mkdir -p "$stage/modules/debian"
	for ko in "$(dirname "$vmlinuz")"/libmods/*.ko; do
		if [ -e "$ko" ]; then cp "$ko" "$stage/modules/debian/"; fi
	done
	# The other series' modules, for cross-kernel loads (vermagic scenario):
	# /modules/other/<name>.ko was built for the other kernel.
	local o
	for o in "${ALL_SERIES[@]}"; do
		[ "$o" = "$s" ] && continue
		mkdir -p "$stage/modules/other"
		for ko in "$ROOT/sample-modules/$o"/*.ko; do
			if [ -e "$ko" ]; then cp "$ko" "$stage/modules/other/"; fi
		done
	done
	cp "$HERE/init.sh" "$stage/init"; chmod 755 "$stage/init"
	cp "$HERE/scenarios/$sc.sh" "$stage/scenario.sh"
	(cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -9n) >"$initrd"

	start=$(date +%s)
	timeout "$TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max -m 512M -smp 1 \
		-nographic -no-reboot -nic none \
		-kernel "$vmlinuz" -initrd "$initrd" -append "$APPEND" \
		</dev/null >"$serial" 2>"$w/qemu.stderr" || rc=$?
	end=$(date +%s)
	# 124 = timeout; anything else non-zero is QEMU itself failing.
	if [ $rc -ne 0 ]; then
		log "[$s/$sc] qemu exit status $rc after $((end - start))s; see $serial $w/qemu.stderr"
		return 1
	fi
	tr -d '\r' <"$serial" >"$w/serial.txt"
	if ! grep -qx '### kload-oracle: begin' "$w/serial.txt" ||
		! grep -qx '### kload-oracle: end' "$w/serial.txt"; then
		log "[$s/$sc] transcript markers missing; see $w/serial.txt"
		return 1
	fi
	local uname version cmdline tb ta
	uname=$(sed -n 's/.*### kload-oracle: uname: //p' "$w/serial.txt")
	version=$(sed -n 's/^### kload-oracle: version: //p' "$w/serial.txt")
	cmdline=$(sed -n 's/^### kload-oracle: cmdline: //p' "$w/serial.txt")
	tb=$(sed -n 's/^### kload-oracle: tainted-before: //p' "$w/serial.txt")
	ta=$(sed -n 's/^### kload-oracle: tainted-after: //p' "$w/serial.txt")
	[ "$uname" = "$rel" ] || { log "[$s/$sc] guest runs '$uname', expected '$rel'"; return 1; }
	if sed -n '/^### kload-oracle: begin$/,/^### kload-oracle: end$/p' "$w/serial.txt" |
		grep -E "$NOISE" >"$w/noise.txt"; then
		log "[$s/$sc] emulation noise in the transcript:"; cat "$w/noise.txt" >&2
		return 1
	fi

	out=$GOLDEN/$s/$sc.txt
	mkdir -p "$GOLDEN/$s"
	{
		echo "# kload-oracle transcript: real Linux kernel output, recorded under QEMU"
		echo "# scenario: $sc (loader-tests/oracle/scenarios/$sc.sh)"
		echo "# kernel release: $rel (package $kpkg)"
		echo "# /proc/version: $version"
		echo "# kernel cmdline: $cmdline"
		echo "# userspace: $BB_VERSION (busybox-static, $(cat "$BB_DIR/deb")), modules in /modules"
		echo "# qemu: $QEMU_VERSION; -accel tcg -cpu max -m 512M -smp 1"
		echo "# recorded: $(date -u '+%Y-%m-%d %H:%M:%S UTC') by loader-tests/oracle/record.sh"
		echo "# /proc/sys/kernel/tainted: before=$tb after=$ta"
		echo "# format: '### kload-oracle: cmd N: <command>', its stdout+stderr, '### kload-oracle: dmesg N:',"
		echo "#   the kernel log lines it produced (dmesg -c), '### kload-oracle: status N: <exit code>'."
		echo "#   Each scenario is a fresh boot. Timestamps '[    s.uuuuuu] ' are as printed."
		sed -n '/^### kload-oracle: begin$/,/^### kload-oracle: end$/p' "$w/serial.txt"
	} >"$out.tmp"
	mv "$out.tmp" "$out"
	log "[$s/$sc] ok in $((end - start))s -> ${out#"$ROOT"/}"
}

# ------------------------------------------------------------------ main
mkdir -p "$WORK"
pids=()
failed=0
wait_some() { # wait for the oldest job when $JOBS are running
	while [ ${#pids[@]} -ge "$1" ]; do
		wait "${pids[0]}" || failed=1
		pids=("${pids[@]:1}")
	done
}
t0=$(date +%s)
for s in "${series[@]}"; do
	kernel_for "$s"
	log "series $s: kernel $RELEASE ($KPKG)"
	for sc in "${scenarios[@]}"; do
		wait_some "$JOBS"
		run_one "$s" "$sc" "$RELEASE" "$KPKG" "$VMLINUZ" &
		pids+=($!)
	done
done
wait_some 1
log "done in $(($(date +%s) - t0))s"
[ $failed -eq 0 ] || die "some runs failed (raw logs under $WORK)"
