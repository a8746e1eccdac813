"""The gates of an extension (issue 13) with real phones: the call
password (typed right, the callee's baresip rings and answers and both
hear each other through the relay; typed wrong three times, the caller is
hung up, the callee never rang, the guard has the events; a source that
keeps guessing is banned) and the personal IVR (key 2 leaves a message in
the callee's mailbox; key 3 rings the colleague it names, who answers).

The caller is vm_phone.VmPhone (RFC 4733 digits, tone detection); the
callees are baresip (auto-answer, a tone of their own, recordings of what
they hear). What callers hear and press: docs/admin/calls.md.
"""
import json
import shutil
import time

import pytest

from calls_lib import TONE_A, TONE_B, Baresip, heard, write_tone
from calls_pbx import PW
from conftest import wait_for
from vm_lib import (BEEP, GREET_HZ, MSG_HZ, bounded, dial, heard_something,  # noqa: F401
                    phones, plog, skip_to_beep, speak, vm_pbx,
                    check_message)

pytestmark = pytest.mark.skipif(not shutil.which("baresip"),
                                reason="needs baresip")

CALLPW = "583920"
WATCH = (BEEP, MSG_HZ, TONE_B)
SWEEPER = "127.0.0.8"


def events(pbx, kind):
    r = pbx.d.cli("events", "--json")
    assert r.returncode == 0, r
    evs = [json.loads(x) for x in r.stdout.splitlines() if x]
    return [e for e in evs if e["type"] == kind]


def the_cdr(pbx, dialled, n=1):
    rows = pbx.wait_cdrs(n)
    hits = [r for r in rows if r["dialled"] == dialled]
    assert hits, rows
    return hits[-1]


def callee(tmp_path, pbx, num, tone=TONE_B):
    b = Baresip(tmp_path / f"b{num}", num, PW[num], pbx.registrar, tone,
                max_s=50)
    b.start()
    return b


def talk(p, b):
    """Caller p and callee b hear each other: p's TONE_A reaches b's
    recording, b's TONE_B reaches p."""
    p.set_tone(TONE_A)
    t = time.time()
    assert p.wait_tone(TONE_B, 8, since=t, min_s=1.0), \
        ("the caller does not hear the callee", p.windows[-5:])
    time.sleep(2)
    assert p.bye() == 200
    b.wait("CALL_CLOSED", 5)
    got = heard(b.recordings(), TONE_A)
    assert got >= 1.5, ("the callee does not hear the caller", got)


def rang(b):
    return [e for e in b.ctrl.events if e.get("type") == "CALL_INCOMING"]


def test_call_password_right_rings_the_callee(make_daemon, tmp_path,
                                              phones):
    pbx = vm_pbx(make_daemon)
    pbx.set_ext("202", f"security.call_password={CALLPW}")
    b = callee(tmp_path, pbx, "202")
    try:
        p = dial(pbx, phones, "201", "202", watch=WATCH)
        # the PBX answered, not the phone: it asks for the password
        assert heard_something(p), plog(pbx)
        assert not rang(b)
        time.sleep(0.5)
        p.send_digits(CALLPW + "#")
        b.wait("CALL_ESTABLISHED", 15)
        talk(p, b)
    finally:
        b.stop()
    row = the_cdr(pbx, "202")
    assert (row["callee"], row["forward_rule"]) == ("202", "call_password"), \
        row
    assert row["disposition"] == "answered", row
    assert row["packets"]["callee"] >= 100, row
    # never a password in the log
    assert CALLPW not in pbx.d.log_path.read_text(errors="replace")


def wrong_thrice(pbx, phones, addr):
    p = dial(pbx, phones, "201", "202", addr=addr, watch=WATCH)
    assert heard_something(p), plog(pbx)
    for guess in ("111111", "222222", "333333"):
        time.sleep(0.5)
        p.send_digits(guess + "#")
        time.sleep(1.5)
    assert p.wait_hangup(20), ("not hung up after three wrong passwords",
                               plog(pbx))
    return p


def test_call_password_wrong_three_times(make_daemon, tmp_path, phones):
    """Three wrong passwords: goodbye, BYE; the callee never rang; one
    call_password_failed event per try. A second call from the same
    source that guesses again (six wrong in all) gets the source banned."""
    pbx = vm_pbx(make_daemon)
    r = pbx.d.cli("settings", "set", "guard", "trusted=127.0.0.1/32")
    assert r.returncode == 0, r
    pbx.set_ext("202", f"security.call_password={CALLPW}")
    b = callee(tmp_path, pbx, "202")
    try:
        wrong_thrice(pbx, phones, SWEEPER)
        assert not rang(b), b.ctrl.events
        evs = wait_for(lambda: (lambda e: e if len(e) >= 3 else None)(
            events(pbx, "call_password_failed")), 5)
        assert evs and len(evs) == 3, events(pbx, "call_password_failed")
        row = the_cdr(pbx, "202")
        assert row["forward_rule"] == "call_password", row
        assert row["callee"] == "202", row
        assert "hung up" in plog(pbx, 80) and "wrong call passwords" in \
            plog(pbx, 80)
        # the same source guesses on: banned at the sixth
        wrong_thrice(pbx, phones, SWEEPER)
        assert not rang(b)
    finally:
        b.stop()
    st, body = pbx.d.api("GET", "/bans")
    assert st == 200, body
    bans = body if isinstance(body, list) else body.get("bans", [])
    assert [x for x in bans if x["source"] == SWEEPER], (bans, plog(pbx))
    assert CALLPW not in pbx.d.log_path.read_text(errors="replace")
    for guess in ("111111", "222222", "333333"):
        assert guess not in pbx.d.log_path.read_text(errors="replace")


def pivr(pbx):
    pbx.set_ext("202", "user.personal_ivr.enabled=true",
                "user.personal_ivr.destination=203")


def test_personal_ivr_key_2_leaves_a_message(make_daemon, tmp_path,
                                             phones):
    pbx = vm_pbx(make_daemon)
    pivr(pbx)
    p = dial(pbx, phones, "201", "202", watch=WATCH)
    assert heard_something(p), plog(pbx)
    time.sleep(0.5)
    p.send_digits("2")
    # the mailbox's greeting: skipped with a key, then the beep
    skip_to_beep(p)
    speak(p, MSG_HZ, 3.0)
    p.send_digits("#")
    assert p.wait_hangup(10), plog(pbx)
    check_message(pbx, tmp_path, "202", "201", 2500, 2.0)
    row = the_cdr(pbx, "202")
    assert row["forward_rule"] == "personal_ivr", row


def test_personal_ivr_key_3_rings_the_colleague(make_daemon, tmp_path,
                                                phones):
    pbx = vm_pbx(make_daemon)
    pivr(pbx)
    b2 = callee(tmp_path, pbx, "202", tone=TONE_A)
    b3 = callee(tmp_path, pbx, "203")
    try:
        p = dial(pbx, phones, "201", "202", watch=WATCH)
        assert heard_something(p), plog(pbx)
        time.sleep(0.5)
        p.send_digits("3")
        b3.wait("CALL_ESTABLISHED", 15)
        talk(p, b3)
        assert not rang(b2), "202 rang: key 3 is the colleague"
    finally:
        b2.stop()
        b3.stop()
    row = the_cdr(pbx, "202")
    assert (row["callee"], row["forward_rule"], row["forward_to"]) == \
        ("203", "personal_ivr", "203"), row


def test_personal_ivr_timeout_rings_the_extension(make_daemon, tmp_path,
                                                  phones):
    """No key: the extension itself rings (without the menu again) and
    answers."""
    pbx = vm_pbx(make_daemon)
    pivr(pbx)
    b = callee(tmp_path, pbx, "202")
    try:
        p = dial(pbx, phones, "201", "202", watch=WATCH)
        assert heard_something(p), plog(pbx)
        b.wait("CALL_ESTABLISHED", 40)
        talk(p, b)
    finally:
        b.stop()
    row = the_cdr(pbx, "202")
    assert (row["callee"], row["forward_rule"]) == ("202", "personal_ivr"), \
        row


def test_call_password_then_no_answer_goes_to_the_mailbox(make_daemon,
                                                          tmp_path, phones):
    """The right password, then 202 rings for its ring time (5 s) and
    nobody answers: the plan's end applies as on any call, 202's mailbox
    takes a message (a service again, on the call the PBX answered)."""
    pbx = vm_pbx(make_daemon)
    pbx.set_ext("202", f"security.call_password={CALLPW}",
                "user.ring_time=5")
    b = Baresip(tmp_path / "b202", "202", PW["202"], pbx.registrar, TONE_B,
                answer="manual", max_s=50)
    b.start()
    try:
        p = dial(pbx, phones, "201", "202", watch=WATCH)
        assert heard_something(p), plog(pbx)
        time.sleep(0.5)
        p.send_digits(CALLPW + "#")
        b.wait("CALL_INCOMING", 10)
        # the ring time, then the mailbox's greeting: skipped, the beep
        assert wait_for(lambda: "answered by voicemail" in plog(pbx, 60),
                        15), plog(pbx)
        skip_to_beep(p)
        speak(p, MSG_HZ, 3.0)
        p.send_digits("#")
        assert p.wait_hangup(10), plog(pbx)
    finally:
        b.stop()
    check_message(pbx, tmp_path, "202", "201", 2500, 2.0)
    row = the_cdr(pbx, "202")
    assert row["forward_rule"] == "voicemail", row


def test_password_then_recorded_menu_then_colleague(make_daemon, tmp_path,
                                                    phones):
    """202 has both gates and its own menu recording (1800 Hz): the
    password first, then the owner's recording plays (not the stock
    menu), key 3 rings 203, who answers. Nothing is asked twice."""
    pbx = vm_pbx(make_daemon)
    pbx.set_ext("202", f"security.call_password={CALLPW}",
                "user.personal_ivr.enabled=true",
                "user.personal_ivr.destination=203")
    box = pbx.d.data_dir / "voicemail" / "202"
    box.mkdir(parents=True, exist_ok=True)
    write_tone(box / "ivr.wav", GREET_HZ, 3.0)
    b3 = callee(tmp_path, pbx, "203")
    try:
        p = dial(pbx, phones, "201", "202", watch=WATCH + (GREET_HZ,))
        assert heard_something(p), plog(pbx)
        time.sleep(0.5)
        t = time.time()
        p.send_digits(CALLPW + "#")
        assert p.wait_tone(GREET_HZ, 15, since=t), \
            ("the owner's menu recording did not play", plog(pbx))
        p.send_digits("3")
        b3.wait("CALL_ESTABLISHED", 15)
        talk(p, b3)
    finally:
        b3.stop()
    row = the_cdr(pbx, "202")
    assert (row["callee"], row["forward_rule"], row["forward_to"]) == \
        ("203", "personal_ivr", "203"), row
    log = plog(pbx, 80)
    assert log.count("answered by call password") == 1, log
    assert log.count("answered by personal IVR") == 1, log
