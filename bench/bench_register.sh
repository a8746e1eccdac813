#!/usr/bin/env bash
# bench_register.sh — the same SIPp scenario (10,000 extensions, REGISTER →
# 401 → REGISTER with credentials → 200, bench/sipp/register_load.xml)
# against bulwarkd and Kamailio 5.6, side by side in one run on the same
# machine: both servers run for the whole run and every rate step is run
# against bulwarkd, then at once against Kamailio, so both see the same
# machine. Two SIPp instances per step (-buff_size 4 MiB, own directories).
# Kamailio's configuration is KAMAILIO_CFG, by default the lean registrar
# bench/kamailio/registrar-lean.cfg (digest MD5 against an htable, usrloc in
# memory, children = cores); bench/kamailio/kamailio.cfg costs Kamailio 2-3x
# more and overstates our lead.
#
# Per step and server: successful/total calls, the rate SIPp really achieved
# (calls / wall time), server CPU µs per registration (utime+stime from
# /proc/PID/stat, summed over every process of the server's process group,
# read before and after the step), SIPp's CPU and everyone else's CPU
# (/proc/stat busy time minus server minus SIPp) during the step. A step
# counts as sustained when ≥ 99.9 % of the calls succeed and SIPp started
# them at ≥ 90 % of the target rate (from its per-second statistics). A failed step during which other processes
# used more than 0.2 core is re-run once. Then RSS with 100,000 live
# bindings (10 contacts × 10,000 extensions), counted from the daemon
# (MANY=0 leaves that part out). PERF=1 records bulwarkd with perf during
# its steps (KEEP=1 keeps the data). The ratio of CPU per registration,
# bulwarkd/Kamailio, is printed for every step both sustained.
#
# Fairness: Kamailio has no pike/ratelimit, so bulwarkd's guard trusts
# 127.0.0.0/8 for the run (trusted sources bypass the per-source rate
# limit; scanner filter and accounting stay on); the bench extensions have
# phone.qualify=false (Kamailio sends no OPTIONS). Both are printed.
# Build: optimised (release) — $BUILD is checked, build-perf is set up with
# -Dbuildtype=release when it is not. Bounded: about 6 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build-perf}
RATES=${RATES:-"8000 12000 16000 20000 24000"}
KAMAILIO_CFG=${KAMAILIO_CFG:-bench/kamailio/registrar-lean.cfg}
MANY=${MANY:-1}
STEP_S=${STEP_S:-8}
N=10000
FIRST=100000
CORES=$(nproc)
HZ=$(getconf CLK_TCK)
W=$(mktemp -d /tmp/bench_register.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	sleep 0.5
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	[ -z "${INST:-}" ] || nft delete table inet "bulwark_$INST" 2>/dev/null || true
	[ -n "${KEEP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT
for t in sipp kamailio python3 meson; do
	command -v $t >/dev/null || { echo "missing $t"; exit 1; }
done

# ---- an optimised build -----------------------------------------------------
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
# BW_BIN (and BW_CLI): another bulwarkd to measure, e.g. a build of an
# older commit for a before/after pair in the same conditions
BW=${BW_BIN:-$ROOT/$BUILD/src/daemon/bulwarkd}
CLI=${BW_CLI:-$ROOT/$BUILD/src/cli/bulwark}

free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# every process of a process group (a forking server)
members() { pgrep -g "$1" 2>/dev/null || true; }
ticks_of() { local tot=0 p; for p in "$@"; do
	[ -r /proc/$p/stat ] || continue
	tot=$((tot + $(awk '{print $14+$15}' /proc/$p/stat))); done; echo $tot; }
ticks_pg() { ticks_of $(members "$1"); }
busy_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }
pss_kb() { local tot=0 p; for p in $(members "$1"); do
	[ -r /proc/$p/smaps_rollup ] || continue
	tot=$((tot + $(awk '/^Pss:/{print $2}' /proc/$p/smaps_rollup))); done; echo $tot; }
rss_kb() { awk '/^VmRSS:/{print $2}' /proc/$1/status; }

# one step: two SIPp at rate/2 each; prints "ok total wall sipp_ticks"
run_step() { local port=$1 csv=$2 rate=$3 dir=$4 half=$(( $3 / 2 )) calls=$(( $3 / 2 * STEP_S ))
	local sp=() i t0 t1
	rm -rf "$dir"; t0=$(date +%s.%N)
	for i in 1 2; do mkdir -p "$dir/$i"
		( cd "$dir/$i" && exec timeout $((STEP_S * 4 + 20)) sipp 127.0.0.1:$port \
			-sf "$ROOT/bench/sipp/register_load.xml" -inf "$csv" \
			-i 127.0.0.1 -p 0 -mp 0 -r $half -rp 1000 -m $calls -l 50000 \
			-buff_size 4194304 -nostdin -timeout $((STEP_S * 4)) \
			-max_recv_loops 10000 -trace_stat -fd 1 -stf stat.csv \
			>out.txt 2>&1 ) & sp+=($!)
	done
	# SIPp's CPU: the last reading of each SIPp process before it exits
	local -A last=()
	local st=0 p
	while :; do local alive=0
		for i in "${sp[@]}"; do kill -0 "$i" 2>/dev/null && alive=1; done
		for p in $(for i in "${sp[@]}"; do pgrep -P "$i"; done); do
			last[$p]=$(ticks_of "$p"); done
		[ $alive = 1 ] || break; sleep 0.2; done
	for p in "${!last[@]}"; do st=$((st + ${last[$p]})); done
	for i in "${sp[@]}"; do wait "$i" || true; done
	t1=$(date +%s.%N)
	python3 - "$dir" "$t0" "$t1" "$st" <<'PY'
import csv, glob, sys
ok = tot = 0
rate = 0.0
def secs(v):   # SIPp elapsed time "HH:MM:SS:mmm..."
    p = v.split(":")
    return int(p[0]) * 3600 + int(p[1]) * 60 + int(p[2]) + (float("0." + p[3]) if len(p) > 3 else 0)
for f in glob.glob(sys.argv[1] + "/*/stat.csv"):
    rows = list(csv.reader(open(f), delimiter=";"))
    if len(rows) < 2: continue
    h, last = rows[0], rows[-1]
    s, fl, out = (int(last[h.index(k)]) for k in
                  ("SuccessfulCall(C)", "FailedCall(C)", "OutgoingCall(C)"))
    ok += s
    tot += max(out, s + fl)      # calls never finished are failures too
    # rate at which this SIPp really started calls: calls / time until the
    # first statistics row (one per second) that shows all of them
    oc, el = h.index("OutgoingCall(C)"), h.index("ElapsedTime(C)")
    for r in rows[1:]:
        if int(r[oc]) >= out:
            rate += out / max(secs(r[el]), 1.0)
            break
print(ok, tot, round(float(sys.argv[3]) - float(sys.argv[2]), 2), sys.argv[4], round(rate))
PY
}

# one step against one server, re-run once when others disturbed it;
# prints "pass cpu_us" and appends the step's line to steps.txt
step() { local tag=$1 pgid=$2 port=$3 csv=$4 r=$5 try
	for try in 1 2; do
		local c0 b0 c1 b1 ok total wall sipp_t ach line pass other pp= ps_=
		if [ -n "${PERF:-}" ] && [ "$tag" = bulwarkd ]; then
			perf record -q -g -p "$pgid" -o "$W/perf.$r.data" \
				>/dev/null 2>&1 & pp=$!
			perf stat -x, -p "$pgid" -o "$W/perf.$r.sys" -e \
				syscalls:sys_enter_recvmmsg,syscalls:sys_enter_sendmmsg,syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendto,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_futex \
				>/dev/null 2>&1 & ps_=$!
		fi
		c0=$(ticks_pg "$pgid"); b0=$(busy_ticks)
		read ok total wall sipp_t ach < <(run_step "$port" "$csv" "$r" "$W/$tag.$r")
		c1=$(ticks_pg "$pgid"); b1=$(busy_ticks)
		if [ -n "$pp" ]; then kill -INT $pp $ps_; wait $pp $ps_ || true
			echo "  bulwarkd system calls during the step ($ok registrations): $(grep syscalls "$W/perf.$r.sys" | awk -F, '{sub("syscalls:sys_enter_","",$3); printf "%s %s; ", $3, $1}')" >&2
			perf report -i "$W/perf.$r.data" --no-children --sort dso \
				--stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -12 \
				> "$W/perf.$r.dso.txt" || true
			echo "  bulwarkd perf (by object, $W/perf.$r.data): $(tr -s ' ' < "$W/perf.$r.dso.txt" | head -8 | tr '\n' ';')" >&2
		fi
		line=$(python3 - <<PY
ok, tot, wall, r = $ok, $total, $wall, $r
srv, sipp, busy = ($c1 - $c0) / $HZ, $sipp_t / $HZ, ($b1 - $b0) / $HZ
other = max(0.0, busy - srv - sipp)
pct = 100.0 * ok / max(tot, 1)
ach = $ach
us = srv * 1e6 / ok if ok else 0
good = tot > 0 and ok * 1000 >= tot * 999 and ach >= 0.9 * r
print(f"{int(good)} {other / wall:.2f} {us:.1f} | {r:>6}/s: {ok}/{tot} ok ({pct:.3f} %), SIPp started {ach:,.0f}/s, step took {wall:.1f} s, "
      f"server {us:.1f} us CPU/registration ({srv / wall:.2f} cores), SIPp {sipp / wall:.2f} cores, others {other / wall:.2f} cores")
PY
)
		pass=${line%% *}; other=$(echo "$line" | cut -d' ' -f2)
		echo "  $tag ${line#*| }" | tee -a "$W/steps.txt" >&2
		if [ "$pass" = 1 ]; then echo "1 $(echo "$line" | cut -d' ' -f3)"; return; fi
		[ $try = 1 ] || break
		python3 -c "import sys; sys.exit(0 if $other > 0.2 else 1)" || break
		echo "  $tag: other processes used $other cores during that step: re-running it" | tee -a "$W/steps.txt" >&2
		sleep 2
	done
	echo "0 $(echo "$line" | cut -d' ' -f3)"
}

echo "bench_register: $N extensions, rates: $RATES /s, ${STEP_S} s per step, 2 SIPp per step, $CORES cores, build $BUILD ($BT)"
echo "  load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- bulwarkd -----------------------------------------------------------------
BP=$(free_port); DATA=$W/bw; mkdir -p "$DATA"
# an instance of its own: its nftables table is not the host's inet bulwark
INST=
if "$BW" --help 2>/dev/null | grep -q -- --instance; then INST=bench_$$; fi
start_bw() { setsid "$BW" --data "$DATA" --sip 127.0.0.1:$BP ${INST:+--instance $INST} >>"$W/bulwarkd.log" 2>&1 & BWPID=$!; PIDS+=($BWPID)
	for _ in $(seq 200); do [ -S "$DATA/control.sock" ] && "$CLI" --data "$DATA" status >/dev/null 2>&1 && break; sleep 0.1; done; }
start_bw
C="$CLI --data $DATA"
BW_RSS_IDLE=$(rss_kb $BWPID)
$C settings set guard trusted=127.0.0.0/8 >/dev/null
$C ext add 99999 --type sip --name "Bench Template" --generate-password --generate-pin \
	--set auth.algorithms=md5 --set phone.max_contacts=10 --set phone.qualify=false >/dev/null
$C --json ext bulk --range $FIRST-$((FIRST + N - 1)) --type sip --template 99999 > "$W/created.json"
$C commit >/dev/null
python3 - "$W/created.json" "$W/bw.csv" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
def find(o):
    if isinstance(o, list) and o and isinstance(o[0], dict) and "number" in o[0]: return o
    if isinstance(o, dict):
        for v in o.values():
            r = find(v)
            if r: return r
    return None
rows = find(d)
with open(sys.argv[2], "w") as f:
    f.write("SEQUENTIAL\n")
    for r in rows: f.write(f'{r["number"]};{r["auth.password"]}\n')
PY
BW_RSS_PROV=$(rss_kb $BWPID)
# A restart drops the control plane's transient heap from provisioning
# 10,000 extensions at once: what is measured is the serving daemon.
kill $BWPID; wait $BWPID 2>/dev/null || true
start_bw
BW_RSS_START=$(rss_kb $BWPID)
echo "bulwarkd: guard configured for this run with 'bulwark settings set guard trusted=127.0.0.0/8' (trusted sources bypass the per-source rate limit; Kamailio has no pike/ratelimit); bench extensions: phone.qualify=false"
echo "bulwarkd: RSS idle ${BW_RSS_IDLE} kB, after provisioning $N extensions ${BW_RSS_PROV} kB, after restart ${BW_RSS_START} kB"

# ---- Kamailio -----------------------------------------------------------------
KP=$(free_port)
sed -e "s/BENCH_PORT_VALUE/$KP/; s/BENCH_CHILDREN_VALUE/$CORES/; s/BENCH_FIRST_VALUE/$FIRST/; s/BENCH_COUNT_VALUE/$N/" \
	"$KAMAILIO_CFG" > "$W/kamailio.cfg"
python3 -c "
with open('$W/k.csv','w') as f:
    f.write('SEQUENTIAL\n')
    for i in range($FIRST, $FIRST+$N): f.write(f'{i};kw{i}\n')"
setsid kamailio -f "$W/kamailio.cfg" -DD -E -m 256 -M 16 >"$W/kamailio.log" 2>&1 & KPID=$!; PIDS+=($KPID)
sleep 3
kill -0 $KPID || { echo "kamailio failed:"; tail "$W/kamailio.log"; exit 1; }
echo "kamailio: $KAMAILIO_CFG, $(members $KPID | wc -l) processes in its process group (CPU is summed over all of them), children=$CORES, $(kamailio -v | head -1)"

# ---- the ladder: each rate against bulwarkd, then against Kamailio ----------------
BW_RATE=0; BW_CPU=0; K_RATE=0; K_CPU=0; BW_UP=1; K_UP=1
: > "$W/ratios.txt"
for r in $RATES; do
	[ $BW_UP = 1 ] || [ $K_UP = 1 ] || break
	bp=0; kp=0; bc=0; kc=0
	if [ $BW_UP = 1 ]; then read bp bc < <(step bulwarkd $BWPID $BP "$W/bw.csv" $r)
		if [ "$bp" = 1 ]; then BW_RATE=$r; BW_CPU=$bc; else BW_UP=0; fi; sleep 1; fi
	if [ $K_UP = 1 ]; then read kp kc < <(step kamailio $KPID $KP "$W/k.csv" $r)
		if [ "$kp" = 1 ]; then K_RATE=$r; K_CPU=$kc; else K_UP=0; fi; sleep 1; fi
	# the ratio of every step both ran; marked when one did not sustain it
	python3 -c "
b, k = float('$bc' or 0), float('$kc' or 0)
if b and k:
    note = '' if '$bp$kp' == '11' else '  (not sustained by both: ratio of a disturbed step)'
    print(f'  {$r:>6}/s: bulwarkd {b} us, kamailio {k} us per registration: ratio {b / k:.2f}{note}')" \
		| tee -a "$W/ratios.txt" >&2
done
echo "bulwarkd CPU seconds per thread after the ladder: $(for t in /proc/$BWPID/task/*; do printf '%s=%s ' "$(cat $t/comm)" $(awk -v hz=$HZ '{printf "%.1f", ($14+$15)/hz}' $t/stat); done)" | tee -a "$W/steps.txt"
BW_RSS=$(rss_kb $BWPID)
NB10=$($C --json status | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("sip",d)["bindings"])')
echo "kamailio CPU seconds per process after the ladder: $(for p in $(members $KPID); do printf '%s ' $(awk -v hz=$HZ '{printf "%.1f", ($14+$15)/hz}' /proc/$p/stat); done)" | tee -a "$W/steps.txt"
K_PSS=$(pss_kb $KPID)

# ---- 100,000 live bindings --------------------------------------------------------
many() { ( cd "$W" && timeout 120 sipp 127.0.0.1:$1 -sf "$ROOT/bench/sipp/register_many.xml" -inf "$2" \
	-i 127.0.0.1 -p 0 -mp 0 -r 5000 -m 90000 -l 50000 -buff_size 4194304 -nostdin \
	-timeout 100 >/dev/null 2>&1 || true ); sleep 2; }
if [ "$MANY" = 1 ]; then
many $BP "$W/bw.csv"
NB=$($C --json status | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("sip",d)["bindings"])')
NR=$($C --json registrations | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
BW_RSS100=$(rss_kb $BWPID); BW_PSS100=$(pss_kb $BWPID)
many $KP "$W/k.csv"
K_PSS100=$(pss_kb $KPID)
fi

echo
echo "== steps =="
cat "$W/steps.txt"
echo "== CPU per registration at the same rate, bulwarkd/kamailio (goal <= 0.5) =="
cat "$W/ratios.txt"
echo "== results (one run, same machine, $CORES cores, bulwarkd build: $BT) =="
printf "%-10s %14s %22s %28s\n" server "max rate/s" "CPU us/registration" "memory (10,000 ext., ~20,000 bindings)"
printf "%-10s %14s %22s %28s\n" bulwarkd "$BW_RATE" "$BW_CPU" "RSS ${BW_RSS} kB ($NB10 bindings)"
printf "%-10s %14s %22s %28s\n" kamailio "$K_RATE" "$K_CPU" "PSS ${K_PSS} kB"
python3 - <<PY
b, k = float("$BW_CPU" or 0), float("$K_CPU" or 0)
print(f"CPU per registration at each one's highest sustained rate, bulwarkd/kamailio: {b / k:.2f}" if k and b else "CPU ratio: n/a")
br, kr = float("$BW_RATE"), float("$K_RATE")
print(f"highest sustained rate bulwarkd/kamailio: {br / kr:.2f}" if kr else "rate ratio: n/a")
print(f"memory bulwarkd RSS / kamailio PSS: {$BW_RSS / max($K_PSS, 1):.2f}")
PY
[ "$MANY" = 1 ] && echo "bulwarkd with $NB live bindings (registrations --json: $NR): RSS ${BW_RSS100} kB, PSS ${BW_PSS100} kB (target RSS < 100 MB)"
[ "$MANY" = 1 ] && echo "kamailio after the same 90,000 extra registrations: PSS ${K_PSS100} kB"
echo "(the highest rate is capped by the steps tried: RATES=\"$RATES\"; SIPp and both servers share $CORES cores)"
