"""SDES SRTP (issue 15): baresip over TLS with SRTP mandatory calls an SRTP
extension and a plain one, and a plain phone calls the SRTP extension;
audio both ways proven by tones in each side's recording, SRTP proven on
the wire (an RTP tap on the relay's ports and on the SRTP phone's own
ports: 80-bit tags, payloads that are not the plain G.711 the other phone
sent). A packet with a bad tag forged from the SRTP phone's own address
to its relay port is dropped and counted (srtp_auth_fail), and the audio
goes on. Refusals: a plain offer from an extension with phone.srtp, and
a=crypto over UDP, each 488."""
import random
import shutil
import struct
import time
import wave

import pytest

from calls_lib import TONE_A, TONE_B, Baresip
from calls_lib import heard as heard_now
from calls_pbx import PW, bounded  # noqa: F401
from calls_rtp import RtpTap
from test_guard_forged import Forger
from conftest import UnixHTTPConnection
from test_tls import call
from tls_lib import tls_pbx

needs_baresip = pytest.mark.skipif(not shutil.which("baresip"),
                                   reason="needs baresip")
TONE_C = 697
RTP_HDR, PCM_20MS, TAG_80 = 12, 160, 10


def heard(paths, freq):
    """calls_lib.heard, once baresip finished writing the files (a call
    just closed: its recording may still lack its header on a loaded
    machine)."""
    for _ in range(20):
        try:
            return heard_now(paths, freq)
        except (EOFError, wave.Error):
            time.sleep(0.1)
    return heard_now(paths, freq)


def srtp_phone(p, tmp_path, name, ext, tone, **kw):
    return Baresip(tmp_path / name, ext, PW[ext], p.tls, tone,
                   transport="tls", cafile=p.cert, mediaenc="srtp-mand",
                   **kw)


def rtp_lengths(pkts, src=None):
    """Lengths of the RTP (not RTCP) datagrams among pkts, from src."""
    out = []
    for _, s, _, data in pkts:
        if src and s != src:
            continue
        if len(data) >= 12 and data[0] >> 6 == 2 and \
                not 64 <= (data[1] & 0x7f) <= 95:
            out.append(len(data))
    return out


def from_phone(tap, phone, since):
    """(source, relay port, last packet) of phone's RTP to the relay."""
    for _, src, dport, data in reversed(tap.packets(since)):
        if src[1] in phone.rtp_ports and dport % 2 == 0 and \
                not 64 <= (data[1] & 0x7f) <= 95:
            return src, dport, data
    raise AssertionError(f"no RTP from {phone.user} in the tap")


def metrics(d):
    """GET /metrics on the control socket: {series: value}."""
    conn = UnixHTTPConnection(d.sock, timeout=10)
    try:
        conn.request("GET", "/metrics")
        r = conn.getresponse()
        text = r.read().decode()
    finally:
        conn.close()
    assert r.status == 200, text
    return {k: int(v) for k, v in (ln.rsplit(" ", 1) for ln in
                                   text.splitlines()
                                   if ln and not ln.startswith("#"))}


def relay_counters(p):
    r = p.relay()
    return r.get("srtp_auth_fail_total"), r.get("srtp_replay_total")


@needs_baresip
def test_srtp_calls_tags_and_forgery(make_daemon, tmp_path):
    p = tls_pbx(make_daemon, exts=("201", "202", "203"))
    p.set_ext("201", "phone.transports=tls", "phone.srtp=true")
    p.set_ext("202", "phone.transports=tls", "phone.srtp=true")
    a = srtp_phone(p, tmp_path, "a", "201", TONE_A, max_s=55)
    b = srtp_phone(p, tmp_path, "b", "202", TONE_B, max_s=55)
    c = Baresip(tmp_path / "c", "203", PW["203"], p.registrar, TONE_C,
                max_s=55)
    tap = RtpTap("127.0.0.1", p.rtp)
    try:
        for ph in (a, b, c):
            ph.start()
        tap_a = RtpTap("127.0.0.1", a.rtp_ports)
        try:
            # 1. SRTP to SRTP: both ends mandatory, both hear the other
            t0 = time.time()
            call(p, a, b, "202", hold=3.0)
            ra, rb = list(a.recordings()), list(b.recordings())
            assert heard(rb, TONE_A) >= 2.0, (heard(rb, TONE_A), p.log())
            assert heard(ra, TONE_B) >= 2.0, (heard(ra, TONE_B), p.log())
            srtp_len = RTP_HDR + PCM_20MS + TAG_80
            got = rtp_lengths(tap.packets(t0))
            assert got and set(got) == {srtp_len}, sorted(set(got))
            to_a = rtp_lengths(tap_a.packets(t0))
            assert to_a and set(to_a) == {srtp_len}, sorted(set(to_a))

            # 2. SRTP caller, plain callee; a forged packet (bad tag)
            # from the caller's own address to its relay port
            fail0, _ = relay_counters(p)
            t1 = time.time()
            a.dial("203")
            a.wait("CALL_ESTABLISHED", 10)
            c.wait("CALL_ESTABLISHED", 5)
            time.sleep(1.5)
            src, dport, last = from_phone(tap, a, t1)
            seq, = struct.unpack("!H", last[2:4])
            fg = Forger()
            try:
                for i in range(20):
                    pkt = bytearray(last)
                    pkt[2:4] = struct.pack("!H", (seq + 500 + i) & 0xffff)
                    pkt[-TAG_80:] = random.randbytes(TAG_80)
                    fg.send(src[0], "127.0.0.1", bytes(pkt),
                            sport=src[1], dport=dport)
            finally:
                fg.close()
            time.sleep(5.0)
            fail1, _ = relay_counters(p)
            assert a.cmd("hangup").get("ok")
            c.wait("CALL_CLOSED", 5)
            a.wait("CALL_CLOSED", 5)
            assert fail1 is not None and fail1 - (fail0 or 0) >= 20, \
                (fail0, fail1)
            rc = list(c.recordings())
            # the caller's tone went on after the forgery (1.5 s in)
            assert heard(rc, TONE_A) >= 4.0, (heard(rc, TONE_A), p.log())
            ra2 = [r for r in a.recordings() if r not in ra]
            assert heard(ra2, TONE_C) >= 4.0, (heard(ra2, TONE_C), p.log())
            # on the wire: SRTP from the SRTP phone, plain from the other
            assert set(rtp_lengths(tap.packets(t1), src)) == {srtp_len}
            plain = [ln for _, s, _, d in tap.packets(t1)
                     if s[1] in c.rtp_ports
                     for ln in rtp_lengths([(0, s, 0, d)])]
            assert plain and set(plain) == {RTP_HDR + PCM_20MS}, \
                sorted(set(plain))
            assert set(rtp_lengths(tap_a.packets(t1))) == {srtp_len}

            # 3. plain caller, SRTP callee (we offer it SRTP over TLS)
            rb0 = list(b.recordings())
            call(p, c, b, "202", hold=3.0)
            rb2 = [r for r in b.recordings() if r not in rb0]
            assert heard(rb2, TONE_C) >= 2.0, (heard(rb2, TONE_C), p.log())
            # /metrics tells a monitoring system (calls ended: totals)
            m = metrics(p.d)
            assert m["bulwark_relay_srtp_auth_fail_total"] >= 20, m
            assert "bulwark_relay_srtp_replay_total" in m, m
        finally:
            tap_a.stop()
    finally:
        tap.stop()
        for ph in (a, b, c):
            ph.stop()


@needs_baresip
def test_srtp_refusals(make_daemon, tmp_path):
    """phone.srtp with a plain offer: 488; a=crypto over UDP: 488."""
    p = tls_pbx(make_daemon, exts=("201", "202", "203"))
    p.set_ext("201", "phone.transports=tls", "phone.srtp=true")
    plain_tls = Baresip(tmp_path / "a", "201", PW["201"], p.tls, TONE_A,
                        transport="tls", cafile=p.cert, max_s=30)
    udp_srtp = Baresip(tmp_path / "c", "203", PW["203"], p.registrar,
                       TONE_C, mediaenc="srtp-mand", max_s=30)
    b = Baresip(tmp_path / "b", "202", PW["202"], p.registrar, TONE_B,
                max_s=30)
    try:
        for ph in (plain_tls, udp_srtp, b):
            ph.start()
        for ph, why in ((plain_tls, "plain RTP offered by an extension "
                         "with phone.srtp"),
                        (udp_srtp, "SRTP keys offered over a transport "
                         "other than TLS")):
            ph.dial("202")
            ev = ph.wait("CALL_CLOSED", 10)
            assert "488" in str(ev), ev
            assert why in p.log(), p.log()
        with pytest.raises(TimeoutError):
            b.wait("CALL_INCOMING", 1)
    finally:
        for ph in (plain_tls, udp_srtp, b):
            ph.stop()


@needs_baresip
def test_srtp_phone_leaves_voicemail(make_daemon, tmp_path):
    """An SRTP phone (201: phone.srtp, TLS) calls 202, which has a mailbox
    and no phone: the PBX's voicemail answers through the relay (SRTP up
    to it, plain to the endpoint); 201 hears the greeting and the beep,
    and its tone is in the message stored."""
    from vm_lib import MSG_HZ, audible_seconds, beep_seconds, check_message
    p = tls_pbx(make_daemon, exts=("201", "202"))
    p.set_ext("201", "phone.transports=tls", "phone.srtp=true")
    a = srtp_phone(p, tmp_path, "a", "201", MSG_HZ, max_s=40)
    tap = RtpTap("127.0.0.1", p.rtp)
    try:
        a.start()
        a.dial("202")
        try:
            a.wait("CALL_ESTABLISHED", 10)
        except TimeoutError as e:
            raise AssertionError(f"{e}\n{a.log()}\n{p.log()}")
        time.sleep(2.0)                  # some of the greeting
        assert a.cmd("sndcode", "1").get("ok")      # skip to the tone
        time.sleep(7.0)
        a.cmd("hangup")
        a.wait("CALL_CLOSED", 5)
    finally:
        tap.stop()
        a.stop()
    recs = a.recordings()
    assert recs, a.log()
    assert audible_seconds(recs[0]) >= 1.0, "no greeting heard"
    assert beep_seconds(recs[0]) >= 0.25, "no beep heard"
    check_message(p, tmp_path, "202", "201", 3000, 3.0)
    # what the phone sent the relay was SRTP (80-bit tags): G.711, and
    # the RFC 4733 event of its '1' (4 octets)
    got = [ln for _, s, _, d in tap.packets() if s[1] in a.rtp_ports
           for ln in rtp_lengths([(0, s, 0, d)])]
    assert RTP_HDR + PCM_20MS + TAG_80 in got and \
        set(got) <= {RTP_HDR + PCM_20MS + TAG_80, RTP_HDR + 4 + TAG_80}, \
        sorted(set(got))
