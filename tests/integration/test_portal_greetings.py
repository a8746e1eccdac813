"""The user portal's greetings over HTTP (routes_greet.c): which exist,
an upload checked (RIFF/WAVE, 16-bit PCM, 8 kHz, mono, 0.1..120 s, at
most 2 MiB) and stored whole (0600, a canonical header, no temporary
file left), read back, deleted; each refusal names its field and rule;
only the session's own mailbox, with the portal's session and CSRF rules.
(The browser: tests/gui/.)"""
import http.client
import json
import math
import os
import socket
import stat
import struct
import subprocess
import sys

from conftest import ROOT
from test_web_session import WEB_PW, login, req, seed_portal_user, start


def wav(rate=8000, channels=1, bits=16, tag=1, secs=1.0, freq=440,
        extra=b"", data_len=None, cut=0, byte_rate=None, align=None):
    """A WAV file built by hand, so that every header field can be wrong;
    extra is chunks put between fmt and data."""
    n = int(rate * secs)
    width = bits // 8
    if bits == 16:
        frames = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * freq * i / rate)))
                          for i in range(n))
    else:
        frames = bytes((128 + int(60 * math.sin(2 * math.pi * freq * i / rate))) & 0xff
                       for i in range(n))
    data = frames * channels
    align = align if align is not None else channels * width
    byte_rate = byte_rate if byte_rate is not None else rate * align
    fmt = struct.pack("<HHIIHH", tag, channels, rate, byte_rate, align, bits)
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + extra +
            b"data" + struct.pack("<I", len(data) if data_len is None else data_len) + data)
    out = b"RIFF" + struct.pack("<I", len(body)) + body
    return out[:len(out) - cut] if cut else out


def put_raw(d, path, headers, length):
    """A PUT whose Content-Length announces length octets, of which
    only the head is sent: the answer the server gives before reading
    the rest (status, JSON)."""
    with socket.create_connection(("127.0.0.1", d.port), timeout=10) as s:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        s.sendall((f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}"
                   f"Content-Type: audio/wav\r\nContent-Length: {length}\r\n\r\n"
                   ).encode() + wav()[:64])
        r = http.client.HTTPResponse(s)
        r.begin()
        return r.status, json.loads(r.read())


def test_greetings_upload_play_delete_and_refusals(make_daemon):
    d = start(make_daemon)
    seed_portal_user(d)
    cookie, csrf, _ = login(d, "ada", WEB_PW)
    h = {"Cookie": cookie}
    w = {**h, "X-CSRF-Token": csrf}
    box = d.data_dir / "voicemail" / "301"

    st, body, _ = req(d, "GET", "/api/v1/me/greetings", headers=h)
    assert st == 200, body
    assert [(g["which"], g["exists"]) for g in body["greetings"]] == \
        [("name", False), ("unavail", False), ("busy", False), ("temp", False), ("ivr", False)]

    # a good file with a LIST chunk before its data: stored as a plain
    # 44-octet header and the samples
    good = wav(secs=1.5, extra=b"LIST" + struct.pack("<I", 5) + b"INFOx\0")
    st, body, _ = req(d, "PUT", "/api/v1/me/greetings/unavail", good, headers=w, ctype="audio/wav")
    assert st == 200, body
    assert body["which"] == "unavail" and body["duration_ms"] == 1500, body
    f = box / "unavail.wav"
    mode = f.stat().st_mode
    assert stat.S_IMODE(mode) == 0o600, oct(mode)
    stored = f.read_bytes()
    samples = good[good.index(b"data") + 8:]
    assert stored[:4] == b"RIFF" and stored[36:40] == b"data" and stored[44:] == samples
    assert struct.unpack("<HHIIHH", stored[20:36]) == (1, 1, 8000, 16000, 2, 16)
    assert sorted(p.name for p in box.iterdir()) == ["unavail.wav"], list(box.iterdir())
    st, body, _ = req(d, "GET", "/api/v1/me/greetings", headers=h)
    got = {g["which"]: g for g in body["greetings"]}
    assert got["unavail"]["exists"] and got["unavail"]["bytes"] == len(stored)
    assert not got["busy"]["exists"]
    # read back as audio/wav
    st, text, hd = req(d, "GET", "/api/v1/me/greetings/unavail", headers=h)
    assert st == 200 and hd["content-type"] == "audio/wav"
    assert hd["content-length"] == str(len(stored))
    # replaced whole by a second upload (the name)
    st, body, _ = req(d, "PUT", "/api/v1/me/greetings/name", wav(secs=0.5), headers=w, ctype="audio/x-wav")
    assert st == 200, body

    # refusals: the field, the rule and what the file is
    cases = [
        (wav(rate=16000), 422, "greeting.format", "16000 Hz"),
        (wav(channels=2), 422, "greeting.format", "2 channels"),
        (wav(bits=8), 422, "greeting.format", "8-bit PCM"),
        (wav(tag=6, bits=8), 422, "greeting.format", "A-law"),
        (wav(tag=3, bits=32), 422, "greeting.format", "format tag 3"),
        (wav(byte_rate=8000), 422, "greeting.format", "8000 octets a second"),
        (wav(cut=100), 422, "greeting.format", "cut short"),
        (wav(data_len=15999, cut=1), 422, "greeting.format", "middle of a sample"),
        (b"ID3\x03" + bytes(600), 422, "greeting.format", "not a RIFF/WAVE file"),
        (b"RIFF\x10\x00\x00\x00WAVEdata\x00\x00\x00\x00", 422, "greeting.format", "damaged"),
        (wav(secs=0.05), 422, "greeting.duration", "0.0 s"),
        (wav(secs=125), 422, "greeting.duration", "125.0 s"),
    ]
    for data, code, field, what in cases:
        st, body, _ = req(d, "PUT", "/api/v1/me/greetings/busy", data, headers=w, ctype="audio/wav")
        assert st == code, (field, what, st, body)
        assert body["error"].startswith(f"Refused: {field}: "), body
        assert f"(rule {field})" in body["error"], body
        assert what in body["error"], (what, body)
        if code == 422:
            assert body["errors"][0]["field"] == field, body
            assert "must be" in body["errors"][0]["message"], body
        assert not (box / "busy.wav").exists()
    # too large: refused on its Content-Length, before the body is read
    st, body = put_raw(d, "/api/v1/me/greetings/busy", w, len(wav(secs=140)))
    assert st == 413, body
    assert body["error"] == ("Refused: greeting.size: must be at most 2 MiB "
                             "(2097152 octets) (rule greeting.size)"), body
    assert sorted(p.name for p in box.iterdir()) == ["name.wav", "unavail.wav"]
    # JSON is not a WAV
    st, body, _ = req(d, "PUT", "/api/v1/me/greetings/busy", {"x": 1}, headers=w)
    assert st == 415 and "audio/wav" in body["error"], body

    # the session's rules: no CSRF token, another site, no session
    st, body, _ = req(d, "PUT", "/api/v1/me/greetings/busy", good, headers=h, ctype="audio/wav")
    assert st == 403 and "CSRF" in body["error"], body
    st, body, _ = req(d, "DELETE", "/api/v1/me/greetings/unavail",
                      headers={**w, "Sec-Fetch-Site": "cross-site"})
    assert st == 403, body
    for hdrs in ({}, {"Cookie": login(d, "admin", d.pw)[0]}):
        st, body, _ = req(d, "GET", "/api/v1/me/greetings", headers=hdrs)
        assert st == 401, body
    assert not (box / "busy.wav").exists() and (box / "unavail.wav").exists()

    # only its own mailbox: no route names a number; 302's greeting is
    # not 301's, the admin's voicemail routes are closed to the portal
    other = d.data_dir / "voicemail" / "302"
    other.mkdir(mode=0o700, exist_ok=True)
    (other / "busy.wav").write_bytes(good)
    st, body, _ = req(d, "GET", "/api/v1/me/greetings", headers=h)
    assert not {g["which"]: g for g in body["greetings"]}["busy"]["exists"]
    for path in ["/api/v1/me/greetings/302", "/api/v1/me/greetings/..%2F302%2Fbusy",
                 "/api/v1/me/greetings/unavail.wav", "/api/v1/me/greetings/Name"]:
        st, body, _ = req(d, "GET", path, headers=h)
        assert st == 404, (path, st, body)
    st, body, _ = req(d, "GET", "/api/v1/voicemail/302", headers=h)
    assert st == 403, body
    st, body, _ = req(d, "DELETE", "/api/v1/voicemail/302/x", headers=w)
    assert st == 403, body
    assert (other / "busy.wav").exists()

    # a symbolic link planted as a greeting is neither read nor followed
    os.symlink(d.data_dir / "bulwark.db", box / "temp.wav")
    st, body, _ = req(d, "GET", "/api/v1/me/greetings/temp", headers=h)
    assert st == 404, body
    st, body, _ = req(d, "GET", "/api/v1/me/greetings", headers=h)
    assert not {g["which"]: g for g in body["greetings"]}["temp"]["exists"]
    os.unlink(box / "temp.wav")

    # deleted, then gone
    st, body, _ = req(d, "DELETE", "/api/v1/me/greetings/unavail", headers=w)
    assert st == 200 and body["deleted"] is True, body
    assert not (box / "unavail.wav").exists()
    st, body, _ = req(d, "GET", "/api/v1/me/greetings/unavail", headers=h)
    assert st == 404
    st, body, _ = req(d, "DELETE", "/api/v1/me/greetings/unavail", headers=w)
    assert st == 404
    assert "greeting" in d.log() and "uploaded" in d.log()


def test_a_caller_hears_the_uploaded_greeting(make_daemon):
    """An unavailable greeting uploaded in the portal is what a caller
    hears (1000 Hz, by the tone detector), and the message the caller
    then leaves is listed in the portal and served as audio/wav."""
    d = start(make_daemon)
    seed_portal_user(d)
    st, out = d.api("POST", "/ext", {"number": "601", "type": "sip", "name": "Sipp Caller",
                                     "auth.password": "Kq7vRz2mWp9x", "generate_pin": True})
    assert st == 201, out
    assert d.api("POST", "/commit")[0] == 200
    cookie, csrf, _ = login(d, "ada", WEB_PW)
    w = {"Cookie": cookie, "X-CSRF-Token": csrf}
    st, body, _ = req(d, "PUT", "/api/v1/me/greetings/unavail", wav(secs=3, freq=1000),
                      headers=w, ctype="audio/wav")
    assert st == 200, body
    r = subprocess.run([sys.executable, str(ROOT / "tests" / "gui" / "vm_deposit.py"),
                        f"127.0.0.1:{d.sip_port}", "601", "Kq7vRz2mWp9x", "301",
                        "--greeting-hz", "1000"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, (r.stdout, r.stderr, d.log()[-3000:])
    heard = json.loads(r.stdout.strip().splitlines()[-1])
    print("vm_deposit:", heard)
    assert heard["greeting_tone_s"] >= 1.0, heard
    st, body, _ = req(d, "GET", "/api/v1/me/voicemail", headers={"Cookie": cookie})
    assert st == 200 and len(body["messages"]) == 1, body
    m = body["messages"][0]
    assert m["caller"] == "601" and 1500 <= m["duration_ms"] <= 4500, m
    st, text, hd = req(d, "GET", f"/api/v1/me/voicemail/{m['id']}", headers={"Cookie": cookie})
    assert st == 200 and hd["content-type"] == "audio/wav"
