"""Calls bulwarkd must refuse or end cleanly (issue 11): one 407 for
every unauthenticated INVITE whatever the number; after authentication
404 (no such number), 480 (no binding), 486 (call limit), 403 (From is
not the authenticated user), 488 (no SDP); a wrong password gets 407
again and, repeated, a ban like REGISTER; svwar with INVITE finds no
extension; CANCEL before answer leaves no call and no relay port.
"""
import csv
import re
import shutil
import subprocess
import time

import pytest

from calls_lib import TONE_A, TONE_B, Baresip, free_block, free_sip_port
from calls_pbx import (PW, Later, bounded, check_busy_relay,  # noqa: F401
                       check_idle, check_live, one_call, pbx)
from calls_sip import (SipUac, Sipp, header_names, register_udp, status_of,
                       uac_xml, uas_xml)
from conftest import free_port as _free_udp, wait_for
from test_guard_attacks import provision, pw_for, sv
from test_guard_cli import NetNS, NsDaemon, events, needs_netns

needs = {t: pytest.mark.skipif(not shutil.which(t), reason=f"needs {t}")
         for t in ("baresip", "sipp", "svwar")}


def _norm(msg, c, target):
    """An answer with what differs by request (ids, nonce, tags, the
    dialled number) replaced, so two answers compare equal when the
    server told the two requests apart in nothing else."""
    for v, k in ((c.call_id, "CALLID"), (c.tag, "FTAG"), (c.branch, "BR"),
                 (str(c.port), "PORT")):
        msg = msg.replace(v, k)
    msg = re.sub(r'nonce="[^"]*"', 'nonce="N"', msg)
    msg = re.sub(r'opaque="[^"]*"', 'opaque="O"', msg)
    msg = re.sub(r"(To: [^\r]*;tag=)[^;\r]*", r"\1T", msg)
    return msg.replace(f"sip:{target}@", "sip:NUMBER@")


def test_unauthenticated_alike_then_404_480_488_and_407(pbx):
    # 202 has a binding (a port nobody answers on: every case below is
    # refused before the INVITE would be forwarded); 203 has none, and no
    # mailbox either (else its voicemail would answer).
    pbx.set_ext("203", "voicemail.enabled=false")
    assert register_udp(pbx.server, "202", PW["202"], _free_udp())
    c = SipUac(pbx.server, "201")
    try:
        seen = {}
        for target in ("2999", "202", "203"):
            c.invite(target)
            ans = c.recv_final()
            assert status_of(ans) == 407, ans
            seen[target] = _norm(ans, c, target)
        ref = seen["202"]
        assert "proxy-authenticate" in header_names(ref)
        for target, ans in seen.items():
            assert ans.split("\r\n")[0] == ref.split("\r\n")[0], target
            assert header_names(ans) == header_names(ref), (target, ans, ref)
            assert ans == ref, (target, ans, ref)

        results = {}
        for name, target, kw in (("404", "2999", {}), ("480", "203", {}),
                                 ("488", "202", {"sdp": False})):
            chal, final = c.call(target, PW["201"], **kw)
            assert status_of(chal) == 407, chal
            results[name] = final
            assert status_of(final) == int(name), (name, final, pbx.log())
        # a wrong password: challenged again, never told more
        chal, final = c.call("202", "Wrong7Password")
        assert status_of(final) == 407, final
        assert _norm(final, c, "202").split("\r\n")[0] == ref.split("\r\n")[0]
    finally:
        c.close()
    check_idle(pbx)


def test_message_subscribe_challenged_alike(pbx):
    """MESSAGE is not served and SUBSCRIBE is MWI's (test_mwi.py), but
    nothing is learnt from them before authentication: the same 407 for a
    known and an unknown user; authenticated, 405 (MESSAGE) and 403
    (SUBSCRIBE to another extension's mailbox)."""
    for method, after in (("MESSAGE", 405), ("SUBSCRIBE", 403)):
        seen = {}
        for user in ("201", "2999"):
            c = SipUac(pbx.server, user)
            try:
                c.invite("202", method=method)
                ans = c.recv_final()
                assert status_of(ans) == 407, ans
                seen[user] = _norm(ans, c, "202").replace(
                    f"sip:{user}@", "sip:FROM@")
            finally:
                c.close()
        assert seen["201"] == seen["2999"], seen
        c = SipUac(pbx.server, "201")
        try:
            chal, final = c.call("202", PW["201"], method=method)
            assert status_of(chal) == 407, chal
            assert status_of(final) == after, final
        finally:
            c.close()


@needs["sipp"]
def test_from_not_the_authenticated_user_refused(pbx, tmp_path):
    """Credentials of 201 with From 202: refused with the one failure
    answer, a new 407 (a 403 here, when a wrong password gets 407, would
    tell that 202 exists: docs/internals/calls.md), no call made (the raw
    client, then SIPp)."""
    assert register_udp(pbx.server, "203", PW["203"], _free_udp())
    c = SipUac(pbx.server, "201", from_user="202")
    try:
        chal, final = c.call("203", PW["201"])
    finally:
        c.close()
    assert status_of(chal) == 407, chal
    assert status_of(final) == 407, (final, pbx.log())
    assert "user does not match the extension: '201'" in pbx.log()
    u = Sipp(tmp_path, "forged", uac_xml("201", PW["201"], from_user="202",
                                         mode="expect", expect=407))
    u.start(target=pbx.registrar, service="203", timeout_s=10)
    assert u.wait(20) == 0, u.report() + pbx.log()
    check_idle(pbx)


@needs["sipp"]
def test_info_with_sdp_refused_bye_retransmission_answered(pbx, tmp_path):
    """In an answered call an INFO carrying SDP gets 415 (only SDP is
    rewritten: such a body would hand the caller's address to the
    callee) and never reaches the callee; a BYE sent again after its 200
    (the 200 lost) gets 200 again, not 481; the call ends once."""
    uas = Sipp(tmp_path, "uas", uas_xml(answer=True))
    assert register_udp(pbx.server, "204", PW["204"], uas.port)
    uac = Sipp(tmp_path, "uac", uac_xml("205", PW["205"], mode="info-bye"))
    try:
        uas.start(timeout_s=20)
        time.sleep(0.3)
        uac.start(target=pbx.registrar, service="204", timeout_s=20)
        assert uac.wait(30) == 0, uac.report() + pbx.log()
        assert uas.wait(10) == 0, uas.report()
    finally:
        uac.stop()
        uas.stop()
    trace = "".join(f.read_text(errors="replace")
                    for f in uac.dir.glob("*_messages.log"))
    answers = [m.split("\n", 1)[0].strip() for m in
               re.split(r"\n(?=SIP/2\.0 )", trace)[1:]
               if "CSeq: 4 BYE" in m.split("\n\n", 1)[0]]
    assert len(answers) >= 2 and all(a == "SIP/2.0 200 OK" for a in answers), \
        (answers, trace)
    utrace = "".join(f.read_text(errors="replace")
                     for f in uas.dir.glob("*_messages.log"))
    assert "INFO sip:" not in utrace
    assert pbx.log().count("ended: answered") == 1, pbx.log()
    check_idle(pbx)


@needs["baresip"]
def test_call_limit_486(pbx, tmp_path):
    """202 may take one call (phone.call_limit_in=1): while 201 talks to
    it, 203 gets 486 (202 has no mailbox to take it); the first call is
    not disturbed."""
    pbx.set_ext("202", "phone.call_limit_in=1", "voicemail.enabled=false")
    a = Baresip(tmp_path / "a", "201", PW["201"], pbx.registrar, TONE_A,
                max_s=30)
    b = Baresip(tmp_path / "b", "202", PW["202"], pbx.registrar, TONE_B,
                max_s=30)
    c = SipUac(pbx.server, "203")
    later = Later()
    try:
        b.start()
        a.start()
        a.dial("202")
        a.wait("CALL_ESTABLISHED", 10)
        b.wait("CALL_ESTABLISHED", 5)
        n = len(b.ctrl.events)
        chal, final = c.call("202", PW["203"])
        assert status_of(final) == 486, (final, pbx.log())
        time.sleep(0.5)
        assert not [e for e in b.ctrl.events[n:]
                    if e.get("type") == "CALL_INCOMING"]
        later(check_live, pbx, "201", "202", "answered")
        assert "CALL_CLOSED" not in b.ctrl.types()
        a.cmd("hangup")
        b.wait("CALL_CLOSED", 5)
    finally:
        c.close()
        a.stop()
        b.stop()
    later(check_idle, pbx)
    later(check_busy_cdr, pbx)
    later.done()


def check_busy_cdr(pbx):
    rows = pbx.wait_cdrs(2)
    assert one_call(rows, "201", "202")["disposition"] == "answered"
    busy = [r for r in rows if r["caller"] == "203"]
    assert len(busy) == 1 and busy[0]["disposition"] == "busy", rows
    assert busy[0]["cause"] == 486, busy


def check_ringing(pbx, caller, callee):
    """While the callee rings: relay ports taken, one live call."""
    assert wait_for(lambda: pbx.relay()["sessions"] >= 1, 5), pbx.relay()
    check_busy_relay(pbx)
    assert wait_for(pbx.calls, 5), "no live call"
    check_live(pbx, caller, callee, "ringing")


def check_sipp_ok(sipp, timeout):
    """The SIPp UAS saw its scenario through (here: the CANCEL came)."""
    assert sipp.wait(timeout) == 0, sipp.report()


def check_cancelled_cdr(pbx, caller, callee):
    row = one_call(pbx.wait_cdrs(1), caller, callee)
    assert row["disposition"] == "cancelled", row


@needs["sipp"]
def test_cancel_before_answer_sipp(pbx, tmp_path):
    """205 calls 204, which only rings; 205 CANCELs after the 180: 200
    for the CANCEL, 487 for the INVITE (both SIPp scenarios pass); then no
    live call and every relay port free again."""
    uas = Sipp(tmp_path, "uas", uas_xml(answer=False))
    assert register_udp(pbx.server, "204", PW["204"], uas.port)
    uac = Sipp(tmp_path, "uac", uac_xml("205", PW["205"], mode="cancel"))
    later = Later()
    try:
        uas.start(timeout_s=20)
        time.sleep(0.3)
        uac.start(target=pbx.registrar, service="204", timeout_s=20)
        later(check_ringing, pbx, "205", "204")
        assert uac.wait(30) == 0, uac.report() + pbx.log()
        later(check_sipp_ok, uas, 10)
    finally:
        uac.stop()
        uas.stop()
    later(check_idle, pbx)
    later(check_cancelled_cdr, pbx, "205", "204")
    later.done()


@needs["baresip"]
def test_cancel_before_answer_baresip(pbx, tmp_path):
    """baresip B does not answer (answermode=manual); A hangs up while it
    rings: B sees the call go, nothing is left."""
    a = Baresip(tmp_path / "a", "201", PW["201"], pbx.registrar, TONE_A,
                max_s=30)
    b = Baresip(tmp_path / "b", "202", PW["202"], pbx.registrar, TONE_B,
                max_s=30, answer="manual")
    later = Later()
    try:
        b.start()
        a.start()
        a.dial("202")
        b.wait("CALL_INCOMING", 10)
        later(check_ringing, pbx, "201", "202")
        a.cmd("hangup")
        a.wait("CALL_CLOSED", 5)
        later(b.wait, "CALL_CLOSED", 5)
        assert "CALL_ESTABLISHED" not in b.ctrl.types()
    finally:
        a.stop()
        b.stop()
    later(check_idle, pbx)
    later(check_cancelled_cdr, pbx, "201", "202")
    later.done()


# ---- guard: in a network namespace (a ban there drops nobody else) ----

@pytest.fixture
def nspbx(tmp_path):
    ns = NetNS()
    d = NsDaemon(tmp_path / "data", ns,
                 extra_args=["--rtp-range", "20000-20039",
                             "--rtp-addr", ns.server])
    try:
        d.start()
        yield ns, d
    finally:
        try:
            d.stop()
        finally:
            ns.close()


WRONG = "Wrong7Password"


@needs_netns
@needs["sipp"]
def test_invite_wrong_password_banned_like_register(nspbx, tmp_path):
    """A wrong password on INVITE is answered 407 again; repeated from one
    address it is banned as REGISTER guessing is: at most 5 answered
    guesses, then the kernel drops it; the legitimate address is not."""
    ns, d = nspbx
    provision(d, [201, 202])
    legit = SipUac((ns.server, 5060), "201", addr=ns.legit)
    try:
        chal, final = legit.call("202", WRONG)
        assert status_of(chal) == 407 and status_of(final) == 407, final
    finally:
        legit.close()
    work = tmp_path / "attack"
    work.mkdir()
    (work / "s.xml").write_text(uac_xml("201", WRONG, mode="expect",
                                        expect=407))
    p = subprocess.run(
        ["sipp", f"{ns.server}:5060", "-sf", "s.xml", "-s", "202",
         "-i", ns.attacker, "-p", str(free_sip_port(ns.attacker)),
         "-mp", str(free_block(4, ns.attacker)), "-r", "20",
         "-m", "40", "-nostdin", "-timeout", "30s", "-recv_timeout", "1000",
         "-trace_stat", "-stf", "stat.csv", "-fd", "1"],
        cwd=work, capture_output=True, timeout=45)
    rows = list(csv.reader(open(work / "stat.csv"), delimiter=";"))
    answered = int(rows[-1][rows[0].index("SuccessfulCall(C)")])
    print(f"wrong-password INVITEs answered: {answered} of 40 (rc "
          f"{p.returncode})")
    assert answered <= 5, answered
    bans = d.cli("--json", "bans").json
    assert [b["source"] for b in bans] == [ns.attacker], bans
    assert bans[0]["reason"] == "auth_failures", bans
    assert wait_for(lambda: ns.attacker in ns.ban4()), ns.ban4()
    fails = events(d, "auth_failure")
    assert fails and all(e["extension"] == "201" for e in fails), fails
    log = (d.data_dir / "security.log").read_text()
    assert WRONG not in log and pw_for(201) not in log


@needs_netns
@needs["svwar"]
@needs["baresip"]
def test_svwar_invite_finds_no_extension(nspbx, tmp_path):
    """svwar -m INVITE (user-agent filter off: only the answers and the
    rate limit stand between it and the truth) finds none of the
    extensions, two of them with registered phones on another address,
    and those phones are never rung."""
    ns, d = nspbx
    provision(d, [201, 202, 555])
    assert d.cli("guard", "set", "scanners=").returncode == 0
    assert d.cli("commit").returncode == 0
    reg = f"{ns.server}:5060"
    phones = [Baresip(tmp_path / n, n, pw_for(int(n)), reg, hz,
                      addr=ns.legit, max_s=55)
              for n, hz in (("201", TONE_A), ("202", TONE_B))]
    try:
        for p in phones:
            p.start()
        r = sv("svwar", ["--force", "-e100-700", "-m", "INVITE", "-t",
                         "0.02", ns.server], tmp_path / "home", 45)
        out = r.stdout + r.stderr
        for p in phones:
            assert "CALL_INCOMING" not in p.ctrl.types(), p.ctrl.types()
    finally:
        for p in phones:
            p.stop()
    for ext in ("| 201 ", "| 202 ", "| 555 "):
        assert ext not in out, out[-3000:]
    assert "found nothing" in out, out[-3000:]
