#!/usr/bin/env bash
# Generate a kload kernel profile (Rust source) from a kernel headers tree.
#
#   tools/profile-probe/gen.sh HEADERS_DIR OUT_FILE [SYMVERS_OUT_FILE]
#
# Builds tools/profile-probe/probe.c as an out-of-tree module with real
# kbuild (make -C HEADERS_DIR M=<scratch> modules), then reads the recorded
# struct sizes / offsets / constants back out of the built .ko's symbol table
# and section bytes with extract.py.  Nothing is loaded or executed.
# With SYMVERS_OUT_FILE, also writes vmlinux's export table from
# HEADERS_DIR/Module.symvers there (symvers.py).
# Set KEEP=1 to keep the scratch build directory; PACKAGE_VERSION overrides
# the dpkg-query lookup of the headers package's version (see extract.py).
set -euo pipefail
if [ $# -ne 2 ] && [ $# -ne 3 ]; then
    echo "usage: $0 HEADERS_DIR OUT_FILE [SYMVERS_OUT_FILE]" >&2
    exit 2
fi
export LC_ALL=C
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
headers=$(cd "$1" && pwd)
out=$2
[ -f "$headers/Makefile" ] && [ -f "$headers/Module.symvers" ] || {
    echo "gen.sh: $headers is not a kernel build tree (no Makefile/Module.symvers)" >&2
    exit 1
}

# Name the output files in the "Regenerate:" comment relative to the repo if
# inside it.
abs() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
rel() {
    case "$1" in
        "$repo"/*) echo "${1#"$repo"/}" ;;
        *) echo "$1" ;;
    esac
}
out_abs=$(abs "$out")
regen="tools/profile-probe/gen.sh $headers $(rel "$out_abs")"
if [ $# -eq 3 ]; then
    symvers_abs=$(abs "$3")
    regen="$regen $(rel "$symvers_abs")"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/kload-probe.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then
    echo "gen.sh: keeping $work" >&2
else
    trap 'rm -rf "$work"' EXIT
fi
cp "$here/probe.c" "$here/Kbuild" "$work/"
make -C "$headers" M="$work" modules >"$work/build.log" 2>&1 || {
    cat "$work/build.log" >&2
    echo "gen.sh: kbuild failed against $headers" >&2
    exit 1
}
# Any compiler warning means a probe expression is suspect: fail loudly.
if grep -E "warning:|error:" "$work/build.log" >&2; then
    echo "gen.sh: kbuild reported warnings (above)" >&2
    exit 1
fi
python3 "$here/extract.py" "$work/kload_probe.ko" "$headers" "$out_abs" "$regen"
outs=("$out_abs")
if [ $# -eq 3 ]; then
    python3 "$here/symvers.py" "$headers/Module.symvers" "$symvers_abs" "$regen"
    outs+=("$symvers_abs")
fi
for f in "${outs[@]}"; do
    if command -v rustfmt >/dev/null 2>&1; then
        rustfmt --edition 2021 --check "$f" >/dev/null || {
            echo "gen.sh: $f is not rustfmt-clean" >&2
            exit 1
        }
    else
        echo "gen.sh: rustfmt not found; skipped the rustfmt --check" >&2
    fi
    echo "gen.sh: wrote $(rel "$f") from $(basename "$headers")"
done
