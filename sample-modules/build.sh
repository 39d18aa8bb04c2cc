#!/usr/bin/env bash
# Build every sample module with real kbuild against each installed Debian
# headers tree, the way a module author would (make -C <build dir> M=...).
#
#   sample-modules/build.sh [OUT_ROOT]
#
# OUT_ROOT defaults to sample-modules/ itself (the committed .ko files);
# CI passes a scratch directory to rebuild from source and test both.
# For each kernel series (6.1, 6.12) it writes OUT_ROOT/<series>/*.ko and
# OUT_ROOT/<series>/BUILD-INFO naming the exact headers release used.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out_root=${1:-$here}
found=0
for build in /usr/src/linux-headers-*-amd64; do
    [ -f "$build/Makefile" ] || continue
    release=${build#/usr/src/linux-headers-}
    case "$release" in
        6.1.*) series=6.1 ;;
        6.12.*) series=6.12 ;;
        *) echo "build.sh: skipping $release (not a 6.1 or 6.12 tree)" >&2; continue ;;
    esac
    case "$release" in *-rt-amd64|*-cloud-amd64) continue ;; esac
    found=$((found + 1))
    work=$(mktemp -d)
    cp "$here"/src/*.c "$here"/src/Kbuild "$work"/
    make -s -C "$build" M="$work" modules >"$work/build.log" 2>&1 || {
        cat "$work/build.log" >&2; exit 1; }
    mkdir -p "$out_root/$series"
    cp "$work"/*.ko "$out_root/$series/"
    {
        echo "headers: linux-headers-$release"
        echo "built-by: make -C $build M=<dir> modules"
        echo "gcc: $(gcc --version | head -1)"
    } >"$out_root/$series/BUILD-INFO"
    rm -rf "$work"
    echo "built $(ls "$out_root/$series"/*.ko | wc -l) modules for $release into $out_root/$series"
done
[ "$found" -gt 0 ] || { echo "build.sh: no linux-headers-*-amd64 tree in /usr/src" >&2; exit 1; }
