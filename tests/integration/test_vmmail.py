"""Voicemail to e-mail: real delivery through vmmail (libcurl SMTP) to a
local aiosmtpd server, and a relay that refuses connections (retried,
failures counted, an event per failure, no password in any of it).

The daemon's "smtp" settings and the deposit-to-mail path are not wired
yet (see docs/internals/vmmail.md); these tests drive the library through
build/src/voicemail/vmmail_send, a test program linked with vmmail_lib.
STARTTLS/SMTPS are not tested here (aiosmtpd would need a certificate).
"""
import base64
import email
import email.header
import email.policy
import json
import subprocess
import time

import pytest

from conftest import BUILD, free_port

aiosmtpd = pytest.importorskip("aiosmtpd.controller")
SEND = BUILD / "src" / "voicemail" / "vmmail_send"


class Sink:
    def __init__(self):
        self.mails = []

    async def handle_DATA(self, server, session, envelope):
        self.mails.append(envelope)
        return "250 OK"


def run_send(*args, timeout=30):
    p = subprocess.run([str(SEND), *map(str, args)], capture_output=True,
                       text=True, timeout=timeout)
    lines = p.stdout.splitlines()
    status = [json.loads(l.split(" ", 1)[1]) for l in lines
              if l.startswith("status ")]
    events = [l for l in lines if l.startswith("event ")]
    return p.returncode, status[-1] if status else None, events, p


def test_delivery_with_wav(tmp_path):
    sink = Sink()
    port = free_port(addr="127.0.0.1")
    ctl = aiosmtpd.Controller(sink, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        wav = tmp_path / "msg.wav"
        data = b"RIFF" + bytes(range(256)) * 300
        wav.write_bytes(data)
        rc, st, events, p = run_send("127.0.0.1", port, "none",
                                     "owner@example.org", wav, 100)
        assert rc == 0, p.stderr
        assert st["sent"] == 1 and st["failed"] == 0 and st["queued"] == 0
        assert not events
        deadline = time.time() + 5
        while not sink.mails and time.time() < deadline:
            time.sleep(0.05)
        assert len(sink.mails) == 1
        env = sink.mails[0]
        assert env.mail_from == "voicemail@pbx.test"
        assert env.rcpt_tos == ["owner@example.org"]
        msg = email.message_from_bytes(env.content, policy=email.policy.default)
        assert str(msg["Subject"]) == \
            "New voicemail from J\u00fcrgen <0612345678> in mailbox 201"
        parts = list(msg.iter_attachments())
        assert len(parts) == 1
        assert parts[0].get_content_type() == "audio/wav"
        assert parts[0].get_payload(decode=True) == data
        body = msg.get_body(preferencelist=("plain",)).get_content()
        assert "in mailbox 201, duration 0:04" in body
    finally:
        ctl.stop()


def test_refused_relay_retried_and_counted():
    port = free_port(addr="127.0.0.1")   # nothing listens there
    rc, st, events, p = run_send("127.0.0.1", port, "none",
                                 "owner@example.org", "-", 50,
                                 "vmuser", "S3cretPw!x", timeout=60)
    assert rc == 3, p.stderr                       # given up
    assert st["sent"] == 0
    assert st["failed"] == 8 and st["given_up"] == 1
    assert st["last_error"] and st["last_error_at"]
    assert len(events) == 8
    assert all("vm_mail_failed" in e and '"host":"127.0.0.1"' in e
               for e in events)
    assert '"given_up":true' in events[-1]
    assert "S3cretPw!x" not in p.stdout + p.stderr


def test_daemon_exports_the_queue(make_daemon):
    """bulwarkd runs the queue: its counters are in /metrics (nothing
    configured yet, so nothing queued or sent)."""
    from test_metrics import scrape, start
    d = start(make_daemon)
    m = scrape(d)
    assert m["bulwark_vm_mail_queued"] == 0
    assert m['bulwark_vm_mail_total{result="sent"}'] == 0
    assert m['bulwark_vm_mail_total{result="given_up"}'] == 0


def test_smtp_settings_sealed_and_applied(daemon):
    """The smtp section: refusals name the field and the rule; the
    password is sealed at rest and never shown; a commit configures the
    queue (status through the API)."""
    st, body = daemon.api("GET", "/voicemail/mail/status")
    assert st == 200, body
    assert body["configured"] is False
    st, body = daemon.api("PATCH", "/settings/smtp", {"port": 0})
    assert st == 422, body
    assert "smtp.port" in body["error"] and "smtp.range" in body["error"]
    st, body = daemon.api("PATCH", "/settings/smtp", {"security": "tls"})
    assert st == 422, body
    assert "smtp.security" in body["error"] and "smtp.choice" in body["error"]
    # all or nothing: a good password with a bad port changes nothing
    st, body = daemon.api("PATCH", "/settings/smtp",
                          {"password": "Pw-first-1", "port": 70000})
    assert st == 422, body
    st, body = daemon.api("GET", "/settings/smtp")
    assert body["staged"]["password"] == "" and body["staged"]["port"] == 587
    st, body = daemon.api("PATCH", "/settings/smtp", {
        "host": "127.0.0.1", "port": 2525, "security": "none",
        "user": "vm", "password": "Sm7p-Secret-xyz", "from": "vm@pbx.test"})
    assert st == 200, body
    assert body["staged"]["password"] == "set"
    assert "Sm7p-Secret-xyz" not in json.dumps(body)
    # a refused patch after it puts the sealed password back as it was
    st, body = daemon.api("PATCH", "/settings/smtp",
                          {"password": "Other-pw-99", "port": 0})
    assert st == 422, body
    db = b"".join(f.read_bytes()
                  for f in daemon.data_dir.glob("bulwark.db*"))
    assert b"Sm7p-Secret-xyz" not in db and b"Other-pw-99" not in db
    assert b"sealed:" in db
    r = daemon.cli("commit")
    assert r.returncode == 0, r
    st, body = daemon.api("GET", "/settings/smtp")
    assert body["running"]["password"] == "set"
    assert body["running"]["host"] == "127.0.0.1"
    st, body = daemon.api("GET", "/voicemail/mail/status")
    assert st == 200 and body["configured"] is True, body
