"""Shared by the voicemail end-to-end tests (test_voicemail.py: leaving
messages, MWI, e-mail, limits; test_voicemail_access.py: the owner's
side, first login, PIN brute force): a daemon with mailboxes, the mailbox
as the API shows it, calls with vm_phone.VmPhone, and the beep.

The beep of the prompts (/usr/share/asterisk/sounds/en_US_f_Allison/
beep.wav) is a 700 Hz sine of 0.43 s (measured: 8 of its 8 50-ms windows
have >= 50 % of their energy at 700 Hz; no other voicemail prompt has two
such windows in a row), so a phone knows a recording started when it has
heard 700 Hz for 0.25 s. Digits are typed ahead: they stop prompts, so no
test listens to a menu in full.
"""
import shutil
import signal
import time

import pytest

from calls_lib import tone_seconds, tone_windows
from calls_pbx import PW, start_pbx
from conftest import UnixHTTPConnection, wait_for
from test_sip_register import commit
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


def record_after_beep(p, freq, secs=2.2, timeout=20):
    """Wait for the beep of a recording, speak freq, end it with '#'."""
    t = time.time()
    assert p.wait_tone(BEEP, timeout, since=t), \
        ("no beep for the recording", p.hung_up.is_set())
    speak(p, freq, secs)
    p.send_digits("#")
