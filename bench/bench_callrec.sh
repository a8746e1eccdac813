#!/bin/bash
# Call recording's cost on the relay (issue 13): the same N G.711 calls
# through our relay (rtpgen --mode bulwark: the relay in a process of its
# own) without and with every call recorded (--record: the relay's tap on
# each session, the writer thread in the same process, the WAVs on a
# temporary directory), interleaved. CPU per relayed packet counts every
# thread of that process: the relay's media threads and the writer.
#   CALLS="50 200" REPS=3 RUN_S=12 THREADS=1 bench/bench_callrec.sh
set -eu
BUILD=${BUILD:-build}
CALLS=${CALLS:-"50 200"}
REPS=${REPS:-3}
RUN_S=${RUN_S:-12}
WARM_S=${WARM_S:-3}
THREADS=${THREADS:-1}
GEN=$BUILD/bench/rtpgen
OUT=$(mktemp -d /tmp/bench_callrec.XXXXXX)
trap 'rm -rf "$OUT/rec"' EXIT

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "runs: ${RUN_S}s each (${WARM_S}s warm-up), $REPS repetitions, relay threads=$THREADS"
for n in $CALLS; do
	for r in $(seq "$REPS"); do
		for mode in off on; do
			args=(--mode bulwark --calls "$n" --seconds "$RUN_S"
			      --warm "$WARM_S" --threads "$THREADS"
			      --range 20000-39999 --label "rec_$mode")
			if [ "$mode" = on ]; then
				rm -rf "$OUT/rec"
				mkdir -p "$OUT/rec"
				args+=(--record "$OUT/rec")
			fi
			line=$("$GEN" "${args[@]}" || true)
			echo "$line" | tee -a "$OUT/runs.txt"
			if [ "$mode" = on ]; then
				echo "  recordings: $(find "$OUT/rec" -name '*.wav' | wc -l) files, $(du -sh "$OUT/rec" | cut -f1)"
			fi
		done
	done
done
awk '
function val(k,   i, a) { for (i = 1; i <= NF; i++) { split($i, a, "="); if (a[1] == k) return a[2] } return "" }
function median(s,   a, n, i, j, t) {
	n = split(s, a, " ")
	for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
	return n ? a[int((n + 1) / 2)] : 0
}
{ k = val("mode") " " val("calls"); cpu[k] = cpu[k] " " val("cpu_us_per_pkt"); p99[k] = p99[k] " " val("p99"); loss[k] = loss[k] " " val("lost"); ks[k] = 1 }
END {
	printf "\n%-8s %6s %12s %14s %s\n", "mode", "calls", "cpu_us/pkt", "jitter_p99_us", "lost (per run)"
	for (k in ks) { split(k, a, " "); printf "%-8s %6s %12.2f %14.1f %s\n", a[1], a[2], median(cpu[k]), median(p99[k]), loss[k] }
}' "$OUT/runs.txt" | sort -k2,2n -k1,1
echo "raw runs: $OUT/runs.txt"
