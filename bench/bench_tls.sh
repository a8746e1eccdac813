#!/usr/bin/env bash
# bench_tls.sh — SIP over TLS registrations, bulwarkd beside Kamailio 5.6's
# tls.so, in one run on the same machine, with the same client
# (bench/tls_reg.py: SIPp 3.6 has no TLS) and the same certificate (the
# ECDSA P-256 one bulwarkd generates; Kamailio is given it):
#
#   keep: registrations over long-lived TLS connections (REGISTER -> 401 ->
#         REGISTER with credentials -> 200), the steady state of phones;
#   conn: a new TLS connection with a full handshake per registration,
#         closed after the 200 — what a handshake costs.
#
# Per server and mode: registrations per second the client achieved (the
# client is Python and shares the cores: the rate is the client's limit as
# much as the server's) and the server's CPU per registration (utime+stime
# of its whole process group from /proc, before/after). CPU per handshake
# is the conn cost minus the keep cost. Kamailio's configuration is
# bench/kamailio/registrar-lean.cfg with TLS added (tls.cfg: TLSv1.2+, no
# client certificate). Bounded: about a minute.
#
# Kamailio 5.6.3 with OpenSSL 3 crashed here under new-connection load with
# tcp_children=2 ("qm_free(): BUG: freeing already freed pointer ... tls:
# tls_init.c", then signal 6 — OpenSSL 3's allocations in shared memory
# raced between processes): KTCP (default 1) TLS worker process for it;
# bulwarkd's SIP loop is one thread too.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build-perf}
SECS=${SECS:-8}
WORKERS=${WORKERS:-2}
HOLD=${HOLD:-1000}
KTCP=${KTCP:-1}
N=1000
FIRST=100000
CORES=$(nproc)
HZ=$(getconf CLK_TCK)
W=$(mktemp -d /tmp/bench_tls.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	sleep 0.5
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	[ -z "${INST:-}" ] || nft delete table inet "bulwark_$INST" 2>/dev/null || true
	[ -n "${KEEP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT
for t in kamailio python3 meson; do
	command -v $t >/dev/null || { echo "missing $t"; exit 1; }
done
[ -e /usr/lib/x86_64-linux-gnu/kamailio/modules/tls.so ] ||
	{ echo "missing kamailio-tls-modules"; exit 1; }

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
BW=$ROOT/$BUILD/src/daemon/bulwarkd
CLI=$ROOT/$BUILD/src/cli/bulwark

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
members() { pgrep -g "$1" 2>/dev/null || true; }
ticks_of() { local tot=0 p; for p in "$@"; do
	[ -r /proc/$p/stat ] || continue
	tot=$((tot + $(awk '{print $14+$15}' /proc/$p/stat))); done; echo $tot; }
ticks_pg() { ticks_of $(members "$1"); }
busy_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }
pss_kb() { local tot=0 p; for p in $(members "$1"); do
	[ -r /proc/$p/smaps_rollup ] || continue
	tot=$((tot + $(awk '/^Pss:/{print $2}' /proc/$p/smaps_rollup))); done; echo $tot; }
# memory of the server's process group (PSS, summed) while HOLD TLS
# connections are open, each past one OPTIONS; prints the kB per connection
mem_per_conn() { local pgid=$1 port=$2 m0 m1 fifo=$W/hold.$1
	m0=$(pss_kb "$pgid"); mkfifo "$fifo"
	( timeout 120 python3 "$ROOT/bench/tls_hold.py" "$HOLD" 127.0.0.1 "$port" < "$fifo" > "$W/hold.out" 2>&1 ) & local hp=$!
	exec 9>"$fifo"
	for _ in $(seq 600); do grep -q ready "$W/hold.out" 2>/dev/null && break; sleep 0.1; done
	sleep 1; m1=$(pss_kb "$pgid")
	exec 9>&-; wait $hp || true; rm -f "$fifo"
	grep -q ready "$W/hold.out" || { echo "n/a"; return; }
	python3 -c "print(f'{($m1 - $m0) / $HOLD:.1f}')"; }

# one run: prints "ok rate us_per_registration others_cores"
run() { local tag=$1 pgid=$2 port=$3 csv=$4 mode=$5 c0 c1 b0 b1 out
	c0=$(ticks_pg "$pgid"); b0=$(busy_ticks)
	out=$(timeout $((SECS * 3 + 20)) python3 "$ROOT/bench/tls_reg.py" "$mode" 127.0.0.1 "$port" "$csv" "$SECS" "$WORKERS")
	c1=$(ticks_pg "$pgid"); b1=$(busy_ticks)
	python3 - "$out" <<PY
import json, sys
r = json.loads(sys.argv[1])
srv = ($c1 - $c0) / $HZ
us = srv * 1e6 / r["ok"] if r["ok"] else 0
print(r["ok"], r["failed"], r["rate"], f"{us:.0f}", f"{srv / r['seconds']:.2f}")
PY
}

echo "bench_tls: $N extensions, ${SECS} s per run, $WORKERS client processes (Python), $CORES cores, build $BUILD ($BT)"
echo "  load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- bulwarkd -------------------------------------------------------------------
BP=$(free_port); TP=$(free_port); DATA=$W/bw; mkdir -p "$DATA"
INST=bench_tls_$$
setsid "$BW" --data "$DATA" --sip 127.0.0.1:$BP --sip-tls 127.0.0.1:$TP --instance $INST >>"$W/bulwarkd.log" 2>&1 & BWPID=$!; PIDS+=($BWPID)
for _ in $(seq 200); do [ -S "$DATA/control.sock" ] && "$CLI" --data "$DATA" status >/dev/null 2>&1 && break; sleep 0.1; done
C="$CLI --data $DATA"
$C settings set guard trusted=127.0.0.0/8 >/dev/null
$C settings set sip tls_handshakes=1024 tcp_per_source=4096 >/dev/null
$C ext add 99999 --type sip --name "Bench Template" --generate-password --generate-pin \
	--set auth.algorithms=md5 --set phone.max_contacts=10 --set phone.qualify=false \
	--set phone.transports=tls >/dev/null
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
with open(sys.argv[2], "w") as f:
    for r in find(d): f.write(f'{r["number"]};{r["auth.password"]}\n')
PY
echo "bulwarkd: guard trusts 127.0.0.0/8 for the run; sip.tls_handshakes=1024, sip.tcp_per_source=4096 (one client address); extensions TLS only, qualify off"

# ---- Kamailio with tls.so ------------------------------------------------------------
KP=$(free_port); KT=$(free_port)
cat > "$W/tls.cfg" <<EOF
[server:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
private_key = $DATA/tls/sip.key
certificate = $DATA/tls/sip.crt
EOF
sed -e "s/BENCH_PORT_VALUE/$KP/; s/BENCH_CHILDREN_VALUE/$CORES/; s/BENCH_FIRST_VALUE/$FIRST/; s/BENCH_COUNT_VALUE/$N/" \
	-e "s/^disable_tcp=yes/disable_tcp=no\nenable_tls=yes\ntcp_children=$KTCP\nlisten=tls:127.0.0.1:$KT/" \
	-e "s|^loadmodule \"kex.so\"|loadmodule \"kex.so\"\nloadmodule \"tls.so\"\nmodparam(\"tls\", \"config\", \"$W/tls.cfg\")|" \
	-e "s|unix:/tmp/kamailio_bench_ctl|unix:$W/kamailio_ctl|" \
	bench/kamailio/registrar-lean.cfg > "$W/kamailio.cfg"
python3 -c "
with open('$W/k.csv','w') as f:
    for i in range($FIRST, $FIRST+$N): f.write(f'{i};kw{i}\n')"
setsid kamailio -f "$W/kamailio.cfg" -DD -E -m 256 -M 16 >"$W/kamailio.log" 2>&1 & KPID=$!; PIDS+=($KPID)
sleep 3
kill -0 $KPID || { echo "kamailio failed:"; tail "$W/kamailio.log"; exit 1; }
echo "kamailio: registrar-lean.cfg + tls.so (TLSv1.2+), children=$CORES, tcp_children=$KTCP, $(members $KPID | wc -l) processes, $(kamailio -v | head -1)"

# ---- runs: keep then conn, bulwarkd then Kamailio --------------------------------
declare -A R
for mode in keep conn; do
	for tag in bulwarkd kamailio; do
		if [ $tag = bulwarkd ]; then line=$(run $tag $BWPID $TP "$W/bw.csv" $mode)
		else line=$(run $tag $KPID $KT "$W/k.csv" $mode); fi
		read ok failed rate us cores <<<"$line"
		R[$tag.$mode]=$us; R[$tag.$mode.rate]=$rate
		printf "  %-8s %-4s: %7s ok, %4s failed, %8s registrations/s, server %6s us CPU/registration (%s cores)\n" \
			$tag $mode "$ok" "$failed" "$rate" "$us" "$cores"
		sleep 1
	done
done
BM=$(mem_per_conn $BWPID $TP); KM=$(mem_per_conn $KPID $KT)
echo "  memory per open TLS connection ($HOLD held, PSS of the process group): bulwarkd $BM kB, kamailio $KM kB"
python3 - <<PY
bk, bc = float("${R[bulwarkd.keep]}"), float("${R[bulwarkd.conn]}")
kk, kc = float("${R[kamailio.keep]}"), float("${R[kamailio.conn]}")
print("== ratios, bulwarkd/kamailio (same client, same certificate, one run) ==")
print(f"CPU per registration over kept TLS connections: {bk:.0f} / {kk:.0f} us = {bk / kk:.2f}")
print(f"CPU per registration with a new TLS connection: {bc:.0f} / {kc:.0f} us = {bc / kc:.2f}")
print(f"CPU per TLS handshake (conn - keep): {bc - bk:.0f} / {kc - kk:.0f} us = {(bc - bk) / (kc - kk):.2f}")
br, kr = float("${R[bulwarkd.keep.rate]}"), float("${R[kamailio.keep.rate]}")
print(f"registrations/s over kept connections (client-bound): {br:.0f} / {kr:.0f} = {br / kr:.2f}")
br, kr = float("${R[bulwarkd.conn.rate]}"), float("${R[kamailio.conn.rate]}")
print(f"TLS registrations/s with a handshake each (client-bound): {br:.0f} / {kr:.0f} = {br / kr:.2f}")
try:
    print(f"memory per open TLS connection: {float('$BM'):.1f} / {float('$KM'):.1f} kB = {float('$BM') / float('$KM'):.2f}")
except ValueError:
    print("memory per open TLS connection: n/a")
PY
