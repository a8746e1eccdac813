"""Camp-on (issue 13) with real phones: 201 finds 202 busy (486), dials
*82 and hears the confirmation; when 202's call ends the PBX rings 201
first (the INVITE shows 202), then 202 (showing 201), and the two talk
through the relay (each hears the other's tone). Also: refused when 202
has camp-on off, *82 alone with nothing to camp on, a free extension
simply rung, a request that expires before the extension frees, a
callback the caller does not answer, a callee busy again, and a stop
during a callback.
"""
import re
import shutil
import time

import pytest

from calls_lib import TONE_A, TONE_B, Baresip, heard
from calls_pbx import PW, bounded, check_idle  # noqa: F401
from calls_sip import SipUac, Sipp, register_udp, status_of, uas_xml
from campon_lib import (Phone, answer_bye, busy_call, camp_status,
                        campon_pbx, confirm, hdr, voice_seconds)
from conftest import wait_for

pytestmark = pytest.mark.skipif(not shutil.which("sipp"),
                                reason="needs sipp")


@pytest.mark.skipif(not shutil.which("baresip"), reason="needs baresip")
def test_camp_on_callback_rings_both_and_carries_audio(make_daemon,
                                                       tmp_path):
    pbx = campon_pbx(make_daemon, ("201", "202"), ("203",))
    a = Baresip(tmp_path / "a", "201", PW["201"], pbx.registrar, TONE_A,
                max_s=50)
    b = Baresip(tmp_path / "b", "202", PW["202"], pbx.registrar, TONE_B,
                max_s=50)
    u = None
    try:
        a.start()
        b.start()
        # 202 is busy: 203 called it and it answered
        u, ok = busy_call(pbx)
        b.wait("CALL_ESTABLISHED", 10)
        # 201 calls 202: busy
        n = len(a.ctrl.events)
        a.dial("202")
        a.wait("CALL_CLOSED", 10, since=n)
        # *82 alone: the extension that was busy for 201; the PBX
        # answers, says "thank you" and hangs up
        n = len(a.ctrl.events)
        a.dial("*82")
        a.wait("CALL_ESTABLISHED", 10, since=n)
        a.wait("CALL_CLOSED", 15, since=n)
        assert "camp-on 201 -> 202: taken" in pbx.log(), pbx.log()[-3000:]
        # the confirmation was heard: the one recording so far (the 486
        # call had no media) holds the prompt (auth-thankyou, ~1 s)
        rec = wait_for(lambda: a.recordings() or None, 3)
        assert rec and len(rec) == 1, rec
        assert voice_seconds(rec[0]) >= 0.5, voice_seconds(rec[0])
        # nothing happens while 202 is busy
        time.sleep(2)
        assert not [c for c in pbx.calls() if c["caller"] == "201"], \
            pbx.calls()
        # 202's call ends: the PBX rings 201, showing 202
        na, nb = len(a.ctrl.events), len(b.ctrl.events)
        assert u.bye(ok) == 200
        # (baresip answers at once: its event names the peer, the From
        # of the INVITE)
        e = a.wait("CALL_ESTABLISHED", 10, since=na)
        assert e.get("param", "").startswith("sip:202@"), e
        # then 202, showing 201
        e = b.wait("CALL_ESTABLISHED", 10, since=nb)
        assert e.get("param", "").startswith("sip:201@"), e
        live = pbx.calls()
        assert len(live) == 1 and live[0]["caller"] == "201" and \
            live[0]["callee"] == "202" and live[0]["state"] == "answered", \
            live
        time.sleep(3)
        nb = len(b.ctrl.events)
        assert a.cmd("hangup").get("ok")
        b.wait("CALL_CLOSED", 5, since=nb)
    finally:
        if u:
            u.close()
        a.stop()
        b.stop()
    b_heard = heard(b.recordings(), TONE_A)
    a_heard = heard(a.recordings(), TONE_B)
    assert b_heard >= 2.0 and a_heard >= 2.0, (b_heard, a_heard)
    rows = pbx.wait_cdrs(4)
    busy = [r for r in rows if r["caller"] == "201" and
            r["dialled"] == "202" and r["forward_rule"] == ""]
    assert len(busy) == 1 and busy[0]["disposition"] == "busy" and \
        busy[0]["cause"] == 486, rows
    conf = [r for r in rows if r["dialled"] == "*82"]
    assert len(conf) == 1 and conf[0]["disposition"] == "answered", rows
    cb = [r for r in rows if r["forward_rule"] == "camp_on"]
    assert len(cb) == 1, rows
    cb = cb[0]
    assert (cb["caller"], cb["callee"], cb["disposition"]) == \
        ("201", "202", "answered"), cb
    assert (cb["forward_from"], cb["forward_to"]) == ("202", "201"), cb
    assert cb["reason"].startswith("camp_on: "), cb
    assert cb["packets"]["caller"] >= 100 and \
        cb["packets"]["callee"] >= 100, cb
    assert "camp-on 201 -> 202: callback connected" in pbx.log()
    check_idle(pbx)


def test_camp_on_refused_unknown_and_free(make_daemon, tmp_path):
    """203 has camp-on off: *82203 gets 403 (camp_on_refused); *82
    alone with nothing busy before: 404; *82999 (no such number): 404;
    202 free: *82202 simply rings it; a class without camp_on: 403."""
    pbx = campon_pbx(make_daemon, (), ("201", "202", "203"))
    uas = Sipp(tmp_path, "uas202", uas_xml(answer=True, pcap=False))
    assert register_udp(pbx.server, "202", PW["202"], uas.port)
    c = SipUac(pbx.server, "201")
    try:
        assert status_of(c.call("*82203", PW["201"])[1]) == 403
        assert status_of(c.call("*82", PW["201"])[1]) == 404
        assert status_of(c.call("*82999", PW["201"])[1]) == 404
        uas.start(timeout_s=20)
        final = c.call("*82202", PW["201"])[1]
        assert status_of(final) == 200, final
        assert c.bye(final) == 200
        assert uas.wait(10) == 0, uas.report()
        r = pbx.d.cli("settings", "set", "cos", "desk=voicemail,internal")
        assert r.returncode == 0, r
        pbx.set_ext("201", "class_of_service=desk")
        assert status_of(c.call("*82202", PW["201"])[1]) == 403
    finally:
        c.close()
        uas.stop()
    rows = pbx.wait_cdrs(5)
    by = {r["dialled"]: r for r in rows}
    assert (by["*82203"]["reason"], by["*82203"]["cause"]) == \
        ("camp_on_refused", 403), rows
    assert (by["*82"]["reason"], by["*82"]["cause"]) == \
        ("camp_on_refused", 404), rows
    assert by["*82999"]["cause"] == 404, rows
    rung = [r for r in rows if r["disposition"] == "answered"]
    assert len(rung) == 1 and rung[0]["callee"] == "202", rows
    assert [r for r in rows if r["reason"] == "cos_feature"], rows
    assert "camp-on 201" not in pbx.log()
    check_idle(pbx)


def test_camp_on_request_expires(make_daemon, tmp_path):
    """Requests live 10 s here (--campon-expiry 10): 202 stays busy for
    longer, so when it frees nobody is called back (201's phone, a SIPp
    UAS, gets no INVITE)."""
    pbx = campon_pbx(make_daemon, (), ("201", "202", "203"), expiry=10)
    a = Sipp(tmp_path, "uas201", uas_xml(answer=True, pcap=False))
    b = Sipp(tmp_path, "uas202", uas_xml(answer=True, pcap=False))
    assert register_udp(pbx.server, "201", PW["201"], a.port)
    assert register_udp(pbx.server, "202", PW["202"], b.port)
    c = SipUac(pbx.server, "201")
    u = None
    try:
        a.start(timeout_s=40)
        b.start(timeout_s=40)
        time.sleep(0.3)
        u, ok = busy_call(pbx)
        assert status_of(c.call("202", PW["201"])[1]) == 486
        final = c.call("*82202", PW["201"])[1]
        assert status_of(final) == 200, final
        c.ack(final)
        assert answer_bye(c, 15), "the PBX did not hang up the *82 call"
        assert "camp-on 201 -> 202: taken" in pbx.log()
        st = camp_status(pbx)
        assert (st["requests"], st["taken"], st["expired"]) == (1, 1, 0), st
        assert wait_for(lambda: "request(s) expired" in pbx.log(), 14), \
            pbx.log()[-2000:]
        st = camp_status(pbx)
        assert (st["requests"], st["expired"]) == (0, 1), st
        assert u.bye(ok) == 200
        assert b.wait(10) == 0, b.report()
        time.sleep(4)
    finally:
        c.close()
        if u:
            u.close()
        a.stop()
        b.stop()
    assert not re.search(r"^INVITE sip:", a.messages(), re.M), a.messages()
    assert "the PBX calls 201" not in pbx.log()
    rows = pbx.cdrs()
    assert not [r for r in rows if r["forward_rule"] == "camp_on"], rows
    check_idle(pbx)


def test_callback_not_answered_is_dropped(make_daemon):
    """201's phone rings for its ring time (5 s) and is not answered: the
    PBX cancels it, never rings 202, and the request is gone (202 free
    again later: no second callback)."""
    pbx = campon_pbx(make_daemon, (), ("201", "202", "203"))
    pbx.set_ext("201", "user.ring_time=5")
    a = Phone(pbx, "201", answer_s=None)
    b = Phone(pbx, "202")
    c = SipUac(pbx.server, "201")
    u = None
    try:
        u, ok = busy_call(pbx)
        assert status_of(c.call("202", PW["201"])[1]) == 486
        confirm(pbx, c, "*82", PW["201"])
        assert u.bye(ok) == 200
        assert a.wait_invites(1, 5), "no callback"
        t0 = time.time()
        assert "sip:202@" in hdr(a.invites[0], "From"), a.invites[0]
        assert wait_for(lambda: a.cancelled >= 1 or None, 10)
        assert 4.0 <= time.time() - t0 <= 7.0
        # 202 is called again and freed: nobody is called back
        u, ok = busy_call(pbx)
        assert u.bye(ok) == 200
        time.sleep(3)
        assert len(a.invites) == 1 and len(b.invites) == 2, \
            (len(a.invites), len(b.invites))
    finally:
        c.close()
        if u:
            u.close()
        a.close()
        b.close()
    assert "not answered by the caller: dropped" in pbx.log()
    rows = pbx.wait_cdrs(5)
    cb = [r for r in rows if r["forward_rule"] == "camp_on"]
    assert len(cb) == 1, rows
    assert (cb[0]["disposition"], cb[0]["reason"], cb[0]["hangup_side"]) \
        == ("noanswer", "camp_on: no answer", "caller"), cb
    check_idle(pbx)


def test_callee_phone_busy_drops_the_request(make_daemon):
    """201 answers the callback, 202's phone answers 486 (busy outside
    the PBX, say): the request is done, 201 is hung up and not called
    again and again."""
    pbx = campon_pbx(make_daemon, (), ("201", "202", "203"))
    a = Phone(pbx, "201")
    b = Phone(pbx, "202")
    c = SipUac(pbx.server, "201")
    u = None
    try:
        u, ok = busy_call(pbx)
        confirm(pbx, c, "*82202", PW["201"])
        b.refuse = 486
        assert u.bye(ok) == 200
        assert a.wait_answered(1, 5), "no callback"
        assert b.wait_invites(2, 5), "202 not rung"
        assert wait_for(lambda: a.byes_got >= 1 or None, 5), \
            "201 was not hung up"
        time.sleep(3)
        assert len(a.invites) == 1, len(a.invites)
    finally:
        c.close()
        if u:
            u.close()
        a.close()
        b.close()
    rows = pbx.wait_cdrs(3)
    cb = [r for r in rows if r["forward_rule"] == "camp_on"]
    assert [(r["disposition"], r["cause"], r["reason"]) for r in cb] == \
        [("busy", 486, "camp_on: Busy Here")], cb
    assert camp_status(pbx)["requests"] == 0
    check_idle(pbx)


def test_callee_busy_again_waits_then_connects(make_daemon):
    """202 frees, the PBX rings 201, which answers after 2 s; meanwhile
    202 has placed a call of its own: 201 is hung up and the request
    waits. When 202 frees again the callback runs to the end: 201
    answers, 202 rings showing 201, answers, and 201 hangs up."""
    pbx = campon_pbx(make_daemon, (), ("201", "202", "203"))
    a = Phone(pbx, "201", answer_s=2.0)
    b = Phone(pbx, "202")
    t = Phone(pbx, "203")
    c = SipUac(pbx.server, "201")
    u = out = None
    try:
        u, ok = busy_call(pbx)
        confirm(pbx, c, "*82202", PW["201"])
        assert u.bye(ok) == 200
        assert a.wait_invites(1, 5), "no callback"
        # 202 calls 203 before 201 answers
        out = SipUac(pbx.server, "202")
        ok2 = out.call("203", PW["202"])[1]
        assert status_of(ok2) == 200, ok2
        out.ack(ok2)
        assert a.wait_answered(1, 5)
        assert wait_for(lambda: a.byes_got >= 1 or None, 5), \
            "201 was not hung up"
        assert "busy again, waiting" in pbx.log()
        assert len(b.invites) == 1      # only 203's call
        # 202 frees again: the callback, to the end
        assert out.bye(ok2) == 200
        assert a.wait_invites(2, 5), "no second callback"
        assert a.wait_answered(2, 5)
        assert b.wait_invites(2, 5), "202 not rung"
        assert "sip:201@" in hdr(b.invites[1], "From"), b.invites[1]
        assert b.wait_answered(2, 5)
        live = wait_for(lambda: [x for x in pbx.calls()
                                 if x["state"] == "answered"] or None, 5)
        assert live and live[0]["caller"] == "201" and \
            live[0]["callee"] == "202", live
        a.bye()
        assert wait_for(lambda: b.byes_got >= 1 or None, 5)
    finally:
        c.close()
        for x in (u, out):
            if x:
                x.close()
        for p in (a, b, t):
            p.close()
    rows = pbx.wait_cdrs(5)
    cb = sorted([r for r in rows if r["forward_rule"] == "camp_on"],
                key=lambda r: r["start_ms"])
    assert [(r["disposition"], r["reason"]) for r in cb] == \
        [("busy", "camp_on: busy again"), ("answered", "camp_on: bye")], cb
    assert "callback connected" in pbx.log()
    st = camp_status(pbx)
    assert (st["requests"], st["callbacks"], st["connected"]) == (0, 2, 1), \
        st
    check_idle(pbx)


def test_stop_during_a_callback_and_a_confirmation(make_daemon):
    """SIGTERM while 201's phone rings for a callback and 203 hears its
    confirmation: bulwarkd stops cleanly (exit 0; under ASan without a
    report), 201's ringing is cancelled."""
    pbx = campon_pbx(make_daemon, (), ("201", "202", "203"))
    a = Phone(pbx, "201", answer_s=None)
    b = Phone(pbx, "202")
    c = SipUac(pbx.server, "201")
    d = SipUac(pbx.server, "203")
    u = None
    try:
        u, ok = busy_call(pbx, "203")
        confirm(pbx, c, "*82202", PW["201"])
        assert u.bye(ok) == 200
        assert a.wait_invites(1, 5), "no callback"
        # 202 is reserved for the callback (busy): 203 camps on it too,
        # and the stop comes while its confirmation plays
        final = d.call("*82202", PW["203"])[1]
        assert status_of(final) == 200, final
        d.ack(final)
        rc = pbx.d.stop()
        assert rc == 0, pbx.log()[-3000:]
        assert wait_for(lambda: a.cancelled >= 1 or None, 5), \
            "201's ringing was not cancelled"
    finally:
        for x in (c, d, u):
            if x:
                x.close()
        a.close()
        b.close()
    log = pbx.log()
    assert "Sanitizer" not in log and "runtime error" not in log, log[-3000:]
