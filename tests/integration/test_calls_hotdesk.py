"""Hotdesk end to end (issue 13) with real phones: the scripted phone
(vm_phone.VmPhone, RFC 4733 digits) at extension 202 dials *55, the
hotdesk number and its PIN; then a call to the hotdesk number rings the
SIPp phone registered as 202, and 202's own calls reach the callee (a
SIPp phone registered as 203) with the hotdesk number and name in From.
*56 logs out: the hotdesk number is unavailable again. Wrong PINs are
refused with the same prompt as an unknown number and lock the hotdesk
extension (across a restart); a class of service without hotdesk gets
403; a log-in outlives a restart; with baresip phones the hotdesk call
carries audio both ways (tones detected in their recordings) and the
callee's phone names 700. Outcomes: GET /api/v1/hotdesk and the CLI, the
SIP messages the phones received, CDRs, security events, bans, the
daemon's log.
"""
import re
import shutil
import time

import pytest

from calls_pbx import PW, bounded, start_pbx  # noqa: F401 (fixture)
from calls_sip import SipUac, Sipp, register_udp, status_of, uas_xml
from conftest import wait_for
from vm_phone import VmPhone

pytestmark = pytest.mark.skipif(not shutil.which("sipp"),
                                reason="needs sipp")

HD = "700"
HD_PIN = "739154"
HD_NAME = "Grace Hopper"
PHONE = "127.0.0.7"


@pytest.fixture
def phones():
    opened = []
    yield opened
    for p in opened:
        p.close()


@pytest.fixture
def pbx(make_daemon):
    p = start_pbx(make_daemon, exts=("201",), sipp_exts=("202", "203"))
    r = p.d.cli("ext", "add", HD, "--type", "hotdesk", "--name", HD_NAME,
                "--set", f"hotdesk.pin={HD_PIN}",
                "--set", "voicemail.enabled=false")
    assert r.returncode == 0, r
    r = p.d.cli("commit")
    assert r.returncode == 0, r
    return p


def logins(pbx):
    st, body = pbx.d.api("GET", "/hotdesk")
    assert st == 200, body
    return body


def code_call(pbx, phones, code, digits=None, until=None):
    """202 dials a hotdesk code from the scripted phone, types digits
    (RFC 4733) once the PBX speaks; returns the phone once the PBX has
    hung up (or, with until, once that text is in the log: then the phone
    hangs up)."""
    p = VmPhone(pbx.server, "202", PW["202"], addr=PHONE, watch=(440,))
    phones.append(p)
    st = p.call(code)
    assert st == 200, (st, p.final, pbx.log())
    assert wait_for(lambda: p.audio_since(p.t_answer) >= 0.2, 4, 0.05), \
        "no prompt heard"
    if digits:
        p.send_digits(digits)
    if until:
        check = until if callable(until) else lambda: until in pbx.log()
        assert wait_for(check, 15), pbx.log()
        assert not p.hung_up.is_set()   # asked for the number again
        p.bye()
        return p
    assert p.wait_hangup(25), ("the PBX did not hang up", pbx.log())
    return p


def login(pbx, phones, pin=HD_PIN, number=HD):
    return code_call(pbx, phones, "*55", f"{number}#{pin}#")


def uas(tmp_path, pbx, num, name):
    s = Sipp(tmp_path, name, uas_xml(answer=True, pcap=False))
    assert register_udp(pbx.server, num, PW[num], s.port)
    return s


def call(pbx, caller, target):
    """caller (SipUac) calls target: the final status; a 200 is ended with
    BYE."""
    c = SipUac(pbx.server, caller)
    try:
        _, final = c.call(target, PW[caller], timeout=10)
        st = status_of(final)
        if st == 200:
            time.sleep(0.3)
            assert c.bye(final) == 200
        return st
    finally:
        c.close()


def test_login_rings_that_phone_with_hotdesk_caller_id(pbx, tmp_path,
                                                       phones):
    """Log in at 202; 201 calls 700 and 202's phone answers; 202 calls
    203 and 203 sees From: "Grace Hopper" <sip:700@...>; *56 logs out
    and 700 is unavailable (480) again."""
    # before: nobody logged in, the hotdesk number is unavailable
    assert logins(pbx) == []
    assert call(pbx, "201", HD) == 480
    login(pbx, phones)
    rows = logins(pbx)
    assert len(rows) == 1, rows
    assert (rows[0]["number"], rows[0]["phone"], rows[0]["name"]) == \
        (HD, "202", HD_NAME), rows
    assert rows[0]["lapses_ms"] - rows[0]["login_ms"] == 720 * 60000, rows
    log = pbx.log()
    assert "hotdesk 700 logged in at 202" in log, log
    assert HD_PIN not in pbx.d.log_path.read_text(errors="replace")

    # a call to the hotdesk number rings the phone at 202
    ph = uas(tmp_path, pbx, "202", "uas202")
    ph.start(timeout_s=20)
    time.sleep(0.3)
    try:
        assert call(pbx, "201", HD) == 200
        assert ph.wait(10) == 0, ph.report()
    finally:
        ph.stop()
    assert re.search(r"^INVITE sip:", ph.messages(), re.M), ph.report()
    rows = pbx.wait_cdrs(2)
    hit = [r for r in rows if r["dialled"] == HD and
           r["disposition"] == "answered"]
    # as for a ring group: the CDR's callee is the phone that answered
    assert hit and hit[0]["callee"] == "202" and hit[0]["caller"] == "201", \
        rows

    # 202's calls carry the hotdesk identity
    callee = uas(tmp_path, pbx, "203", "uas203")
    callee.start(timeout_s=20)
    time.sleep(0.3)
    try:
        assert call(pbx, "202", "203") == 200
        assert callee.wait(10) == 0, callee.report()
    finally:
        callee.stop()
    inv = callee.messages()
    frm = re.search(r"^From:\s*(.*)$", inv, re.M)
    assert frm, inv
    assert f'"{HD_NAME}"' in frm.group(1) and f"sip:{HD}@" in frm.group(1), \
        frm.group(1)
    rows = pbx.wait_cdrs(3)
    out = [r for r in rows if r["dialled"] == "203"]
    assert out and out[0]["caller"] == HD, rows

    # *56 at 202: logged out, 700 unavailable again
    code_call(pbx, phones, "*56")
    assert logins(pbx) == []
    assert "hotdesk 700 logged out at 202 (log-out code)" in pbx.log()
    assert call(pbx, "201", HD) == 480
    # and 202 calls as itself again
    callee = uas(tmp_path, pbx, "203", "uas203b")
    callee.start(timeout_s=20)
    time.sleep(0.3)
    try:
        assert call(pbx, "202", "203") == 200
        assert callee.wait(10) == 0, callee.report()
    finally:
        callee.stop()
    frm = re.search(r"^From:\s*(.*)$", callee.messages(), re.M)
    assert "sip:202@" in frm.group(1), frm.group(1)


def test_wrong_pin_refused_then_locked(pbx, phones):
    """Three wrong PINs in one call (the same prompt each time, for an
    unknown number too): not logged in, the extension locked; the right
    PIN is then refused too, also after a restart; no PIN in the log."""
    # an unknown number and two wrong PINs: three tries, then goodbye
    p = code_call(pbx, phones, "*55",
                  "799#123987#" f"{HD}#111222#" f"{HD}#333444#")
    assert p.hung_up.is_set()
    assert logins(pbx) == []
    # the unknown number counted per source only: 2 failures, no lock
    log = pbx.log()
    assert "locked" not in log, log
    # the third wrong PIN on 700 locks it
    code_call(pbx, phones, "*55", f"{HD}#555666#",
              until="hotdesk 700 locked after 3 wrong PINs")
    # security events: three failures, one lock (no PIN in them)
    def events(kind):
        st, body = pbx.d.api("GET", f"/events?type={kind}")
        assert st == 200, body
        return body if isinstance(body, list) else body.get("events", [])
    fails = wait_for(lambda: (lambda e: e if len(e) >= 2 else None)(
        events("hotdesk_pin_failed")), 5)
    assert fails and len(fails) == 2, fails
    locks = events("hotdesk_locked")
    assert len(locks) == 1, locks
    assert HD in str(locks[0]) and PHONE in str(locks[0]), locks
    assert "555666" not in str(fails + locks)
    # locked: the right PIN does not log in either
    code_call(pbx, phones, "*55", f"{HD}#{HD_PIN}#",
              until="hotdesk 700: log-in refused at 202, locked")
    assert logins(pbx) == []
    pbx.d.restart()

    def refusals():
        return pbx.d.log_path.read_text(errors="replace").count(
            "hotdesk 700: log-in refused at 202, locked")
    n = refusals()
    code_call(pbx, phones, "*55", f"{HD}#{HD_PIN}#",
              until=lambda: refusals() > n)
    assert logins(pbx) == []
    # the administrator ends the lock: the right PIN logs in
    r = pbx.d.cli("hotdesk", "unlock", HD)
    assert r.returncode == 0 and "unlocked" in r.stdout, r
    login(pbx, phones)
    assert [(r["number"], r["phone"]) for r in logins(pbx)] == [(HD, "202")]
    text = pbx.d.log_path.read_text(errors="replace")
    for secret in (HD_PIN, "111222", "333444", "555666", "123987"):
        assert secret not in text, secret


def test_class_without_hotdesk_403(pbx):
    """202 in the built-in "restricted" class: *55 and *56 are 403."""
    r = pbx.d.cli("ext", "edit", "202", "--set",
                  "class_of_service=restricted")
    assert r.returncode == 0, r
    assert pbx.d.cli("commit").returncode == 0
    assert call(pbx, "202", "*55") == 403
    assert call(pbx, "202", "*56") == 403
    assert call(pbx, "201", "*55") == 200   # 201 keeps "default"
    assert logins(pbx) == []


def test_login_kept_across_restart_and_moves(pbx, phones):
    """A log-in outlives a restart; logging in at 203 moves it there."""
    login(pbx, phones)
    assert [(r["number"], r["phone"]) for r in logins(pbx)] == [(HD, "202")]
    pbx.d.restart()
    assert [(r["number"], r["phone"]) for r in logins(pbx)] == [(HD, "202")]
    # the CLI shows it
    r = pbx.d.cli("hotdesk")
    assert r.returncode == 0, r
    line = [x for x in r.stdout.splitlines() if x.startswith(HD)]
    assert line and HD_NAME in line[0] and " 202 " in line[0], r.stdout
    r = pbx.d.cli("--json", "hotdesk")
    assert r.returncode == 0 and r.json[0]["phone"] == "202", r
    p = VmPhone(pbx.server, "203", PW["203"], addr=PHONE, watch=(440,))
    phones.append(p)
    assert p.call("*55") == 200
    assert wait_for(lambda: p.audio_since(p.t_answer) >= 0.2, 4, 0.05)
    p.send_digits(f"{HD}#{HD_PIN}#")
    assert p.wait_hangup(25), pbx.log()
    assert [(r["number"], r["phone"]) for r in logins(pbx)] == [(HD, "203")]
    assert "hotdesk 700 logged out at 202 (moved to 203)" in pbx.log()
    r = pbx.d.cli("hotdesk")
    assert r.returncode == 0 and " 203 " in r.stdout, r.stdout
    # *56 at 203 logs it out; the CLI says nobody is logged in
    p = VmPhone(pbx.server, "203", PW["203"], addr=PHONE, watch=(440,))
    phones.append(p)
    assert p.call("*56") == 200
    assert p.wait_hangup(15), pbx.log()
    r = pbx.d.cli("hotdesk")
    assert r.returncode == 0 and "Nobody is logged in" in r.stdout, r


def bans(pbx):
    st, body = pbx.d.api("GET", "/bans")
    assert st == 200, body
    return body if isinstance(body, list) else body.get("bans", [])


def test_sweep_of_hotdesk_numbers_bans_source(pbx, phones):
    """From 127.0.0.8, one *55 call trying three numbers that are no
    hotdesk extension: the guard bans 127.0.0.8 (and only it); its next
    INVITE gets no service."""
    sweeper = "127.0.0.8"
    r = pbx.d.cli("settings", "set", "guard", "trusted=127.0.0.1/32")
    assert r.returncode == 0, r
    assert pbx.d.cli("commit").returncode == 0
    p = VmPhone(pbx.server, "202", PW["202"], addr=sweeper, watch=(440,))
    phones.append(p)
    assert p.call("*55") == 200
    assert wait_for(lambda: p.audio_since(p.t_answer) >= 0.2, 4, 0.05)
    p.send_digits("791#111111#792#111111#793#111111#")
    banned = wait_for(lambda: [b for b in bans(pbx)
                               if b["source"] == sweeper], 15)
    assert banned, (bans(pbx), pbx.log())
    assert not [b for b in bans(pbx) if b["source"] != sweeper], bans(pbx)
    assert "source 127.0.0.8 failed hotdesk PINs on 3 numbers: banned" in \
        pbx.log()
    q = VmPhone(pbx.server, "202", PW["202"], addr=sweeper, watch=(440,))
    phones.append(q)
    try:
        assert q.call("*55", timeout=3) >= 400
    except TimeoutError:
        pass                    # dropped: no answer at all
    assert logins(pbx) == []


def test_time_bound_setting(pbx, phones):
    """The hotdesk section: a bound out of range is refused naming the
    key and its rule; a committed one sets when a log-in lapses."""
    r = pbx.d.cli("settings", "set", "hotdesk", "max_minutes=0")
    assert r.returncode != 0, r
    assert "max_minutes" in r.stderr and "hotdesk.range" in r.stderr, r
    r = pbx.d.cli("settings", "set", "hotdesk", "max_minutes=30",
                  "idle_minutes=10")
    assert r.returncode == 0, r
    assert pbx.d.cli("commit").returncode == 0
    login(pbx, phones)
    rows = logins(pbx)
    assert len(rows) == 1, rows
    # idle (10 min after the last use) comes before the absolute bound
    assert rows[0]["lapses_ms"] - rows[0]["used_ms"] == 10 * 60000, rows
    assert rows[0]["lapses_ms"] - rows[0]["login_ms"] <= 30 * 60000, rows
    # the administrator logs it out
    r = pbx.d.cli("hotdesk", "logout", HD)
    assert r.returncode == 0 and "logged out at 202" in r.stdout, r
    assert logins(pbx) == []
    assert "hotdesk 700 logged out at 202 (administrator)" in pbx.log()
    r = pbx.d.cli("hotdesk", "logout", HD)
    assert r.returncode == 1 and "not logged in" in r.stderr, r
    r = pbx.d.cli("hotdesk", "logout", "7x")
    assert r.returncode == 1 and "hotdesk.number" in r.stderr, r


@pytest.mark.skipif(not shutil.which("baresip"), reason="needs baresip")
def test_hotdesk_call_carries_audio_baresip(pbx, tmp_path, phones):
    """baresip phones: 700 logged in at 202; baresip 201 calls 700 and
    baresip 202 answers — each hears the other's tone through the relay;
    then baresip 202 calls 201, whose phone sees the call from 700."""
    from calls_lib import TONE_A, TONE_B, Baresip, heard
    login(pbx, phones)
    a = Baresip(tmp_path / "a", "201", PW["201"], pbx.registrar, TONE_A,
                max_s=40)
    b = Baresip(tmp_path / "b", "202", PW["202"], pbx.registrar, TONE_B,
                max_s=40)
    try:
        b.start()
        a.start()
        a.dial(HD)
        a.wait("CALL_ESTABLISHED", 15)
        b.wait("CALL_ESTABLISHED", 5)
        time.sleep(3)
        assert a.cmd("hangup").get("ok")
        b.wait("CALL_CLOSED", 5)
        b_heard = heard(b.recordings(), TONE_A)
        a_heard = heard(a.recordings(), TONE_B)
        assert b_heard >= 2.0 and a_heard >= 2.0, (b_heard, a_heard)
        # 202 calls out: 201's phone is told the call is from 700
        n = len(a.ctrl.events)
        b.dial("201")
        # auto-answered: the event names the peer (the From URI)
        est = a.wait("CALL_ESTABLISHED", 10, since=n)
        assert f"sip:{HD}@" in (est.get("param") or "") + \
            (est.get("peeruri") or ""), est
        time.sleep(0.5)
        assert b.cmd("hangup").get("ok")
        a.wait("CALL_CLOSED", 5, since=n)
    finally:
        a.stop()
        b.stop()
    rows = pbx.wait_cdrs(3)
    to_hd = [r for r in rows if r["dialled"] == HD]
    assert to_hd and to_hd[0]["disposition"] == "answered", rows
    assert to_hd[0]["packets"]["caller"] >= 100, to_hd
    out = [r for r in rows if r["dialled"] == "201"]
    assert out and out[0]["caller"] == HD, rows
