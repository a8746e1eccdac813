"""Voicemail end to end, the owner's side (issue 12; the menus:
docs/admin/voicemail-menus.md): the first login (done, abandoned), the
message keys and options, PIN brute force (lockout across a restart, a
sweep of mailboxes banned by the guard). Outcomes: the mailbox state and
files, what the phone hears, the guard's bans. Helpers: vm_lib.py.
"""
import threading
import time

from calls_lib import tone_seconds, write_tone
from calls_pbx import PW
from conftest import wait_for
from test_sip_register import commit
from test_vm_admin import put_message
from vm_phone import VmPhone
from vm_lib import (  # noqa: F401 (fixtures)
    bounded, phones, BEEP, GREET_HZ, MSG_HZ, NAME_HZ, NEW_PIN, PHONE, PIN,
    SWEEPER, beep_seconds, box, dial, heard_something, login, plog,
    record_after_beep,
    state, vm_pbx, wait_state)


# ---- first login -------------------------------------------------------------
def test_first_login_walks_through_and_initialises(make_daemon, tmp_path,
                                                   phones):
    """203's new mailbox (force name and greeting on by default): *97,
    PIN, then name, greeting, a PIN the policy refuses (asked again), the
    new PIN twice. The mailbox is initialised, name and greeting are kept,
    and only the new PIN opens it."""
    pbx = vm_pbx(make_daemon, menus=())
    assert state(pbx, "203")["initialised"] is False
    p = dial(pbx, phones, "203", "*97", watch=(BEEP,))
    login(p, PIN)
    record_after_beep(p, NAME_HZ)
    record_after_beep(p, GREET_HZ)
    # a trivial PIN, typed twice: refused and asked again (whether the
    # policy speaks after the first entry or after the confirmation)
    time.sleep(1.0)
    p.send_digits("111111#")
    time.sleep(1.0)
    p.send_digits("111111#")
    time.sleep(1.5)
    p.send_digits(NEW_PIN + "#")
    time.sleep(1.0)
    p.send_digits(NEW_PIN + "#")
    s = wait_state(pbx, "203", lambda x: x["initialised"], timeout=8)
    assert s["fails"] == 0, s
    p.bye()
    d = pbx.d.data_dir / "voicemail" / "203"
    assert tone_seconds(d / "name.wav", NAME_HZ) >= 1.5
    assert tone_seconds(d / "unavail.wav", GREET_HZ) >= 1.5
    assert beep_seconds(d / "name.wav") == 0

    # the old PIN fails, the new one opens the box
    q = dial(pbx, phones, "203", "*97", watch=(BEEP,))
    login(q, PIN)
    wait_state(pbx, "203", lambda x: x["fails"] == 1)
    time.sleep(1.0)
    q.send_digits(NEW_PIN + "#")
    wait_state(pbx, "203", lambda x: x["fails"] == 0 and not x["locked"])
    # no second first login: the main menu, where '#' says goodbye
    time.sleep(1.0)
    q.send_digits("#")
    assert q.wait_hangup(6), plog(pbx)
    assert state(pbx, "203")["initialised"] is True


def test_first_login_abandoned_keeps_nothing(make_daemon, tmp_path, phones):
    """204 records its name, then hangs up before the new PIN: nothing
    kept, not initialised; the old PIN still opens the box, which asks
    for the first login again."""
    pbx = vm_pbx(make_daemon, exts=("201", "202", "204"), menus=())
    p = dial(pbx, phones, "204", "*97", watch=(BEEP,))
    login(p, PIN)
    record_after_beep(p, NAME_HZ)
    time.sleep(1.0)
    assert p.bye() == 200
    time.sleep(1.0)
    s = state(pbx, "204")
    assert s["initialised"] is False and s["fails"] == 0, s
    d = pbx.d.data_dir / "voicemail" / "204"
    assert not (d / "name.wav").exists(), list(d.iterdir())
    assert not (d / "unavail.wav").exists()

    q = dial(pbx, phones, "204", "*97", watch=(BEEP,))
    login(q, PIN)
    t = time.time()
    assert q.wait_tone(BEEP, 20, since=t), "no first login the second time"
    assert state(pbx, "204")["fails"] == 0
    assert state(pbx, "204")["initialised"] is False


# ---- PIN brute force -----------------------------------------------------------

def test_lockout_persists_and_admin_unlocks(make_daemon, tmp_path, phones):
    """Three calls, each with a wrong PIN: 202 locks; still locked after a
    restart; the right PIN is refused while locked (the message does not
    play); `bulwark vm unlock` and the right PIN plays it."""
    pbx = vm_pbx(make_daemon)
    put_message(pbx.d, "202", "0000000000001-aaaaaaaa",
                data=write_tone(tmp_path / "m.wav", MSG_HZ, 4.0).read_bytes())
    for k in (1, 2, 3):
        p = dial(pbx, phones, "202", "*97")
        login(p, "111111")
        s = wait_state(pbx, "202", lambda x: x["fails"] >= k or x["locked"])
        p.bye()
    s = wait_state(pbx, "202", lambda x: x["locked"])
    assert s["lock_level"] == 1, s
    pbx.d.restart()
    s = state(pbx, "202")
    assert s["locked"] is True and s["lock_level"] == 1, s

    # locked: the right PIN does not open it
    p = dial(pbx, phones, "202", "*97")
    login(p, PIN)
    time.sleep(1.0)
    t = time.time()
    p.send_digits("1")
    assert p.wait_tone(MSG_HZ, 4, since=t, min_s=0.5) is None, \
        "a locked mailbox played its message"
    p.bye()
    s = state(pbx, "202")
    assert s["locked"] is True and s["lock_level"] == 1, s
    assert box(pbx, "202")["new"] == 1

    r = pbx.d.cli("vm", "unlock", "202")
    assert r.returncode == 0, r
    assert state(pbx, "202")["locked"] is False
    p = dial(pbx, phones, "202", "*97")
    login(p, PIN)
    time.sleep(1.0)
    t = time.time()
    p.send_digits("1")
    assert p.wait_tone(MSG_HZ, 6, since=t, min_s=0.5), \
        ("the unlocked mailbox did not play", plog(pbx))
    assert state(pbx, "202")["fails"] == 0


def bans(pbx):
    st, body = pbx.d.api("GET", "/bans")
    assert st == 200, body
    return body if isinstance(body, list) else body.get("bans", [])


def test_sweep_of_mailboxes_bans_source(make_daemon, tmp_path, phones):
    """From 127.0.0.8, *98 and a wrong PIN on three different mailboxes:
    the guard bans 127.0.0.8 (and only it); its next INVITE is dropped."""
    pbx = vm_pbx(make_daemon)
    r = pbx.d.cli("settings", "set", "guard", "trusted=127.0.0.1/32")
    assert r.returncode == 0, r
    commit(pbx.d)
    # three calls at once (a sweep is quick), one mailbox each
    calls = {n: dial(pbx, phones, "201", "*98", addr=SWEEPER)
             for n in ("202", "203", "201")}

    def sweep(n, p):
        heard_something(p)
        time.sleep(0.3)
        p.send_digits(n + "#")
        time.sleep(1.0)
        p.send_digits("111111#")
    ts = [threading.Thread(target=sweep, args=kv) for kv in calls.items()]
    for t in ts:
        t.start()
    for t in ts:
        t.join(15)
    for n, p in calls.items():
        wait_state(pbx, n, lambda x: x["fails"] == 1)
        try:
            p.bye(timeout=2)
        except TimeoutError:
            pass                # banned while hanging up
    banned = wait_for(lambda: [b for b in bans(pbx)
                               if b["source"] == SWEEPER], 3)
    assert banned, (bans(pbx), plog(pbx))
    assert not [b for b in bans(pbx) if b["source"] != SWEEPER], bans(pbx)
    p = VmPhone(pbx.server, "201", PW["201"], addr=SWEEPER)
    phones.append(p)
    try:
        st = p.call("*98", timeout=3)
        assert st >= 400, st
    except TimeoutError:
        pass                    # dropped: no answer at all
    # another source still gets in
    dial(pbx, phones, "201", "*98", addr=PHONE)


# ---- the owner's menus -------------------------------------------------------------

def heard_next(p, freq, timeout=8):
    t = time.time()
    return p.wait_tone(freq, timeout, since=t, min_s=0.5)


def test_message_keys_and_options(make_daemon, tmp_path, phones):
    """Two new messages (1400 Hz and 1800 Hz): 1 plays one, 6 the other,
    4 the first again, 5 repeats it, 9 saves it (and goes on to the other),
    7 deletes that one; then 0 (options): 4 records the temporary
    greeting, 6 removes it (the name is recorded in the first login
    tests); * back to the main menu, # says goodbye."""
    pbx = vm_pbx(make_daemon)
    tones = {"0000000000001-aaaaaaaa": MSG_HZ, "0000000000002-bbbbbbbb":
             GREET_HZ}
    for mid, hz in tones.items():
        put_message(pbx.d, "202", mid, data=write_tone(
            tmp_path / f"{mid}.wav", hz, 2.5).read_bytes())
    p = dial(pbx, phones, "202", "*97", watch=(BEEP, MSG_HZ, GREET_HZ))
    login(p, PIN)
    time.sleep(1.0)
    t = time.time()
    p.send_digits("1")
    first = None
    while not first and time.time() < t + 8:
        first = next((hz for hz in (MSG_HZ, GREET_HZ)
                      if p.tone_heard_at(hz, t, min_s=0.5)), None)
        time.sleep(0.05)
    assert first, ("1 played no message", plog(pbx))
    other = GREET_HZ if first == MSG_HZ else MSG_HZ
    first_id = next(m for m, hz in tones.items() if hz == first)
    p.send_digits("6")
    assert heard_next(p, other), "6 did not play the next message"
    p.send_digits("4")
    assert heard_next(p, first), "4 did not play the previous message"
    p.send_digits("5")
    assert heard_next(p, first), "5 did not repeat the message"
    p.send_digits("9")
    assert heard_next(p, other), "9 did not go on to the next message"
    folders = {m["id"]: m["folder"] for m in box(pbx, "202")["messages"]}
    assert folders[first_id] == "saved", folders
    p.send_digits("7")
    b = wait_for(lambda: (lambda x: x if len(x["messages"]) == 1 else None)(
        box(pbx, "202")), 4)
    assert b and b["messages"][0]["id"] == first_id, box(pbx, "202")
    assert b["new"] == 0 and b["saved"] == 1, b

    d = pbx.d.data_dir / "voicemail" / "202"
    time.sleep(1.5)              # "deleted", "no more": the main menu
    p.send_digits("0")           # options
    time.sleep(1.0)
    p.send_digits("4")           # the temporary greeting
    record_after_beep(p, GREET_HZ, secs=1.8)
    assert wait_for(lambda: (d / "temp.wav").exists(), 4), list(d.iterdir())
    assert tone_seconds(d / "temp.wav", GREET_HZ) >= 1.2
    time.sleep(1.0)
    p.send_digits("6")           # remove the temporary greeting
    assert wait_for(lambda: not (d / "temp.wav").exists(), 4), \
        list(d.iterdir())
    time.sleep(1.0)
    p.send_digits("*")           # the main menu
    time.sleep(1.0)
    p.send_digits("#")           # goodbye
    assert p.wait_hangup(8), plog(pbx)


def test_three_wrong_pins_in_one_call_hang_up(make_daemon, tmp_path, phones):
    """Three wrong PINs in one call: "Login incorrect" each time, then
    goodbye and the PBX hangs up; the mailbox locks."""
    pbx = vm_pbx(make_daemon)
    p = dial(pbx, phones, "202", "*97")
    login(p, "111111")
    wait_state(pbx, "202", lambda x: x["fails"] == 1)
    time.sleep(0.5)
    p.send_digits("222222#")
    wait_state(pbx, "202", lambda x: x["fails"] == 2)
    time.sleep(0.5)
    p.send_digits("333333#")
    assert p.wait_hangup(10), plog(pbx)
    s = wait_state(pbx, "202", lambda x: x["locked"])
    assert s["lock_level"] == 1, s
