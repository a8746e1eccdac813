"""The firewall on the real kernel, in network namespaces.

Topology (one set of namespaces for the module, torn down in a finally):

    WAN peer ns  eth0 198.51.100.2/24 ── wan0 198.51.100.1/24 ┐
                                                               ├ Bulwark ns
    LAN peer ns  eth0 10.77.0.2/24    ── lan0 10.77.0.1/24    ┘ (bulwarkd)

The LAN peer routes via 10.77.0.1; the WAN peer has no route to 10.77.0.0/24,
so a LAN host can only reach the WAN peer through the gateway's masquerade.
bulwarkd runs inside the Bulwark ns; the CLI talks to it through its control
socket (a path: reachable from any namespace).
"""
import os
import shutil
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import Daemon

SUFFIX = f"{os.getpid() % 100000}"
NS_HOST = f"bwfw_host_{SUFFIX}"
NS_WAN = f"bwfw_wan_{SUFFIX}"
NS_LAN = f"bwfw_lan_{SUFFIX}"
HOST_WAN, PEER_WAN = "198.51.100.1", "198.51.100.2"
HOST_LAN, PEER_LAN = "10.77.0.1", "10.77.0.2"
SIP_PORT = 5060          # the sip section's default: firewall ports follow it
ADMIN_PORT = 8080        # --http (admin-http)
SSH_PORT = 22            # a stand-in sshd (a plain TCP listener)


def sh(*args, check=True, timeout=20, input=None):
    return subprocess.run(list(args), capture_output=True, text=True,
                          timeout=timeout, check=check, input=input)


def ns(name, *args, **kw):
    return sh("ip", "netns", "exec", name, *args, **kw)


def nft_table(name=NS_HOST):
    """`nft -s list table inet bulwark` in a namespace ('' if absent)."""
    r = ns(name, "nft", "-s", "list", "table", "inet", "bulwark",
           check=False)
    return r.stdout if r.returncode == 0 else ""


def fw_chains(name=NS_HOST):
    """The firewall's own chains (fw_in, fw_fwd, fw_nat) as the kernel
    lists them; '' for an absent chain. The guard's objects in the same
    table are not included."""
    out = []
    for chain in ("fw_in", "fw_fwd", "fw_nat"):
        r = ns(name, "nft", "-s", "list", "chain", "inet", "bulwark", chain,
               check=False)
        out.append(r.stdout if r.returncode == 0 else "")
    return "".join(out)


def netns_supported():
    if os.geteuid() != 0:
        return "needs root (ip netns, nftables)"
    if not shutil.which("ip") or not shutil.which("nft"):
        return "needs iproute2 and nft"
    probe = f"bwfw_probe_{SUFFIX}"
    r = sh("ip", "netns", "add", probe, check=False)
    if r.returncode != 0:
        return f"no network namespace support: {r.stderr.strip()}"
    sh("ip", "netns", "del", probe, check=False)
    return None


PROBE = textwrap.dedent(r"""
    import socket, sys
    kind, addr, port, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    if kind == "tcp":
        s = socket.socket()
        s.settimeout(timeout)
        try:
            s.connect((addr, port))
            print("open")
        except ConnectionRefusedError:
            print("refused")
        except (socket.timeout, OSError):
            print("timeout")
    elif kind == "sip":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(timeout)
        s.bind(("0.0.0.0", 0))
        me = s.getsockname()[1]
        msg = ("REGISTER sip:%s SIP/2.0\r\n"
               "Via: SIP/2.0/UDP 0.0.0.0:%d;branch=z9hG4bK-fw%d\r\n"
               "Max-Forwards: 70\r\nFrom: <sip:100@%s>;tag=fw1\r\n"
               "To: <sip:100@%s>\r\nCall-ID: fwprobe-%d\r\n"
               "CSeq: 1 REGISTER\r\nContact: <sip:100@127.0.0.1:%d>\r\n"
               "Expires: 60\r\nContent-Length: 0\r\n\r\n"
               % (addr, me, me, addr, addr, me, me))
        s.sendto(msg.encode(), (addr, port))
        try:
            data = s.recv(4096)
            print("answer " + data.split(b"\r\n")[0].decode(errors="replace"))
        except socket.timeout:
            print("timeout")
    elif kind == "peer":
        # ask the echo server who we are seen as
        try:
            s = socket.create_connection((addr, port), timeout=timeout)
            s.settimeout(timeout)
            print("seen-as " + s.recv(100).decode())
        except (socket.timeout, OSError):
            print("timeout")
""")

ECHO_PEER = textwrap.dedent(r"""
    import socket, sys
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", int(sys.argv[1])))
    srv.listen(16)
    srv.settimeout(120)
    while True:
        try:
            c, a = srv.accept()
        except socket.timeout:
            break
        c.sendall(a[0].encode())
        c.close()
""")


def probe(name, kind, addr, port, timeout=1.0):
    r = ns(name, sys.executable, "-c", PROBE, kind, addr, str(port),
           str(timeout), timeout=timeout + 10)
    return r.stdout.strip()


@pytest.fixture(scope="module")
def net():
    why = netns_supported()
    if why:
        pytest.skip(why)
    listeners = []
    try:
        for n in (NS_HOST, NS_WAN, NS_LAN):
            sh("ip", "netns", "add", n)
            ns(n, "ip", "link", "set", "lo", "up")
        sh("ip", "-n", NS_HOST, "link", "add", "wan0", "type", "veth",
           "peer", "name", "eth0", "netns", NS_WAN)
        sh("ip", "-n", NS_HOST, "link", "add", "lan0", "type", "veth",
           "peer", "name", "eth0", "netns", NS_LAN)
        for n, dev, addr in ((NS_HOST, "wan0", HOST_WAN + "/24"),
                             (NS_HOST, "lan0", HOST_LAN + "/24"),
                             (NS_WAN, "eth0", PEER_WAN + "/24"),
                             (NS_LAN, "eth0", PEER_LAN + "/24")):
            ns(n, "ip", "addr", "add", addr, "dev", dev)
            ns(n, "ip", "link", "set", dev, "up")
        ns(NS_LAN, "ip", "route", "add", "default", "via", HOST_LAN)
        # forwarding off: a gateway apply must turn it on by itself
        ns(NS_HOST, "sysctl", "-qw", "net.ipv4.ip_forward=0")
        # stand-in sshd in the Bulwark ns; echo server on the WAN peer
        for n, script, port in ((NS_HOST, ECHO_PEER, SSH_PORT),
                                (NS_WAN, ECHO_PEER, 8000)):
            listeners.append(subprocess.Popen(
                ["ip", "netns", "exec", n, sys.executable, "-c", script,
                 str(port)], stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL))
        time.sleep(0.3)
        yield
    finally:
        for p in listeners:
            p.kill()
            p.wait(5)
        for n in (NS_HOST, NS_WAN, NS_LAN):
            sh("ip", "netns", "del", n, check=False)


class NsDaemon(Daemon):
    """bulwarkd inside a network namespace (optionally through a wrapper
    such as setpriv); the control socket is a path, so .cli() and .api()
    work from here."""

    def __init__(self, data_dir, netns, wrapper=(), **kw):
        super().__init__(data_dir, **kw)
        self.netns = netns
        self.wrapper = list(wrapper)

    def launcher(self):
        return ["ip", "netns", "exec", self.netns, *self.wrapper]


@pytest.fixture
def fw(net, tmp_path):
    """bulwarkd in the Bulwark ns with a clean table inet bulwark."""
    ns(NS_HOST, "nft", "delete", "table", "inet", "bulwark", check=False)
    d = NsDaemon(tmp_path / "data", NS_HOST, sip_addr="0.0.0.0",
                 sip_port=SIP_PORT, http=f"0.0.0.0:{ADMIN_PORT}")
    d.start()
    try:
        yield d
    finally:
        d.stop()
        ns(NS_HOST, "nft", "delete", "table", "inet", "bulwark",
           check=False)


def ok(r):
    assert r.returncode == 0, r
    return r


def configure(d, *kv):
    ok(d.cli("settings", "set", "firewall", *kv))
    ok(d.cli("commit"))


def apply_confirmed(d):
    ok(d.cli("firewall", "apply", "--rollback", "60"))
    ok(d.cli("firewall", "confirm"))


def test_wan_reaches_only_permitted_lan_everything(fw):
    # Without the firewall the WAN peer reaches everything: the checks
    # below would fail without it.
    assert probe(NS_WAN, "tcp", HOST_WAN, SSH_PORT) == "open"
    assert probe(NS_WAN, "tcp", HOST_WAN, ADMIN_PORT) == "open"

    configure(fw, "type=single", "lan=lan0", "permit.ssh=off",
              "permit.admin-http=off")
    preview = ok(fw.cli("firewall", "preview")).stdout
    assert 'udp dport 5060 counter accept comment "sip-udp"' in preview
    assert 'iifname "lan0" accept' in preview
    assert "tcp dport 22 " not in preview
    assert fw_chains() == ""              # preview applies nothing
    apply_confirmed(fw)

    # WAN: SIP answers; SSH and the admin port are silently dropped
    assert probe(NS_WAN, "sip", HOST_WAN, SIP_PORT).startswith("answer SIP/2.0")
    assert probe(NS_WAN, "tcp", HOST_WAN, SSH_PORT) == "timeout"
    assert probe(NS_WAN, "tcp", HOST_WAN, ADMIN_PORT) == "timeout"
    assert probe(NS_WAN, "tcp", HOST_WAN, 23) == "timeout"   # no RST either
    # LAN: never policed
    assert probe(NS_LAN, "sip", HOST_LAN, SIP_PORT).startswith("answer SIP/2.0")
    assert probe(NS_LAN, "tcp", HOST_LAN, SSH_PORT) == "open"
    assert probe(NS_LAN, "tcp", HOST_LAN, ADMIN_PORT) == "open"
    assert probe(NS_LAN, "tcp", HOST_LAN, 23) == "refused"
    # the kernel holds what preview printed (spot-check the chains)
    table = nft_table()
    for chain in ("fw_in", "fw_fwd", "fw_nat"):
        assert f"chain {chain} " in table
    assert 'comment "sip-udp"' in table and 'comment "ssh"' not in table

    # permit SSH from the WAN peer's network only
    configure(fw, "permit.ssh=198.51.100.0/24")
    apply_confirmed(fw)
    assert probe(NS_WAN, "tcp", HOST_WAN, SSH_PORT) == "open"
    assert probe(NS_WAN, "tcp", HOST_WAN, ADMIN_PORT) == "timeout"
    configure(fw, "permit.ssh=203.0.113.0/24")
    apply_confirmed(fw)
    assert probe(NS_WAN, "tcp", HOST_WAN, SSH_PORT) == "timeout"


def test_banned_wan_address_dropped(fw):
    configure(fw, "type=single", "lan=lan0")
    apply_confirmed(fw)
    assert probe(NS_WAN, "sip", HOST_WAN, SIP_PORT).startswith("answer")
    ns(NS_HOST, "nft", "add", "element", "inet", "bulwark", "ban4",
       "{ " + PEER_WAN + " }")
    assert probe(NS_WAN, "sip", HOST_WAN, SIP_PORT) == "timeout"
    assert probe(NS_LAN, "sip", HOST_LAN, SIP_PORT).startswith("answer")
    # a new apply never flushes the guard's sets
    configure(fw, "permit.ssh=any")
    apply_confirmed(fw)
    r = ns(NS_HOST, "nft", "list", "set", "inet", "bulwark", "ban4")
    assert PEER_WAN in r.stdout
    assert probe(NS_WAN, "tcp", HOST_WAN, SSH_PORT) == "timeout"  # still banned
    counters = ns(NS_HOST, "nft", "list", "chain", "inet", "bulwark",
                  "fw_in").stdout
    line = next(l for l in counters.splitlines() if "@ban4" in l)
    assert "packets 0 " not in line, line


def ip_forward():
    return ns(NS_HOST, "sysctl", "-n", "net.ipv4.ip_forward").stdout.strip()


def test_gateway_masquerade(fw):
    # Before: the WAN peer cannot answer 10.77.0.2 (no route back).
    assert probe(NS_LAN, "peer", PEER_WAN, 8000) == "timeout"
    ns(NS_HOST, "sysctl", "-qw", "net.ipv4.ip_forward=0")
    configure(fw, "type=gateway", "lan=lan0")
    # an unconfirmed gateway apply turns forwarding on, its rollback off
    ok(fw.cli("firewall", "apply", "--rollback", "2"))
    assert ip_forward() == "1"
    t0 = time.time()
    while fw.cli("firewall", "status", "--json").json["pending"] and \
            time.time() - t0 < 8:
        time.sleep(0.2)
    assert ip_forward() == "0"
    r = ok(fw.cli("firewall", "apply", "--rollback", "60"))
    assert "ip_forward" not in r.stdout   # bulwarkd enabled it
    assert ip_forward() == "1"
    ok(fw.cli("firewall", "confirm"))
    assert probe(NS_LAN, "peer", PEER_WAN, 8000) == f"seen-as {HOST_WAN}"
    # forwarding from the WAN side into the LAN is not allowed
    assert probe(NS_WAN, "tcp", PEER_LAN, SSH_PORT) == "timeout"
    assert "masquerade" in nft_table()


def test_unconfirmed_apply_rolls_back(fw):
    configure(fw, "type=single", "lan=lan0", "permit.ssh=any")
    apply_confirmed(fw)
    before = fw_chains()
    assert probe(NS_WAN, "tcp", HOST_WAN, SSH_PORT) == "open"

    configure(fw, "permit.ssh=off")
    t0 = time.time()
    ok(fw.cli("firewall", "apply", "--rollback", "3"))
    assert probe(NS_WAN, "tcp", HOST_WAN, SSH_PORT) == "timeout"
    st = ok(fw.cli("firewall", "status", "--json")).json
    assert st["pending"] is True and 0 < st["rollback_in"] <= 3
    while time.time() - t0 < 8:
        if not fw.cli("firewall", "status", "--json").json["pending"]:
            break
        time.sleep(0.2)
    elapsed = time.time() - t0
    assert 2.5 <= elapsed < 6, elapsed
    assert fw_chains() == before
    assert probe(NS_WAN, "tcp", HOST_WAN, SSH_PORT) == "open"
    r = fw.cli("firewall", "confirm")
    assert r.returncode == 1 and "Nothing to confirm" in r.stderr

    # after a "reboot" the confirmed rules come back at start, and a new
    # unconfirmed apply rolls back to them
    fw.stop()
    ns(NS_HOST, "nft", "delete", "table", "inet", "bulwark")
    fw.start()
    assert fw_chains() == before
    ok(fw.cli("firewall", "apply", "--rollback", "2"))
    assert fw_chains() != before
    time.sleep(3.5)
    assert fw_chains() == before
    assert probe(NS_WAN, "tcp", HOST_WAN, SSH_PORT) == "open"


def test_confirmed_rules_installed_at_start(fw):
    configure(fw, "type=single", "lan=lan0")
    apply_confirmed(fw)
    fw.stop()
    ns(NS_HOST, "nft", "delete", "table", "inet", "bulwark")   # "reboot"
    assert probe(NS_WAN, "tcp", HOST_WAN, SSH_PORT) == "open"
    fw.start()
    assert probe(NS_WAN, "tcp", HOST_WAN, SSH_PORT) == "timeout"
    svc = {s["name"]: s for s in ok(fw.cli("services", "--json")).json}
    assert svc["firewall"]["state"] == "running"
    # services stop firewall empties our chains; start reinstalls
    ok(fw.cli("services", "stop", "firewall"))
    assert probe(NS_WAN, "tcp", HOST_WAN, SSH_PORT) == "open"
    ok(fw.cli("services", "start", "firewall"))
    assert probe(NS_WAN, "tcp", HOST_WAN, SSH_PORT) == "timeout"


def test_invalid_choices_refused_nothing_applied(fw):
    configure(fw, "type=single", "lan=lan0")
    apply_confirmed(fw)
    before = fw_chains()

    # a service on a port another service uses: refused by the commit
    # (and its dry run) already, so apply never sees it
    ok(fw.cli("settings", "set", "firewall", "ssh_port=5060",
              "permit.ssh=any"))
    for args in (("commit", "--dry-run"), ("commit",)):
        r = fw.cli(*args)
        assert r.returncode == 1, r
        assert "firewall.port_conflict" in r.stderr and "sip-tcp" in r.stderr
        assert "firewall.permit.ssh" in r.stderr
    # the wizard sees the same staged conflict
    st, body = fw.api("POST", "/firewall/wizard/services",
                      {"permit": {"sip-tcp": "any", "ssh": "any"}})
    assert st == 422 and body["errors"][0]["rule"] == "firewall.port_conflict"
    ok(fw.cli("discard"))
    assert fw_chains() == before

    # unknown interface, unknown service, bad network: refused at staging,
    # naming the field
    r = fw.cli("settings", "set", "firewall", "lan=eth9")
    assert r.returncode == 1 and "firewall.unknown_interface" in r.stderr, r
    r = fw.cli("settings", "set", "firewall", "permit.telnet=any")
    assert r.returncode != 0 and "firewall.permit.telnet" in r.stderr, r
    r = fw.cli("settings", "set", "firewall", "permit.ssh=10.0.0.1/8")
    assert r.returncode != 0 and "firewall.bad_cidr" in r.stderr, r
    assert fw_chains() == before


def test_gateway_refused_with_one_interface(net, tmp_path):
    """The WAN peer's namespace has a single interface: Gateway/Firewall
    is neither offered nor accepted there."""
    ns(NS_WAN, "nft", "delete", "table", "inet", "bulwark", check=False)
    d = NsDaemon(tmp_path / "one", NS_WAN, sip_addr="0.0.0.0",
                 sip_port=SIP_PORT)
    d.start()
    try:
        st, body = d.api("GET", "/firewall/wizard/type")
        assert st == 200
        assert [o["value"] for o in body["options"]] == ["none", "single"]
        st, body = d.api("POST", "/firewall/wizard/type", {"type": "gateway"})
        assert st == 422
        assert body["errors"][0]["rule"] == \
            "firewall.gateway_needs_two_interfaces"
        assert body["errors"][0]["field"] == "firewall.type"
        ok(d.cli("settings", "set", "firewall", "type=gateway"))
        r = d.cli("commit")
        assert r.returncode == 1
        assert "gateway_needs_two_interfaces" in r.stdout + r.stderr
        ok(d.cli("discard"))
        r = d.cli("firewall", "apply")
        assert r.returncode == 0   # running config: no firewall (none)
        ok(d.cli("firewall", "rollback"))
        assert fw_chains(NS_WAN) == ""
    finally:
        d.stop()
        ns(NS_WAN, "nft", "delete", "table", "inet", "bulwark", check=False)


def test_wizard_piped(fw):
    answers = "\n".join([
        "single",          # server type
        "lan", "wan",      # roles of lan0, wan0 (sorted by name)
    ]) + "\n"
    # services: keep the recommendations, except ssh from the LAN peer net
    svc = fw.api("GET", "/firewall/wizard/services")[1]["services"]
    for s in svc:
        answers += ("10.0.0.0/8" if s["name"] == "ssh" else "") + "\n"
    answers += "yes\n"
    r = fw.cli("firewall", "wizard", "--rollback", "30", input=answers)
    assert r.returncode == 0, r
    assert "Step 4: review" in r.stdout and "firewall applied" in r.stdout
    st = ok(fw.cli("firewall", "status", "--json")).json
    assert st["type"] == "single" and st["pending"] is True
    roles = {i["name"]: i["role"] for i in st["interfaces"]}
    assert roles == {"lan0": "lan", "wan0": "wan"}
    assert st["permit"]["ssh"] == "10.0.0.0/8"
    assert st["permit"]["sip-udp"] == "any"
    ok(fw.cli("firewall", "rollback"))
    assert fw_chains() == ""


def test_no_cap_net_admin(net, tmp_path):
    if not shutil.which("setpriv"):
        pytest.skip("needs setpriv to drop CAP_NET_ADMIN")
    ns(NS_HOST, "nft", "delete", "table", "inet", "bulwark", check=False)
    d = NsDaemon(tmp_path / "nocap", NS_HOST,
                 wrapper=["setpriv", "--inh-caps=-net_admin",
                          "--bounding-set=-net_admin", "--"],
                 sip_addr="127.0.0.1", sip_port=5070)
    d.start()
    try:
        configure(d, "type=single", "lan=lan0")
        r = d.cli("firewall", "apply")
        assert r.returncode == 1, r
        assert "CAP_NET_ADMIN" in r.stderr and "nothing applied" in r.stderr
        assert fw_chains() == ""
    finally:
        d.stop()
