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
router's address and port it came from (10.77.0.2, UDP ports rewritten
into 20000-29999: neither the SIP nor the RTP port survives the NAT), and
the phones reach each other only through the relay. Extension 201
(phone A) has phone.nat=true.
"""
import os
import re
import subprocess
import time

import pytest

from conftest import Daemon, wait_for
from nat_lib import (Netns, Phone, RtpSniffer, missing_tools, ns,
                     sweep_stale, tone_in, tone_seconds)

SUFFIX = f"{os.getpid()}"
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


MASQ = """
table ip natlab {
    chain post {
        type nat hook postrouting priority srcnat; policy accept;
        oifname "pub0" ip saddr 192.168.77.0/24 meta l4proto udp \
            counter masquerade to :20000-29999
        oifname "pub0" ip saddr 192.168.77.0/24 masquerade
    }
}
"""


def masqueraded_flows():
    """Flows the router translated (a nat chain sees each flow's first
    packet only)."""
    out = ns(NS_NAT, "nft", "list", "chain", "ip", "natlab", "post").stdout
    m = re.search(r"counter packets (\d+) .*masquerade", out)
    assert m, out
    return int(m.group(1))


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
    sweep_stale("bwn_")
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
    """The SIP messages of a baresip -s trace: (from, to, text) where text
    runs to the next message (it may end with some of baresip's own log
    lines, never with another message)."""
    log = re.sub(r"\x1b\[[0-9;]*m", "", log)
    parts = re.split(r"^UDP (\S+) -> (\S+)\n", log, flags=re.M)
    return [tuple(parts[i:i + 3]) for i in range(1, len(parts) - 2, 3)]


def with_sdp(msgs, src, dst, first_line):
    return [t for s, d, t in msgs if s == src and d == dst and
            t.startswith(first_line) and "\nc=IN IP4 " in t]


def call(lab, caller, callee, hangup_by, talk=lambda: time.sleep(TALK_S)):
    """caller dials callee, both up, talk(), hangup_by hangs up; returns
    {extension: the new recording of what it heard}."""
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
    talk()
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


def counters(d):
    """{"pkts": (caller, callee), "dropped": (caller, callee)} of the
    newest call: packets each phone sent the relay and packets dropped at
    its leg for a wrong source, from bulwarkd's log line; that call's CDR
    row (bulwark cdr) must agree."""
    m = wait_for(lambda: re.findall(
        r"call (\S+): packets (\d+) from the caller, (\d+) from the callee; "
        r"(\d+), (\d+) dropped", d.log()), timeout=5)
    assert m, d.log()
    cid, *v = m[-1]
    v = [int(x) for x in v]
    got = {"pkts": (v[0], v[1]), "dropped": (v[2], v[3])}
    last = []

    def row():
        last[:] = [d.cli("--json", "cdr")]
        return last[0].returncode == 0 and next(
            (x for x in last[0].json if x.get("id") == cid), None)
    rec = wait_for(row, timeout=5, step=0.3)
    assert rec, f"no CDR for {cid}: {last}"
    assert rec["disposition"] == "answered", rec
    assert {k: (rec[j]["caller"], rec[j]["callee"])
            for k, j in (("pkts", "packets"), ("dropped", "dropped"))} \
        == got, (rec, got)
    return got


def check_counters(d, label):
    c = counters(d)
    (pc, pe), (dc, de) = c["pkts"], c["dropped"]
    print(f"{label}: packets {pc} from the caller, {pe} from the callee; "
          f"dropped {dc} at the caller's leg, {de} at the callee's")
    assert pc > 100 and pe > 100, c
    # legitimate media only: nothing counted as a wrong source (a callee's
    # media outrunning its answer is drop_early, not an injection)
    assert dc == 0 and de == 0, c
    return c


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
    host, port = regs["201"]["source"].rsplit(":", 1)
    assert host == ROUTER_PUB and 20000 <= int(port) <= 29999, regs
    a_log = phones["201"].log()
    assert f"c=IN IP4 {ROUTER_PUB}" not in a_log   # no public address known
    mark = {n: len(p.log()) for n, p in phones.items()}
    flows = masqueraded_flows()
    assert flows >= 1     # the REGISTER went through the masquerade

    heard = call(lab, "201", "202", hangup_by="201")
    # the call's RTP (and RTCP) flows were new ones through the router
    assert masqueraded_flows() >= flows + 1
    secs = check_audio(heard, "201", "202")
    print(f"NAT caller: 201 heard {secs['201']:.2f} s of 1000 Hz, 202 heard "
          f"{secs['202']:.2f} s of 440 Hz")
    check_counters(d, "NAT caller")

    # A offered its private address and was answered with the relay's;
    # B was offered the relay's: neither phone saw the other's address
    a_msgs = sip_messages(phones["201"].log()[mark["201"]:])
    b_msgs = sip_messages(phones["202"].log()[mark["202"]:])
    a_inv = with_sdp(a_msgs, f"{PHONE_A}:5060", REGISTRAR, "INVITE sip:202@")
    a_ok = with_sdp(a_msgs, REGISTRAR, f"{PHONE_A}:5060", "SIP/2.0 200")
    b_inv = with_sdp(b_msgs, REGISTRAR, f"{PHONE_B}:5060", "INVITE sip:202")
    assert a_inv and a_ok and b_inv, (a_msgs, b_msgs)
    assert f"\nc=IN IP4 {PHONE_A}\r" in a_inv[0] or \
        f"\nc=IN IP4 {PHONE_A}\n" in a_inv[0], a_inv[0]
    for t in (a_ok[-1], b_inv[-1]):
        body = t.split("\nv=0", 1)[1]
        assert re.search(rf"^c=IN IP4 {re.escape(PBX)}\s*$", body, re.M), t
        assert "192.168." not in body and PHONE_B not in body, t


def test_nat_phone_called(lab):
    """The other way round: bulwarkd reaches the NATed phone at the address
    its REGISTER came from (not its private Contact), and its BYE to it."""
    d, phones = lab
    mark = len(phones["201"].log())
    heard = call(lab, "202", "201", hangup_by="202")
    secs = check_audio(heard, "202", "201")
    print(f"NAT callee: 202 heard {secs['202']:.2f} s of 440 Hz, 201 heard "
          f"{secs['201']:.2f} s of 1000 Hz")
    check_counters(d, "NAT callee")
    # the INVITE reached A through the router (nothing else routes to
    # it), offering the relay's address only
    a_inv = with_sdp(sip_messages(phones["201"].log()[mark:]), REGISTRAR,
                     f"{PHONE_A}:5060", "INVITE sip:201")
    assert a_inv, phones["201"].log()[mark:]
    body = a_inv[-1].split("\nv=0", 1)[1]
    assert re.search(rf"^c=IN IP4 {re.escape(PBX)}\s*$", body, re.M), body
    assert PHONE_B not in body, body


def test_nat_phone_holds_and_resumes(lab):
    """The NATed phone's re-INVITEs (hold, resume) name its private address
    again: the relay must keep the address it learnt (or re-learn it from
    the same router), so audio flows both ways after the resume. Checked
    on the wire (baresip 1.0's sndfile stops recording at a re-INVITE)."""
    d, phones = lab
    a = phones["201"]
    mark = len(a.log())
    at = {}
    sniff = {"201": RtpSniffer(NS_A, "eth0", PHONE_A),
             "202": RtpSniffer(NS_B, "eth0", PHONE_B)}

    def talk():
        time.sleep(3)
        for cmd, wait in (("hold", 2), ("resume", 4)):
            i = len(a.ctrl.events)
            r = a.ctrl.command(cmd)
            assert r.get("ok"), r
            a.ctrl.wait("CALL_REMOTE_SDP", 5, since=i)   # the 200's answer
            at[cmd] = time.time()
            time.sleep(wait)
    try:
        call(lab, "201", "202", hangup_by="202", talk=talk)
    finally:
        for s in sniff.values():
            s.stop()
    reinvites = with_sdp(sip_messages(a.log()[mark:]), f"{PHONE_A}:5060",
                         REGISTRAR, "INVITE sip:")
    # the call (and its re-send after the 407), hold, resume
    assert len(reinvites) >= 3, reinvites
    assert "a=sendonly" in reinvites[-2] and "a=sendrecv" in reinvites[-1]
    assert all(f"c=IN IP4 {PHONE_A}" in t for t in reinvites)
    for me, other in (("201", "202"), ("202", "201")):
        src = {s for _, s, _ in sniff[me].got}
        assert src == {PBX}, src                   # only the relay
        before = tone_in(sniff[me].samples(0, at["hold"]), TONE[other])
        after = tone_in(sniff[me].samples(at["resume"]), TONE[other])
        print(f"NAT hold/resume: {me} received {before:.2f} s of "
              f"{TONE[other]} Hz before the hold, {after:.2f} s after the "
              "resume")
        assert before >= 2 and after >= 3, (me, before, after)
    check_counters(d, "NAT hold/resume")
