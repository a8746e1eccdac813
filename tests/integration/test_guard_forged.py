"""Forged UDP must not ban real addresses (issue 8, item 1).

Over UDP anyone can put any source address on a datagram. Before the fix a
forger who never received a reply banned a credited office with 20
REGISTERs whose Authorization header cannot be parsed, an uncredited
address with one OPTIONS carrying `User-Agent: friendly-scanner`, another
through probation (one malformed REGISTER and four OPTIONS), and, after a
70,000-source flood had evicted an office's credit, the office with 8
packets. The rule now: only evidence that the sender receives our packets
at that address (our nonce, bound to the address, or a TCP/TLS
connection) moves it toward a ban.

Forged datagrams are sent from the host side of the namespace's veth with
a raw socket (IP_HDRINCL): a real forger's packets, never answered to it.
Replies to the flood's made-up sources are blackholed inside the
namespace, so nothing leaves it.
"""
import json
import random
import socket
import struct
import time

import pytest

from test_guard_attacks import DICT, provision, pw_for, sv
from test_guard_cli import NetNS, NsDaemon, events, needs_netns, wait_for
from test_sip_register import Uac, status

pytestmark = needs_netns

FLOOD_NET = "198.18"          # benchmarking range, blackholed in the ns


# ---- a forger: IPv4/UDP datagrams with any source (raw socket) ---------

def _csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff


class Forger:
    """Sends UDP datagrams with a chosen source address (root only)."""

    def __init__(self):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_RAW,
                               socket.IPPROTO_RAW)   # IP_HDRINCL implied
        self.s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)

    def send(self, src, dst, payload, sport=5060, dport=5060):
        data = payload.encode() if isinstance(payload, str) else payload
        ulen = 8 + len(data)
        pseudo = (socket.inet_aton(src) + socket.inet_aton(dst) +
                  struct.pack("!BBH", 0, socket.IPPROTO_UDP, ulen))
        udp = struct.pack("!HHHH", sport, dport, ulen, 0) + data
        ucs = _csum(pseudo + udp) or 0xffff
        udp = udp[:6] + struct.pack("!H", ucs) + udp[8:]
        hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ulen,
                          random.randrange(1 << 16), 0, 64,
                          socket.IPPROTO_UDP, 0, socket.inet_aton(src),
                          socket.inet_aton(dst))
        hdr = hdr[:10] + struct.pack("!H", _csum(hdr)) + hdr[12:]
        self.s.sendto(hdr + udp, (dst, 0))

    def close(self):
        self.s.close()


def sip(method, src, server, user="201", ua=None, auth=None):
    """A request as a forger would write it: everything points at src."""
    br = f"z9hG4bK{random.randrange(1 << 40):x}"
    m = (f"{method} sip:{user}@{server} SIP/2.0\r\n"
         f"Via: SIP/2.0/UDP {src}:5060;branch={br};rport\r\n"
         f"Max-Forwards: 70\r\n"
         f"From: <sip:{user}@{server}>;tag={random.randrange(1 << 30)}\r\n"
         f"To: <sip:{user}@{server}>\r\n"
         f"Call-ID: {random.randrange(1 << 60):x}@{src}\r\n"
         f"CSeq: 1 {method}\r\n")
    if method == "REGISTER":
        m += f"Contact: <sip:{user}@{src}:5060>\r\n"
    if ua:
        m += f"User-Agent: {ua}\r\n"
    if auth:
        m += f"Authorization: {auth}\r\n"
    return m + "Content-Length: 0\r\n\r\n"


# digest_parse gives up on it: the verdict is "malformed" before any
# nonce is looked at
BROKEN_AUTH = 'Digest username="201", realm="bulwark", nonce='


# ---- fixtures --------------------------------------------------------------

class NsUac(Uac):
    """The tiny UAC of test_sip_register, talking to the daemon in the
    namespace from one of the host-side addresses."""

    def tx(self, m):
        self.s.sendto(m.encode(), (self.d.sip_addr, self.d.sip_port))
        return self.s.recv(65535).decode()


@pytest.fixture
def pbx(tmp_path):
    ns = NetNS()
    d = NsDaemon(tmp_path / "data", ns)
    forger = None
    try:
        # Made-up flood sources: accepted without a reverse-path check,
        # and the daemon's answers to them dropped inside the namespace.
        ns.exec("sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0")
        ns.exec("sysctl", "-qw", f"net.ipv4.conf.{ns.ns_if}.rp_filter=0")
        ns.exec("ip", "route", "add", "blackhole", f"{FLOOD_NET}.0.0/15")
        d.start()
        forger = Forger()
        yield ns, d, forger
    finally:
        if forger:
            forger.close()
        try:
            d.stop()
        finally:
            ns.close()


def bans(d):
    r = d.cli("bans", "--json")
    assert r.returncode == 0, r
    return [b["source"] for b in r.json]


def guard_status(d):
    st, body = d.api("GET", "/guard/status")
    assert st == 200, body
    return body


def settle(d, n_packets):
    """Wait until the daemon has seen the packets sent so far."""
    def seen():
        return guard_status(d)["counters"]["packets"] >= n_packets
    wait_for(seen, 10)
    time.sleep(0.3)


# ---- tests -----------------------------------------------------------------

def test_forged_packets_ban_no_one_real_svcrack_still_banned(pbx, tmp_path):
    ns, d, fg = pbx
    provision(d, [201, 202], qualify=False)
    credited, uncredited = ns.legit, ns.attacker

    # the office phone registers: its address is credited
    phone = NsUac(d, "201", src=credited)
    assert status(phone.register(pw_for(201))) == 200
    assert wait_for(lambda: guard_status(d)["counters"]["auth_ok"] == 1)
    base = guard_status(d)["counters"]["packets"]
    sent = 0

    kinds = {
        "20 REGISTERs with an unparseable Authorization":
            lambda a: [sip("REGISTER", a, ns.server, auth=BROKEN_AUTH)
                       for _ in range(20)],
        "one OPTIONS from friendly-scanner":
            lambda a: [sip("OPTIONS", a, ns.server, ua="friendly-scanner")],
        "one INVITE and one REGISTER from friendly-scanner":
            lambda a: [sip("INVITE", a, ns.server, ua="friendly-scanner"),
                       sip("REGISTER", a, ns.server,
                           ua="friendly-scanner")],
        "a malformed REGISTER from friendly-scanner":
            lambda a: [sip("REGISTER", a, ns.server, ua="friendly-scanner",
                           auth=BROKEN_AUTH)],
        "probation: one malformed REGISTER and four plain OPTIONS":
            lambda a: [sip("REGISTER", a, ns.server, auth=BROKEN_AUTH)] +
                      [sip("OPTIONS", a, ns.server) for _ in range(4)],
    }
    for kind, make in kinds.items():
        for addr in (credited, uncredited):
            for m in make(addr):
                fg.send(addr, ns.server, m)
                sent += 1
        settle(d, base + sent)
        assert bans(d) == [], kind

    # A 70,000-source forged flood through a small source table, then the
    # office's (and the stranger's) address forged again.
    assert d.cli("guard", "set", "max_tracked=4096").returncode == 0
    assert d.cli("commit").returncode == 0
    t0 = time.time()
    base = guard_status(d)["counters"]["packets"]
    for i in range(70000):
        src = f"{FLOOD_NET}.{i // 250 % 256}.{i % 250 + 1}"
        if i >= 64000:
            src = f"198.19.{(i - 64000) // 250}.{i % 250 + 1}"
        fg.send(src, ns.server,
                sip("REGISTER", src, ns.server, auth=BROKEN_AUTH))
        if i % 500 == 499:
            # keep within the socket buffer (a slow, sanitized build
            # too): every forged source must reach the guard
            wait_for(lambda: guard_status(d)["counters"]["packets"] >=
                     base + i - 1000, 20)
    settle(d, base + 70000)
    print(f"flood of 70,000 forged sources sent in {time.time() - t0:.1f} s")
    for addr in (credited, uncredited):
        for _ in range(20):
            fg.send(addr, ns.server,
                    sip("REGISTER", addr, ns.server, auth=BROKEN_AUTH))
    time.sleep(1)
    st = guard_status(d)
    print("guard after the flood:", json.dumps(st["tables"]),
          json.dumps(st["counters"]))
    assert st["counters"]["packets"] >= base + 70000, st
    assert st["tables"]["evicted"] > 65000, st
    assert st["tables"]["sources"] <= 4096
    assert st["tables"]["credited"] == 1, st     # not evictable
    assert st["counters"]["auth_fail_unproven"] > 4096
    assert bans(d) == []
    assert credited not in ns.ban4() and uncredited not in ns.ban4()

    # The office kept its credit: a credited address's allowance (4,000
    # at once) answers 250 requests in a row; an uncredited one would be
    # cut off after its burst of 100.
    opt = NsUac(d, "201", src=credited)
    answered = 0
    for _ in range(250):
        try:
            # answered to the source port (rport), whatever the Via says
            answered += status(opt.tx(sip("OPTIONS", credited,
                                          ns.server))) == 200
        except socket.timeout:
            break
    opt.close()
    assert answered == 250, answered
    assert status(phone.register(pw_for(201))) == 200
    phone.close()
    scan = events(d, "scanner")
    assert scan and all(e["proven"] is False for e in scan), scan

    # A real svcrack, which does receive our answers, from the address
    # the forger used: banned after at most 5 answers, in the kernel.
    ns.count_answers_to(uncredited)
    time.sleep(2)     # the forger spent part of the address's bucket
    dic = tmp_path / "dict.txt"
    dic.write_text("\n".join(DICT) + "\n")
    r = sv("svcrack", ["-u", "202", "-d", str(dic), ns.server],
           tmp_path / "home", 60)
    out = r.stdout + r.stderr
    assert "The password for" not in out, out
    answers = ns.answers()
    print(f"svcrack: {answers} answers before the ban")
    assert 1 <= answers <= 5, answers
    got = d.cli("bans", "--json").json
    assert [b["source"] for b in got] == [uncredited], got
    assert got[0]["reason"] == "scanner"
    assert wait_for(lambda: uncredited in ns.ban4()), ns.ban4()
    assert credited not in ns.ban4()


def test_svcrack_without_scanner_filter_after_forgery(pbx, tmp_path):
    """The failure accounting alone (no user-agent filter): forged
    malformed REGISTERs and OPTIONS first do not count, the cracker that
    answers our challenges is still banned after at most 5 answers."""
    ns, d, fg = pbx
    provision(d, [202], qualify=False)
    assert d.cli("guard", "set", "scanners=").returncode == 0
    assert d.cli("commit").returncode == 0
    for _ in range(10):
        fg.send(ns.attacker, ns.server,
                sip("REGISTER", ns.attacker, ns.server, auth=BROKEN_AUTH))
        fg.send(ns.attacker, ns.server, sip("OPTIONS", ns.attacker,
                                            ns.server))
    time.sleep(1)
    assert bans(d) == []
    ns.count_answers_to(ns.attacker)
    r = sv("svcrack", ["-u", "202", "-r", "1000-3000", ns.server],
           tmp_path / "home", 60)
    out = r.stdout + r.stderr
    assert "The password for" not in out, out
    answers = ns.answers()
    print(f"svcrack -r: {answers} answers before the ban")
    assert 1 <= answers <= 5, answers
    got = d.cli("bans", "--json").json
    assert [b["source"] for b in got] == [ns.attacker], got
    assert got[0]["reason"] == "auth_failures"
    assert wait_for(lambda: ns.attacker in ns.ban4()), ns.ban4()
