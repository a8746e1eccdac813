#!/usr/bin/env bash
# `make bench`: every benchmark, one after the other, results in bench/out/.
# Each benchmark script measures Bulwark side by side with a peer in one run
# where a peer exists, and prints ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
mkdir -p bench/out
for b in bench/bench_*.sh; do
	[ -e "$b" ] || continue
	echo "=== $b"
	BUILD=$BUILD bash "$b" | tee "bench/out/$(basename "$b" .sh).txt"
done
