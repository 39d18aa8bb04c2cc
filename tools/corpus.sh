#!/bin/sh
# tools/corpus.sh: check the loader on Debian's own modules.
#
# Downloads the linux-image packages of the two kernels kload serves (the
# releases of sample-modules/*/BUILD-INFO), extracts their modules, runs
# `kload check` over every one, and writes the figures to docs/corpus.md.
#
#   tools/corpus.sh            # download (once), check, write docs/corpus.md
#   KLOAD=path/to/kload tools/corpus.sh
#
# Cache: ${KLOAD_CORPUS_CACHE:-~/.cache/kload-corpus} (the .debs, the
# extracted trees under x/<release>/, and each kernel's check.jsonl).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${KLOAD_CORPUS_CACHE:-$HOME/.cache/kload-corpus}
out=$root/docs/corpus.md
mkdir -p "$cache/x"

if [ -z "${KLOAD:-}" ]; then
    (cd "$root" && cargo build --release --quiet)
    KLOAD=$root/target/release/kload
fi

releases=""
for info in "$root"/sample-modules/*/BUILD-INFO; do
    r=$(sed -n 's/^headers: linux-headers-//p' "$info")
    releases="$releases $r"
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for r in $releases; do
    pkg=linux-image-$r
    deb=$(ls "$cache"/"$pkg"_*.deb 2>/dev/null | head -n1 || true)
    if [ -z "$deb" ]; then
        echo "corpus: downloading $pkg" >&2
        (cd "$cache" && apt-get download "$pkg")
        deb=$(ls "$cache"/"$pkg"_*.deb | head -n1)
    fi
    if [ ! -d "$cache/x/$r/lib/modules" ]; then
        echo "corpus: extracting $(basename "$deb")" >&2
        rm -rf "$cache/x/$r.tmp"
        dpkg-deb -x "$deb" "$cache/x/$r.tmp"
        mv "$cache/x/$r.tmp" "$cache/x/$r"
    fi
    echo "corpus: checking $r" >&2
    status=0
    "$KLOAD" check --json --summary "$tmp/$r.md" "$cache/x/$r/lib/modules" \
        > "$cache/$r.check.jsonl" || status=$?
    if [ "$status" -gt 1 ]; then
        echo "corpus: kload check failed ($status) on $r" >&2
        exit "$status"
    fi
    dpkg-deb -f "$deb" Package Version > "$tmp/$r.pkg"
done

{
    echo "# Loader breadth: Debian's own modules"
    echo
    echo "Written by \`tools/corpus.sh\` ($(date -u +%Y-%m-%d)): every module of"
    echo "Debian's kernel packages, run through \`kload check\`, which runs"
    echo "\`load_module\`'s stages (decompression, signature, ELF validation,"
    echo "\`setup_load_info\`, modstruct/vermagic checks, \`layout_sections\`,"
    echo "\`move_module\`, per-CPU, \`simplify_symbols\`, \`apply_relocate_add\`,"
    echo "the export tables and \`__this_module\`'s init/exit) without running"
    echo "init. A symbol another module of the same package exports counts as"
    echo "satisfiable (modprobe would load that module first), under the"
    echo "kernel's GPL-only and namespace rules; a vmlinux export bound to a"
    echo "named trap counts too (the module loads; calling it kills the task)."
    echo "\"Missing\" is a vmlinux export kload neither implements nor traps."
    echo
    echo "Per module lines: \`~/.cache/kload-corpus/<release>.check.jsonl\`."
    for r in $releases; do
        echo
        echo "## $r"
        echo
        sed 's/^/    /' "$tmp/$r.pkg"
        echo
        cat "$tmp/$r.md"
    done
} > "$out"
echo "corpus: wrote $out" >&2
