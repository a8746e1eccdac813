"""Routing features at run time (issue 13) with real phones (SIPp UASes
registered as extensions, SIPp or a raw client calling): forwarding on no
answer after the ring time, when unregistered, on busy; a ring group of
three answered by the second; a shared device skipping its busy member; a
blacklisted caller refused; a class of service refusing a feature code; a
forward loop ending cleanly. Each CDR says which rule forwarded, where.
"""
import json
import re
import shutil
import socket
import time

import pytest

from calls_lib import TONE_A, TONE_B, Baresip, heard
from calls_pbx import PW, bounded, check_idle, start_pbx  # noqa: F401
from calls_sip import (SipUac, Sipp, _reply, _scenario, register_udp,
                       status_of, uac_xml, uas_xml)

pytestmark = pytest.mark.skipif(not shutil.which("sipp"),
                                reason="needs sipp")


@pytest.fixture
def pbx(make_daemon):
    return start_pbx(make_daemon, exts=("201",),
                     sipp_exts=("202", "203", "204", "205"))


def add(pbx, num, typ, *settings):
    r = pbx.d.cli("ext", "add", num, "--type", typ, "--name", "Sales Team",
                  *[x for s in settings for x in ("--set", s)])
    assert r.returncode == 0, r
    r = pbx.d.cli("commit")
    assert r.returncode == 0, r


def uas_busy_xml():
    """A UAS that answers one INVITE 486 Busy Here."""
    return _scenario(['  <recv request="INVITE" crlf="true"/>',
                      _reply(486, "Busy Here"),
                      '  <recv request="ACK"/>'])


def caller_xml(user, hold_ms=1000):
    """uac_xml's call, taking several provisionals (one per leg rung,
    and again after a forward) before the 200."""
    x = uac_xml(user, PW[user], mode="call", hold_ms=hold_ms)
    one = ('  <recv response="180" optional="true"/>\n'
           '  <recv response="183" optional="true"/>\n')
    assert one in x
    return x.replace(one, one * 6, 1)


def phone(tmp_path, pbx, num, xml):
    """A SIPp UAS registered as extension num."""
    s = Sipp(tmp_path, f"uas{num}", xml)
    assert register_udp(pbx.server, num, PW[num], s.port)
    return s


def run_call(pbx, tmp_path, dialled, phones, timeout=40):
    """201 (SIPp) calls dialled while the phones (SIPp UASes) run: every
    scenario must pass; returns the seconds to the end of the call."""
    uac = Sipp(tmp_path, "uac", caller_xml("201"))
    t0 = time.time()
    try:
        for p in phones:
            p.start(timeout_s=timeout)
        time.sleep(0.3)
        uac.start(target=pbx.registrar, service=dialled, timeout_s=timeout)
        assert uac.wait(timeout + 5) == 0, uac.report() + pbx.log()[-4000:]
        for p in phones:
            assert p.wait(10) == 0, p.report()
    finally:
        uac.stop()
        for p in phones:
            p.stop()
    return time.time() - t0


def the_cdr(pbx, dialled):
    rows = pbx.wait_cdrs(1)
    hits = [r for r in rows if r["dialled"] == dialled]
    assert len(hits) == 1, rows
    return hits[0]


def invites(sipp):
    return len(re.findall(r"^INVITE sip:", sipp.messages(), re.M))


def test_no_answer_forward_after_ring_time(pbx, tmp_path):
    """202 rings for its ring time (5 s) and is not answered: the call is
    cancelled there and 203 rings instead and answers."""
    pbx.set_ext("202", "user.ring_time=5", "user.forward.no_answer.enabled="
                "true", "user.forward.no_answer.destination=203")
    a = phone(tmp_path, pbx, "202", uas_xml(answer=False))
    b = phone(tmp_path, pbx, "203", uas_xml(answer=True, pcap=False))
    took = run_call(pbx, tmp_path, "202", [a, b])
    assert took >= 5, took
    row = the_cdr(pbx, "202")
    assert row["disposition"] == "answered" and row["callee"] == "203", row
    assert (row["forward_rule"], row["forward_from"], row["forward_to"]) == \
        ("forward_no_answer", "202", "203"), row
    assert row["answer_ms"] - row["start_ms"] >= 5000, row
    check_idle(pbx)


def test_unavailable_forward_when_unregistered(pbx, tmp_path):
    """202 has no binding: its unavailable rule sends the call to 203 at
    once; without the rule (and without a mailbox) the caller gets 480."""
    pbx.set_ext("202", "voicemail.enabled=false")
    c = SipUac(pbx.server, "201")
    try:
        _, final = c.call("202", PW["201"])
        assert status_of(final) == 480, final
    finally:
        c.close()
    pbx.set_ext("202", "user.forward.unavailable.enabled=true",
                "user.forward.unavailable.destination=203")
    b = phone(tmp_path, pbx, "203", uas_xml(answer=True, pcap=False))
    run_call(pbx, tmp_path, "202", [b])
    rows = pbx.wait_cdrs(2)
    row = [r for r in rows if r["disposition"] == "answered"]
    assert len(row) == 1, rows
    assert (row[0]["callee"], row[0]["forward_rule"], row[0]["forward_from"]) \
        == ("203", "forward_unavailable", "202"), row
    check_idle(pbx)


def test_unavailable_forward_when_qualify_finds_it_unreachable(pbx,
                                                               tmp_path):
    """202 is registered but never answers the registrar's OPTIONS: once
    qualify gives up on it, 202 counts as unavailable (its unavailable
    forward to 203 takes the call at once, 202 is never rung)."""
    pbx.set_ext("202", "phone.qualify=true", "voicemail.enabled=false",
                "user.forward.unavailable.enabled=true",
                "user.forward.unavailable.destination=203")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    assert register_udp(pbx.server, "202", PW["202"], port)
    deadline = time.time() + 15
    while time.time() < deadline:
        regs = json.loads(pbx.d.cli("--json", "registrations").stdout)
        row = [r for r in regs if r["extension"] == "202"]
        if row and row[0]["reachable"] is False:
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"202 never found unreachable: {regs}")
    b = phone(tmp_path, pbx, "203", uas_xml(answer=True, pcap=False))
    run_call(pbx, tmp_path, "202", [b])
    row = the_cdr(pbx, "202")
    assert (row["disposition"], row["callee"], row["forward_rule"]) == \
        ("answered", "203", "forward_unavailable"), row
    check_idle(pbx)


def test_busy_forward(pbx, tmp_path):
    """202's phone answers 486: its busy rule rings 203, which answers."""
    pbx.set_ext("202", "user.forward.busy.enabled=true",
                "user.forward.busy.destination=203")
    a = phone(tmp_path, pbx, "202", uas_busy_xml())
    b = phone(tmp_path, pbx, "203", uas_xml(answer=True, pcap=False))
    run_call(pbx, tmp_path, "202", [a, b])
    row = the_cdr(pbx, "202")
    assert row["disposition"] == "answered" and row["callee"] == "203", row
    assert (row["forward_rule"], row["forward_to"]) == \
        ("forward_busy", "203"), row
    check_idle(pbx)


def test_ring_group_of_three_answered_by_the_second(pbx, tmp_path):
    """300 rings 202, 203, 204 together; 203 answers; the other two are
    cancelled (their scenarios need the CANCEL)."""
    add(pbx, "300", "ring_group", "ring_group.members=202,203,204")
    ps = [phone(tmp_path, pbx, "202", uas_xml(answer=False)),
          phone(tmp_path, pbx, "203", uas_xml(answer=True, pcap=False)),
          phone(tmp_path, pbx, "204", uas_xml(answer=False))]
    run_call(pbx, tmp_path, "300", ps)
    row = the_cdr(pbx, "300")
    assert row["disposition"] == "answered" and row["callee"] == "203", row
    assert row["forward_rule"] == "", row
    check_idle(pbx)


def test_ring_group_hunt_in_order(pbx, tmp_path):
    """hunt: 202 alone for its ring time (5 s), then 203, which
    answers."""
    add(pbx, "300", "ring_group", "ring_group.members=202,203",
        "ring_group.strategy=hunt")
    pbx.set_ext("202", "user.ring_time=5")
    a = phone(tmp_path, pbx, "202", uas_xml(answer=False))
    b = phone(tmp_path, pbx, "203", uas_xml(answer=True, pcap=False))
    run_call(pbx, tmp_path, "300", [a, b])
    row = the_cdr(pbx, "300")
    assert row["callee"] == "203", row
    assert row["answer_ms"] - row["start_ms"] >= 5000, row
    check_idle(pbx)


def test_shared_device_skips_its_busy_member(pbx, tmp_path):
    """400 shares 202 and 203; 202 (call limit 1) is in a call: a call to
    400 rings 203 only."""
    add(pbx, "400", "shared", "shared.members=202,203")
    pbx.set_ext("202", "phone.call_limit_in=1")
    a = phone(tmp_path, pbx, "202", uas_xml(answer=True, pcap=False))
    b = phone(tmp_path, pbx, "203", uas_xml(answer=True, pcap=False))
    first = Sipp(tmp_path, "uac205", uac_xml("205", PW["205"], mode="call",
                                             hold_ms=8000))
    try:
        a.start(timeout_s=40)
        time.sleep(0.3)
        first.start(target=pbx.registrar, service="202", timeout_s=40)
        deadline = time.time() + 10
        while time.time() < deadline and not [
                c for c in pbx.calls() if c["state"] == "answered"]:
            time.sleep(0.2)
        assert [c for c in pbx.calls() if c["callee"] == "202"], pbx.calls()
        run_call(pbx, tmp_path, "400", [b])
        assert first.wait(30) == 0, first.report()
        assert a.wait(10) == 0, a.report()
    finally:
        first.stop()
        a.stop()
    assert invites(a) == 1, a.messages()
    row = the_cdr(pbx, "400")
    assert row["disposition"] == "answered" and row["callee"] == "203", row
    check_idle(pbx)


def test_blacklisted_caller_refused(pbx, tmp_path):
    """202 refuses 201 (security.blacklist): 603 Decline, nothing rings;
    205 still gets through to the ringing phone."""
    pbx.set_ext("202", "security.blacklist=5550199,201")
    uas = Sipp(tmp_path, "uas202", uas_xml(answer=False))
    assert register_udp(pbx.server, "202", PW["202"], uas.port)
    c = SipUac(pbx.server, "201")
    try:
        uas.start(timeout_s=5)
        _, final = c.call("202", PW["201"])
        assert status_of(final) == 603 and "Decline" in final, final
        time.sleep(0.5)
    finally:
        c.close()
        uas.stop()
    assert invites(uas) == 0, uas.messages()
    row = the_cdr(pbx, "202")
    assert (row["disposition"], row["cause"], row["reason"]) == \
        ("rejected", 603, "blacklist"), row
    check_idle(pbx)


def test_class_of_service_refuses_a_feature_code(pbx):
    """A class listing voicemail but not hotdesk: *55 gets 403, *97 (the
    class allows it) is answered by voicemail; an extension of the default
    class gets the hotdesk service for *55 (issue 13); an unknown class
    is refused at commit."""
    r = pbx.d.cli("settings", "set", "cos", "desk=voicemail,internal")
    assert r.returncode == 0, r
    pbx.set_ext("201", "class_of_service=desk")
    c = SipUac(pbx.server, "201")
    d = SipUac(pbx.server, "205")
    try:
        assert status_of(c.call("*55", PW["201"])[1]) == 403
        final = c.call("*97", PW["201"])[1]
        assert status_of(final) == 200, final
        assert c.bye(final) == 200
        final = d.call("*55", PW["205"])[1]
        assert status_of(final) == 200, final
        assert d.bye(final) == 200
    finally:
        c.close()
        d.close()
    r = pbx.d.cli("ext", "edit", "201", "--set", "class_of_service=nosuch")
    assert r.returncode == 0, r
    r = pbx.d.cli("--json", "commit")
    assert r.returncode != 0 and "cos.unknown" in r.stdout + r.stderr, r
    rows = pbx.wait_cdrs(3)
    refused = [x for x in rows if x["dialled"] == "*55" and
               x["caller"] == "201"]
    assert len(refused) == 1 and refused[0]["reason"] == "cos_feature", rows


def test_forward_loop_ends_cleanly(pbx, tmp_path):
    """202 forwards to 203 and 203 to 202 (immediate): one 482 after a
    few hops, no call storm, no phone rung, nothing left behind."""
    pbx.set_ext("202", "user.forward.immediate.enabled=true",
                "user.forward.immediate.destination=203")
    pbx.set_ext("203", "user.forward.immediate.enabled=true",
                "user.forward.immediate.destination=202")
    a = Sipp(tmp_path, "uas202", uas_xml(answer=False))
    assert register_udp(pbx.server, "202", PW["202"], a.port)
    c = SipUac(pbx.server, "201")
    try:
        a.start(timeout_s=5)
        _, final = c.call("202", PW["201"])
        assert status_of(final) == 482, final
        time.sleep(0.5)
    finally:
        c.close()
        a.stop()
    assert invites(a) == 0
    rows = pbx.wait_cdrs(1)
    assert len(rows) == 1, rows
    assert (rows[0]["reason"], rows[0]["cause"]) == ("forward_loop", 482), \
        rows
    assert rows[0]["forward_rule"] == "forward_immediate", rows
    check_idle(pbx)


def test_external_forward_refused_at_commit(pbx):
    """Forwarding to an external number needs a trunk: refused at
    commit, naming the field and the rule."""
    r = pbx.d.cli("ext", "edit", "202", "--set",
                  "user.forward.busy.enabled=true", "--set",
                  "user.forward.busy.destination=+15145550100")
    assert r.returncode == 0, r
    r = pbx.d.cli("commit")
    out = r.stdout + r.stderr
    assert r.returncode != 0 and "dest.external_no_trunk" in out and \
        "user.forward.busy.destination" in out, r


def test_follow_me_then_final_destination(pbx, tmp_path):
    """202 rings 5 s, then its follow-me list (203, 5 s), then the final
    destination (no-answer forward: 204), which answers."""
    pbx.set_ext("203", "user.ring_time=5")
    pbx.set_ext("202", "user.ring_time=5", "user.follow_me.enabled=true",
                "user.follow_me.list=203",
                "user.forward.no_answer.enabled=true",
                "user.forward.no_answer.destination=204")
    ps = [phone(tmp_path, pbx, "202", uas_xml(answer=False)),
          phone(tmp_path, pbx, "203", uas_xml(answer=False)),
          phone(tmp_path, pbx, "204", uas_xml(answer=True, pcap=False))]
    run_call(pbx, tmp_path, "202", ps)
    row = the_cdr(pbx, "202")
    assert row["disposition"] == "answered" and row["callee"] == "204", row
    assert row["forward_rule"] == "forward_no_answer", row
    assert row["answer_ms"] - row["start_ms"] >= 10000, row
    check_idle(pbx)


def test_virtual_extension_rings_its_destinations(pbx, tmp_path):
    """500 (virtual) rings 203 and 204 together; 204 answers."""
    add(pbx, "500", "virtual", "virtual.destinations=203,204",
        "voicemail.enabled=false")
    ps = [phone(tmp_path, pbx, "203", uas_xml(answer=False)),
          phone(tmp_path, pbx, "204", uas_xml(answer=True, pcap=False))]
    run_call(pbx, tmp_path, "500", ps)
    row = the_cdr(pbx, "500")
    assert row["disposition"] == "answered" and row["callee"] == "204", row
    check_idle(pbx)


@pytest.mark.skipif(not shutil.which("baresip"), reason="needs baresip")
def test_forwarded_call_carries_audio_baresip(pbx, tmp_path):
    """baresip 201 calls 202 (a SIPp phone that only rings, 5 s); the
    no-answer forward rings baresip 203, which answers: each side hears
    the other's tone through the relay."""
    pbx.set_ext("202", "user.ring_time=5", "user.forward.no_answer.enabled="
                "true", "user.forward.no_answer.destination=203")
    uas = phone(tmp_path, pbx, "202", uas_xml(answer=False))
    a = Baresip(tmp_path / "a", "201", PW["201"], pbx.registrar, TONE_A,
                max_s=40)
    b = Baresip(tmp_path / "b", "203", PW["203"], pbx.registrar, TONE_B,
                max_s=40)
    try:
        uas.start(timeout_s=30)
        b.start()
        a.start()
        a.dial("202")
        a.wait("CALL_ESTABLISHED", 15)
        b.wait("CALL_ESTABLISHED", 5)
        time.sleep(3)
        assert a.cmd("hangup").get("ok")
        b.wait("CALL_CLOSED", 5)
        assert uas.wait(10) == 0, uas.report()
    finally:
        uas.stop()
        a.stop()
        b.stop()
    b_heard = heard(b.recordings(), TONE_A)
    a_heard = heard(a.recordings(), TONE_B)
    assert b_heard >= 2.0 and a_heard >= 2.0, (b_heard, a_heard)
    row = the_cdr(pbx, "202")
    assert (row["callee"], row["forward_rule"]) == \
        ("203", "forward_no_answer"), row
    assert row["packets"]["caller"] >= 100 and \
        row["packets"]["callee"] >= 100, row
    check_idle(pbx)
