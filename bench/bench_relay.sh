#!/usr/bin/env bash
# Media relay, side by side in one run: N concurrent G.711 calls (two
# 20 ms streams each, 50 packets/s per direction) through
#   direct    — no relay: the floor of this machine and of rtpgen itself,
#   bulwark   — our relay (src/media), in rtpgen's process, its own threads,
#   rtpengine — rtpengine (Debian 10.5) in user-space forwarding, driven
#               over its ng protocol (docs: ../shared/docs/test-peers.md),
# measuring CPU per relayed packet, loss and p99 added jitter. Runs are
# interleaved (the machine is shared: noise hits every side alike); the
# summary gives medians and ratios.
#
#   CALLS="100 1000" REPS=3 RUN_S=15 THREADS=1 bench/bench_relay.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
CALLS=${CALLS:-"100 1000"}
REPS=${REPS:-3}
RUN_S=${RUN_S:-15}
WARM_S=${WARM_S:-3}
THREADS=${THREADS:-2}
RTPE_THREADS=${RTPE_THREADS:-2}
NG=127.0.0.1:22233
GEN=$BUILD/bench/rtpgen
OUT=$(mktemp -d /tmp/bench_relay.XXXXXX)
[ -x "$GEN" ] || { echo "build first: $GEN missing"; exit 1; }

RTPE_PID=
stop_rtpe() { [ -n "$RTPE_PID" ] && kill "$RTPE_PID" 2>/dev/null && wait "$RTPE_PID" 2>/dev/null; RTPE_PID=; }
trap stop_rtpe EXIT
if command -v rtpengine >/dev/null; then
	# user space only (--table=-1), no config file, deleted calls freed
	# at once so that runs do not exhaust the range
	# setsid: a session (scheduler autogroup) of its own, as a daemon
	# has and as rtpgen gives our relay
	setsid rtpengine --config-file=none --table=-1 --interface=127.0.0.1 \
		--listen-ng=$NG --listen-cli=127.0.0.1:22234 \
		--port-min=40000 --port-max=49999 --delete-delay=0 \
		--foreground --log-stderr --log-level=4 \
		--num-threads="$RTPE_THREADS" >"$OUT/rtpengine.log" 2>&1 &
	RTPE_PID=$!
	sleep 1
	# setsid forks when it leads its process group: take the child then
	if [ "$(cat /proc/$RTPE_PID/comm 2>/dev/null)" != rtpengine ]; then
		RTPE_PID=$(pgrep -P "$RTPE_PID" | head -1)
	fi
	kill -0 "$RTPE_PID" || { echo "rtpengine did not start"; RTPE_PID=; }
else
	echo "rtpengine not installed (apt-get install rtpengine-daemon): bulwark only"
fi

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "runs: ${RUN_S}s each (${WARM_S}s warm-up not measured), $REPS repetitions, bulwark threads=$THREADS, rtpengine num-threads=$RTPE_THREADS"
for n in $CALLS; do
	for r in $(seq "$REPS"); do
		for mode in direct bulwark rtpengine; do
			args=(--mode "$mode" --calls "$n" --seconds "$RUN_S" --warm "$WARM_S")
			case $mode in
			bulwark) args+=(--threads "$THREADS" --range 20000-39999) ;;
			rtpengine) [ -n "$RTPE_PID" ] || continue
				   args+=(--ng $NG --pid "$RTPE_PID") ;;
			esac
			line=$("$GEN" "${args[@]}" || true)
			echo "$line load=$(cut -d' ' -f1 /proc/loadavg)" | tee -a "$OUT/runs.txt"
		done
	done
done
stop_rtpe

# medians per (mode, calls) and ratios bulwark / rtpengine
awk -v calls="$CALLS" '
function val(k,   i, a) { for (i = 1; i <= NF; i++) { split($i, a, "="); if (a[1] == k) return a[2] } return "" }
function median(s,   a, n, i, j, t) {
	n = split(s, a, " ")
	for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
	return n ? a[int((n + 1) / 2)] : 0
}
{
	key = val("mode") " " val("calls")
	cpu[key] = cpu[key] " " val("cpu_us_per_pkt")
	p99[key] = p99[key] " " val("p99")
	p50[key] = p50[key] " " val("added_jitter_us_p50")
	loss[key] = loss[key] " " val("lost")
	pps[key] = pps[key] " " val("relayed_pps")
	keys[key] = 1
}
END {
	printf "\n%-10s %6s %10s %12s %14s %14s %s\n", "mode", "calls", "pkt/s", "cpu_us/pkt", "jitter_p50_us", "jitter_p99_us", "lost (per run)"
	nm = split("direct bulwark rtpengine", M, " "); nc = split(calls, C, " ")
	for (c = 1; c <= nc; c++) for (m = 1; m <= nm; m++) {
		k = M[m] " " C[c]
		if (!(k in keys)) continue
		mc[k] = median(cpu[k]); mj[k] = median(p99[k])
		printf "%-10s %6s %10.0f %12.2f %14.1f %14.1f %s\n", M[m], C[c], median(pps[k]), mc[k], median(p50[k]), mj[k], loss[k]
	}
	for (c = 1; c <= nc; c++) {
		b = "bulwark " C[c]; o = "rtpengine " C[c]
		if (!(b in keys) || !(o in keys)) continue
		printf "ratio bulwark/rtpengine at %s calls: cpu per packet %.2f, p99 added jitter %.2f\n", C[c], mc[o] ? mc[b] / mc[o] : 0, mj[o] ? mj[b] / mj[o] : 0
	}
}' "$OUT/runs.txt"
echo "raw runs: $OUT/runs.txt"
