"""The guard through the real daemon, its CLI and API, inside a network
namespace so that kernel bans (nftables set ban4, chain guard_in) can be
read with `nft` without touching the host's ruleset.

Also holds the namespace helpers used by test_guard_attacks.py.
"""
import json
import os
import random
import shutil
import subprocess
import time

import pytest

from conftest import BULWARK, Daemon, wait_for  # noqa: F401 (re-exported)

STRONG = "Kq7Vx9Zr2Pw"


def _run(*args, check=True, timeout=20):
    return subprocess.run(list(args), capture_output=True, text=True,
                          check=check, timeout=timeout)


def netns_available():
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("nft"):
        return False
    name = f"bwgprobe{os.getpid() % 100000}"
    r = _run("ip", "netns", "add", name, check=False)
    if r.returncode:
        return False
    _run("ip", "netns", "del", name, check=False)
    return True


class NetNS:
    """A namespace with one veth pair: the daemon's side SERVER inside,
    the host side with two addresses: ATTACKER (primary: tools that cannot
    bind, like svwar/svcrack, come from it) and LEGIT."""

    def __init__(self):
        tag = f"{os.getpid() % 10000}{random.randint(0, 999)}"
        self.name = f"bwg{tag}"
        self.host_if = f"vh{tag}"
        self.ns_if = f"vn{tag}"
        net = f"10.{random.randint(100, 250)}.{random.randint(1, 250)}"
        self.server = f"{net}.1"
        self.attacker = f"{net}.2"
        self.legit = f"{net}.3"
        _run("ip", "netns", "add", self.name)
        try:
            _run("ip", "link", "add", self.host_if, "type", "veth",
                 "peer", "name", self.ns_if)
            _run("ip", "link", "set", self.ns_if, "netns", self.name)
            _run("ip", "addr", "add", f"{self.attacker}/24", "dev",
                 self.host_if)
            _run("ip", "addr", "add", f"{self.legit}/24", "dev", self.host_if)
            _run("ip", "link", "set", self.host_if, "up")
            self.exec("ip", "addr", "add", f"{self.server}/24", "dev",
                      self.ns_if)
            self.exec("ip", "link", "set", self.ns_if, "up")
            self.exec("ip", "link", "set", "lo", "up")
        except Exception:
            self.close()
            raise

    def exec(self, *args, check=True, timeout=20):
        return _run("ip", "netns", "exec", self.name, *args, check=check,
                    timeout=timeout)

    def nft(self, *args):
        return self.exec("nft", *args, check=False).stdout

    def ban4(self):
        return self.nft("list", "set", "inet", "bulwark", "ban4")

    def guard_drops(self):
        """Packets dropped by the guard_in rules (sum of counters)."""
        out = self.nft("-j", "list", "chain", "inet", "bulwark", "guard_in")
        total = 0
        try:
            for item in json.loads(out)["nftables"]:
                for e in item.get("rule", {}).get("expr", []):
                    if "counter" in e:
                        total += e["counter"]["packets"]
        except (ValueError, KeyError):
            pass
        return total

    def count_answers_to(self, addr):
        """A test-only table in this namespace counting what the daemon
        sends to addr (SIP answers)."""
        script = ("add table inet bwtest\n"
                  "add chain inet bwtest out { type filter hook output "
                  "priority 0; policy accept; }\n"
                  "flush chain inet bwtest out\n"
                  f"add rule inet bwtest out ip daddr {addr} udp sport 5060 "
                  "counter\n")
        p = subprocess.run(["ip", "netns", "exec", self.name, "nft", "-f",
                            "-"], input=script, text=True,
                           capture_output=True, timeout=20)
        assert p.returncode == 0, p.stderr

    def answers(self):
        out = self.nft("-j", "list", "chain", "inet", "bwtest", "out")
        try:
            for item in json.loads(out)["nftables"]:
                for e in item.get("rule", {}).get("expr", []):
                    if "counter" in e:
                        return e["counter"]["packets"]
        except (ValueError, KeyError):
            pass
        return 0

    def close(self):
        _run("ip", "link", "del", self.host_if, check=False)
        _run("ip", "netns", "del", self.name, check=False)


class NsDaemon(Daemon):
    """bulwarkd inside a namespace (control.sock is a path: the CLI and
    API reach it from the host). prefix wraps the command (e.g. capsh)."""

    def __init__(self, data_dir, ns, prefix=(), **kw):
        super().__init__(data_dir, sip_addr=ns.server, sip_port=5060, **kw)
        self.ns = ns
        self.prefix = list(prefix)

    def launcher(self):
        return ["ip", "netns", "exec", self.ns.name, *self.prefix]


needs_netns = pytest.mark.skipif(not netns_available(),
                                 reason="needs root and ip netns / nft")


@pytest.fixture
def ns():
    n = NetNS()
    yield n
    n.close()


@pytest.fixture
def nsd(ns, tmp_path):
    started = []

    def make(prefix=()):
        d = NsDaemon(tmp_path / f"data{len(started)}", ns, prefix=prefix)
        started.append(d)
        return d.start()
    yield make
    for d in started:
        try:
            d.stop()
        except Exception:
            pass


def events(d, kind=None):
    r = d.cli("events", "--json")
    assert r.returncode == 0, r
    evs = [json.loads(line) for line in r.stdout.splitlines() if line]
    return [e for e in evs if kind is None or e["type"] == kind]


@needs_netns
def test_manual_ban_kernel_set_and_unban(nsd, ns):
    d = nsd()
    r = d.cli("guard", "show")
    assert r.returncode == 0, r
    assert "kernel offload: active" in r.stdout

    r = d.cli("bans", "add", "198.51.100.7", "--for", "10m")
    assert r.returncode == 0, r
    bans = d.cli("bans", "--json").json
    assert [b["source"] for b in bans] == ["198.51.100.7"]
    assert bans[0]["reason"] == "manual"
    assert 590 <= bans[0]["time_left"] <= 600
    assert wait_for(lambda: "198.51.100.7" in ns.ban4()), ns.ban4()
    table = d.cli("bans")
    assert "198.51.100.7" in table.stdout and "TIME_LEFT" in table.stdout

    r = d.cli("bans", "rm", "198.51.100.7")
    assert r.returncode == 0, r
    assert d.cli("bans", "--json").json == []
    assert wait_for(lambda: "198.51.100.7" not in ns.ban4()), ns.ban4()
    kinds = [e["type"] for e in events(d)]
    assert "ban" in kinds and "unban" in kinds

    # Bad input: clear refusal, nothing changed.
    r = d.cli("bans", "add", "not-an-address")
    assert r.returncode == 1 and "not an IPv4 address" in r.stderr, r
    r = d.cli("bans", "add", "198.51.100.8", "--for", "soon")
    assert r.returncode == 1 and "duration" in r.stderr, r
    r = d.cli("bans", "rm", "198.51.100.9")
    assert r.returncode == 1 and "not banned" in r.stderr, r
    assert d.cli("bans", "--json").json == []


@needs_netns
def test_trust_never_banned(nsd, ns):
    d = nsd()
    r = d.cli("trust", "add", "203.0.113.0/24", "--for", "1h")
    assert r.returncode == 0, r
    r = d.cli("bans", "add", "203.0.113.9")
    assert r.returncode == 1 and "trusted" in r.stderr, r
    nets = d.cli("trust", "list", "--json").json
    assert any(t["network"] == "203.0.113.0/24" and 3500 < t["expires_in"]
               <= 3600 for t in nets), nets
    # Configured trusted networks (the section) too, staged + committed.
    r = d.cli("guard", "set", "trusted=192.0.2.0/24,2001:db8::/32")
    assert r.returncode == 0, r
    assert d.cli("commit").returncode == 0
    r = d.cli("bans", "add", "192.0.2.1")
    assert r.returncode == 1 and "trusted" in r.stderr, r


@needs_netns
def test_guard_set_validation_and_commit(nsd):
    d = nsd()
    r = d.cli("guard", "set", "fail_threshold=0")
    assert r.returncode == 1, r
    assert "guard.fail_threshold" in r.stderr and "1 to 32" in r.stderr, r
    r = d.cli("guard", "set", "trusted=10.0.0.0/8,bogus")
    assert r.returncode == 1 and "bogus" in r.stderr, r
    r = d.cli("guard", "set", "no_such_key=1")
    assert r.returncode == 1 and "no_such_key" in r.stderr, r
    r = d.cli("guard", "set", "fail_threshold=3", "ban_base=120")
    assert r.returncode == 0, r
    show = d.cli("guard", "show", "--json").json
    assert show["settings"]["running"]["fail_threshold"] == 5
    assert d.cli("commit").returncode == 0
    show = d.cli("guard", "show", "--json").json
    assert show["settings"]["running"]["fail_threshold"] == 3
    # The loop got it: a manual ban now defaults to ban_base.
    assert d.cli("bans", "add", "198.51.100.20").returncode == 0
    assert d.cli("bans", "--json").json[0]["time_left"] <= 120


@needs_netns
def test_bans_persist_and_reinstall(nsd, ns, tmp_path):
    d = nsd()
    assert d.cli("bans", "add", "198.51.100.30", "--for", "1h").returncode == 0
    assert wait_for(lambda: "198.51.100.30" in ns.ban4())
    d.stop()
    # Whatever is in the kernel now goes away; the daemon puts it back.
    ns.nft("flush", "set", "inet", "bulwark", "ban4")
    assert "198.51.100.30" not in ns.ban4()
    d.start()
    bans = d.cli("bans", "--json").json
    assert [b["source"] for b in bans] == ["198.51.100.30"]
    assert bans[0]["time_left"] > 3500
    assert wait_for(lambda: "198.51.100.30" in ns.ban4()), ns.ban4()
    # security.log: JSON lines, no secret material.
    lines = (d.data_dir / "security.log").read_text().splitlines()
    assert lines and all(json.loads(x)["type"] for x in lines)


@needs_netns
def test_offload_unavailable_falls_back(nsd, ns):
    if not shutil.which("capsh"):
        pytest.skip("capsh not installed")
    d = nsd(prefix=("capsh", "--drop=cap_net_admin", "--", "-c",
                   'exec "$0" "$@"'))
    status = wait_for(lambda: "unavailable" in d.cli("guard", "show").stdout)
    assert status, d.cli("guard", "show").stdout
    st, body = d.api("GET", "/guard/status")
    assert st == 200 and body["offload_active"] is False
    assert body["kernel_offload"].startswith("unavailable (")
    # Bans still work, in user space.
    assert d.cli("bans", "add", ns.attacker).returncode == 0
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((ns.attacker, 0))
        s.settimeout(1.0)
        s.sendto(b"OPTIONS sip:x@" + ns.server.encode() +
                 b" SIP/2.0\r\nVia: SIP/2.0/UDP " + ns.attacker.encode() +
                 b";branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: "
                 b"<sip:x@y>\r\nCall-ID: 1\r\nCSeq: 1 OPTIONS\r\n"
                 b"Content-Length: 0\r\n\r\n", (ns.server, 5060))
        with pytest.raises(socket.timeout):
            s.recv(2000)
    st, body = d.api("GET", "/guard/status")
    assert body["counters"]["dropped_banned"] >= 1


@needs_netns
def test_events_follow(nsd):
    import threading
    d = nsd()
    proc = subprocess.Popen([str(BULWARK), "--data", str(d.data_dir),
                             "events", "--follow", "--json"],
                            stdout=subprocess.PIPE, text=True)
    lines = []
    t = threading.Thread(target=lambda: lines.extend(proc.stdout),
                         daemon=True)
    t.start()
    try:
        time.sleep(0.5)
        assert d.cli("bans", "add", "198.51.100.40").returncode == 0
        got = wait_for(lambda: [json.loads(x) for x in list(lines)
                                if '"ban"' in x and "198.51.100.40" in x])
        assert got and got[0]["reason"] == "manual", lines
    finally:
        proc.terminate()
        proc.wait(5)


def test_status_shows_guard_offload_state(daemon):
    """`bulwark status` says whether bans reach the kernel (issue 4:
    without nftables rights, fall back to user space and say so)."""
    r = daemon.cli("--json", "status")
    assert r.returncode == 0, r
    g = r.json["guard"]
    assert g["state"] == "running"
    assert isinstance(g["kernel_offload"], str) and g["kernel_offload"]
    assert isinstance(g["offload_active"], bool)
    r = daemon.cli("status")
    assert r.returncode == 0, r
    assert "kernel offload" in r.stdout and g["kernel_offload"] in r.stdout


def test_unban_events_expired_and_admin(daemon):
    """Issue 4 asks for security events on ban and unban: a ban whose time
    passes is reported once as unban "expired" by the daemon's own sweep
    (no request needed), one lifted by the admin as unban "admin", both
    with how long the ban lasted and its offence level."""
    d = daemon
    assert d.cli("bans", "add", "198.51.100.41", "--for", "2s").returncode == 0
    assert d.cli("bans", "add", "198.51.100.42").returncode == 0
    time.sleep(1.0)
    assert d.cli("bans", "rm", "198.51.100.42").returncode == 0

    def unbans():
        return [e for e in events(d, "unban")
                if e["source"] in ("198.51.100.41", "198.51.100.42")]
    got = wait_for(lambda: len(unbans()) >= 2 and unbans(), timeout=8)
    assert got, events(d)
    by = {e["source"]: e for e in got}
    assert by["198.51.100.41"]["reason"] == "expired"
    assert by["198.51.100.41"]["seconds"] == 2
    assert by["198.51.100.41"]["offences"] == 1
    assert by["198.51.100.41"]["ban_reason"] == "manual"
    assert by["198.51.100.42"]["reason"] == "admin"
    assert by["198.51.100.42"]["seconds"] in (0, 1, 2)
    time.sleep(2.5)   # more sweeps: still exactly once
    assert len(unbans()) == 2, unbans()
    assert d.cli("bans", "--json").json == []
