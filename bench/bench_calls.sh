#!/usr/bin/env bash
# bench_calls.sh — calls between extensions, side by side in one run:
#   bulwarkd (B2BUA, relay on its media threads)   vs
#   Kamailio 5.6 + rtpengine (user space, --table=-1): the same job as an
#   authenticating, media-anchoring proxy (bench/calls/kamailio.cfg).
# The same SIPp scenarios and load for both (bench/calls/*.xml):
#   PAIRS caller extensions and PAIRS callee extensions; every callee is
#   registered (digest) from the port of one SIPp UAS, which answers every
#   call; a SIPp UAC places call i as caller i mod PAIRS to callee
#   i mod PAIRS: INVITE → 407 → ACK → INVITE with credentials → 180 → 200
#   → ACK → hold → BYE → 200, the SDP PCMA + telephone-event.
# (a) set-up: SETUP_CALLS calls at SETUP_RATE/s, SETUP_HOLD_MS hold, no
#     media: success %, server CPU per call (on-CPU time of every thread of
#     every process of the server, /proc/PID/task/TID/schedstat, before and
#     after: bulwarkd; kamailio's processes + rtpengine).
# (b) media: for each N of MEDIA_CALLS, N concurrent calls (placed at
#     MEDIA_RATE/s); once all
#     are up, bench/rtpgen (--mode external) sends G.711 both ways (20 ms,
#     172-byte packets, 50/s per direction and call) to the relay ports the
#     SDPs named, from the addresses the phones' SDPs named, for RUN_S s
#     (WARM_S not measured): relay CPU per relayed packet (every process of
#     the server over the window), loss, added jitter p50/p99.
# Both servers stay up for the whole run, phases alternate between them
# (REPS times), so both see the same machine; the table gives medians and
# the ratios bulwarkd/peer. Results: text on stdout, JSON in $RESULT
# (default bench/out/calls.json).
#
#   bash bench/bench_calls.sh                         # modest: 200 at 20/s, 100 media
#   SETUP_CALLS=500 SETUP_RATE=50 MEDIA_CALLS="100 500 1000" bash bench/bench_calls.sh
#   TARGETS=kamailio ...   (one side only); PHASES=media (or setup) one
#   phase only; KEEP=1 keeps the work directory;
#   BW_BIN=/path/bulwarkd BW_CLI=/path/bulwark: measure another build (the
#   one measured is printed and recorded)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build-perf}
TARGETS=${TARGETS:-"bulwarkd kamailio"}
PAIRS=${PAIRS:-250}
SETUP_CALLS=${SETUP_CALLS:-200}
SETUP_RATE=${SETUP_RATE:-20}
SETUP_HOLD_MS=${SETUP_HOLD_MS:-1000}
MEDIA_CALLS=${MEDIA_CALLS:-100}
MEDIA_RATE=${MEDIA_RATE:-50}
RUN_S=${RUN_S:-15}
WARM_S=${WARM_S:-3}
REPS=${REPS:-1}
PHASES=${PHASES:-"setup media"}
RTPE_THREADS=${RTPE_THREADS:-2}
RESULT=${RESULT:-$ROOT/bench/out/calls.json}
CALLER_FIRST=${CALLER_FIRST:-20000}
CALLEE_FIRST=${CALLEE_FIRST:-30000}
CORES=$(nproc)
HZ=$(getconf CLK_TCK)
# every server process is bounded in time even if this script is killed
MEDIA_MAX=$(echo $MEDIA_CALLS | tr ' ' '\n' | sort -n | tail -1)
NMEDIA=$(echo $MEDIA_CALLS | wc -w)
MAX_S=$(( 900 + REPS * (SETUP_CALLS / SETUP_RATE + NMEDIA * (MEDIA_MAX / MEDIA_RATE + 2 * RUN_S + 60)) * 2 ))
W=$(mktemp -d /tmp/bench_calls.XXXXXX)
PIDS=()
INST=
# only a pid that is still a child of this script (a finished SIPp's pid
# may have been reused by then)
ours() { [ "$(ps -o ppid= -p "$1" 2>/dev/null | tr -d ' ')" = "$$" ]; }
cleanup() {
	local p
	for p in "${PIDS[@]}"; do ours "$p" && kill "$p" 2>/dev/null || true; done
	sleep 0.5
	for p in "${PIDS[@]}"; do ours "$p" && kill -9 "$p" 2>/dev/null || true; done
	[ -z "$INST" ] || nft delete table inet "bulwark_$INST" 2>/dev/null || true
	if [ -n "${KEEP:-}" ]; then echo "work directory kept: $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
for t in sipp python3 meson; do
	command -v $t >/dev/null || { echo "missing $t"; exit 1; }
done
want() { case " $TARGETS " in *" $1 "*) return 0 ;; esac; return 1; }
if want kamailio; then
	for t in kamailio rtpengine; do
		command -v $t >/dev/null || { echo "missing $t (apt-get install kamailio rtpengine-daemon)"; exit 1; }
	done
fi

# ---- an optimised build --------------------------------------------------------
btype() { meson introspect "$1" --buildoptions 2>/dev/null | python3 -c \
	'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="buildtype"))' 2>/dev/null || echo none; }
BT=$(btype "$BUILD")
if [ "$BT" != release ] && [ "$BT" != debugoptimized ]; then
	echo "build '$BUILD' is '$BT', not optimised: using build-perf (release)"
	BUILD=build-perf
	[ -d build-perf ] || meson setup build-perf -Dbuildtype=release >/dev/null
	BT=$(btype build-perf)
fi
meson compile -C "$BUILD" src/daemon/bulwarkd src/cli/bulwark bench/rtpgen >/dev/null
BW=${BW_BIN:-$ROOT/$BUILD/src/daemon/bulwarkd}
CLI=${BW_CLI:-$ROOT/$BUILD/src/cli/bulwark}
GEN=$ROOT/$BUILD/bench/rtpgen

# ---- helpers ---------------------------------------------------------------------
free_port() { python3 -c 'import socket
for _ in range(50):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0)); p = u.getsockname()[1]
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try: t.bind(("127.0.0.1", p))
    except OSError: continue
    print(p); break'; }
members() { pgrep -g "$1" 2>/dev/null || true; }
ticks_of() { local tot=0 p v; for p in "$@"; do
	v=$(awk '{print $14+$15}' /proc/$p/stat 2>/dev/null) || continue
	tot=$((tot + ${v:-0})); done; echo $tot; }
busy_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }
# a UDP port range nobody has a socket in, below the ephemeral range
range_free() { ! ss -Haun | awk '{print $4}' | sed 's/.*://' |
	awk -v a="$1" -v b="$2" '$1 >= a && $1 <= b {f = 1} END {exit !f}'; }
pick_range() { local n=$1 base
	for base in $(seq 10000 $n 32000); do
		[ $((base + n - 1)) -lt 32768 ] || break
		range_free $base $((base + n - 1)) && [ "$base" != "${TAKEN:-}" ] && { echo $base; return; }
	done; echo 0; }
# the servers' pids for rtpgen: every process of their groups, comma-separated
server_pids() { local t=$1
	case $t in
	bulwarkd) members "$BWPG" ;;
	kamailio) members "$KPG"; members "$RPG" ;;
	esac | paste -sd, -; }
# on-CPU time in ns of every thread of the given processes (schedstat:
# the time utime+stime counts, without its 10 ms granularity)
ns_of() { local p; for p in "$@"; do cat /proc/$p/task/*/schedstat 2>/dev/null; done |
	awk '{s += $1} END {printf "%.0f\n", s}'; }   # %d is 32-bit in mawk
server_ns() { case $1 in
	bulwarkd) ns_of $(members "$BWPG") ;;
	kamailio) ns_of $(members "$KPG") ;;
	rtpengine) ns_of $(members "$RPG") ;;
	esac; }
sip_port() { case $1 in bulwarkd) echo "$BP" ;; kamailio) echo "$KP" ;; esac; }
calls_csv() { case $1 in bulwarkd) echo "$W/bw_calls.csv" ;; kamailio) echo "$W/k_calls.csv" ;; esac; }
callees_csv() { case $1 in bulwarkd) echo "$W/bw_callees.csv" ;; kamailio) echo "$W/k_callees.csv" ;; esac; }
uas_port() { case $1 in bulwarkd) echo "$BW_UAS" ;; kamailio) echo "$K_UAS" ;; esac; }
# SIPp's final statistics (-trace_stat): "successful failed started
# mean-ms-from-first-INVITE-to-200" (the 407 round included)
sipp_counts() { python3 - "$1" <<'PY'
import csv, sys
try:
    rows = list(csv.reader(open(sys.argv[1]), delimiter=";"))
except OSError:
    rows = []
if len(rows) < 2:
    print(0, 0, 0, 0); sys.exit()
h, last = rows[0], rows[-1]
g = lambda k: int(last[h.index(k)]) if k in h else 0
started = max(g("OutgoingCall(C)"), g("IncomingCall(C)"))
rt = last[h.index("ResponseTime1(C)")].split(":") if "ResponseTime1(C)" in h else ["0"] * 4
ms = (int(rt[0]) * 3600 + int(rt[1]) * 60 + int(rt[2])) * 1000 + int(rt[3]) / 1000.0
print(g("SuccessfulCall(C)"), g("FailedCall(C)"), started, ms)
PY
}
# SIPp's per-code failure counts (-trace_error_codes), "405x3 407x1"
sipp_codes() { cat "$1"/*_error_codes.csv 2>/dev/null | awk -F';' '{n = split($3, a, ",");
	for (i = 1; i <= n; i++) if (a[i] ~ /^[0-9]+$/) c[a[i]]++}
	END {for (k in c) printf "%sx%d ", k, c[k]}'; }
# the first call SIPp gave up on, for the record (integration feedback)
first_error() { local f
	for f in $(ls "$1"/uac/*_errors.log 2>/dev/null | head -1) $(ls "$1"/uas/*_errors.log 2>/dev/null | head -1); do
		[ -s "$f" ] || continue
		echo "  first SIPp error ($(basename "$(dirname "$f")")): $(python3 -c 'import re, sys
t = open(sys.argv[1], errors="replace").read().replace("\r", "")
p = [x for x in re.split(r"(?=\d{4}-\d\d-\d\d\t\d\d:)", t) if x[:1].isdigit()]
print((p[0] if p else t)[:900].strip().replace("\n", "|"))' "$f")"
	done; }
# the UAS ends by itself after its last call; when calls failed before
# reaching it, it is stopped GRACE seconds after the UAC
stop_uas() { local pid=$1 grace=$2 i
	for i in $(seq $((grace * 5))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
	kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }

# ---- ports and ranges: free ones, so that several runs never collide -----------------
TAKEN=
BW_RANGE=$(pick_range 5000); TAKEN=$BW_RANGE
K_RANGE=$(pick_range 5000)
[ "$BW_RANGE" != 0 ] && [ "$K_RANGE" != 0 ] || { echo "no free RTP port range below 32768"; exit 1; }
echo "bench_calls: targets: $TARGETS; $PAIRS caller and $PAIRS callee extensions; set-up $SETUP_CALLS calls at $SETUP_RATE/s (hold $SETUP_HOLD_MS ms); media $MEDIA_CALLS concurrent calls, ${RUN_S} s (${WARM_S} s warm-up); $REPS repetition(s)"
[ -z "${BW_BIN:-}" ] || echo "  bulwarkd measured: $BW_BIN (BW_BIN)"
echo "  machine: $CORES cores,$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), load at start $(cut -d' ' -f1-3 /proc/loadavg); build $BUILD ($BT), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"

# CSVs for SIPp: callees "NUMBER;PASSWORD", calls "CALLER;CALLEE;PASSWORD"
write_csvs() { python3 - "$@" <<'PY'
import sys
pw_json, callees, calls, cf, ef, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
if pw_json == "-":
    pw = {str(i): f"kw{i}" for r in (range(cf, cf + n), range(ef, ef + n)) for i in r}
else:
    import json
    pw = {}
    def walk(o):
        if isinstance(o, dict):
            if "number" in o and "auth.password" in o:
                pw[str(o["number"])] = o["auth.password"]
            for v in o.values(): walk(v)
        elif isinstance(o, list):
            for v in o: walk(v)
    for f in pw_json.split(","):
        walk(json.load(open(f)))
with open(callees, "w") as f:
    f.write("SEQUENTIAL\n")
    for i in range(n): f.write(f"{ef + i};{pw[str(ef + i)]}\n")
with open(calls, "w") as f:
    f.write("SEQUENTIAL\n")
    for i in range(n): f.write(f"{cf + i};{ef + i};{pw[str(cf + i)]}\n")
PY
}

# ---- bulwarkd -------------------------------------------------------------------------
BWPG=; BP=; BW_UAS=; BW_NOTE=
if want bulwarkd; then
	BP=$(free_port); BW_UAS=$(free_port); DATA=$W/bw; mkdir -p "$DATA"
	if "$BW" --help 2>&1 | grep -q -- --instance; then INST=bcall_$$; INST=${INST:0:16}; fi
	bwopts=(--data "$DATA" --sip 127.0.0.1:$BP ${INST:+--instance $INST})
	if "$BW" --help 2>&1 | grep -q -- --rtp-range; then
		bwopts+=(--rtp-range "$BW_RANGE-$((BW_RANGE + 4999))")
	else
		BW_NOTE="bulwarkd has no --rtp-range yet (call layer not merged)"
	fi
	if "$BW" --help 2>&1 | grep -q -- --rtp-addr; then bwopts+=(--rtp-addr 127.0.0.1); fi
	setsid timeout -k 5 "$MAX_S" "$BW" "${bwopts[@]}" >>"$W/bulwarkd.log" 2>&1 & BWPG=$!; PIDS+=($BWPG)
	for _ in $(seq 200); do [ -S "$DATA/control.sock" ] && "$CLI" --data "$DATA" status >/dev/null 2>&1 && break; sleep 0.1; done
	C="$CLI --data $DATA"
	$C settings set guard trusted=127.0.0.0/8 >/dev/null
	# a template; calls limits above what one pair carries in the media phase
	lim=$(( MEDIA_MAX / PAIRS + 8 )); [ $lim -le 100 ] || lim=100
	$C ext add 99999 --type sip --name "Bench Template" --generate-password --generate-pin \
		--set auth.algorithms=md5 --set phone.qualify=false \
		--set phone.call_limit_in=$lim --set phone.call_limit_out=$lim >/dev/null
	$C --json ext bulk --range $CALLER_FIRST-$((CALLER_FIRST + PAIRS - 1)) --type sip --template 99999 > "$W/bw_callers.json"
	$C --json ext bulk --range $CALLEE_FIRST-$((CALLEE_FIRST + PAIRS - 1)) --type sip --template 99999 > "$W/bw_callees.json"
	$C commit >/dev/null
	write_csvs "$W/bw_callers.json,$W/bw_callees.json" "$W/bw_callees.csv" "$W/bw_calls.csv" $CALLER_FIRST $CALLEE_FIRST $PAIRS
	echo "bulwarkd: pid group $BWPG, sip 127.0.0.1:$BP, instance ${INST:-none}, RTP range $BW_RANGE-$((BW_RANGE + 4999)); guard trusted=127.0.0.0/8 for the run (Kamailio has no pike); extensions: auth.algorithms=md5, phone.qualify=false, phone.call_limit_in/out=$lim${BW_NOTE:+; NOTE: $BW_NOTE}"
fi

# ---- Kamailio + rtpengine --------------------------------------------------------------
KPG=; RPG=; KP=; K_UAS=
if want kamailio; then
	KP=$(free_port); K_UAS=$(free_port); NG=$(free_port); RCLI=$(free_port)
	setsid timeout -k 5 "$MAX_S" rtpengine --config-file=none --table=-1 --interface=127.0.0.1 \
		--listen-ng=127.0.0.1:$NG --listen-cli=127.0.0.1:$RCLI \
		--port-min=$K_RANGE --port-max=$((K_RANGE + 4999)) --delete-delay=0 --timeout=120 \
		--foreground --log-stderr --log-level=4 --num-threads="$RTPE_THREADS" \
		>"$W/rtpengine.log" 2>&1 & RPG=$!; PIDS+=($RPG)
	sed -e "s/BENCH_PORT_VALUE/$KP/; s/BENCH_CHILDREN_VALUE/$CORES/; s/BENCH_CALLER_FIRST_VALUE/$CALLER_FIRST/" \
	    -e "s/BENCH_CALLEE_FIRST_VALUE/$CALLEE_FIRST/; s/BENCH_COUNT_VALUE/$PAIRS/; s/BENCH_NG_VALUE/127.0.0.1:$NG/" \
		bench/calls/kamailio.cfg > "$W/kamailio.cfg"
	mkdir -p "$W/krun"
	setsid timeout -k 5 "$MAX_S" kamailio -f "$W/kamailio.cfg" -DD -E -m 256 -M 16 -Y "$W/krun" \
		>"$W/kamailio.log" 2>&1 & KPG=$!; PIDS+=($KPG)
	sleep 3
	kill -0 $KPG 2>/dev/null || { echo "kamailio failed:"; tail "$W/kamailio.log"; exit 1; }
	kill -0 $RPG 2>/dev/null || { echo "rtpengine failed:"; tail "$W/rtpengine.log"; exit 1; }
	write_csvs - "$W/k_callees.csv" "$W/k_calls.csv" $CALLER_FIRST $CALLEE_FIRST $PAIRS
	echo "kamailio: $(kamailio -v | head -1 | cut -d' ' -f1-3), sip 127.0.0.1:$KP, children=$CORES, $(members $KPG | wc -l) processes; rtpengine $(rtpengine --version 2>&1 | head -1 | awk '{print $NF}') user space (--table=-1), num-threads=$RTPE_THREADS, ng 127.0.0.1:$NG, range $K_RANGE-$((K_RANGE + 4999))"
fi

# ---- register the callees, from each UAS's port -------------------------------------------
for t in $TARGETS; do
	d=$W/reg.$t; mkdir -p "$d"
	( cd "$d" && timeout 60 sipp 127.0.0.1:$(sip_port $t) -sf "$ROOT/bench/calls/reg.xml" \
		-inf "$(callees_csv $t)" -i 127.0.0.1 -p "$(uas_port $t)" -mp 0 -r 500 -m "$PAIRS" \
		-l "$PAIRS" -nostdin -timeout 50 -buff_size 4194304 -trace_stat -fd 1 -stf stat.csv \
		-trace_error_codes -trace_err >out.txt 2>&1 ) || true
	read ok fl st rt < <(sipp_counts "$d/stat.csv")
	echo "$t: $ok/$PAIRS callees registered from 127.0.0.1:$(uas_port $t)$( [ "$ok" = "$PAIRS" ] || echo "  FAILED: codes $(sipp_codes "$d")")"
done

# ---- one phase against one target -------------------------------------------------------------
# set-up calls send no media: their SDP names ports nobody listens on
AP_DUMMY=$(free_port); BP_DUMMY=$(free_port)
: > "$W/results.jsonl"
# setup TARGET REP
setup_phase() { local t=$1 rep=$2 d=$W/setup.$1.$2 T uas uac c0 r0 b0 c1 r1 b1 t0 t1 sp=0 p
	mkdir -p "$d/uas" "$d/uac"
	T=$(( SETUP_CALLS / SETUP_RATE + SETUP_HOLD_MS / 1000 + 40 ))
	( cd "$d/uas" && exec timeout -k 2 $((T + 10)) sipp -sf "$ROOT/bench/calls/uas.xml" -i 127.0.0.1 \
		-p "$(uas_port $t)" -mp 0 -key bport "$BP_DUMMY" -m "$SETUP_CALLS" -timeout "$T" -nostdin \
		-buff_size 4194304 -trace_stat -fd 1 -stf stat.csv -trace_error_codes -trace_err >out.txt 2>&1 ) & uas=$!; PIDS+=($uas)
	sleep 0.5
	c0=$(server_ns $t); r0=$( [ $t = kamailio ] && server_ns rtpengine || echo 0 ); b0=$(busy_ticks); t0=$(date +%s.%N)
	( cd "$d/uac" && exec timeout -k 2 $((T + 10)) sipp 127.0.0.1:$(sip_port $t) -sf "$ROOT/bench/calls/uac.xml" \
		-inf "$(calls_csv $t)" -key aport "$AP_DUMMY" -i 127.0.0.1 -p "$(free_port)" -mp 0 -d "$SETUP_HOLD_MS" \
		-m "$SETUP_CALLS" -r "$SETUP_RATE" -l $((SETUP_CALLS + 10)) -timeout "$T" -nostdin \
		-buff_size 4194304 -trace_stat -fd 1 -stf stat.csv -trace_error_codes -trace_err >out.txt 2>&1 ) & uac=$!; PIDS+=($uac)
	# SIPp's own CPU: its last reading before it exits
	local -A last=()
	while kill -0 $uac 2>/dev/null; do
		for p in $(pgrep -P $uac; pgrep -P $uas); do last[$p]=$(ticks_of $p); done
		sleep 0.2
	done
	wait $uac || true
	for p in $(pgrep -P $uas); do last[$p]=$(ticks_of $p); done
	stop_uas $uas 5
	c1=$(server_ns $t); r1=$( [ $t = kamailio ] && server_ns rtpengine || echo 0 ); b1=$(busy_ticks); t1=$(date +%s.%N)
	for p in "${!last[@]}"; do sp=$((sp + ${last[$p]})); done
	read ok fl st rt < <(sipp_counts "$d/uac/stat.csv")
	read uok ufl ust urt < <(sipp_counts "$d/uas/stat.csv")
	python3 - "$t" "$rep" "$ok" "$fl" "$st" "$uok" "$((c1 - c0))" "$((r1 - r0))" "$sp" "$((b1 - b0))" \
		"$t0" "$t1" "$HZ" "$SETUP_CALLS" "$SETUP_RATE" "$(sipp_codes "$d/uac")" "$rt" <<'PY' | tee -a "$W/results.jsonl"
import json, sys
a = sys.argv
t, rep, ok, fl, st, uok = a[1], int(a[2]), int(a[3]), int(a[4]), int(a[5]), int(a[6])
srv, rtpe, sipp, busy, hz = int(a[7]), int(a[8]), int(a[9]), int(a[10]), int(a[13])
wall = float(a[12]) - float(a[11])
calls = int(a[14])
srv, rtpe = srv / 1e9, rtpe / 1e9       # ns
cpu = srv + rtpe
print(json.dumps({"phase": "setup", "target": t, "rep": rep, "calls": calls, "rate": int(a[15]),
    "ok": ok, "failed": max(fl, calls - ok), "uas_ok": uok, "success_pct": round(100.0 * ok / calls, 2),
    "wall_s": round(wall, 2), "server_cpu_s": round(cpu, 3),
    "signalling_cpu_s": round(srv, 3), "rtpengine_cpu_s": round(rtpe, 3),
    "cpu_us_per_call": round(cpu * 1e6 / ok, 1) if ok else None,
    "signalling_us_per_call": round(srv * 1e6 / ok, 1) if ok else None,
    "sipp_cores": round(sipp / hz / wall, 2),
    "others_cores": round(max(0.0, busy / hz - srv - rtpe - sipp / hz) / wall, 2),
    "setup_ms_mean": float(a[17]), "failure_codes": a[16].strip()}))
PY
	[ "$ok" = "$SETUP_CALLS" ] || first_error "$d"
}

# media TARGET REP CALLS
media_phase() { local t=$1 rep=$2 n=$3 d=$W/media.$1.$3.$2 T hold uas uac ap bp na nb line up=0 i
	mkdir -p "$d/uas" "$d/uac"
	ap=$(free_port); bp=$(free_port)
	while [ "$bp" = "$ap" ]; do bp=$(free_port); done
	up=$(( n / MEDIA_RATE + 1 ))
	hold=$(( up + RUN_S + 10 ))
	T=$(( up + hold + 40 ))
	( cd "$d/uas" && exec timeout -k 2 $((T + 10)) sipp -sf "$ROOT/bench/calls/uas.xml" -i 127.0.0.1 \
		-p "$(uas_port $t)" -mp 0 -key bport "$bp" -m "$n" -timeout "$T" -nostdin \
		-buff_size 4194304 -trace_stat -fd 1 -stf stat.csv -trace_error_codes -trace_err \
		-trace_logs -log_file ports.log >out.txt 2>&1 ) & uas=$!; PIDS+=($uas)
	sleep 0.5
	( cd "$d/uac" && exec timeout -k 2 $((T + 10)) sipp 127.0.0.1:$(sip_port $t) -sf "$ROOT/bench/calls/uac.xml" \
		-inf "$(calls_csv $t)" -key aport "$ap" -i 127.0.0.1 -p "$(free_port)" -mp 0 -d $((hold * 1000)) \
		-m "$n" -r "$MEDIA_RATE" -l $((n + 10)) -timeout "$T" -nostdin \
		-buff_size 4194304 -trace_stat -fd 1 -stf stat.csv -trace_error_codes -trace_err \
		-trace_logs -log_file ports.log >out.txt 2>&1 ) & uac=$!; PIDS+=($uac)
	# every call up: as many "a" ports logged as calls (or the time is up)
	for i in $(seq $(( (up + 15) * 5 ))); do
		na=$(grep -c '^a [0-9]' "$d/uac/ports.log" 2>/dev/null || true)
		nb=$(grep -c '^b [0-9]' "$d/uas/ports.log" 2>/dev/null || true)
		[ "${na:-0}" -ge "$n" ] && [ "${nb:-0}" -ge "$n" ] && break
		kill -0 $uac 2>/dev/null || break
		sleep 0.2
	done
	cat "$d/uac/ports.log" "$d/uas/ports.log" 2>/dev/null | grep -E '^[ab] [0-9]+' | cut -d' ' -f1,2 > "$d/ports.txt" || true
	na=$(grep -c '^a' "$d/ports.txt" || true); nb=$(grep -c '^b' "$d/ports.txt" || true)
	line=
	if [ "$na" -gt 0 ] && [ "$nb" -gt 0 ]; then
		line=$("$GEN" --mode external --ports "$d/ports.txt" --a-port "$ap" --b-port "$bp" \
			--pid "$(server_pids $t)" --seconds "$RUN_S" --warm "$WARM_S" --label "$t" 2>"$d/rtpgen.err" || true)
	fi
	[ -n "$line" ] || line="mode=$t calls=0"
	[ $t = bulwarkd ] && $C --json sip status > "$d/sip_status.json" 2>/dev/null || true
	wait $uac || true; stop_uas $uas 5
	read ok fl st rt < <(sipp_counts "$d/uac/stat.csv")
	python3 - "$t" "$rep" "$n" "$na" "$nb" "$ok" "$line" "$(cut -d' ' -f1 /proc/loadavg)" \
		"$(sipp_codes "$d/uac")" "$d/sip_status.json" <<'PY' | tee -a "$W/results.jsonl"
import json, sys
a = sys.argv
kv = dict(x.split("=", 1) for x in a[7].split() if "=" in x)
num = lambda k: float(kv[k]) if k in kv else None
r = {"phase": "media", "target": a[1], "rep": int(a[2]), "calls": int(a[3]),
     "calls_up": min(int(a[4]), int(a[5])), "calls_ok": int(a[6]),
     "relayed_pps": num("relayed_pps"), "cpu_us_per_pkt": num("cpu_us_per_pkt"),
     "relay_cores": round(num("relay_cpu_pct") / 100, 2) if "relay_cpu_pct" in kv else None,
     "sent": num("sent"), "recv": num("recv"), "lost": num("lost"), "loss_pct": num("loss_pct"),
     "jitter_us_p50": num("added_jitter_us_p50"), "jitter_us_p99": num("p99"),
     "jitter_us_p999": num("p999"), "jitter_us_max": num("max"),
     "gen_cores": round(num("gen_cpu_pct") / 100, 2) if "gen_cpu_pct" in kv else None,
     "load1": float(a[8]), "failure_codes": a[9].strip()}
try:
    s = json.load(open(a[10]))
    r["bulwarkd_calls"] = s.get("calls", s.get("sip", {}).get("calls"))
except (OSError, ValueError):
    pass
print(json.dumps(r))
PY
	[ "$ok" = "$n" ] || first_error "$d"
}

for rep in $(seq "$REPS"); do
	case " $PHASES " in *" setup "*)
		for t in $TARGETS; do setup_phase $t $rep; sleep 2; done ;; esac
	case " $PHASES " in *" media "*) ;; *) continue ;; esac
	for n in $MEDIA_CALLS; do
		for t in $TARGETS; do media_phase $t $rep $n; sleep 3; done
	done
done

# ---- summary: medians, ratios, JSON -----------------------------------------------------------------
mkdir -p "$(dirname "$RESULT")"
python3 - "$W/results.jsonl" "$RESULT" "$(git rev-parse HEAD 2>/dev/null || echo '?')" "$BT" "$CORES" "$BW" <<'PY'
import json, statistics, sys, time
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def med(sel, k):
    v = [r[k] for r in rows if sel(r) and r.get(k) is not None]
    return statistics.median(v) if v else None
targets = [t for t in ("bulwarkd", "kamailio") if any(r["target"] == t for r in rows)]
sizes = sorted({r["calls"] for r in rows if r["phase"] == "media"})
setup, media = {}, {}
for t in targets:
    sel = lambda r: r["phase"] == "setup" and r["target"] == t
    setup[t] = {k: med(sel, k) for k in ("calls", "rate", "success_pct", "setup_ms_mean", "cpu_us_per_call", "signalling_us_per_call", "sipp_cores", "others_cores")}
    for n in sizes:
        sel = lambda r: r["phase"] == "media" and r["target"] == t and r["calls"] == n
        media[f"{t} {n}"] = {k: med(sel, k) for k in ("calls_up", "relayed_pps", "cpu_us_per_pkt", "relay_cores", "gen_cores", "loss_pct", "lost", "jitter_us_p50", "jitter_us_p99")}
f = lambda v, p=1: "-" if v is None else f"{v:,.{p}f}"
print("\n== set-up: INVITE/407/INVITE/180/200/ACK/BYE (medians) ==")
print(f"{'target':10} {'calls':>6} {'rate/s':>6} {'ok %':>7} {'ms to 200':>9} {'CPU us/call':>12} {'of which SIP':>13} {'SIPp cores':>11} {'others':>7}")
for t in targets:
    s = setup[t]
    print(f"{t:10} {f(s['calls'], 0):>6} {f(s['rate'], 0):>6} {f(s['success_pct'], 2):>7} {f(s['setup_ms_mean'], 1):>9} {f(s['cpu_us_per_call'], 0):>12} {f(s['signalling_us_per_call'], 0):>13} {f(s['sipp_cores'], 2):>11} {f(s['others_cores'], 2):>7}")
print("(kamailio: CPU of kamailio's processes + rtpengine's; 'of which SIP': kamailio's alone)")
print("\n== media: concurrent relayed G.711 calls, 20 ms both ways (medians) ==")
print(f"{'target':10} {'calls':>6} {'up':>6} {'pkt/s':>8} {'CPU us/pkt':>11} {'relay cores':>12} {'gen cores':>10} {'loss %':>8} {'jit p50 us':>11} {'jit p99 us':>11}")
for n in sizes:
    for t in targets:
        m = media[f"{t} {n}"]
        print(f"{t:10} {n:>6} {f(m['calls_up'], 0):>6} {f(m['relayed_pps'], 0):>8} {f(m['cpu_us_per_pkt'], 2):>11} {f(m['relay_cores'], 2):>12} {f(m['gen_cores'], 2):>10} {f(m['loss_pct'], 4):>8} {f(m['jitter_us_p50']):>11} {f(m['jitter_us_p99']):>11}")
ratios, partial = {}, {}
def ratio(name, x, y, why=None):
    ratios[name] = round(x / y, 3) if x and y else None
    if why:
        partial[name] = why
if "bulwarkd" in targets and "kamailio" in targets:
    b, k = setup["bulwarkd"], setup["kamailio"]
    why = None if (b["success_pct"] or 0) >= 99 and (k["success_pct"] or 0) >= 99 else "not every call of both succeeded"
    ratio("cpu_per_call", b["cpu_us_per_call"], k["cpu_us_per_call"], why)
    ratio("cpu_per_call_vs_kamailio_alone", b["cpu_us_per_call"], k["signalling_us_per_call"], why)
    for n in sizes:
        b, k = media[f"bulwarkd {n}"], media[f"kamailio {n}"]
        why = None
        if b["calls_up"] != n or k["calls_up"] != n:
            why = "not every call of both was up"
        elif b["lost"] or k["lost"]:
            why = "packets lost: a side (or the machine) was overloaded"
        ratio(f"cpu_per_pkt_{n}", b["cpu_us_per_pkt"], k["cpu_us_per_pkt"], why)
        ratio(f"jitter_p99_{n}", b["jitter_us_p99"], k["jitter_us_p99"], why)
    print("\n== ratios bulwarkd / (kamailio + rtpengine) ==")
    for n, v in ratios.items():
        print(f"  {n:32} {f(v, 2)}" + (f"   (NOT comparable: {partial[n]})" if n in partial else ""))
    print("  (goals: CPU per call <= 0.5x Kamailio's; CPU per relayed packet <= 6 us; 1,000 concurrent calls, zero loss, p99 added jitter < 1 ms)")
json.dump({"bench": "calls", "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "commit": sys.argv[3], "build": sys.argv[4], "cores": int(sys.argv[5]), "bulwarkd": sys.argv[6],
           "runs": rows, "setup": setup, "media": media, "ratios": ratios,
           "ratios_not_comparable": partial}, open(sys.argv[2], "w"), indent=1)
print(f"\nresults: {sys.argv[2]}")
PY
if want bulwarkd; then
	echo "bulwarkd log, last lines:"; tail -n 8 "$W/bulwarkd.log" | sed 's/^/  /'
fi
