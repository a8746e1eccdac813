"""Voicemail's life around a mailbox, with a scripted phone (RTP and RFC
4733 digits by hand): a message left and found on disk, the mailbox
removed with its extension, a DTMF flood that the daemon survives, and a
SIP INFO digit accepted. The end-to-end flows with real phones
are in test_voicemail.py."""
import re
import struct
import time

from calls_pbx import pbx, PW  # noqa: F401  (fixture)
from calls_rtp import rtp_packet, ulaw_tone
from calls_sip import SipUac, status_of
from conftest import wait_for


class Leg:
    """The media of an answered call: 20 ms PCMU frames, RFC 4733
    events, a count of what came back."""

    def __init__(self, uac, answer):
        self.uac = uac
        self.port = int(re.search(r"m=audio (\d+)", answer).group(1))
        self.ip = re.search(r"c=IN IP4 (\S+)", answer).group(1)
        self.seq = self.ts = self.rx = 0
        uac.rtp.settimeout(0.001)

    def _send(self, payload, pt=0, marker=False, ts=None):
        self.uac.rtp.sendto(rtp_packet(self.seq & 0xffff,
                                       (self.ts if ts is None else ts)
                                       & 0xffffffff, 0x1234, payload, pt,
                                       marker), (self.ip, self.port))
        self.seq += 1

    def _drain(self):
        try:
            while True:
                self.uac.rtp.recv(2048)
                self.rx += 1
        except OSError:
            pass

    def run(self, secs, tone=None):
        end = time.time() + secs
        while time.time() < end:
            self._send(ulaw_tone(tone, 20, 0.5, self.ts) if tone
                       else b"\xff" * 160)
            self.ts += 160
            self._drain()
            time.sleep(0.02)

    def digits(self, keys, gap=0.1, pause=True):
        for k in keys:
            ev = "0123456789*#".index(k)
            for i in range(6):
                end = i >= 3
                self._send(struct.pack("!BBH", ev, (0x80 if end else 0) | 10,
                                       160 * (i + 1)), pt=101,
                           marker=i == 0, ts=self.ts)
                if pause:
                    time.sleep(0.02)
            self.ts += 960
            if gap:
                self.run(gap)


def answered(pbx, caller, target):
    c = SipUac(pbx.server, caller)
    _, final = c.call(target, PW[caller])
    assert status_of(final) == 200, (final, pbx.log())
    c.ack(final)
    return c, final, Leg(c, final)


def messages(pbx, n):
    st, body = pbx.d.api("GET", f"/voicemail/{n}")
    assert st == 200, body
    return body["messages"]


def test_message_left_then_mailbox_removed_with_its_extension(pbx):
    """A key skips the greeting, a tone is left, '#' ends it and the PBX
    hangs up; the message is on disk with its caller; deleting 202 and
    committing removes the mailbox (directory and rows)."""
    c, final, leg = answered(pbx, "201", "202")
    leg.digits("1")
    leg.run(1.0)                    # the beep
    leg.run(2.5, tone=1400)
    leg.digits("#")
    ok = wait_for(lambda: messages(pbx, "202"), 5)
    assert ok and ok[0]["caller"] == "201", (ok, pbx.log())
    assert 2000 <= ok[0]["duration_ms"] <= 4500, ok
    box = pbx.d.data_dir / "voicemail" / "202"
    assert (box / f"m-{ok[0]['id']}.wav").exists()
    assert wait_for(lambda: "callee (service ended)" in pbx.log(), 8), \
        pbx.log()
    c.close()
    r = pbx.d.cli("ext", "rm", "202")
    assert r.returncode == 0, r
    assert pbx.d.cli("commit").returncode == 0
    assert wait_for(lambda: not box.exists(), 5), list(box.iterdir())
    st, _ = pbx.d.api("GET", "/voicemail/202")
    assert st == 404


def test_dtmf_flood_and_info_digit(pbx):
    """Thousands of RFC 4733 events in a burst, then an INFO digit
    (answered 200): the daemon goes on and a following call to the
    mailbox is answered with media."""
    c, final, leg = answered(pbx, "201", "202")
    for _ in range(3000):
        leg.digits("5", gap=0, pause=False)
    info = (f"INFO {c.uri} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {c.addr}:{c.port};branch=z9hG4bKinfo1;rport\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:201@{c.server[0]}>;tag={c.tag}\r\n"
            f"To: {re.search(r'^To: (.*)$', final, re.M).group(1).strip()}\r\n"
            f"Call-ID: {c.call_id}\r\nCSeq: 3 INFO\r\n"
            "Content-Type: application/dtmf-relay\r\n"
            "Content-Length: 24\r\n\r\nSignal=#\r\nDuration=160\r\n")
    c.s.sendto(info.encode(), c.server)
    got = wait_for(lambda: (lambda d: d if "CSeq: 3 INFO" in d else None)(
        c.s.recv(65535).decode(errors="replace")), 3)
    assert got and status_of(got) == 200, got
    leg.run(1.0)
    assert c.bye(final) == 200
    c.close()
    c, final, leg = answered(pbx, "201", "202")
    leg.run(0.5)
    assert leg.rx > 10
    assert c.bye(final) == 200
    c.close()
    st, body = pbx.d.api("GET", "/status")
    assert st == 200


def test_stop_during_a_recording_and_restart(pbx):
    """SIGTERM while a caller is recording: bulwarkd stops cleanly (exit
    0, under ASan without a leak report when run with that build), the
    message being left is kept (file and row), and after a restart the
    mailbox answers again."""
    c, final, leg = answered(pbx, "201", "202")
    leg.digits("1")
    leg.run(1.0)
    leg.run(1.5, tone=1400)
    rc = pbx.d.stop()
    assert rc == 0, pbx.log()
    assert "Sanitizer" not in pbx.log() and "runtime error" not in pbx.log()
    c.close()
    pbx.d.start()
    msgs = messages(pbx, "202")
    assert len(msgs) == 1 and msgs[0]["duration_ms"] >= 1000, msgs
    box = pbx.d.data_dir / "voicemail" / "202"
    assert sorted(p.name for p in box.glob("m-*")) == \
        [f"m-{msgs[0]['id']}.wav"]
    c, final, leg = answered(pbx, "201", "202")
    leg.run(0.5)
    assert leg.rx > 10
    assert c.bye(final) == 200
    c.close()
