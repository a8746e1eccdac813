"""SIP trunks (issue 15, trunk part): a carrier stand-in — Kamailio as the
registrar with digest auth (401, qop=auth) on 127.0.0.2, SIPp as the
carrier's far end sending from that address — and bulwarkd's trunk:

* it registers with digest (GET /api/v1/trunks "registered", Kamailio
  logs the registration), its password sealed and masked;
* a wrong password: "failed", with a backoff of 30 s before the next try;
* an INVITE from the trunk's address to a DID rings the extension the DID
  maps to (baresip 201): two-way audio proven by tones — the carrier's
  1000 Hz (a pcap SIPp plays) in baresip's recording, baresip's 440 Hz in
  what the network delivered to SIPp (RTP tap);
* the same INVITE from another address (127.0.0.5) is challenged (407),
  never a free call — until that address is listed in the trunk's
  `inbound`; an unknown DID from the trunk gets 404; beyond the trunk's
  max_calls, 503;
* the caller ID the carrier asserts (P-Asserted-Identity) is the call's
  caller; the registration is refreshed at 85 % of what was granted;
* a DID naming no extension is refused at commit, naming field and rule.
"""
import math
import os
import shutil
import struct
import subprocess
import time

import pytest

from calls_lib import (TONE_A, TONE_B, Baresip, free_sip_port, heard,
                       stop_pid, tone_seconds)
from calls_pbx import PW, Later, bounded, start_pbx  # noqa: F401
from calls_rtp import ALAW, RtpTap, rtp_packet
from calls_sip import Sipp, _ack, _invite, _msg, _scenario
from conftest import wait_for
from test_sip_register import commit

needs = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("kamailio", "sipp", "baresip")),
    reason="needs kamailio, sipp and baresip")
ROOT = os.geteuid() == 0     # the RTP tap (AF_PACKET) needs root
CARRIER = "127.0.0.2"        # the trunk's host: registrar and far end
STRANGER = "127.0.0.5"       # not the trunk
TRUNK_USER, TRUNK_PW = "acct1001", "Carrier-Pw-7k2Q"
DID, UNKNOWN_DID = "5551000", "5559999"
HERE = os.path.dirname(os.path.abspath(__file__))


# ---- the carrier stand-in ----------------------------------------------

class Kamailio:
    def __init__(self, workdir, short_expiry=False):
        self.dir = workdir / "kamailio"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_sip_port(CARRIER)
        self.proc = None
        self.defs = ["-A", "SHORT_EXPIRY"] if short_expiry else []

    def start(self):
        self.logf = open(self.dir / "log", "ab")
        self.proc = subprocess.Popen(
            ["timeout", "-k", "5", "120", "kamailio", "-f",
             os.path.join(HERE, "peers", "kamailio-trunk-registrar.cfg"),
             "-DD", "-E", "-m", "64", "-M", "8", "-Y", str(self.dir),
             "-l", f"udp:{CARRIER}:{self.port}",
             "-A", f'TRUNK_USER="{TRUNK_USER}"',
             "-A", f'TRUNK_PW="{TRUNK_PW}"', *self.defs],
            stdout=self.logf, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL)
        assert wait_for(lambda: "Listening on" in self.log(), 10), self.log()
        return self

    def log(self):
        try:
            return (self.dir / "log").read_text(errors="replace")
        except OSError:
            return ""

    def stop(self):
        stop_pid(self.proc)
        self.logf.close()


# ---- a pcap of a tone for SIPp ------------------------------------------

ALAW_ENC = {}


def alaw(sample):
    """16-bit linear → the A-law octet whose value is nearest."""
    if not ALAW_ENC:
        ALAW_ENC.update({"table": sorted((v, i) for i, v in
                                         enumerate(ALAW))})
    table = ALAW_ENC["table"]
    lo, hi = 0, len(table) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if table[mid][0] < sample:
            lo = mid + 1
        else:
            hi = mid
    if lo and abs(table[lo - 1][0] - sample) < abs(table[lo][0] - sample):
        lo -= 1
    return table[lo][1]


def tone_pcap(path, freq, seconds):
    """A pcap (Ethernet/IPv4/UDP) of PCMA RTP, 20 ms packets, freq Hz:
    what SIPp's play_pcap_audio sends."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for k in range(seconds * 50):
        pl = bytes(alaw(int(0.4 * 32767 * math.sin(
            2 * math.pi * freq * (k * 160 + i) / 8000))) for i in range(160))
        rtp = rtp_packet(k, k * 160, 0x1234ABCD, pl, pt=8)
        udp = struct.pack("!HHHH", 6000, 6002, 8 + len(rtp), 0) + rtp
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), k, 0, 64,
                         17, 0, bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
        frame = b"\0" * 12 + b"\x08\x00" + ip + udp
        t = k * 0.02
        out.append(struct.pack("<IIII", int(t), int((t % 1) * 1e6),
                               len(frame), len(frame)) + frame)
    path.write_bytes(b"".join(out))
    return path


def carrier_uac(pcap, frm="+15550001", pai="+15550002", hold_ms=6000):
    """The carrier's far end: INVITE without credentials (the trunk is
    known by its address) asserting caller ID pai, 200, ACK, its tone,
    BYE."""
    return _scenario([
        _invite(1, frm),
        '  <recv response="100" optional="true"/>',
        '  <recv response="180" optional="true"/>',
        '  <recv response="183" optional="true"/>',
        '  <recv response="200" rrs="true"/>',
        _ack(1, frm, in_dialog=True),
        f'  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>',
        f'  <pause milliseconds="{hold_ms}"/>',
        _msg(["BYE [next_url] SIP/2.0",
              "Via: SIP/2.0/[transport] [local_ip]:[local_port];"
              "branch=[branch]", "[routes]",
              f"From: <sip:{frm}@[remote_ip]>;tag=[pid]uac[call_number]",
              "To: <sip:[service]@[remote_ip]>[peer_tag_param]",
              "Call-ID: [call_id]", "CSeq: 2 BYE", "Max-Forwards: 70"],
             retrans=True),
        '  <recv response="200"/>']).replace(
            "Max-Forwards: 70", "Max-Forwards: 70\n      "
            f"P-Asserted-Identity: \"Carrier Caller\" <sip:{pai}@{CARRIER}>", 1)


def refused_uac(code, frm="+15550001"):
    """An INVITE answered code (then ACKed with the INVITE's branch)."""
    return _scenario([
        _invite(1, frm),
        '  <recv response="100" optional="true"/>',
        f'  <recv response="{code}"/>',
        _ack(1, frm, branch="[branch-2]")])


# ---- helpers ---------------------------------------------------------------

def trunk_status(pbx):
    st, body = pbx.d.api("GET", "/trunks")
    assert st == 200, body
    return {t["name"]: t for t in body["trunks"]}


def configure(pbx, kam, *extra):
    r = pbx.d.cli("settings", "set", "trunks",
                  f"itsp.host={CARRIER}", f"itsp.port={kam.port}",
                  f"itsp.username={TRUNK_USER}",
                  f"itsp.password={TRUNK_PW}", "itsp.register=true",
                  "itsp.expiry=120", f"did.{DID}=201", *extra)
    assert r.returncode == 0, r
    commit(pbx.d)


def wait_state(pbx, state, timeout=10):
    got = wait_for(lambda: trunk_status(pbx).get("itsp", {}).get("state")
                   == state, timeout)
    assert got, (trunk_status(pbx), pbx.log()[-2000:])
    return trunk_status(pbx)["itsp"]


def check(cond, what):
    assert cond, what


def run_sipp(tmp_path, name, xml, addr, pbx, service, timeout=30):
    s = Sipp(tmp_path, name, xml, addr=addr)
    s.start(target=pbx.registrar, service=service, timeout_s=timeout)
    rc = s.wait(timeout + 10)
    return s, rc


# ---- the tests -------------------------------------------------------------

@needs
def test_trunk_registers_and_takes_a_did_call(make_daemon, tmp_path):
    pbx = start_pbx(make_daemon, exts=("201",))
    kam = Kamailio(tmp_path).start()
    b = None
    try:
        configure(pbx, kam)
        t = wait_state(pbx, "registered")
        now = time.time()
        # refreshed at 85 % of the 120 s Kamailio granted
        assert 90 <= t["next_refresh"] - now <= 103, t
        assert 110 <= t["expires_at"] - now <= 121, t
        assert t["last_error"] == "" and t["failures"] == 0, t
        assert f"TRUNK-REGISTERED sip:{TRUNK_USER}@{CARRIER}" in kam.log()
        # the answer to a challenge: Kamailio challenged first
        assert "TRUNK-CHALLENGED" in kam.log()
        # the password: sealed, masked on reads; the CLI shows the state
        r = pbx.d.cli("--json", "settings", "show", "trunks")
        assert r.returncode == 0, r
        assert TRUNK_PW not in r.stdout and '"set"' in r.stdout, r.stdout
        r = pbx.d.cli("trunk", "status")
        assert r.returncode == 0 and "registered" in r.stdout, r
        assert TRUNK_PW not in pbx.log()

        # a DID call from the trunk's address: 201 rings and answers
        b = Baresip(tmp_path / "b", "201", PW["201"], pbx.registrar, TONE_A,
                    max_s=40, codecs="PCMA").start()
        pcap = tone_pcap(tmp_path / "tone.pcap", TONE_B, 7)
        uac = Sipp(tmp_path, "carrier", carrier_uac(pcap), addr=CARRIER)
        tap = RtpTap(CARRIER, [uac.media_port]) if ROOT else None
        t0 = time.time()
        try:
            uac.start(target=pbx.registrar, service=DID, timeout_s=30)
            rc = uac.wait(40)
        finally:
            uac.stop()
            if tap:
                tap.stop()
        assert rc == 0, uac.report() + pbx.log()[-3000:]
        b.wait("CALL_ESTABLISHED", 1)
        b.wait("CALL_CLOSED", 5)
        later = Later()
        c_heard = None
        b_heard = heard(b.recordings(), TONE_B)
        later(check, b_heard >= 2.0, f"201 heard the carrier {b_heard} s")
        if tap:
            wav = tap.wav(tmp_path / "carrier-heard.wav", since=t0)
            c_heard = tone_seconds(wav, TONE_A)
            later(check, c_heard >= 2.0, f"the carrier heard 201 {c_heard} s")
        # the CDR: the caller ID the carrier asserted (PAI) called 201
        rows = pbx.wait_cdrs(1)
        print(f"201 heard the carrier's {TONE_B} Hz for {b_heard} s; "
              f"the carrier heard 201's {TONE_A} Hz for "
              f"{c_heard if tap else 'n/a (no tap)'} s")
        later(check, [(r["caller"], r["callee"]) for r in rows] ==
              [("+15550002", "201")], rows)
        later.done()

        # from another address: challenged, never a free call
        s, rc = run_sipp(tmp_path, "stranger", refused_uac(407), STRANGER,
                         pbx, DID)
        assert rc == 0, s.report()
        # an unknown DID from the trunk: 404
        s, rc = run_sipp(tmp_path, "unknown", refused_uac(404), CARRIER,
                         pbx, UNKNOWN_DID)
        assert rc == 0, s.report()
        time.sleep(0.5)   # the CDR writer is a thread: no call was made
        assert len(pbx.cdrs()) == 1, pbx.cdrs()
        # the stranger's address listed as the trunk's: no challenge now
        r = pbx.d.cli("settings", "set", "trunks", f"itsp.inbound={STRANGER}")
        assert r.returncode == 0, r
        commit(pbx.d)
        s, rc = run_sipp(tmp_path, "listed", refused_uac(404), STRANGER,
                         pbx, UNKNOWN_DID)
        assert rc == 0, s.report()
        # the inbound list is not a registration field: still registered
        assert trunk_status(pbx)["itsp"]["state"] == "registered"

        # max_calls: while one call from the trunk lives, another is 503
        r = pbx.d.cli("settings", "set", "trunks", "itsp.max_calls=1")
        assert r.returncode == 0, r
        commit(pbx.d)
        first = Sipp(tmp_path, "first", carrier_uac(pcap, hold_ms=4000),
                     addr=CARRIER)
        try:
            first.start(target=pbx.registrar, service=DID, timeout_s=30)
            assert wait_for(lambda: [c["state"] for c in pbx.calls()] ==
                            ["answered"], 5), pbx.calls()
            s, rc = run_sipp(tmp_path, "second", refused_uac(503), CARRIER,
                             pbx, DID)
            assert rc == 0, s.report()
            assert first.wait(30) == 0, first.report()
        finally:
            first.stop()

        # a wrong password: failed, retried after 30 s (then 60, ...)
        r = pbx.d.cli("settings", "set", "trunks", "itsp.password=wrong-1")
        assert r.returncode == 0, r
        commit(pbx.d)
        t = wait_state(pbx, "failed")
        now = time.time()
        assert "401" in t["last_error"], t
        assert t["failures"] == 1 and 25 <= t["next_refresh"] - now <= 31, t
        assert t["expires_at"] is None, t
        # removed: the registration client forgets it
        r = pbx.d.cli("settings", "set", "trunks", "itsp.host=")
        assert r.returncode == 0, r
        commit(pbx.d)
        assert wait_for(lambda: trunk_status(pbx) == {}, 5), \
            trunk_status(pbx)
    finally:
        if b:
            b.stop()
        kam.stop()


@needs
def test_trunk_refreshes_its_registration(make_daemon, tmp_path):
    """The carrier grants 10 s: the trunk registers again at 85 %
    (8.5 s), answering a fresh challenge, and stays registered."""
    pbx = start_pbx(make_daemon, exts=("201",))
    kam = Kamailio(tmp_path, short_expiry=True).start()
    try:
        configure(pbx, kam)
        t = wait_state(pbx, "registered")
        first = t["registered_at"]
        assert t["expires_at"] - first == 10, t
        assert t["next_refresh"] - first in (8, 9), t
        mark = f"TRUNK-REGISTERED sip:{TRUNK_USER}@{CARRIER}"
        assert wait_for(lambda: kam.log().count(mark) >= 2, 15), kam.log()
        t = wait_for(lambda: (lambda x: x if x["registered_at"] > first
                              else None)(trunk_status(pbx)["itsp"]), 5)
        assert t and t["state"] == "registered" and t["failures"] == 0, t
        assert kam.log().count("TRUNK-CHALLENGED") >= 2, kam.log()
    finally:
        kam.stop()


@needs
def test_did_to_unknown_extension_refused_at_commit(make_daemon, tmp_path):
    pbx = start_pbx(make_daemon, exts=("201",))
    r = pbx.d.cli("settings", "set", "trunks", "itsp.host=192.0.2.1",
                  "did.5551000=299")
    assert r.returncode == 0, r
    r = pbx.d.cli("--json", "commit")
    assert r.returncode != 0, r
    out = r.stdout + r.stderr
    assert "trunks.did_unknown" in out and "did.5551000" in out, out
    # field rules at set time, naming field and rule
    r = pbx.d.cli("settings", "set", "trunks", "itsp.transport=sctp")
    assert r.returncode != 0
    assert "trunks.choice" in r.stdout + r.stderr, r
    r = pbx.d.cli("settings", "set", "trunks", "did.5551000=201")
    assert r.returncode == 0, r
    commit(pbx.d)
    st = trunk_status(pbx)
    # a trunk without register: "off" (an IP-authenticated peer)
    assert st["itsp"]["state"] == "off" and st["itsp"]["register"] is False
