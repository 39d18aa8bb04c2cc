#!/usr/bin/env bash
# The test command: set up, check style, rebuild the sample modules from
# source with kbuild against the installed headers, and run every test on
# both the committed and the rebuilt modules.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh
cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings
rm -rf target/rebuilt-modules
sample-modules/build.sh target/rebuilt-modules
KLOAD_REBUILT_MODULES="$PWD/target/rebuilt-modules" cargo test
