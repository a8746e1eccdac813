#!/usr/bin/env bash
# SRTP in the media relay beside plain RTP, in one run (issue 15): N
# concurrent G.711 calls through our relay (bench/srtp_bench.c), modes
#   plain — no SRTP (the relay's fast path),
#   srtp  — one SRTP leg (a plain phone and an SRTP one),
#   srtp2 — both legs SRTP (every packet unprotected and protected again),
# interleaved REPS times (the machine is shared: noise hits every mode
# alike); medians of the relay threads' CPU per relayed packet and the
# ratios to plain.
#
#   CALLS="100 500" REPS=3 RUN_S=10 bench/bench_srtp.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
CALLS=${CALLS:-"100 500"}
REPS=${REPS:-3}
RUN_S=${RUN_S:-10}
GEN=$BUILD/bench/srtp_bench
[ -x "$GEN" ] || { echo "build first: $GEN missing"; exit 1; }
OUT=$(mktemp -d /tmp/bench_srtp.XXXXXX)
echo "srtp_ctx.c alone (one thread, 172-octet packets):"
"$GEN" --mode crypto
for n in $CALLS; do
	for r in $(seq "$REPS"); do
		for m in plain srtp srtp2; do
			# a run that fails (a port taken meanwhile) is left
			# out, said on stderr
			"$GEN" --mode "$m" --calls "$n" --seconds "$RUN_S" \
				2> >(grep -v ' info ' >&2) |
				tee -a "$OUT/$m-$n.txt" || true
		done
	done
done
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo
printf "%-6s %-6s %12s %10s %8s\n" calls mode ns/packet "x plain" loss%
for n in $CALLS; do
	base=$(sed -n 's/.*relay_ns_per_pkt=\([0-9]*\).*/\1/p' "$OUT/plain-$n.txt" | median)
	for m in plain srtp srtp2; do
		ns=$(sed -n 's/.*relay_ns_per_pkt=\([0-9]*\).*/\1/p' "$OUT/$m-$n.txt" | median)
		loss=$(sed -n 's/.*loss=\([0-9.-]*\)%.*/\1/p' "$OUT/$m-$n.txt" | median)
		printf "%-6s %-6s %12s %10.2f %8s\n" "$n" "$m" "$ns" \
			"$(echo "$ns / $base" | bc -l)" "$loss"
	done
done
