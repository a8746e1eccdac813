"""Calls between real phones through bulwarkd (issue 11, "Done when"):
audio is proven by a tone each side sends and the other side's recording
(or the RTP delivered to it, recorded by a tap) contains — never by a
200 OK. The same harness passes through Kamailio + rtpengine
(test_calls_peer.py), so a failure here is bulwarkd's.

baresip A (201, 440 Hz) calls baresip B (202, 1000 Hz); linphonec calls
baresip; SIPp calls SIPp with pcap audio; RTP sprayed at the whole relay
range during a call reaches neither phone.
"""
import os
import shutil
import threading
import time

import pytest

from calls_lib import (TONE_A, TONE_B, TONE_SPRAY, Baresip, Linphonec,
                       heard, traces)
from calls_pbx import (PW, Later, bounded, check_idle, check_live,  # noqa: F401
                       one_call, pbx)
from calls_rtp import RtpTap, spray
from calls_sip import Sipp, register_udp, uac_xml, uas_xml

needs = {t: pytest.mark.skipif(not shutil.which(t), reason=f"needs {t}")
         for t in ("baresip", "linphonec", "sipp")}
ROOT = os.geteuid() == 0     # the RTP tap (AF_PACKET) needs root


def taps_for(*phones):
    return [RtpTap("127.0.0.1", p.rtp_ports) for p in phones] if ROOT else []


def assert_anchored(tap, pbx):
    """Everything delivered to the phone came from the relay: its address
    and ports of the daemon's RTP range (never the other phone)."""
    srcs = tap.sources()
    assert srcs, "no RTP reached the phone"
    bad = [s for s in srcs if s[0] != "127.0.0.1" or s[1] not in pbx.rtp]
    assert not bad, (bad, list(pbx.rtp)[:1], pbx.log())


def pair(pbx, tmp_path, max_s=40):
    a = Baresip(tmp_path / "a", "201", PW["201"], pbx.registrar, TONE_A,
                max_s=max_s)
    b = Baresip(tmp_path / "b", "202", PW["202"], pbx.registrar, TONE_B,
                max_s=max_s)
    return a, b


def establish(pbx, a, b):
    b.start()
    a.start()
    a.dial("202")
    try:
        a.wait("CALL_ESTABLISHED", 10)
        b.wait("CALL_ESTABLISHED", 5)
    except TimeoutError as e:
        raise AssertionError(f"{e}\n--- A:\n{a.log()}\n--- B:\n{b.log()}\n"
                             f"--- bulwarkd:\n{pbx.log()}")


@needs["baresip"]
def test_baresip_calls_baresip(pbx, tmp_path):
    a, b = pair(pbx, tmp_path)
    taps = taps_for(a, b)
    later = Later()
    try:
        establish(pbx, a, b)
        later(check_live, pbx, "201", "202", "answered")
        time.sleep(2.5)
        # RFC 4733 DTMF from A arrives at B
        assert a.cmd("sndcode", "7").get("ok")
        dtmf = b.wait("CALL_DTMF_START", 5)
        assert dtmf.get("param") == "7", dtmf
        # hold and resume (re-INVITEs from A): the PBX answers the hold
        # itself and B hears music on hold (issue 13,
        # test_calls_media_features.py); the resume is relayed to B
        n = len(a.ctrl.events)
        assert a.cmd("hold").get("ok")
        a.wait("CALL_REMOTE_SDP", 5, since=n)
        time.sleep(1)
        n = len(b.ctrl.events)
        assert a.cmd("resume").get("ok")
        b.wait("CALL_REMOTE_SDP", 5, since=n)
        t_resume = time.time()
        time.sleep(2.5)
        assert "CALL_CLOSED" not in b.ctrl.types()
        # BYE from A ends it on B
        assert a.cmd("hangup").get("ok")
        b.wait("CALL_CLOSED", 5)
        a.wait("CALL_CLOSED", 5)
    finally:
        a.stop()
        b.stop()
        for t in taps:
            t.stop()
    b_heard, a_heard = heard(b.recordings(), TONE_A), heard(a.recordings(),
                                                            TONE_B)
    print(f"recordings: B heard {TONE_A} Hz {b_heard} s, A heard {TONE_B} Hz "
          f"{a_heard} s")
    assert b_heard >= 2.0 and a_heard >= 2.0, (b_heard, a_heard)
    assert heard(b.recordings(), TONE_B) == 0   # no echo of B's own tone
    if taps:
        for t in taps:
            assert_anchored(t, pbx)
        after_a = heard([taps[0].wav(tmp_path / "to_a.wav", t_resume)], TONE_B)
        after_b = heard([taps[1].wav(tmp_path / "to_b.wav", t_resume)], TONE_A)
        print(f"after resume: A got {TONE_B} Hz {after_a} s, B got {TONE_A} "
              f"Hz {after_b} s")
        assert after_a >= 1.5 and after_b >= 1.5, (after_a, after_b)
    later(check_idle, pbx)
    later(check_cdr, pbx, "201", "202", codec="PCMU")
    later.done()


def check_cdr(pbx, caller, callee, side="caller", min_pkts=100, codec=None):
    row = one_call(pbx.wait_cdrs(1), caller, callee)
    print("cdr:", row)
    assert row["disposition"] == "answered", row
    assert row["hangup_side"] == side, row
    assert row["packets"]["caller"] >= min_pkts, row
    assert row["packets"]["callee"] >= min_pkts, row
    assert row["dropped"] == {"caller": 0, "callee": 0}, row
    if codec:
        assert row["codec"].upper().startswith(codec), row
    return row


@needs["baresip"]
@needs["linphonec"]
def test_linphonec_calls_baresip(pbx, tmp_path):
    a = Linphonec(tmp_path / "a", "201", PW["201"], pbx.registrar, TONE_A,
                  max_s=40)
    b = Baresip(tmp_path / "b", "202", PW["202"], pbx.registrar, TONE_B,
                max_s=40)
    later = Later()
    try:
        b.start()
        a.start()
        a.send("call sip:202@127.0.0.1")
        try:
            b.wait("CALL_ESTABLISHED", 10)
            a.wait_line(r"Call 1 with .* connected", 5)
        except TimeoutError as e:
            raise AssertionError(f"{e}\n{a.output()[-3000:]}\n{pbx.log()}")
        later(check_live, pbx, "201", "202", "answered")
        time.sleep(3)
        a.send("4")
        assert b.wait("CALL_DTMF_START", 5).get("param") == "4"
        a.send("terminate")
        b.wait("CALL_CLOSED", 5)
        a.wait_line(r"Call 1 with .* ended", 5)
    finally:
        a.stop()
        b.stop()
    b_heard, a_heard = heard(b.recordings(), TONE_A), heard([a.rec_wav],
                                                            TONE_B)
    print(f"B heard {TONE_A} Hz {b_heard} s, linphonec heard {TONE_B} Hz "
          f"{a_heard} s")
    assert b_heard >= 2.0 and a_heard >= 2.0, (b_heard, a_heard)
    later(check_idle, pbx)
    later(check_cdr, pbx, "201", "202")
    later.done()


@needs["sipp"]
def test_sipp_calls_sipp_with_pcap_audio(pbx, tmp_path):
    """205 (SIPp UAC, digest) calls 204 (SIPp UAS): g711a.pcap (236
    packets) played by each end; each end receives all 236 through the
    relay, and the CDR counts them both ways."""
    uas = Sipp(tmp_path, "uas", uas_xml(answer=True))
    assert register_udp(pbx.server, "204", PW["204"], uas.port)
    uac = Sipp(tmp_path, "uac", uac_xml("205", PW["205"], hold_ms=8000))
    taps = [RtpTap("127.0.0.1", [x.media_port]) for x in (uac, uas)] \
        if ROOT else []
    try:
        uas.start(timeout_s=30)
        time.sleep(0.3)
        uac.start(target=pbx.registrar, service="204", timeout_s=30)
        assert uac.wait(40) == 0, uac.report() + pbx.log()
        assert uas.wait(10) == 0, uas.report()
    finally:
        uac.stop()
        uas.stop()
        for t in taps:
            t.stop()
    counts = [len(t.packets()) for t in taps]
    print(f"pcap packets delivered: to the UAC {counts[:1]}, to the UAS "
          f"{counts[1:]}")
    assert all(n == 236 for n in counts), counts
    for t in taps:
        assert_anchored(t, pbx)
    later = Later()
    later(check_idle, pbx)
    later(check_cdr, pbx, "205", "204", "caller", 236)
    later.done()


@needs["baresip"]
def test_rtp_spray_reaches_no_phone(pbx, tmp_path):
    """During an answered call a third address sprays RTP (v2, PCMU, a
    2600 Hz tone) at every port of the relay range: the relay drops and
    counts it, neither phone gets any of it (their recordings and what
    the tap saw delivered have no 2600 Hz), and the call goes on with the
    tones intact."""
    a, b = pair(pbx, tmp_path)
    taps = taps_for(a, b)
    sent = []
    later = Later()
    try:
        establish(pbx, a, b)
        time.sleep(1)
        t0 = time.time()
        th = threading.Thread(target=lambda: sent.append(
            spray("127.0.0.1", list(pbx.rtp), 3.0, TONE_SPRAY)))
        th.start()
        th.join(10)
        t_after = time.time()
        time.sleep(2.5)
        assert "CALL_CLOSED" not in a.ctrl.types() + b.ctrl.types()
        later(check_live, pbx, "201", "202", "answered")
        relay = pbx.relay()     # while the call is up
        a.cmd("hangup")
        b.wait("CALL_CLOSED", 5)
    finally:
        a.stop()
        b.stop()
        for t in taps:
            t.stop()
    print(f"sprayed {sent} packets at {len(pbx.rtp)} ports in "
          f"{t_after - t0:.1f} s")
    assert sent and sent[0] > 1000
    recs = a.recordings() + b.recordings()
    assert traces(recs, TONE_SPRAY) == 0, "spray heard by a phone"
    assert heard(b.recordings(), TONE_A) >= 2.0
    assert heard(a.recordings(), TONE_B) >= 2.0
    if taps:
        wavs = [t.wav(tmp_path / f"tap{i}.wav") for i, t in enumerate(taps)]
        assert traces(wavs, TONE_SPRAY) == 0, "spray delivered to a phone"
        for t in taps:
            assert_anchored(t, pbx)
        # the call went on after the spray, both ways
        assert heard([taps[1].wav(tmp_path / "b_after.wav", t_after)],
                     TONE_A) >= 1.5
        assert heard([taps[0].wav(tmp_path / "a_after.wav", t_after)],
                     TONE_B) >= 1.5
    later(check_relay_dropped, relay, pbx)
    later(check_spray_counted, pbx)
    later.done()


def check_relay_dropped(during, pbx):
    """The relay counted the spray (call.h: relay.dropped_source; the
    daemon also has dropped_source_total): about 150 packets reached each
    of the call's 4 ports, so hundreds, once the final counters are in
    (at most 3 s after the end)."""
    time.sleep(3)
    after = pbx.relay()
    print("relay during the call:", during, "after:", after)
    key = "dropped_source" if "dropped_source" in after else \
        "dropped_source_total"
    assert after.get(key, 0) >= 300, (key, during, after)


def check_spray_counted(pbx):
    row = one_call(pbx.wait_cdrs(1), "201", "202")
    print("cdr:", row)
    # both legs' ports were sprayed: both counters
    assert row["dropped"]["caller"] > 0 and row["dropped"]["callee"] > 0, row
    assert row["disposition"] == "answered", row


TONE_C = 697


def at_least(value, floor, what):
    assert value >= floor, f"{what}: {value} < {floor}"


@needs["baresip"]
def test_blind_transfer_baresip(pbx, tmp_path):
    """A (201) calls B (202); B transfers A blind to C (203, 697 Hz) with
    REFER: B is released, C answers, A hears C and C hears A (A's tap,
    C's recording); A's BYE then ends it on C."""
    a, b = pair(pbx, tmp_path)
    c = Baresip(tmp_path / "c", "203", PW["203"], pbx.registrar, TONE_C,
                max_s=40)
    taps = taps_for(a)
    later = Later()
    try:
        c.start()
        establish(pbx, a, b)
        time.sleep(1)
        assert b.cmd("transfer", f"sip:203@{pbx.server[0]}").get("ok")
        try:
            c.wait("CALL_ESTABLISHED", 10)
            b.wait("CALL_CLOSED", 5)
        except TimeoutError as e:
            raise AssertionError(f"{e}\n--- B:\n{b.log()}\n--- bulwarkd:\n"
                                 f"{pbx.log()}")
        t_x = time.time()
        time.sleep(3)
        assert "CALL_CLOSED" not in a.ctrl.types()
        later(check_live, pbx, "201", "203", "answered")
        a.cmd("hangup")
        c.wait("CALL_CLOSED", 5)
    finally:
        for p in (a, b, c):
            p.stop()
        for t in taps:
            t.stop()
    c_heard = heard(c.recordings(), TONE_A)
    print(f"after the transfer: C heard {TONE_A} Hz {c_heard} s")
    assert c_heard >= 2.0, c_heard
    if taps:
        a_heard = heard([taps[0].wav(tmp_path / "to_a.wav", t_x)], TONE_C)
        print(f"after the transfer: A got {TONE_C} Hz {a_heard} s")
        assert a_heard >= 2.0, a_heard
        assert_anchored(taps[0], pbx)
    later(check_idle, pbx)
    later.done()


@needs["baresip"]
@needs["linphonec"]
def test_attended_transfer_linphonec(pbx, tmp_path):
    """linphonec A (201) calls B (202, 1000 Hz), holds it, calls C (203,
    697 Hz), then transfers B to C (REFER with Replaces): A is released,
    B and C talk — each hears the other (taps: both re-INVITEd). No peer
    validates this one: baresip 1.0 as transferee ignores a REFER with
    Replaces when a proxy relays it end to end."""
    a = Linphonec(tmp_path / "a", "201", PW["201"], pbx.registrar, TONE_A,
                  max_s=40)
    b = Baresip(tmp_path / "b", "202", PW["202"], pbx.registrar, TONE_B,
                max_s=40)
    c = Baresip(tmp_path / "c", "203", PW["203"], pbx.registrar, TONE_C,
                max_s=40)
    taps = taps_for(b, c)
    relay_tap = RtpTap("127.0.0.1", pbx.rtp) if ROOT else None
    later = Later()
    try:
        b.start()
        c.start()
        a.start()
        a.send("call sip:202@127.0.0.1")
        b.wait("CALL_ESTABLISHED", 10)
        a.wait_line(r"Call 1 with .* connected", 5)
        time.sleep(1)
        a.send("pause 1")
        a.wait_line(r"Call 1 with .* paused", 5)
        a.send("call sip:203@127.0.0.1")
        c.wait("CALL_ESTABLISHED", 10)
        a.wait_line(r"Call 2 with .* connected", 5)
        time.sleep(1)
        a.send("transfer 1 --to-call 2")
        try:
            a.wait_line(r"has been transfered", 5)
            a.wait_line(r"Call 1 with .* ended", 5)
        except TimeoutError as e:
            raise AssertionError(f"{e}\n{pbx.log()}")
        t_x = time.time()
        time.sleep(3)
        assert "CALL_CLOSED" not in b.ctrl.types() + c.ctrl.types()
        b.cmd("hangup")
        later(c.wait, "CALL_CLOSED", 5)
    finally:
        for p in (a, b, c):
            p.stop()
        for t in taps + [relay_tap] * bool(relay_tap):
            t.stop()
    if taps:
        b_heard = heard([taps[0].wav(tmp_path / "to_b.wav", t_x)], TONE_C)
        c_heard = heard([taps[1].wav(tmp_path / "to_c.wav", t_x)], TONE_B)
        from_b = [p for p in relay_tap.packets(since=t_x)
                  if p[1][1] in b.rtp_ports]
        print(f"after the transfer: B got {TONE_C} Hz {b_heard} s, C got "
              f"{TONE_B} Hz {c_heard} s; B sent the relay {len(from_b)} "
              f"packets")
        later(at_least, b_heard, 2.0, "B hears C (s)")
        later(at_least, c_heard, 2.0, f"C hears B (s; B sent the relay "
              f"{len(from_b)} packets after the transfer: still on the "
              f"hold A put it on?)")
    later(check_idle, pbx)
    later.done()
