#!/usr/bin/env bash
# Registrar memory per live binding (bench/binding_mem.c): 100,000
# bindings through reg_apply with realistic strings, one authenticated
# nonce-count per extension, a refresh of each, heap (mallinfo2) and VmRSS
# per binding:
#   a. 10 bindings per extension (bench_register.sh's shape), in memory;
#   b. the same with every change through the SQLite writer thread
#      (BINDMEM_RATE contacts/s, default 20,000) — the target case;
#   c. 1 binding per extension (the usual office phone), in memory.
# Exit status 1 when (b) exceeds BINDMEM_MAX bytes per binding (300).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
N=${BINDMEM_N:-100000}
meson compile -C "$BUILD" bench/binding_mem >/dev/null 2>&1 ||
	meson compile -C "$BUILD" >/dev/null
db=$(mktemp /tmp/bindmem.XXXXXX)
trap 'rm -f "$db" "$db-wal" "$db-shm"' EXIT
echo "## a. $N bindings, 10 per extension, in memory"
BINDMEM_MAX=100000 "$BUILD/bench/binding_mem" "$N" 10
echo "## b. $N bindings, 10 per extension, persisted (target ≤ ${BINDMEM_MAX:-300} B)"
"$BUILD/bench/binding_mem" "$N" 10 "$db"
echo "## c. $N bindings, 1 per extension, in memory"
BINDMEM_MAX=100000 "$BUILD/bench/binding_mem" "$N" 1
