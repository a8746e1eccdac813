"""A phone behind NAT calls a phone on another network through bulwarkd:
two-way audio without the phone knowing its public address (issue 11).

    phoneA ns  eth0 192.168.77.10 ── priv0 192.168.77.1  nat ns (router,
                                     pub0  10.77.0.2     masquerade)
                                       │
    pbx ns     wan0 10.77.0.1 ─────────┘     bulwarkd --sip 10.77.0.1:5060
               wanb 10.78.0.1 ── eth0 10.78.0.2  phoneB ns

Nothing routes to 192.168.77.0/24 outside the nat ns, and the pbx ns does
not forward: phone A's Contact and SDP name 192.168.77.10 (no STUN, no
public address configured), so bulwarkd can only reach it at the
router's address it came from (10.77.0.2), and the phones reach each
other only through the relay. Extension 201 (phone A) has phone.nat=true.
"""
import os
import re
import subprocess
import time

import pytest

from conftest import Daemon
from nat_lib import Netns, Phone, missing_tools, ns, tone_seconds

SUFFIX = f"{os.getpid() % 100000}"
NS_PBX, NS_NAT = f"bwn_pbx_{SUFFIX}", f"bwn_nat_{SUFFIX}"
NS_A, NS_B = f"bwn_pa_{SUFFIX}", f"bwn_pb_{SUFFIX}"
PBX, ROUTER_PUB, ROUTER_PRIV = "10.77.0.1", "10.77.0.2", "192.168.77.1"
PHONE_A, PBX_B, PHONE_B = "192.168.77.10", "10.78.0.1", "10.78.0.2"
REGISTRAR = f"{PBX}:5060"
PW = {"201": "Kq7vRz2mWp9x", "202": "Tj4wNc8hXs3L"}
TONE = {"201": 440, "202": 1000}
NAME = {"201": "Ada Lovelace", "202": "Alan Turing"}
TALK_S = 6


class NsDaemon(Daemon):
    def __init__(self, data_dir, netns, **kw):
        super().__init__(data_dir, **kw)
        self.netns = netns

    def launcher(self):
        return ["ip", "netns", "exec", self.netns]


MASQ = f"""
table ip natlab {{
    chain post {{
        type nat hook postrouting priority srcnat; policy accept;
        oifname "pub0" ip saddr 192.168.77.0/24 masquerade
    }}
}}
"""


def build(net):
    for n in (NS_PBX, NS_NAT, NS_A, NS_B):
        net.add(n)
    net.link(NS_PBX, "wan0", PBX + "/24", NS_NAT, "pub0", ROUTER_PUB + "/24")
    net.link(NS_NAT, "priv0", ROUTER_PRIV + "/24", NS_A, "eth0",
             PHONE_A + "/24")
    net.link(NS_PBX, "wanb", PBX_B + "/24", NS_B, "eth0", PHONE_B + "/24")
    ns(NS_A, "ip", "route", "add", "default", "via", ROUTER_PRIV)
    ns(NS_B, "ip", "route", "add", "default", "via", PBX_B)
    ns(NS_NAT, "sysctl", "-qw", "net.ipv4.ip_forward=1")
    ns(NS_PBX, "sysctl", "-qw", "net.ipv4.ip_forward=0")
    r = subprocess.run(
        ["ip", "netns", "exec", NS_NAT, "nft", "-f", "-"], input=MASQ,
        capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    why = missing_tools("baresip")
    if why:
        pytest.skip(why)
    tmp = tmp_path_factory.mktemp("nat")
    net = Netns()
    d = None
    phones = {}
    try:
        build(net)
        d = NsDaemon(tmp / "data", NS_PBX, sip_addr=PBX, sip_port=5060,
                     extra_args=["--rtp-range", "40000-40099"])
        d.start()
        for num, extra in (("201", ["--set", "phone.nat=true"]),
                           ("202", [])):
            r = d.cli("ext", "add", num, "--type", "sip", "--name",
                      NAME[num], "--password", PW[num], "--vm-pin",
                      "826491", "--set", "auth.algorithms=md5", *extra)
            assert r.returncode == 0, r
        r = d.cli("commit")
        assert r.returncode == 0, r
        for num, netns, addr in (("201", NS_A, PHONE_A),
                                 ("202", NS_B, PHONE_B)):
            (tmp / num).mkdir()
            phones[num] = Phone(tmp / num, netns, addr, num, PW[num],
                                REGISTRAR, TONE[num])
            phones[num].start()
        yield d, phones
    finally:
        for p in phones.values():
            p.stop()
        if d:
            d.stop()
        net.delete_all()


def sip_messages(log):
    """The SIP messages of a baresip -s trace, as text blocks."""
    return re.split(r"\n(?=\S*\s*(?:INVITE|ACK|BYE|REGISTER|SIP/2\.0) )",
                    log)


def call(lab, caller, callee, hangup_by):
    d, phones = lab
    a, b = phones[caller], phones[callee]
    before = {n: p.recordings() for n, p in phones.items()}
    ia, ib = len(a.ctrl.events), len(b.ctrl.events)
    ans = a.ctrl.command("dial", f"sip:{callee}@{REGISTRAR}")
    assert ans.get("ok"), ans
    try:
        a.ctrl.wait("CALL_ESTABLISHED", 10, since=ia)
        b.ctrl.wait("CALL_ESTABLISHED", 10, since=ib)
    except TimeoutError as e:
        raise AssertionError(f"{e}\n--- bulwarkd:\n{d.log()}") from None
    time.sleep(TALK_S)
    phones[hangup_by].ctrl.command("hangup")
    for p, i in ((a, ia), (b, ib)):
        p.ctrl.wait("CALL_CLOSED", 10, since=i)
    time.sleep(0.5)   # sndfile closes its files
    heard = {}
    for n, p in phones.items():
        new = sorted(p.recordings() - before[n])
        assert len(new) == 1, (n, new)
        heard[n] = new[0]
    return heard


def packets(d, callid_hint=None):
    """(from the caller, from the callee) for the newest call: the CDR when
    the CLI has it, else bulwarkd's log line."""
    r = d.cli("--json", "cdr")
    if r.returncode == 0:
        rec = r.json[0]
        p = rec.get("pkts") or rec.get("packets")
        return p["caller"], p["callee"]
    m = re.findall(r"packets (\d+) from the caller, (\d+) from the callee",
                   d.log())
    assert m, d.log()
    return int(m[-1][0]), int(m[-1][1])


def check_audio(heard, caller, callee):
    figures = {}
    for me, other in ((caller, callee), (callee, caller)):
        got = tone_seconds(heard[me], TONE[other])
        own = tone_seconds(heard[me], TONE[me])
        figures[me] = got
        assert got >= 2, f"{me} heard {got:.2f} s of {TONE[other]} Hz"
        assert own < 0.5, f"{me} heard its own tone {own:.2f} s"
    return figures


def test_nat_phone_calls_out(lab):
    d, phones = lab
    # the registrar saw phone A from the router, its Contact private
    regs = {r["extension"]: r for r in d.cli("--json", "registrations").json}
    assert PHONE_A in regs["201"]["contact"], regs
    a_log = phones["201"].log()
    assert f"c=IN IP4 {ROUTER_PUB}" not in a_log   # no public address known
    mark = {n: len(p.log()) for n, p in phones.items()}

    heard = call(lab, "201", "202", hangup_by="201")
    secs = check_audio(heard, "201", "202")
    pc, pe = packets(d)
    print(f"NAT caller: 201 heard {secs['201']:.2f} s of 1000 Hz, 202 heard "
          f"{secs['202']:.2f} s of 440 Hz; packets {pc} from the caller, "
          f"{pe} from the callee")
    assert pc > 100 and pe > 100, (pc, pe)

    # A offered its private address; B was offered the relay's, only
    a_sent = phones["201"].log()[mark["201"]:]
    b_got = phones["202"].log()[mark["202"]:]
    inv_a = [m for m in sip_messages(a_sent) if "INVITE sip:202@" in m and
             "c=IN IP4" in m]
    inv_b = [m for m in sip_messages(b_got) if "INVITE sip:202-" in m and
             "c=IN IP4" in m]
    assert inv_a and inv_b, (a_sent[-3000:], b_got[-3000:])
    assert f"c=IN IP4 {PHONE_A}" in inv_a[0]
    assert f"c=IN IP4 {PBX}" in inv_b[-1]
    assert "192.168." not in inv_b[-1], inv_b[-1]


def test_nat_phone_called(lab):
    """The other way round: bulwarkd reaches the NATed phone at the address
    its REGISTER came from (not its private Contact), and its BYE to it."""
    d, _ = lab
    heard = call(lab, "202", "201", hangup_by="202")
    secs = check_audio(heard, "202", "201")
    pc, pe = packets(d)
    print(f"NAT callee: 202 heard {secs['202']:.2f} s of 440 Hz, 201 heard "
          f"{secs['201']:.2f} s of 1000 Hz; packets {pc} from the caller, "
          f"{pe} from the callee")
    assert pc > 100 and pe > 100, (pc, pe)
