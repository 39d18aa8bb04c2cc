#!/usr/bin/env bash
# Install what kload's build, samples and tests need on Debian 12 (as root,
# or with sudo): the kernel headers of both target kernels (6.1 and 6.12,
# for kbuild), and the tools the image tests use (xz, zstd, openssl, kbuild's
# sign-file). Idempotent; quiet when everything is there already.
set -euo pipefail
need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in linux-headers-amd64 linux-headers-6.12-amd64 make gcc bc xz-utils zstd gzip openssl; do
    have "$p" || need+=("$p")
done
[ ${#need[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "setup-debian: installing ${need[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
