#!/usr/bin/env bash
# Guard benchmark, one run:
#  1. guard cost per call (bench/guard_bench.c): guard_packet for legit,
#     spoofed-source and banned traffic, a 90/10 mix, guard_auth_result,
#     guard_request.
#  2. legitimate registration throughput (SIPp, 1,000 extensions, MD5
#     digest) against the real bulwarkd in a network namespace:
#       a. alone;
#       b. with a concurrent wrong-password flood at 5,000/s from another
#          address (banned after 5 attempts, then dropped by the kernel);
#       c. the same flood with kernel offload off (guard.offload=false:
#          the banned flood is dropped in user space by guard_packet).
#     For each: registrations/s, success %, bulwarkd CPU µs/registration
#     (from /proc/PID/stat), kernel drops (guard_in counters).
# Needs root (ip netns, nft), sipp. Prints a table; `make bench` tees it.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ITER=${GUARD_BENCH_ITER:-2000000}
REGS=${GUARD_BENCH_REGS:-20000}
RATE=${GUARD_BENCH_RATE:-4000}

echo "## guard cost per call ($ITER iterations, wall clock incl. clock_gettime)"
"$BUILD/bench/guard_bench" "$ITER" 2>/dev/null

if [ "$(id -u)" != 0 ] || ! command -v sipp >/dev/null; then
	echo "## registration throughput: skipped (needs root and sipp)"
	exit 0
fi

BUILD="$BUILD" REGS="$REGS" RATE="$RATE" /usr/bin/python3 - <<'EOF'
import csv, json, os, pathlib, random, shutil, subprocess, sys, tempfile, time

BUILD = pathlib.Path(os.environ["BUILD"]).resolve()
REGS = int(os.environ["REGS"]); RATE = int(os.environ["RATE"])
D = BUILD / "src/daemon/bulwarkd"; C = BUILD / "src/cli/bulwark"
tmp = pathlib.Path(tempfile.mkdtemp(prefix="bench_guard."))
tag = f"{os.getpid() % 10000}"
NS, HI, NI = f"bwb{tag}", f"vhb{tag}", f"vnb{tag}"
net = f"10.{random.randint(100, 250)}.{random.randint(1, 250)}"
SRV, ATT, LEG = f"{net}.1", f"{net}.2", f"{net}.3"
PW = "Kq7Vx9Zr2Pw"

def sh(*a, check=True, **kw):
    return subprocess.run(list(map(str, a)), capture_output=True, text=True,
                          check=check, timeout=60, **kw)

def nsx(*a, **kw):
    return sh("ip", "netns", "exec", NS, *a, **kw)

def pw_for(n):
    return PW + "".join(f"{c}z" for c in str(n))

def cpu_ticks(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])

def drops():
    out = nsx("nft", "-j", "list", "chain", "inet", "bulwark", "guard_in",
              check=False).stdout
    n = 0
    try:
        for it in json.loads(out)["nftables"]:
            for e in it.get("rule", {}).get("expr", []):
                if "counter" in e:
                    n += e["counter"]["packets"]
    except (ValueError, KeyError):
        pass
    return n

REG = open(pathlib.Path("tests/integration/test_guard_attacks.py")).read()
XML = REG.split('REG_XML = """', 1)[1].split('"""', 1)[0]

def sipp(wd, ip, port, users, rate, count, ok, timeout):
    wd.mkdir(parents=True, exist_ok=True)
    (wd / "reg.xml").write_text(XML.replace(
        "RESULT", '<recv response="200"/>' if ok else '<recv response="403"/>'))
    (wd / "u.csv").write_text("SEQUENTIAL\n" +
                              "".join(f"{u};{p}\n" for u, p in users))
    return subprocess.Popen(
        ["sipp", f"{SRV}:5060", "-sf", "reg.xml", "-inf", "u.csv", "-i", ip,
         "-p", str(port), "-mp", str(port + 10000), "-r", str(rate),
         "-m", str(count), "-nostdin", "-timeout", f"{timeout}s",
         "-buff_size", "4194304", "-trace_stat", "-stf", "s.csv", "-fd", "1"]
        + ([] if ok else ["-recv_timeout", "1000"]),
        cwd=wd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

def result(p, wd, t):
    try:
        p.wait(t)
    except subprocess.TimeoutExpired:
        p.kill(); p.wait(5)
    rows = list(csv.reader(open(wd / "s.csv"), delimiter=";"))
    h, l = rows[0], rows[-1]
    return int(l[h.index("SuccessfulCall(C)")]), int(l[h.index("FailedCall(C)")])

proc = None
try:
    sh("ip", "netns", "add", NS)
    sh("ip", "link", "add", HI, "type", "veth", "peer", "name", NI)
    sh("ip", "link", "set", NI, "netns", NS)
    sh("ip", "addr", "add", f"{ATT}/24", "dev", HI)
    sh("ip", "addr", "add", f"{LEG}/24", "dev", HI)
    sh("ip", "link", "set", HI, "up")
    nsx("ip", "addr", "add", f"{SRV}/24", "dev", NI)
    nsx("ip", "link", "set", NI, "up"); nsx("ip", "link", "set", "lo", "up")
    data = tmp / "data"; data.mkdir()
    log = open(tmp / "bulwarkd.log", "wb")
    proc = subprocess.Popen(["ip", "netns", "exec", NS, str(D), "--data",
                             str(data), "--sip", f"{SRV}:5060"],
                            stdout=log, stderr=subprocess.STDOUT)
    for _ in range(200):
        if (data / "control.sock").exists():
            break
        time.sleep(0.05)
    time.sleep(0.3)
    cli = lambda *a: sh(C, "--data", data, *a, check=False)
    exts = list(range(3000, 4000))
    rows = ["number,type,name,auth.password,voicemail.pin,auth.algorithms"]
    rows += [f"{n},sip,Ada Lovelace,{pw_for(n)},729146,md5" for n in exts + [201]]
    (tmp / "e.csv").write_text("\n".join(rows) + "\n")
    r = cli("ext", "import", tmp / "e.csv")
    assert r.returncode == 0, r.stderr
    # One SIPp address stands for 1,000 phones: lift the per-source rate
    # limit for credited sources (default 2,000 req/s) so the registrar,
    # not the limiter, is measured.
    assert cli("guard", "set", "rate_auth=1000000",
               "burst_auth=1000000").returncode == 0
    assert cli("commit").returncode == 0
    users = [(n, pw_for(n)) for n in exts]
    print(f"\n## legitimate registrations: {REGS} at {RATE}/s offered, "
          f"1,000 extensions, MD5 digest, one SIPp per side")
    print(f"{'phase':<34}{'regs/s':>9}{'success':>10}{'cpu µs/reg':>12}"
          f"{'kernel drops':>14}{'attacker answered':>19}")
    port = 20000
    for phase in ("alone", "flood 5000/s, kernel offload",
                  "flood 5000/s, user-space drop"):
        if "user-space" in phase:
            cli("guard", "set", "offload=false"); cli("commit")
            time.sleep(0.5)
        cli("bans", "rm", ATT)
        d0 = drops()
        att = None
        if "flood" in phase:
            dur = REGS / RATE + 2
            att = sipp(tmp / f"a{port}", ATT, port + 1, [(201, "1234")], 5000,
                       int(5000 * dur), False, int(dur) + 5)
            time.sleep(0.5)
        c0 = cpu_ticks(proc.pid); t0 = time.time()
        leg = sipp(tmp / f"l{port}", LEG, port, users, RATE, REGS, True, 120)
        ok, bad = result(leg, tmp / f"l{port}", 180)
        el = time.time() - t0; c1 = cpu_ticks(proc.pid)
        aok = "-"
        if att:
            aok, _ = result(att, tmp / f"a{port}", 60)
        tick = os.sysconf("SC_CLK_TCK")
        cpu_us = (c1 - c0) / tick * 1e6 / max(ok, 1)
        print(f"{phase:<34}{ok / el:>9.0f}{100.0 * ok / max(ok + bad, 1):>9.2f}%"
              f"{cpu_us:>12.1f}{drops() - d0:>14}{aok:>19}")
        port += 100
    st = json.loads(cli("guard", "show", "--json").stdout)["status"]
    print("guard counters:", json.dumps(st["counters"]))
finally:
    if proc:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    sh("ip", "link", "del", HI, check=False)
    sh("ip", "netns", "del", NS, check=False)
    shutil.rmtree(tmp, ignore_errors=True)
EOF
