"""The call-test harness validated against a peer known to work: baresip
calls baresip through Kamailio 5.6 + rtpengine (user-space relay), each
side must detect the other's tone in its recording and DTMF must arrive.
When this passes and test_calls.py fails, the failure is bulwarkd's.
"""
import contextlib
import os
import pathlib
import shutil
import subprocess
import time

import pytest

from calls_lib import (TONE_A, TONE_B, TONE_SPRAY, Baresip, Linphonec,
                       free_block, free_port, heard, stop_pid, traces)
from calls_rtp import RtpTap, spray
from calls_sip import (SipUac, Sipp, header_names, register_udp, status_of,
                       uac_xml, uas_xml)
from conftest import wait_for

pytestmark = pytest.mark.skipif(
    not (shutil.which("kamailio") and shutil.which("rtpengine")),
    reason="needs kamailio and rtpengine")
needs = {t: pytest.mark.skipif(not shutil.which(t), reason=f"needs {t}")
         for t in ("baresip", "linphonec", "sipp")}

CFG = pathlib.Path(__file__).parent / "data" / "kamailio-rtpengine.cfg"
# 2001-2003 phones; 2004-2006 SIPp (each UAS its own user, so no stale
# contact of an earlier SIPp run is forked to)
USERS = {f"200{i}": f"Secret200{i}Ab" for i in range(1, 7)}


def _listening_udp(port):
    out = subprocess.run(["ss", "-lunH"], capture_output=True, text=True,
                         timeout=5).stdout
    return f"127.0.0.1:{port} " in out


FLAGS = "replace-origin replace-session-connection ICE=remove"


@contextlib.contextmanager
def kamailio_rtpengine(tmp_path, flags=FLAGS):
    """rtpengine (ng and 100 media ports chosen free) and Kamailio on a
    free UDP port, rtpengine_manage() given flags; stopped by pid after.
    Yields (registrar "127.0.0.1:PORT", media port range)."""
    ng, cli, sip = free_port(), free_port(), free_port()
    media = free_block(100, lo=41000, hi=49000)
    users = "\n".join(f'\t$sht(users=>{u}) = "{p}";' for u, p in USERS.items())
    cfg = tmp_path / "kamailio.cfg"
    cfg.write_text(CFG.read_text().replace("@RTPE_NG@", f"127.0.0.1:{ng}")
                   .replace("@USERS@", users).replace("@FLAGS@", flags))
    rlog = open(tmp_path / "rtpengine.log", "wb")
    rtpe = subprocess.Popen(
        ["rtpengine", "--config-file=none", "--table=-1",
         "--interface=127.0.0.1", f"--listen-ng=127.0.0.1:{ng}",
         f"--listen-cli=127.0.0.1:{cli}", f"--port-min={media}",
         f"--port-max={media + 99}", "--foreground", "--log-stderr",
         "--num-threads=1", "--timeout=60", "--delete-delay=0",
         f"--pidfile={tmp_path}/rtpengine.pid"],
        stdout=rlog, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    klog = open(tmp_path / "kamailio.log", "wb")
    kam = None
    try:
        assert wait_for(lambda: _listening_udp(ng), 10), \
            (tmp_path / "rtpengine.log").read_text()
        kam = subprocess.Popen(
            ["kamailio", "-f", str(cfg), "-DD", "-E", "-m", "64", "-M", "8",
             "-Y", str(tmp_path), "-l", f"udp:127.0.0.1:{sip}"],
            stdout=klog, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        assert wait_for(lambda: _listening_udp(sip), 10), \
            (tmp_path / "kamailio.log").read_text()[-3000:]
        yield f"127.0.0.1:{sip}", range(media, media + 100)
    finally:
        stop_pid(kam)
        stop_pid(rtpe)
        klog.close()
        rlog.close()


@pytest.fixture(scope="module")
def kamrtp(tmp_path_factory):
    """One Kamailio + rtpengine for the tests of this module."""
    tmp_path = tmp_path_factory.mktemp("kamrtp")
    with kamailio_rtpengine(tmp_path) as (registrar, _):
        yield registrar, tmp_path


def can_tap():
    return os.geteuid() == 0


@needs["baresip"]
def test_baresip_through_kamailio_rtpengine(kamrtp, tmp_path):
    """Call, DTMF, hold, resume, BYE; tones checked in each phone's own
    recording (before the hold) and in what the network delivered to each
    phone after the resume (baresip 1.0 stops its sndfile dump at the
    first re-INVITE, so the tap is the evidence there)."""
    registrar, logs = kamrtp
    a = Baresip(tmp_path / "a", "2001", USERS["2001"], registrar, TONE_A,
                max_s=30)
    b = Baresip(tmp_path / "b", "2002", USERS["2002"], registrar, TONE_B,
                max_s=30)
    taps = [RtpTap("127.0.0.1", x.rtp_ports) for x in (a, b)] \
        if can_tap() else []
    try:
        b.start()
        a.start()
        a.dial("2002")
        a.wait("CALL_ESTABLISHED", 10)
        b.wait("CALL_ESTABLISHED", 5)
        time.sleep(2.5)
        a.cmd("sndcode", "5")
        dtmf = b.wait("CALL_DTMF_START", 5)
        assert dtmf.get("param") == "5", dtmf
        n = len(b.ctrl.events)
        assert a.cmd("hold").get("ok")
        b.wait("CALL_REMOTE_SDP", 5, since=n)
        time.sleep(1)
        n = len(b.ctrl.events)
        assert a.cmd("resume").get("ok")
        b.wait("CALL_REMOTE_SDP", 5, since=n)
        t_resume = time.time()
        time.sleep(2.5)
        a.cmd("hangup")
        b.wait("CALL_CLOSED", 5)
        a.wait("CALL_CLOSED", 5)
    finally:
        a.stop()
        b.stop()
        for t in taps:
            t.stop()
    recs_a, recs_b = a.recordings(), b.recordings()
    assert recs_a and recs_b, (a.log(), b.log())
    b_heard = heard(recs_b, TONE_A)
    a_heard = heard(recs_a, TONE_B)
    print(f"recordings: B heard {TONE_A} Hz {b_heard} s, A heard {TONE_B} Hz "
          f"{a_heard} s")
    assert b_heard >= 2.0, (b_heard, recs_b)
    assert a_heard >= 2.0, (a_heard, recs_a)
    # the detector is not fooled: nobody sent these
    assert heard(recs_b, TONE_B) == 0 and heard(recs_a, TONE_A) == 0
    assert traces(recs_a + recs_b, TONE_SPRAY) == 0
    if taps:
        to_a = taps[0].wav(tmp_path / "to_a.wav", since=t_resume)
        to_b = taps[1].wav(tmp_path / "to_b.wav", since=t_resume)
        after_a, after_b = heard([to_a], TONE_B), heard([to_b], TONE_A)
        print(f"after resume: A got {TONE_B} Hz {after_a} s, B got {TONE_A} "
              f"Hz {after_b} s")
        assert after_a >= 1.5 and after_b >= 1.5, (after_a, after_b)


@needs["baresip"]
@needs["linphonec"]
def test_linphonec_calls_baresip(kamrtp, tmp_path):
    """linphonec records only what it hears (record FILE): its recording
    holds B's tone, B's holds linphonec's; its RFC 4733 DTMF arrives."""
    registrar, _ = kamrtp
    a = Linphonec(tmp_path / "a", "2001", USERS["2001"], registrar, TONE_A,
                  max_s=30)
    b = Baresip(tmp_path / "b", "2002", USERS["2002"], registrar, TONE_B,
                max_s=30)
    try:
        b.start()
        a.start()
        a.send("call sip:2002@127.0.0.1")
        b.wait("CALL_ESTABLISHED", 10)
        a.wait_line(r"Call 1 with .* connected", 5)
        time.sleep(3)
        a.send("5")
        assert b.wait("CALL_DTMF_START", 5).get("param") == "5"
        a.send("terminate")
        b.wait("CALL_CLOSED", 5)
        a.wait_line(r"Call 1 with .* ended", 5)
    finally:
        a.stop()
        b.stop()
    b_heard = heard(b.recordings(), TONE_A)
    a_heard = heard([a.rec_wav], TONE_B)
    print(f"B heard {TONE_A} Hz {b_heard} s, linphonec heard {TONE_B} Hz "
          f"{a_heard} s")
    assert b_heard >= 2.0 and a_heard >= 2.0, (b_heard, a_heard, a.output())


@needs["sipp"]
def test_sipp_pcap_call_cancel_and_refusals(kamrtp, tmp_path):
    """The SIPp scenarios: a call with the pcap played both ways (236
    packets each, counted by the tap at each end), CANCEL before answer
    (200, 487), a refusal answered as expected, 403 for a From that is
    not the authenticated user; and the raw client's 407 then 404."""
    registrar, _ = kamrtp
    host, port = registrar.split(":")
    server = (host, int(port))
    uas = Sipp(tmp_path, "uas", uas_xml(answer=True))
    assert register_udp(server, "2004", USERS["2004"], uas.port)
    uac = Sipp(tmp_path, "uac", uac_xml("2005", USERS["2005"], hold_ms=8000))
    taps = [RtpTap("127.0.0.1", [x.media_port]) for x in (uac, uas)] \
        if can_tap() else []
    try:
        uas.start(timeout_s=30)
        time.sleep(0.3)
        uac.start(target=registrar, service="2004", timeout_s=30)
        assert uac.wait(40) == 0, uac.report()
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

    uas = Sipp(tmp_path, "uas2", uas_xml(answer=False))
    assert register_udp(server, "2006", USERS["2006"], uas.port)
    uac = Sipp(tmp_path, "cancel", uac_xml("2005", USERS["2005"],
                                           mode="cancel"))
    try:
        uas.start(timeout_s=20)
        time.sleep(0.3)
        uac.start(target=registrar, service="2006", timeout_s=20)
        assert uac.wait(30) == 0, uac.report()
        assert uas.wait(10) == 0, uas.report()
    finally:
        uac.stop()
        uas.stop()
    for name, xml, svc in [
            ("notfound", uac_xml("2005", USERS["2005"], mode="expect",
                                 expect=404), "2999"),
            ("forbidden", uac_xml("2005", USERS["2005"], from_user="2001",
                                  mode="expect", expect=403), "2006")]:
        u = Sipp(tmp_path, name, xml).start(target=registrar, service=svc,
                                            timeout_s=10)
        assert u.wait(20) == 0, u.report()
    c = SipUac(server, "2005")
    try:
        chal, final = c.call("2999", USERS["2005"])
    finally:
        c.close()
    assert status_of(chal) == 407 and status_of(final) == 404, (chal, final)
    assert "proxy-authenticate" in header_names(chal)


@needs["baresip"]
@pytest.mark.skipif(not can_tap(), reason="the RTP tap needs root")
@pytest.mark.parametrize("strict", [False, True])
def test_spray_detected_when_it_leaks(tmp_path, strict):
    """The spray check can fail: RTP sprayed at rtpengine's whole range
    during a call leaks into the phones when rtpengine re-learns sources
    (its default) and the tap sees the 2600 Hz; with strict-source, once
    both phones' RTP and RTCP are learned, nothing of it reaches them and
    both tones go on."""
    flags = FLAGS + (" strict-source" if strict else "")
    logs = tmp_path
    with kamailio_rtpengine(tmp_path, flags) as (registrar, media):
        a = Baresip(tmp_path / "a", "2001", USERS["2001"], registrar, TONE_A,
                    max_s=30)
        b = Baresip(tmp_path / "b", "2002", USERS["2002"], registrar, TONE_B,
                    max_s=30)
        taps = [RtpTap("127.0.0.1", x.rtp_ports) for x in (a, b)]
        try:
            b.start()
            a.start()
            a.dial("2002")
            a.wait("CALL_ESTABLISHED", 10)
            b.wait("CALL_ESTABLISHED", 5)
            if strict:
                # rtpengine learns each endpoint from its first packets,
                # RTCP too: before a phone's first RTCP (about 5 s in) the
                # sprayer would be learned as that RTCP peer even with
                # strict-source. Spray once all four are confirmed.
                assert wait_for(lambda: (logs / "rtpengine.log").read_text()
                                .count("Confirmed peer address") >= 4, 12)
            else:
                time.sleep(1)
            sent = spray("127.0.0.1", media, 1.5, TONE_SPRAY)
            t_after = time.time()
            time.sleep(2)
            a.cmd("hangup")
            b.wait("CALL_CLOSED", 5)
        finally:
            a.stop()
            b.stop()
            for t in taps:
                t.stop()
    wavs = [t.wav(tmp_path / f"tap{i}.wav") for i, t in enumerate(taps)]
    leaked = traces(wavs, TONE_SPRAY)
    print(f"strict={strict}: sprayed {sent} packets, 2600 Hz delivered to the "
          f"phones for {leaked} s, in their recordings for "
          f"{traces(a.recordings() + b.recordings(), TONE_SPRAY)} s")
    if not strict:
        assert leaked >= 1.0, leaked
        return
    assert leaked == 0
    assert traces(a.recordings() + b.recordings(), TONE_SPRAY) == 0
    assert heard([taps[1].wav(tmp_path / "b_after.wav", t_after)],
                 TONE_A) >= 1.5
    assert heard([taps[0].wav(tmp_path / "a_after.wav", t_after)],
                 TONE_B) >= 1.5


@needs["baresip"]
def test_baresip_cancel_before_answer(kamrtp, tmp_path):
    """A hangs up while B (answermode=manual) rings: B sees the CANCEL."""
    registrar, _ = kamrtp
    a = Baresip(tmp_path / "a", "2001", USERS["2001"], registrar, TONE_A,
                max_s=20)
    b = Baresip(tmp_path / "b", "2002", USERS["2002"], registrar, TONE_B,
                max_s=20, answer="manual")
    try:
        b.start()
        a.start()
        a.dial("2002")
        b.wait("CALL_INCOMING", 10)
        a.cmd("hangup")
        b.wait("CALL_CLOSED", 5)
        assert "CALL_ESTABLISHED" not in b.ctrl.types()
    finally:
        a.stop()
        b.stop()


@needs["baresip"]
def test_baresip_blind_transfer(kamrtp, tmp_path):
    """B transfers A to C (REFER; through a proxy A itself calls C): A
    hears C's 697 Hz, C hears A's 440 Hz."""
    registrar, _ = kamrtp
    a = Baresip(tmp_path / "a", "2001", USERS["2001"], registrar, TONE_A,
                max_s=20)
    b = Baresip(tmp_path / "b", "2002", USERS["2002"], registrar, TONE_B,
                max_s=20)
    c = Baresip(tmp_path / "c", "2003", USERS["2003"], registrar, 697,
                max_s=20)
    taps = [RtpTap("127.0.0.1", a.rtp_ports)] if can_tap() else []
    try:
        b.start()
        c.start()
        a.start()
        a.dial("2002")
        a.wait("CALL_ESTABLISHED", 10)
        b.wait("CALL_ESTABLISHED", 5)
        time.sleep(1)
        assert b.cmd("transfer", "sip:2003@127.0.0.1").get("ok")
        c.wait("CALL_ESTABLISHED", 10)
        b.wait("CALL_CLOSED", 5)
        t_x = time.time()
        time.sleep(2.5)
        a.cmd("hangup")
        c.wait("CALL_CLOSED", 5)
    finally:
        for p in (a, b, c):
            p.stop()
        for t in taps:
            t.stop()
    assert heard(c.recordings(), TONE_A) >= 2.0
    if taps:
        assert heard([taps[0].wav(tmp_path / "to_a.wav", t_x)], 697) >= 2.0
