#!/usr/bin/env bash
# Commit benchmark: 10,000 bulk-added SIP extensions (no peer; absolute
# figures). Run by bench/run.sh (`make bench`) or alone:
#   BUILD=build bash bench/bench_commit.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
N=${1:-10000}
BIN=$BUILD/bench/commit_bench
[ -x "$BIN" ] || meson compile -C "$BUILD" commit_bench >/dev/null
echo "commit_bench N=$N ($(nproc) CPUs, $(uname -m)), build $BUILD"
timeout 300 "$BIN" "$N" "$(pwd)/data"
