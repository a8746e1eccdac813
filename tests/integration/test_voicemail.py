"""Voicemail end to end (issue 12; the menus: docs/admin/voicemail-menus.md).

Real calls into bulwarkd's voicemail application, each outcome proven
where it lands: the caller's recording (the greeting's audio, the beep),
the stored message (the caller's tone found in the WAV the API serves),
the mailbox state the API shows, the MWI subscriber's NOTIFYs, the mail
an SMTP sink receives, the guard's bans.

Callers: baresip (deposit) and vm_phone.VmPhone, a scripted phone that
sends RFC 4733 digits and SIP INFO from 127.0.0.7 (127.0.0.8 for the
sweep, which the guard bans). The beep of the prompts
(/usr/share/asterisk/sounds/en_US_f_Allison/beep.wav) is a 700 Hz sine of
0.43 s (measured: 8 of its 8 50-ms windows have >= 50 % of their energy
at 700 Hz; no other voicemail prompt has two such windows in a row), so
a phone knows the recording started when it has heard 700 Hz for 0.25 s.
Digits are typed ahead: they stop prompts, so no test listens to a menu
in full.
"""
import shutil
import signal
import threading
import time

import pytest

from calls_lib import Baresip, tone_seconds, tone_windows, write_tone
from calls_pbx import PW, start_pbx
from conftest import UnixHTTPConnection, wait_for
from test_mwi import Subscriber, body_of
from test_sip_register import commit
from test_vm_admin import put_message
from calls_sip import status_of
from vm_phone import VmPhone

BEEP = 700                  # Hz, beep.wav
BEEP_WAV = "/usr/share/asterisk/sounds/en_US_f_Allison/beep.wav"
BEEP_PROBES = (300, 440, 1000, 1400, 1800, 2100, 2600, 3200)
MSG_HZ, NAME_HZ, GREET_HZ = 1400, 1400, 1800
PIN = "826491"              # test_sip_register.add_ext's voicemail.pin
NEW_PIN = "480613"
PHONE = "127.0.0.7"
SWEEPER = "127.0.0.8"
BOUND_S = 100

needs_baresip = pytest.mark.skipif(not shutil.which("baresip"),
                                   reason="needs baresip")


@pytest.fixture(autouse=True)
def bounded():
    def expire(*_):
        raise TimeoutError(f"test took more than {BOUND_S} s")
    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(BOUND_S)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.fixture
def phones():
    """Every VmPhone a test opens, closed (BYE if still up) at the end."""
    opened = []
    yield opened
    for p in opened:
        p.close()


# ---- helpers ---------------------------------------------------------------

def vm_pbx(make_daemon, exts=("201", "202", "203"), menus=("202",)):
    """A daemon whose extensions have mailboxes (PIN 826491); those in
    `menus` skip the first login (force name/greeting off)."""
    pbx = start_pbx(make_daemon, exts=exts)
    for n in menus:
        r = pbx.d.cli("ext", "edit", n, "--set", "voicemail.force_name=false",
                      "--set", "voicemail.force_greeting=false")
        assert r.returncode == 0, r
    commit(pbx.d)
    return pbx


def plog(pbx, n=40):
    """The daemon's last n log lines other than the API's own."""
    lines = [x for x in pbx.d.log_path.read_text(errors="replace")
             .splitlines() if " api: " not in x]
    return "\n".join(lines[-n:])


def box(pbx, number):
    st, body = pbx.d.api("GET", f"/voicemail/{number}")
    assert st == 200, body
    return body


def state(pbx, number):
    return box(pbx, number)["state"]


def wait_state(pbx, number, pred, timeout=5):
    s = wait_for(lambda: (lambda x: x if pred(x) else None)(
        state(pbx, number)), timeout)
    assert s, (state(pbx, number), plog(pbx))
    return s


def wait_messages(pbx, number, n, timeout=6):
    b = wait_for(lambda: (lambda x: x if len(x["messages"]) >= n else None)(
        box(pbx, number)), timeout)
    assert b, (box(pbx, number), plog(pbx))
    return b


def download(pbx, number, msg_id, path):
    """GET /voicemail/N/ID: the bytes (audio/wav), written to path."""
    conn = UnixHTTPConnection(pbx.d.sock)
    try:
        conn.request("GET", f"/api/v1/voicemail/{number}/{msg_id}")
        resp = conn.getresponse()
        data = resp.read()
        assert resp.status == 200, (resp.status, data[:300])
        assert resp.getheader("Content-Type", "").startswith("audio/wav")
    finally:
        conn.close()
    path.write_bytes(data)
    return path


def audible_seconds(path, min_rms=300.0):
    return round(sum(0.05 for rms, _ in tone_windows(path, [BEEP], 0.05)
                     if rms >= min_rms), 3)


def beep_seconds(path):
    return tone_seconds(path, BEEP, probes=BEEP_PROBES)


def dial(pbx, phones, caller, target, addr=PHONE, expect=200,
         watch=(BEEP, MSG_HZ)):
    p = VmPhone(pbx.server, caller, PW[caller], addr=addr, watch=watch)
    phones.append(p)
    st = p.call(target)
    assert st == expect, (st, p.final, plog(pbx))
    return p


def heard_something(p, timeout=3.0):
    """Wait until the PBX's audio reaches the phone (a prompt plays)."""
    return wait_for(lambda: p.audio_since(p.t_answer) >= 0.2, timeout, 0.05)


def skip_to_beep(p, digit="1", timeout=8):
    """In a deposit: type a digit during the greeting; the time the beep
    was heard."""
    heard_something(p)
    t = time.time()
    if digit == "info":
        assert p.info_digit("5") == 200
    else:
        p.send_digits(digit)
    beep = p.wait_tone(BEEP, timeout, since=t)
    assert beep, ("no beep after skipping the greeting", p.windows[-5:],
                  p.hung_up.is_set())
    return beep


def speak(p, freq, seconds):
    p.set_tone(freq)
    time.sleep(seconds)
    p.set_tone(None)


def deposit(pbx, phones, caller="201", mailbox="202", secs=3.0, end="#"):
    """Leave a message of `secs` seconds of MSG_HZ; end it with '#' (the
    PBX says goodbye and hangs up) or by hanging up."""
    p = dial(pbx, phones, caller, mailbox)
    skip_to_beep(p)
    speak(p, MSG_HZ, secs)
    if end == "#":
        t = time.time()
        p.send_digits("#")
        assert p.wait_hangup(10), ("no BYE after '#'", plog(pbx))
        p.t_hash = t
    else:
        assert p.bye() == 200
    return p


def login(p, pin, settle=0.5):
    """Type the PIN and '#' (type-ahead over "Password")."""
    heard_something(p)
    time.sleep(settle)
    p.send_digits(pin + "#")


def check_message(pbx, tmp_path, number, caller, min_ms, min_tone_s):
    b = wait_messages(pbx, number, 1)
    assert len(b["messages"]) == 1, b
    m = b["messages"][0]
    assert m["folder"] == "new" and m["caller"] == caller, m
    assert m["duration_ms"] >= min_ms, m
    assert b["new"] == 1, b
    wav = download(pbx, number, m["id"], tmp_path / f"{m['id']}.wav")
    assert tone_seconds(wav, MSG_HZ) >= min_tone_s, \
        (m, tone_seconds(wav, MSG_HZ))
    return m, wav


# ---- leaving a message -----------------------------------------------------

@needs_baresip
def test_deposit_baresip_greeting_beep_message(make_daemon, tmp_path):
    """201 (baresip, sending 1400 Hz) calls 202, which has a mailbox and no
    phone: the PBX answers; 201 hears the greeting and the beep; its
    message (the 1400 Hz it sent after the beep) is in 202's mailbox."""
    assert beep_seconds(BEEP_WAV) >= 0.35        # the beep is 700 Hz
    pbx = vm_pbx(make_daemon, menus=())
    a = Baresip(tmp_path / "a", "201", PW["201"], pbx.registrar, MSG_HZ,
                max_s=40)
    try:
        a.start()
        a.dial("202")
        try:
            a.wait("CALL_ESTABLISHED", 10)
        except TimeoutError as e:
            raise AssertionError(f"{e}\n{a.log()}\n{plog(pbx)}")
        time.sleep(2.0)                  # some of the greeting
        assert a.cmd("sndcode", "1").get("ok")      # skip to the tone
        time.sleep(7.0)                  # ~6.5 s of message
        a.cmd("hangup")
        a.wait("CALL_CLOSED", 5)
    finally:
        a.stop()
    recs = a.recordings()
    assert recs, a.log()
    assert audible_seconds(recs[0]) >= 1.0, "no greeting heard"
    assert beep_seconds(recs[0]) >= 0.25, "no beep heard"
    m, wav = check_message(pbx, tmp_path, "202", "201", 3000, 3.0)
    # the greeting is not in the message: no beep recorded
    assert beep_seconds(wav) == 0


def test_deposit_hash_ends_pbx_hangs_up(make_daemon, tmp_path, phones):
    """'#' ends the recording: "saved, goodbye", the PBX sends BYE; the
    message is kept (the caller's tone in it, ~3 s long)."""
    pbx = vm_pbx(make_daemon, menus=())
    p = deposit(pbx, phones, secs=3.0, end="#")
    assert p.audio_since(p.t_hash) >= 0.5, "no goodbye prompt after '#'"
    m, wav = check_message(pbx, tmp_path, "202", "201", 2500, 2.5)
    assert m["duration_ms"] <= 6000, m
    rec = p.save_wav(tmp_path / "caller.wav")
    assert beep_seconds(rec) >= 0.25


@needs_baresip
def test_no_answer_goes_to_voicemail_after_ring_time(make_daemon, tmp_path,
                                                    phones):
    """202 registered but not answering, ring time 5 s (user.ring_time,
    at least 5): the caller is answered by 202's mailbox after ~5 s, 202's
    phone stops ringing; hanging up after speaking keeps the message."""
    pbx = vm_pbx(make_daemon, menus=())
    pbx.set_ext("202", "user.ring_time=5")
    b = Baresip(tmp_path / "b", "202", PW["202"], pbx.registrar, 1000,
                answer="manual", max_s=40)
    try:
        b.start()
        p = dial(pbx, phones, "201", "202")
        waited = p.t_answer - p.t_invite
        assert p.t_ringing, "no 180 while 202 rang"
        assert 4.5 <= waited <= 9.0, waited
        b.wait("CALL_INCOMING", 2)
        b.wait("CALL_CLOSED", 5)
        skip_to_beep(p)
        speak(p, MSG_HZ, 2.0)
        assert p.bye() == 200
    finally:
        b.stop()
    check_message(pbx, tmp_path, "202", "201", 1500, 1.5)


# ---- MWI, listening, deleting ------------------------------------------------

def wait_waiting(sub, value, timeout=5):
    """The first NOTIFY saying Messages-Waiting: value."""
    deadline = time.time() + timeout
    want = f"Messages-Waiting: {value}"
    while time.time() < deadline:
        hit = [n for n in sub.notifies if want in body_of(n)]
        if hit:
            return hit[0]
        try:
            sub.pump(lambda m: False, timeout=0.2)
        except TimeoutError:
            pass
    raise AssertionError(f"no '{want}' in {sub.notifies}")


def test_mwi_deposit_listen_delete(make_daemon, tmp_path, phones):
    pbx = vm_pbx(make_daemon)
    sub = Subscriber(pbx.server, "202")
    try:
        chal, fin = sub.subscribe("202", PW["202"])
        assert status_of(fin) == 200, fin
        assert "Messages-Waiting: no" in body_of(sub.wait_notify(1))
        deposit(pbx, phones, secs=2.0)
        n = wait_waiting(sub, "yes", timeout=3)
        assert "Voice-Message: 1/0" in body_of(n), n
        assert box(pbx, "202")["new"] == 1

        # the owner: *97, PIN, 1 (listen), 7 (delete)
        o = dial(pbx, phones, "202", "*97")
        login(o, PIN)
        time.sleep(1.0)
        t = time.time()
        o.send_digits("1")
        assert o.wait_tone(MSG_HZ, 6, since=t, min_s=0.5), \
            ("the message did not play", plog(pbx))
        o.send_digits("7")
        n = wait_waiting(sub, "no", timeout=4)
        assert "Voice-Message: 0/0" in body_of(n), n
        b = wait_for(lambda: (lambda x: x if not x["messages"] else None)(
            box(pbx, "202")), 3)
        assert b, box(pbx, "202")
        assert state(pbx, "202")["fails"] == 0
        o.bye()
    finally:
        sub.close()


# ---- e-mail ------------------------------------------------------------------

def test_deposit_sends_mail_with_wav(make_daemon, tmp_path, phones):
    aiosmtpd = pytest.importorskip("aiosmtpd.controller")
    from conftest import free_port
    import email
    import email.policy

    class Sink:
        def __init__(self):
            self.mails = []

        async def handle_DATA(self, server, session, envelope):
            self.mails.append(envelope)
            return "250 OK"

    sink = Sink()
    port = free_port(addr="127.0.0.1")
    ctl = aiosmtpd.Controller(sink, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        pbx = vm_pbx(make_daemon, menus=())
        st, body = pbx.d.api("PATCH", "/settings/smtp", {
            "host": "127.0.0.1", "port": port, "security": "none",
            "from": "vm@pbx.test"})
        assert st == 200, body
        pbx.set_ext("202", "voicemail.email=owner@example.org")
        deposit(pbx, phones, secs=2.5)
        assert wait_for(lambda: sink.mails, 10), \
            (pbx.d.api("GET", "/voicemail/mail/status"), plog(pbx))
        time.sleep(0.5)
        assert len(sink.mails) == 1, sink.mails
        env = sink.mails[0]
        assert env.rcpt_tos == ["owner@example.org"], env.rcpt_tos
        msg = email.message_from_bytes(env.content,
                                       policy=email.policy.default)
        parts = [x for x in msg.iter_attachments()
                 if x.get_content_type() == "audio/wav"]
        assert len(parts) == 1, [x.get_content_type()
                                 for x in msg.iter_attachments()]
        wav = tmp_path / "mailed.wav"
        wav.write_bytes(parts[0].get_payload(decode=True))
        assert tone_seconds(wav, MSG_HZ) >= 2.0
        m = box(pbx, "202")["messages"][0]
        stored = download(pbx, "202", m["id"], tmp_path / "stored.wav")
        assert stored.read_bytes() == wav.read_bytes()
        ms = wait_for(lambda: (lambda r: r[1] if r[0] == 200 and
                               r[1]["sent"] == 1 else None)(
            pbx.d.api("GET", "/voicemail/mail/status")), 3)
        assert ms, pbx.d.api("GET", "/voicemail/mail/status")
    finally:
        ctl.stop()


# ---- first login -------------------------------------------------------------

def record_after_beep(p, freq, secs=2.2, timeout=20):
    """Wait for the beep of a recording, speak freq, end it with '#'."""
    t = time.time()
    assert p.wait_tone(BEEP, timeout, since=t), \
        ("no beep for the recording", p.hung_up.is_set())
    speak(p, freq, secs)
    p.send_digits("#")


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


# ---- no way out -----------------------------------------------------------------

def test_refer_refused_info_digits_work(make_daemon, tmp_path, phones):
    """A REFER inside a voicemail call gets 403 and the call goes on:
    digits by SIP INFO skip the greeting and '#' by INFO ends the
    message, which is kept."""
    pbx = vm_pbx(make_daemon, menus=())
    p = dial(pbx, phones, "201", "202")
    heard_something(p)
    assert p.refer("203") == 403
    assert not p.hung_up.is_set()
    skip_to_beep(p, digit="info")
    speak(p, MSG_HZ, 2.0)
    assert p.info_digit("#") == 200
    assert p.wait_hangup(10), plog(pbx)
    check_message(pbx, tmp_path, "202", "201", 1500, 1.5)
    assert pbx.calls() == []


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


# ---- limits, '*' in the greeting, in-band digits ------------------------------------

def test_short_message_dropped_full_mailbox_refused(make_daemon, tmp_path,
                                                    phones):
    """max_messages 1: a message under a second is not kept; a 2 s one
    is; the next caller hears "mailbox full", goodbye, no beep, and the
    PBX hangs up."""
    pbx = vm_pbx(make_daemon, menus=())
    pbx.set_ext("202", "voicemail.max_messages=1")
    deposit(pbx, phones, secs=0.4)
    time.sleep(1.0)
    assert box(pbx, "202")["messages"] == [], box(pbx, "202")
    deposit(pbx, phones, secs=2.0)
    check_message(pbx, tmp_path, "202", "201", 1500, 1.5)
    p = dial(pbx, phones, "201", "202")
    assert p.wait_hangup(12), ("a full mailbox did not hang up", plog(pbx))
    assert p.audio_since(p.t_answer) >= 0.5, "no 'mailbox full' prompt"
    assert p.tone_heard_at(BEEP, p.t_answer) is None, "beep on a full box"
    assert len(box(pbx, "202")["messages"]) == 1


def test_star_in_greeting_logs_in_inband_digit(make_daemon, tmp_path,
                                               phones):
    """'*' during the greeting goes to this mailbox's login: the PIN,
    then '1' plays the waiting message; every digit sent as in-band DTMF
    tones (no RFC 4733 event)."""
    pbx = vm_pbx(make_daemon)
    put_message(pbx.d, "202", "0000000000001-aaaaaaaa",
                data=write_tone(tmp_path / "m.wav", MSG_HZ, 3.0).read_bytes())
    p = dial(pbx, phones, "201", "202")
    heard_something(p)
    # all in-band: the endpoint stops listening for tones once it has
    # seen an RFC 4733 event in the call
    p.send_inband("*")
    time.sleep(1.0)
    p.send_inband(PIN + "#")
    time.sleep(1.5)
    t = time.time()
    p.send_inband("1")
    assert p.wait_tone(MSG_HZ, 8, since=t, min_s=0.5), \
        ("in-band '*', PIN, '1' did not play the message", plog(pbx))
    assert state(pbx, "202")["fails"] == 0
    assert len(box(pbx, "202")["messages"]) == 1, "the caller, who logged in, left none"
