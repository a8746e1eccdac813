#!/usr/bin/env bash
# bench_voicemail.sh — N callers leaving a message at once, and the same
# callers' audio relayed to a phone, in one run against one bulwarkd:
#   voicemail: CALLERS caller extensions (20000…) and MAILBOXES extensions
#     of type voicemail (60000…, voicemail.max_messages 9999); a SIPp UAC
#     (bench/vm/uac.xml, digest like bench/calls/uac.xml, SDP PCMA +
#     telephone-event) places N calls at RATE/s, call i from caller i to
#     mailbox i mod MAILBOXES. The mailbox answers at once; after the
#     200/ACK the caller sends '1' (dtmf_2833_1.pcap: skips the greeting),
#     waits BEEP_MS (the beep, 0.43 s), sends the speech — REPEAT copies
#     of SIPp's g711a.pcap (7.08 s, 236 packets of 30 ms) as one
#     continuous stream (bench/vm/vmbench.py pcap) — then '#'
#     (dtmf_2833_pound.pcap: "saved, goodbye"); the PBX hangs up and the
#     caller answers its BYE 200 (after BYE_WAIT_MS without one the caller
#     hangs up itself: counted apart, "end own").
#   relayed reference (no voicemail peer is packaged in Debian 12:
#     neither asterisk nor freeswitch): the same callers, the same
#     scenario and audio, to CALLERS callee extensions (30000…), each
#     registered (bench/calls/reg.xml) from the port of one SIPp UAS
#     (bench/vm/uas.xml) that answers with an SDP naming a packet counter
#     (vmbench.py sink) and sends nothing; the callee never hangs up, so
#     the caller does RELAY_BYE_MS after its '#' (about the goodbye
#     prompt's length).
# Measured per phase (each N of CALLS, voicemail then relayed, REPS times):
#   calls answered % (CDRs), peak concurrent calls (CDR answer/end),
#   messages stored (GET /api/v1/voicemail/NUMBER through `bulwark --json
#   vm list`), lost audio: each message's duration_ms against the speech
#   sent (min/median ratio, messages short by more than one 30 ms packet)
#   and its WAV compared packet by packet, bit for bit, with the PCM the
#   caller sent (A-law decoded): packets missing before the recording
#   started, replaced by silence, different, missing at the end; for the
#   relayed calls, the audio packets the counter received against those
#   sent; the CDRs' relay loss counters.
#   CPU: on-CPU time of every thread of bulwarkd
#   (/proc/PID/task/TID/schedstat), read before the UAC starts and after
#   the last message is stored, grouped by thread name (bw-endpoint,
#   bw-relay, bw-ep-fin, bw-vmwork, bw-vmmail; "loop+unnamed" = the SIP
#   loop and the threads without a name); per second of speech (recorded
#   or relayed), per call-second (answer to end, CDRs), the endpoint
#   threads per leg-second and per packet, the relay thread per
#   leg-second (a call has two relay legs: caller side and callee side —
#   for a voicemail call the callee side is the endpoint) and per packet
#   (the CDRs' packet counts).
# Results: text on stdout, JSON in $RESULT (default bench/out/voicemail.json).
#
#   bash bench/bench_voicemail.sh                       # 10, 50, 100 callers (~3 min)
#   CALLS="50 100" REPEAT=3 REPS=2 bash bench/bench_voicemail.sh
#   PHASES=voicemail (or relay) one side only; KEEP=1 keeps the work
#   directory; BW_BIN/BW_CLI measure another build
# bulwarkd answers at most 128 voicemail calls at once (vmapp's
# max_sessions): N above that measures the refusals.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build-perf}
CALLS=${CALLS:-"10 50 100"}
RATE=${RATE:-20}
REPEAT=${REPEAT:-2}
MAILBOXES=${MAILBOXES:-10}
BEEP_MS=${BEEP_MS:-1000}
BYE_WAIT_MS=${BYE_WAIT_MS:-15000}
RELAY_BYE_MS=${RELAY_BYE_MS:-3000}
REPS=${REPS:-1}
PHASES=${PHASES:-"voicemail relay"}
RESULT=${RESULT:-$ROOT/bench/out/voicemail.json}
CALLER_FIRST=${CALLER_FIRST:-20000}
CALLEE_FIRST=${CALLEE_FIRST:-30000}
BOX_FIRST=${BOX_FIRST:-60000}
PCAPS=/usr/share/sip-tester
H=$ROOT/bench/vm/vmbench.py
CORES=$(nproc)
MAXN=$(echo $CALLS | tr ' ' '\n' | sort -n | tail -1)
CALLERS=${CALLERS:-$MAXN}
NSIZES=$(echo $CALLS | wc -w)
SPEECH_S=$(( REPEAT * 708 / 100 + 1 ))
CALL_S=$(( BEEP_MS / 1000 + SPEECH_S + BYE_WAIT_MS / 1000 + 3 ))
# every process is bounded in time even if this script is killed
MAX_S=$(( 600 + REPS * NSIZES * 2 * (MAXN / RATE + CALL_S + 60) ))
W=$(mktemp -d /tmp/bench_vm.XXXXXX)
PIDS=()
INST=
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
for f in g711a.pcap dtmf_2833_1.pcap dtmf_2833_pound.pcap; do
	[ -r "$PCAPS/$f" ] || { echo "missing $PCAPS/$f (apt-get install sip-tester)"; exit 1; }
done
want() { case " $PHASES " in *" $1 "*) return 0 ;; esac; return 1; }

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
meson compile -C "$BUILD" src/daemon/bulwarkd src/cli/bulwark >/dev/null
BW=${BW_BIN:-$ROOT/$BUILD/src/daemon/bulwarkd}
CLI=${BW_CLI:-$ROOT/$BUILD/src/cli/bulwark}

# ---- helpers ---------------------------------------------------------------------
free_port() { python3 -c 'import socket
for _ in range(50):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0)); p = u.getsockname()[1]
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try: t.bind(("127.0.0.1", p))
    except OSError: continue
    print(p); break'; }
members() { pgrep -g "$1" 2>/dev/null || true; }
range_free() { ! ss -Haun | awk '{print $4}' | sed 's/.*://' |
	awk -v a="$1" -v b="$2" '$1 >= a && $1 <= b {f = 1} END {exit !f}'; }
pick_range() { local n=$1 base
	for base in $(seq 10000 $n 32000); do
		[ $((base + n - 1)) -lt 32768 ] || break
		range_free $base $((base + n - 1)) && { echo $base; return; }
	done; echo 0; }
sipp_codes() { cat "$1"/*_error_codes.csv 2>/dev/null | awk -F';' '{n = split($3, a, ",");
	for (i = 1; i <= n; i++) if (a[i] ~ /^[0-9]+$/) c[a[i]]++}
	END {for (k in c) printf "%sx%d ", k, c[k]}'; }
first_error() { local f
	for f in $(ls "$1"/*_errors.log 2>/dev/null | head -1); do
		[ -s "$f" ] || continue
		echo "  first SIPp error: $(python3 -c 'import re, sys
t = open(sys.argv[1], errors="replace").read().replace("\r", "")
p = [x for x in re.split(r"(?=\d{4}-\d\d-\d\d\t\d\d:)", t) if x[:1].isdigit()]
print((p[0] if p else t)[:900].strip().replace("\n", "|"))' "$f")"
	done; }
snap() { python3 "$H" snap $(members "$BWPG") > "$1"; }
active_calls() { $C --json sip status 2>/dev/null | python3 -c \
	'import json,sys; print(json.load(sys.stdin)["calls"]["active"])' 2>/dev/null || echo -1; }
wait_idle() { local i
	for i in $(seq 100); do [ "$(active_calls)" = 0 ] && return; sleep 0.2; done
	echo "  (calls still active: $(active_calls))"; }
mailboxes() { local d=$1 b
	mkdir -p "$d"
	for b in $(seq $BOX_FIRST $((BOX_FIRST + MAILBOXES - 1))); do
		$C --json vm list $b > "$d/$b.json" 2>/dev/null || true
	done; }

# ---- the speech and the scenarios --------------------------------------------------
read SPEECH_PKTS SPEECH_SAMPLES SPEECH_MS < <(python3 "$H" pcap "$PCAPS/g711a.pcap" "$W/speech.pcap" "$REPEAT")
scenario() { sed -e "s/BENCH_BEEP_MS_VALUE/$((BEEP_MS + 140))/; s#BENCH_SPEECH_PCAP_VALUE#$W/speech.pcap#" \
	-e "s/BENCH_SPEECH_MS_VALUE/$((SPEECH_MS + 300))/; s/BENCH_BYE_WAIT_MS_VALUE/$1/" \
	bench/vm/uac.xml > "$2"; }
scenario "$BYE_WAIT_MS" "$W/uac_voicemail.xml"
scenario "$RELAY_BYE_MS" "$W/uac_relay.xml"

# ---- bulwarkd ---------------------------------------------------------------------
RANGE=$(pick_range 2000)
[ "$RANGE" != 0 ] || { echo "no free RTP port range below 32768"; exit 1; }
BP=$(free_port); UAS_PORT=$(free_port); DATA=$W/bw; mkdir -p "$DATA"
INST=bvm_$$; INST=${INST:0:16}
setsid timeout -k 5 "$MAX_S" "$BW" --data "$DATA" --sip 127.0.0.1:$BP --instance "$INST" \
	--rtp-range "$RANGE-$((RANGE + 1999))" --rtp-addr 127.0.0.1 >>"$W/bulwarkd.log" 2>&1 & BWPG=$!; PIDS+=($BWPG)
for _ in $(seq 200); do [ -S "$DATA/control.sock" ] && "$CLI" --data "$DATA" status >/dev/null 2>&1 && break; sleep 0.1; done
C="$CLI --data $DATA"
$C settings set guard trusted=127.0.0.0/8 >/dev/null
$C ext add 99999 --type sip --name "Bench Template" --generate-password --generate-pin \
	--set auth.algorithms=md5 --set phone.qualify=false \
	--set phone.call_limit_in=8 --set phone.call_limit_out=8 >/dev/null
$C --json ext bulk --range $CALLER_FIRST-$((CALLER_FIRST + CALLERS - 1)) --type sip --template 99999 > "$W/callers.json"
$C --json ext bulk --range $CALLEE_FIRST-$((CALLEE_FIRST + CALLERS - 1)) --type sip --template 99999 > "$W/callees.json"
$C ext add 99998 --type voicemail --name "Bench Mailbox" --generate-pin \
	--set voicemail.max_messages=9999 >/dev/null
$C --json ext bulk --range $BOX_FIRST-$((BOX_FIRST + MAILBOXES - 1)) --type voicemail --template 99998 > "$W/boxes.json"
$C commit >/dev/null
# CSVs: "CALLER;TARGET;PASSWORD" per call, "NUMBER;PASSWORD" per callee
python3 - "$W" $CALLER_FIRST $CALLEE_FIRST $BOX_FIRST $CALLERS $MAILBOXES <<'PY'
import json, sys
w, cf, ef, bf, n, nb = sys.argv[1], *map(int, sys.argv[2:])
pw = {}
for f in ("callers", "callees"):
    for o in json.load(open(f"{w}/{f}.json"))["created"]:
        pw[str(o["number"])] = o["auth.password"]
with open(f"{w}/vm.csv", "w") as f:
    f.write("SEQUENTIAL\n")
    for i in range(n): f.write(f"{cf + i};{bf + i % nb};{pw[str(cf + i)]}\n")
with open(f"{w}/relay.csv", "w") as f:
    f.write("SEQUENTIAL\n")
    for i in range(n): f.write(f"{cf + i};{ef + i};{pw[str(cf + i)]}\n")
with open(f"{w}/callees.csv", "w") as f:
    f.write("SEQUENTIAL\n")
    for i in range(n): f.write(f"{ef + i};{pw[str(ef + i)]}\n")
PY
echo "bench_voicemail: $CALLS concurrent callers (placed at $RATE/s), $REPEAT x g711a.pcap = $SPEECH_MS ms of speech ($SPEECH_PKTS packets of 30 ms) per message, $MAILBOXES mailboxes, phases: $PHASES, $REPS repetition(s)"
[ -z "${BW_BIN:-}" ] || echo "  bulwarkd measured: $BW_BIN (BW_BIN)"
echo "  machine: $CORES cores,$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), load at start $(cut -d' ' -f1-3 /proc/loadavg); build $BUILD ($BT), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "  bulwarkd: pid group $BWPG, sip 127.0.0.1:$BP, instance $INST, RTP range $RANGE-$((RANGE + 1999)); guard trusted=127.0.0.0/8 for the run; $CALLERS callers and $CALLERS callees (auth.algorithms=md5, phone.qualify=false), mailboxes $BOX_FIRST-$((BOX_FIRST + MAILBOXES - 1)) (type voicemail, max_messages 9999)"
echo "  no voicemail peer is packaged in Debian 12 (asterisk, freeswitch absent): the reference is the same calls relayed to a SIPp phone"
if want relay; then
	d=$W/reg; mkdir -p "$d"
	( cd "$d" && timeout 60 sipp 127.0.0.1:$BP -sf "$ROOT/bench/calls/reg.xml" -inf "$W/callees.csv" \
		-i 127.0.0.1 -p "$UAS_PORT" -mp 0 -r 200 -m "$CALLERS" -l "$CALLERS" -nostdin -timeout 50 \
		-buff_size 4194304 -trace_stat -fd 1 -stf stat.csv -trace_error_codes -trace_err >out.txt 2>&1 ) || true
	echo "  callees registered from 127.0.0.1:$UAS_PORT: $(tail -1 "$d/stat.csv" 2>/dev/null | python3 -c 'import sys
h = open(sys.argv[1]).readline().split(";"); l = sys.stdin.read().split(";")
print(l[h.index("SuccessfulCall(C)")] if len(l) == len(h) else "?")' "$d/stat.csv") of $CALLERS"
fi

# ---- one phase --------------------------------------------------------------------
: > "$W/results.jsonl"
# phase KIND N REP
phase() { local kind=$1 n=$2 rep=$3 d=$W/$1.$2.$3 T uac uas=0 sink=0 sport=0 t0 t1 i
	mkdir -p "$d/uac" "$d/uas"
	T=$(( n / RATE + CALL_S + 30 ))
	wait_idle
	[ $kind = voicemail ] && mailboxes "$d/before"
	[ $kind = voicemail ] && python3 "$H" msgs "$d/before" > "$d/before.json"
	if [ $kind = relay ]; then
		sport=$(free_port)
		timeout -k 2 $((T + 20)) python3 "$H" sink "$sport" "$d/sink.json" & sink=$!; PIDS+=($sink)
		( cd "$d/uas" && exec timeout -k 2 $((T + 10)) sipp -sf "$ROOT/bench/vm/uas.xml" -i 127.0.0.1 \
			-p "$UAS_PORT" -mp "$(free_port)" -key sport "$sport" -m "$n" -timeout "$T" -nostdin \
			-buff_size 4194304 -trace_stat -fd 1 -stf stat.csv -trace_error_codes -trace_err >out.txt 2>&1 ) & uas=$!; PIDS+=($uas)
		sleep 0.5
	fi
	$C --json sip status > "$d/sip0.json" 2>/dev/null || true
	snap "$d/cpu0.json"; t0=$(date +%s.%N)
	( cd "$d/uac" && exec timeout -k 2 $((T + 10)) sipp 127.0.0.1:$BP -sf "$W/uac_$kind.xml" \
		-inf "$W/$([ $kind = voicemail ] && echo vm || echo relay).csv" -i 127.0.0.1 -p "$(free_port)" \
		-mp "$(free_port)" -m "$n" -r "$RATE" -l $((n + 10)) -timeout "$T" -nostdin \
		-buff_size 4194304 -trace_stat -fd 1 -stf stat.csv -trace_error_codes -trace_err \
		-trace_logs -log_file ends.log >out.txt 2>&1 ) & uac=$!; PIDS+=($uac)
	wait $uac || true
	if [ $kind = voicemail ]; then
		# the last messages (one per answered call: as many as SIPp saw
		# calls end), stored by the worker as the calls end
		for i in $(seq 25); do
			mailboxes "$d/after"
			[ "$(python3 "$H" msgs "$d/after" "$d/before.json" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" \
				-ge "$(grep -c '^end' "$d/uac/ends.log" 2>/dev/null || true)" ] && break
			sleep 0.2
		done
	else
		for i in $(seq 25); do kill -0 $uas 2>/dev/null || break; sleep 0.2; done
	fi
	snap "$d/cpu1.json"; t1=$(date +%s.%N)
	$C --json sip status > "$d/sip1.json" 2>/dev/null || true
	if [ $kind = voicemail ]; then
		mailboxes "$d/after"
		python3 "$H" msgs "$d/after" "$d/before.json" > "$d/msgs.json"
	else
		kill $uas 2>/dev/null || true; wait $uas 2>/dev/null || true
		sleep 0.3; kill $sink 2>/dev/null || true; wait $sink 2>/dev/null || true
	fi
	wait_idle
	$C --json cdr --since "$(python3 -c "print(int($t0 * 1000))")" --limit 10000 > "$d/cdr.json" 2>/dev/null || echo '[]' > "$d/cdr.json"
	python3 "$H" phase "$kind" "$n" "$d/uac/stat.csv" "$d/uac/ends.log" "$d/cpu0.json" "$d/cpu1.json" \
		"$t0" "$t1" "$d/cdr.json" "$([ $kind = voicemail ] && echo "$d/msgs.json" || echo -)" "$DATA" \
		"$W/speech.pcap" "$([ $kind = relay ] && echo "$d/sink.json" || echo -)" "$SPEECH_MS" \
		"$d/sip0.json" "$d/sip1.json" > "$d/row.json"
	cat "$d/row.json" >> "$W/results.jsonl"
	python3 - "$d/row.json" "$rep" "$(sipp_codes "$d/uac")" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
c = ", ".join(f"{k} {v:.3f}" for k, v in sorted(r["cpu_s"].items(), key=lambda x: -x[1]))
s = f"{r['kind']:9} N={r['calls']:<4} rep {sys.argv[2]}: answered {r['cdrs']}/{r['calls']}, SIPp ok {r['ok']}, peak {r['peak_concurrent']} at once"
if r["kind"] == "voicemail":
    s += (f"; {r['messages']} messages, duration/sent min {r['dur_ratio_min']} median {r['dur_ratio_median']},"
          f" {r['short_gt_1pkt']} short by > 30 ms; packets not in a message {r['pkts_not_in_messages']} of {r['packets_sent']}"
          f" (head {r['pkts_head']}, silent {r['pkts_silent']}, differ {r['pkts_differ']}, tail {r['pkts_tail']});"
          f" PBX hung up {r['end_pbx']}, caller {r['end_own']}")
else:
    s += f"; audio packets at the callee {r['sink_audio']} of {r['packets_sent']} sent"
s += f"; CDR lost {r['cdr_lost']}; relay packets {r['relay_packets']}, dropped (wrong source) {r['relay_dropped_source']}; CPU {r['cpu_total_s']:.3f} s over {r['wall_s']} s ({c}); load {r['load1']}"
if sys.argv[3].strip():
    s += f"; SIPp failure codes {sys.argv[3].strip()}"
print(s)
PY
	[ "$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(int(r["ok"] == r["calls"]))' "$d/row.json")" = 1 ] || first_error "$d/uac"
}

for rep in $(seq "$REPS"); do
	for n in $CALLS; do
		for k in voicemail relay; do
			want $k || continue
			phase $k $n $rep; sleep 2
		done
	done
done

# ---- summary ------------------------------------------------------------------------
mkdir -p "$(dirname "$RESULT")"
python3 "$H" summary "$W/results.jsonl" "$RESULT" "$(python3 -c 'import json,sys
print(json.dumps({"commit": sys.argv[1], "build": sys.argv[2], "cores": int(sys.argv[3]), "bulwarkd": sys.argv[4],
    "calls": sys.argv[5], "rate": int(sys.argv[6]), "repeat": int(sys.argv[7]), "speech_ms": int(sys.argv[8]),
    "mailboxes": int(sys.argv[9]), "cpu_model": sys.argv[10].strip()}))' "$(git rev-parse HEAD 2>/dev/null || echo '?')" \
	"$BT" "$CORES" "$BW" "$CALLS" "$RATE" "$REPEAT" "$SPEECH_MS" "$MAILBOXES" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)")"
echo "bulwarkd log, last lines:"; tail -n 8 "$W/bulwarkd.log" | sed 's/^/  /'
