"""A caller leaves a voicemail through the real bulwarkd, by hand (SIP
with digest, RTP PCMU, RFC 4733 digits; as tests/integration/
test_vm_lifecycle.py does): the browser test (gui.mjs) runs it to put a
real message in the portal's mailbox.

    vm_deposit.py HOST:PORT CALLER PASSWORD MAILBOX [--greeting-hz F]

The caller listens to the greeting for 2 s (with --greeting-hz, it must
hear that tone: the greeting the owner uploaded in the portal), presses 1
to skip the rest, waits for the beep, sends a 1400 Hz tone for 2.5 s,
presses # and answers the PBX's BYE. Prints one JSON line: what it heard
and how the call went; exit status 0 when all went as it should.
"""
import argparse
import json
import pathlib
import re
import socket
import struct
import sys
import tempfile
import time
import wave

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "tests" / "integration"))
from calls_lib import tone_seconds  # noqa: E402
from calls_rtp import ULAW, ALAW, rtp_packet, ulaw_tone  # noqa: E402
from calls_sip import SipUac, status_of  # noqa: E402

MESSAGE_HZ = 1400


class Leg:
    """The caller's media: 20 ms PCMU frames out, what comes back kept
    as linear samples (PCMU or PCMA, as the answer chose)."""

    def __init__(self, uac, answer):
        self.uac = uac
        self.dest = (re.search(r"c=IN IP4 (\S+)", answer).group(1),
                     int(re.search(r"m=audio (\d+)", answer).group(1)))
        pt = int(re.search(r"m=audio \d+ RTP/AVP (\d+)", answer).group(1))
        self.table = ALAW if pt == 8 else ULAW
        self.seq = self.ts = 0
        self.heard = []
        uac.rtp.settimeout(0.001)

    def _send(self, payload, pt=0, marker=False, ts=None):
        self.uac.rtp.sendto(rtp_packet(self.seq, self.ts if ts is None else ts,
                                       0x5eed, payload, pt, marker), self.dest)
        self.seq += 1

    def _drain(self):
        try:
            while True:
                pkt = self.uac.rtp.recv(2048)
                if len(pkt) > 12 and pkt[1] & 0x7f in (0, 8):
                    self.heard.extend(self.table[b] for b in pkt[12:])
        except OSError:
            pass

    def run(self, secs, tone=None):
        end = time.time() + secs
        while time.time() < end:
            self._send(ulaw_tone(tone, 20, 0.5, self.ts) if tone else b"\xff" * 160)
            self.ts += 160
            self._drain()
            time.sleep(0.02)

    def digit(self, key):
        ev = "0123456789*#".index(key)
        for i in range(6):
            self._send(struct.pack("!BBH", ev, (0x80 if i >= 3 else 0) | 10,
                                   160 * (i + 1)), pt=101, marker=i == 0, ts=self.ts)
            time.sleep(0.02)
        self.ts += 960
        self.run(0.1)

    def tone_secs(self, samples, freq):
        with tempfile.NamedTemporaryFile(suffix=".wav") as f:
            with wave.open(f.name, "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(8000)
                w.writeframes(struct.pack(f"<{len(samples)}h", *samples))
            return tone_seconds(f.name, freq)


def answer_bye(uac, timeout):
    """Wait for the PBX's BYE and answer it 200: True when it came."""
    end = time.time() + timeout
    while time.time() < end:
        try:
            data = uac.s.recv(65535).decode(errors="replace")
        except socket.timeout:
            continue
        if data.startswith("BYE "):
            head = data.split("\r\n\r\n", 1)[0].split("\r\n")
            keep = [x for x in head[1:] if re.match(r"(?i)(via|from|to|call-id|cseq):", x)]
            uac.s.sendto(("SIP/2.0 200 OK\r\n" + "\r\n".join(keep) +
                          "\r\nContent-Length: 0\r\n\r\n").encode(), uac.server)
            return True
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("server")
    ap.add_argument("caller")
    ap.add_argument("password")
    ap.add_argument("mailbox")
    ap.add_argument("--greeting-hz", type=int, default=0)
    a = ap.parse_args()
    host, port = a.server.rsplit(":", 1)
    uac = SipUac((host, int(port)), a.caller)
    out = {"ok": False}
    try:
        _, final = uac.call(a.mailbox, a.password)
        out["status"] = status_of(final)
        if out["status"] != 200:
            print(json.dumps(out))
            return 1
        uac.ack(final)
        leg = Leg(uac, final)
        leg.run(2.0)                      # the greeting
        greeting = list(leg.heard)
        leg.digit("1")                    # skip the rest of it
        leg.run(1.0)                      # the beep
        leg.run(2.5, tone=MESSAGE_HZ)     # the message
        leg.digit("#")
        out["bye"] = answer_bye(uac, 8)
        out["heard_s"] = round(len(greeting) / 8000, 2)
        if a.greeting_hz:
            out["greeting_tone_s"] = leg.tone_secs(greeting, a.greeting_hz)
        out["ok"] = out["bye"] and out["heard_s"] > 1.5 and (
            not a.greeting_hz or out["greeting_tone_s"] >= 0.5)
    finally:
        uac.close()
    print(json.dumps(out))
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
