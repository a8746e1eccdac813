"""Call recording and music on hold (issue 13) with real phones (baresip):

* an extension with user.recording=always calls another, each phone
  sending a tone of its own: after the hang-up the WAV under
  DATA/recordings carries the caller's tone on the left and the callee's
  on the right (Goertzel, calls_lib.py), the CDR names it, the admin API
  serves it, a user's portal session and an anonymous client are refused;
* recording on demand: *1 (RFC 4733) from the on_demand extension's
  phone starts it, *1 again pauses it; the other party's *1 does not;
* sip.max_recordings: a second call while one is recorded is not;
* music on hold: the callee holds (baresip's hold), the caller hears the
  holding extension's class (DATA/moh/test/, a tone of its own) — seen on
  the right channel of the call's recording — and after the resume the
  callee's tone again.
"""
import base64
import http.client
import pathlib
import shutil
import struct
import time
import wave

import pytest

from calls_lib import (TONE_A, TONE_B, Baresip, free_block, tone_seconds,
                       tone_trace_seconds, tone_windows, write_tone)
from calls_pbx import PW, RTP_PORTS, Pbx, bounded  # noqa: F401
from conftest import free_port, wait_for
from test_sip_register import add_ext, commit
from test_web_session import WEB_PW, login

pytestmark = pytest.mark.skipif(not shutil.which("baresip"),
                                reason="needs baresip")

TONE_MOH = 2100


@pytest.fixture
def pbx(make_daemon):
    """calls_pbx.start_pbx's daemon, with the admin API on TCP too."""
    lo = free_block(RTP_PORTS, lo=20000, hi=29990)
    port = free_port()
    d = make_daemon(extra_args=["--rtp-range", f"{lo}-{lo + RTP_PORTS - 1}",
                                "--rtp-addr", "127.0.0.1",
                                "--http", f"127.0.0.1:{port}"])
    d.start()
    d.port, d.https = port, False
    d.pw = (d.data_dir / "admin-password").read_text().strip()
    r = d.cli("settings", "set", "guard", "trusted=127.0.0.0/8",
              "rate=1000000", "burst=1000000")
    assert r.returncode == 0, r
    for n in ("201", "202"):
        add_ext(d, n, PW[n], algs="md5")
    commit(d)
    return Pbx(d, lo)


def http_get(d, path, headers=None):
    """(status, body bytes, content type) of GET path on the TCP API."""
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=15)
    try:
        conn.request("GET", path, headers=dict(headers or {}))
        r = conn.getresponse()
        return r.status, r.read(), r.getheader("Content-Type") or ""
    finally:
        conn.close()


def admin(d):
    tok = base64.b64encode(f"admin:{d.pw}".encode()).decode()
    return {"Authorization": "Basic " + tok}


def split_channels(path, out_dir):
    """The stereo recording as two mono WAVs (left, right) for the tone
    detector; asserts the format the docs promise."""
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == \
            (2, 2, 8000), path
        raw = w.readframes(w.getnframes())
    s = struct.unpack(f"<{len(raw) // 2}h", raw)
    outs = []
    for ch, name in ((0, "left"), (1, "right")):
        p = out_dir / f"{name}.wav"
        with wave.open(str(p), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(struct.pack(f"<{len(s) // 2}h", *s[ch::2]))
        outs.append(p)
    return outs


def window_seconds(path, freq, start_s, end_s, tmp_path, tag):
    """tone_seconds of path between start_s and end_s (a cut of it)."""
    with wave.open(str(path), "rb") as w:
        rate = w.getframerate()
        w.setpos(int(start_s * rate))
        raw = w.readframes(int((end_s - start_s) * rate))
    p = tmp_path / f"cut-{tag}.wav"
    with wave.open(str(p), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(raw)
    return tone_seconds(p, freq)


def the_cdr(pbx):
    rows = pbx.wait_cdrs(1)
    assert len(rows) == 1, rows
    return rows[0]


def wait_file(pbx, rel):
    path = pbx.d.data_dir / "recordings" / rel
    assert wait_for(path.exists, 5), (path, pbx.log())
    return path


def phones(tmp_path, pbx, max_s=40):
    a = Baresip(tmp_path / "a", "201", PW["201"], pbx.registrar, TONE_A,
                max_s=max_s)
    b = Baresip(tmp_path / "b", "202", PW["202"], pbx.registrar, TONE_B,
                max_s=max_s)
    return a, b


def test_recording_both_directions_cdr_and_download(pbx, tmp_path):
    pbx.set_ext("201", "user.recording=always")
    # a portal user, to be refused the download
    st, out = pbx.d.api("POST", "/ext", {
        "number": "301", "type": "sip", "name": "Ada Lovelace",
        "generate_password": True, "web.enabled": True,
        "web.username": "ada", "web.password": WEB_PW})
    assert st == 201, out
    commit(pbx.d)
    a, b = phones(tmp_path, pbx)
    try:
        b.start()
        a.start()
        a.dial("202")
        a.wait("CALL_ESTABLISHED", 15)
        b.wait("CALL_ESTABLISHED", 5)
        time.sleep(4)
        assert a.cmd("hangup").get("ok")
        b.wait("CALL_CLOSED", 5)
    finally:
        a.stop()
        b.stop()
    row = the_cdr(pbx)
    rel = row["recording"]
    assert rel == time.strftime("%Y-%m-%d", time.gmtime(
        row["end_ms"] / 1000)) + f"/{row['id']}.wav", row
    path = wait_file(pbx, rel)
    assert not path.with_name(path.name + ".tmp").exists()
    left, right = split_channels(path, tmp_path)
    # left: the caller's 440 Hz, not the callee's; right: the reverse
    assert tone_seconds(left, TONE_A) >= 3.0, tone_seconds(left, TONE_A)
    assert tone_seconds(right, TONE_B) >= 3.0, tone_seconds(right, TONE_B)
    assert tone_trace_seconds(left, TONE_B) <= 0.2
    assert tone_trace_seconds(right, TONE_A) <= 0.2
    # the CLI shows it too
    r = pbx.d.cli("--json", "cdr")
    assert r.returncode == 0 and r.json[0]["recording"] == rel, r
    # the admin downloads it, byte for byte
    url = f"/api/v1/cdr/{row['id']}/recording"
    st, body, ctype = http_get(pbx.d, url, admin(pbx.d))
    assert (st, ctype) == (200, "audio/wav"), (st, body[:200])
    assert body == path.read_bytes()
    # nobody else does: no credential, a user's portal session
    st, body, _ = http_get(pbx.d, url)
    assert st == 401, (st, body[:200])
    cookie, _, _ = login(pbx.d, "ada", WEB_PW)
    st, body, _ = http_get(pbx.d, url, {"Cookie": cookie})
    assert st in (401, 403), (st, body[:200])
    # a call that does not exist, and a malformed id: 404 naming the rule
    st, body, _ = http_get(pbx.d, "/api/v1/cdr/c0000/recording",
                           admin(pbx.d))
    assert st == 404 and b"cdr.no_recording" in body, (st, body)
    st, body, _ = http_get(pbx.d, "/api/v1/cdr/..%2f..%2fx/recording",
                           admin(pbx.d))
    assert st == 404, (st, body)


def test_not_recorded_by_default(pbx, tmp_path):
    a, b = phones(tmp_path, pbx)
    try:
        b.start()
        a.start()
        a.dial("202")
        a.wait("CALL_ESTABLISHED", 15)
        b.wait("CALL_ESTABLISHED", 5)
        time.sleep(1)
        assert a.cmd("hangup").get("ok")
        b.wait("CALL_CLOSED", 5)
    finally:
        a.stop()
        b.stop()
    row = the_cdr(pbx)
    assert row["recording"] == "", row
    assert not (pbx.d.data_dir / "recordings").exists() or \
        not list((pbx.d.data_dir / "recordings").rglob("*.wav"))


@pytest.fixture
def moh_pbx(make_daemon):
    """As pbx, with a music on hold class "test" (a 2100 Hz tone in two
    files, played in turn) in DATA/moh/test before the daemon starts."""
    lo = free_block(RTP_PORTS, lo=20000, hi=29990)
    d = make_daemon(extra_args=["--rtp-range", f"{lo}-{lo + RTP_PORTS - 1}",
                                "--rtp-addr", "127.0.0.1"])
    cls = d.data_dir / "moh" / "test"
    cls.mkdir(parents=True)
    write_tone(cls / "01-first.wav", TONE_MOH, 1.5)
    write_tone(cls / "02-second.wav", TONE_MOH, 1.5)
    (cls / "notes.txt").write_text("not music")
    d.start()
    r = d.cli("settings", "set", "guard", "trusted=127.0.0.0/8",
              "rate=1000000", "burst=1000000")
    assert r.returncode == 0, r
    for n in ("201", "202"):
        add_ext(d, n, PW[n], algs="md5")
    commit(d)
    return Pbx(d, lo)


def test_music_on_hold_while_held_then_the_callee_again(moh_pbx, tmp_path):
    """202 holds (baresip's hold: a re-INVITE a=sendonly): the PBX answers
    it and 201 hears 202's class "test" (2100 Hz, its two files looping:
    more than their 3 s in all) instead of silence; 202's resume goes to
    201 as usual and 201 hears 202's tone again. The call's recording
    (201 records) shows it on the right channel, and 201's own recording
    of what it heard has the music."""
    pbx = moh_pbx
    pbx.set_ext("201", "user.recording=always")
    pbx.set_ext("202", "user.moh_class=test")
    a, b = phones(tmp_path, pbx)
    try:
        b.start()
        a.start()
        a.dial("202")
        a.wait("CALL_ESTABLISHED", 15)
        t0 = time.time()
        b.wait("CALL_ESTABLISHED", 5)
        time.sleep(2)
        n = len(b.ctrl.events)
        t_hold = time.time()
        assert b.cmd("hold").get("ok")
        b.wait("CALL_REMOTE_SDP", 5, since=n)     # our 200's answer
        assert [c["held"] for c in pbx.calls()] == [True]
        time.sleep(4.5)
        n = len(a.ctrl.events)
        t_resume = time.time()
        assert b.cmd("resume").get("ok")
        a.wait("CALL_REMOTE_SDP", 5, since=n)     # the resume, relayed
        assert [c["held"] for c in pbx.calls()] == [False]
        time.sleep(3)
        assert a.cmd("hangup").get("ok")
        b.wait("CALL_CLOSED", 5)
    finally:
        a.stop()
        b.stop()
    log = pbx.log()
    assert "holds: music on hold (class test)" in log, log
    assert "music on hold ends" in log, log
    # what 201 heard before the resume's re-INVITE (baresip's own
    # recording stops there): the music
    a_moh = sum(tone_seconds(p, TONE_MOH) for p in a.recordings())
    assert a_moh >= 3.5, a_moh
    row = the_cdr(pbx)
    # what the holder's phone still sent after its hold is its own, not
    # an injection: hushed (relay.md), not counted as dropped
    assert row["dropped"] == {"caller": 0, "callee": 0}, row
    path = wait_file(pbx, row["recording"])
    _, right = split_channels(path, tmp_path)
    hold_s, resume_s = t_hold - t0, t_resume - t0
    before = window_seconds(right, TONE_B, 0.3, hold_s, tmp_path, "before")
    music = window_seconds(right, TONE_MOH, hold_s + 0.5, resume_s,
                           tmp_path, "music")
    b_during = window_seconds(right, TONE_B, hold_s + 0.5, resume_s,
                              tmp_path, "b-during")
    after = window_seconds(right, TONE_B, resume_s + 0.7, resume_s + 3,
                           tmp_path, "after")
    print(f"right channel: {TONE_B} Hz {before} s before the hold, "
          f"{TONE_MOH} Hz {music} s and {TONE_B} Hz {b_during} s while "
          f"held, {TONE_B} Hz {after} s after the resume")
    assert before >= 1.2, before
    assert music >= 3.5, music          # both files, looped
    assert b_during == 0, b_during
    assert after >= 1.5, after


def test_music_on_hold_unknown_class_falls_back_to_default(moh_pbx,
                                                           tmp_path):
    """A class with no directory plays "default" (Debian's
    asterisk-moh-opsound-wav) and says so in the log."""
    pbx = moh_pbx
    if not list(pathlib.Path("/usr/share/asterisk/moh").glob("*.wav")):
        pytest.skip("needs asterisk-moh-opsound-wav")
    pbx.set_ext("202", "user.moh_class=nosuch")
    a, b = phones(tmp_path, pbx)
    try:
        b.start()
        a.start()
        a.dial("202")
        a.wait("CALL_ESTABLISHED", 15)
        b.wait("CALL_ESTABLISHED", 5)
        time.sleep(1)
        n = len(b.ctrl.events)
        assert b.cmd("hold").get("ok")
        b.wait("CALL_REMOTE_SDP", 5, since=n)
        time.sleep(3)
        assert a.cmd("hangup").get("ok")
        b.wait("CALL_CLOSED", 5)
    finally:
        a.stop()
        b.stop()
    log = pbx.log()
    assert "music on hold class 'nosuch' has no file" in log, log
    assert "holds: music on hold (class default)" in log, log
    # music is not a tone: the caller heard something loud, not B's tone,
    # and not silence
    loud = 0.0
    for p in a.recordings():
        for rms, frac in tone_windows(p, [TONE_B]):
            if rms >= 300 and frac[TONE_B] < 0.5:
                loud += 0.05
    assert loud >= 1.5, loud


def test_recording_on_demand_started_and_paused_by_code(pbx, tmp_path):
    """201 (user.recording=on_demand) calls 202: nothing is recorded until
    201 sends *1 (RFC 4733, baresip's sndcode); *1 again pauses it. The
    file has 201's tone only between the two codes; 202's *1 would not
    count (its extension records never)."""
    pbx.set_ext("201", "user.recording=on_demand")
    a, b = phones(tmp_path, pbx)
    try:
        b.start()
        a.start()
        a.dial("202")
        a.wait("CALL_ESTABLISHED", 15)
        t0 = time.time()
        b.wait("CALL_ESTABLISHED", 5)
        time.sleep(1.5)
        for d in "*1":                  # the callee's: not its right
            assert b.cmd("sndcode", d).get("ok")
            time.sleep(0.3)
        time.sleep(1)
        t_on = time.time()
        for d in "*1":
            assert a.cmd("sndcode", d).get("ok")
            time.sleep(0.3)
        time.sleep(3)
        t_off = time.time()
        for d in "*1":
            assert a.cmd("sndcode", d).get("ok")
            time.sleep(0.3)
        time.sleep(2)
        assert a.cmd("hangup").get("ok")
        b.wait("CALL_CLOSED", 5)
    finally:
        a.stop()
        b.stop()
    log = pbx.log()
    assert "recording started by the caller (feature code)" in log, log
    assert "recording paused by the caller (feature code)" in log, log
    assert "by the callee" not in log, log
    row = the_cdr(pbx)
    path = wait_file(pbx, row["recording"])
    left, right = split_channels(path, tmp_path)
    on, off = t_on - t0, t_off - t0
    before = window_seconds(left, TONE_A, 0, on, tmp_path, "before") + \
        window_seconds(right, TONE_B, 0, on, tmp_path, "before-r")
    during = window_seconds(left, TONE_A, on + 0.8, off, tmp_path, "during")
    during_r = window_seconds(right, TONE_B, on + 0.8, off, tmp_path, "dr")
    print(f"on demand: {before} s before the code, {during} s (left) and "
          f"{during_r} s (right) while on; file {path.stat().st_size} B")
    assert before == 0, before
    assert during >= 1.5 and during_r >= 1.5, (during, during_r)
    # paused: the file ends within a second of the second code
    with wave.open(str(path), "rb") as w:
        length = w.getnframes() / w.getframerate()
    assert length <= off + 1.5, (length, off)


def test_max_recordings_setting_checked(pbx):
    """sip.max_recordings (the bound on calls recorded at once) takes
    1..1024; anything else is refused naming the key."""
    for bad in ("0", "1025", "many"):
        r = pbx.d.cli("settings", "set", "sip", f"max_recordings={bad}")
        assert r.returncode != 0, r
        assert "max_recordings" in r.stderr + r.stdout, r
    r = pbx.d.cli("settings", "set", "sip", "max_recordings=64")
    assert r.returncode == 0, r
    r = pbx.d.cli("commit")
    assert r.returncode == 0, r
    r = pbx.d.cli("--json", "settings", "show", "sip")
    assert r.returncode == 0, r
    assert r.json["running"]["max_recordings"] == 64, r.json


def test_max_recordings_bounds_calls_recorded_at_once(pbx, tmp_path):
    """With sip.max_recordings=1, a second recorded call while the first
    runs is not recorded (its CDR names no file, the log says why); the
    first is."""
    d = pbx.d
    for n in ("203", "204"):
        add_ext(d, n, PW[n], algs="md5")
    commit(d)
    pbx.set_ext("201", "user.recording=always")
    pbx.set_ext("203", "user.recording=always")
    r = d.cli("settings", "set", "sip", "max_recordings=1")
    assert r.returncode == 0, r
    commit(d)
    a, b = phones(tmp_path, pbx)
    c = Baresip(tmp_path / "c", "203", PW["203"], pbx.registrar, TONE_A,
                max_s=40)
    e = Baresip(tmp_path / "e", "204", PW["204"], pbx.registrar, TONE_B,
                max_s=40)
    try:
        for p in (b, e, a, c):
            p.start()
        a.dial("202")
        a.wait("CALL_ESTABLISHED", 15)
        b.wait("CALL_ESTABLISHED", 5)
        c.dial("204")
        c.wait("CALL_ESTABLISHED", 15)
        e.wait("CALL_ESTABLISHED", 5)
        time.sleep(2)
        assert c.cmd("hangup").get("ok")
        e.wait("CALL_CLOSED", 5)
        assert a.cmd("hangup").get("ok")
        b.wait("CALL_CLOSED", 5)
    finally:
        for p in (a, b, c, e):
            p.stop()
    rows = {r["caller"]: r for r in pbx.wait_cdrs(2)}
    assert rows["203"]["recording"] == "", rows
    assert rows["201"]["recording"], rows
    wait_file(pbx, rows["201"]["recording"])
    assert "not recorded: sip.max_recordings calls are being recorded" in \
        pbx.log(), pbx.log()
