"""A scripted SIP phone for the voicemail tests (issue 12).

One call over UDP from a chosen loopback address (127.0.0.7 by default,
so that the guard may ban it without touching other tests' 127.0.0.1):
INVITE, the 407 answered with the extension's digest (calls_sip.digest),
an offer of PCMU (PT 0) and telephone-event (PT 101), ACK. Then:

* an RTP thread sends a 20 ms frame every 20 ms on an absolute schedule:
  silence or a sine of a frequency that can be changed at run time
  (set_tone), and RFC 4733 events for digits (send_digits: per digit,
  3 packets of the event, the first with the marker bit, then 3 end
  packets with the E bit, all with the event's timestamp; about 150 ms
  of audio between digits);
* a receiver keeps every PCMU payload the PBX sends, decoded, for a WAV
  (save_wav) and a live detector (wait_tone: has the beep sounded?);
* a SIP thread answers in-dialog requests (a BYE from the PBX: 200, and
  the call is marked hung up by the PBX) and hands responses to the
  request that waits for them;
* SIP INFO digits (application/dtmf-relay), in-band DTMF tones in the
  audio (send_inband), REFER and BYE from our side.

Everything is bounded in time; close() releases both sockets.
"""
import math
import queue
import random
import re
import socket
import struct
import threading
import time
import wave

from calls_rtp import ULAW, ulaw
from calls_sip import digest, status_of

RATE = 8000
FRAME = 160                     # samples per 20 ms
EVENTS = {**{str(i): i for i in range(10)}, "*": 10, "#": 11,
          "A": 12, "B": 13, "C": 14, "D": 15}
SILENCE = bytes([0xFF]) * FRAME  # mu-law zero
DTMF_HZ = {d: (r, c) for row, r in zip(("123A", "456B", "789C", "*0#D"),
                                       (697, 770, 852, 941))
           for d, c in zip(row, (1209, 1336, 1477, 1633))}
WINDOW = 400                     # 50 ms windows for the live detector


def hdr(msg, name):
    m = re.search(rf"^{name}:[ \t]*(.*)$", msg, re.M | re.I)
    return m.group(1).strip() if m else None


def _tone_frame(freq, phase, amp=0.4):
    step = 2 * math.pi * freq / RATE
    return bytes(ulaw(int(amp * 32767 * math.sin(step * (phase + i))))
                 for i in range(FRAME))


def _dtmf_frame(digit, phase, amp=0.25):
    """20 ms of the digit's two tones (in-band DTMF), mu-law."""
    lo, hi = DTMF_HZ[digit]
    wl, wh = 2 * math.pi * lo / RATE, 2 * math.pi * hi / RATE
    return bytes(ulaw(int(amp * 32767 * (math.sin(wl * (phase + i)) +
                                        math.sin(wh * (phase + i)))))
                 for i in range(FRAME))


def dtmf_payload(event, end, duration, volume=10):
    """An RFC 4733 telephone-event payload (4 octets)."""
    return struct.pack("!BBH", event, (0x80 if end else 0) | volume,
                       duration)


class VmPhone:
    """One call of extension `user` to the PBX at server (host, port)."""

    def __init__(self, server, user, pw, addr="127.0.0.7", watch=(700,),
                 te_pt=101):
        self.server = server
        self.user, self.pw, self.addr = user, pw, addr
        self.te_pt = te_pt
        self.sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sip.bind((addr, 0))
        self.sip.settimeout(0.1)
        self.port = self.sip.getsockname()[1]
        self.rtp = self._rtp_socket()
        self.rtp.settimeout(0.1)
        self.rtp_port = self.rtp.getsockname()[1]
        self.responses = queue.Queue()
        self.requests = []          # in-dialog requests the PBX sent
        self.lock = threading.Lock()
        self.running = True
        self.hung_up = threading.Event()     # the PBX sent BYE
        self.ended = threading.Event()       # either side ended it
        self.call_id = f"vm{random.randrange(1 << 48):x}"
        self.tag = f"p{random.randrange(1 << 32):x}"
        self.cseq = 0
        self.remote_tag = None
        self.target = None          # the PBX's Contact
        self.routes = []
        self.media = None           # (ip, port) from the answer
        self.answer_pt = None
        self.answer_te = None
        self.t_invite = self.t_ringing = self.t_answer = None
        self.final = None
        # media state
        self.tone = None            # Hz or None (silence)
        self.digits = queue.Queue()
        self.digits_busy = threading.Event()
        self.inband = queue.Queue()     # frames that replace the audio
        self.ssrc = random.randrange(1 << 32)
        self.sent_events = []       # (seq, ts, payload) of event packets
        self.rx = []                # decoded samples received
        self.rx_pts = {}            # payload type -> packets
        self.rx_sources = set()
        self.watch = tuple(watch)
        self.windows = []           # (t, rms, {freq: fraction})
        self._tables = self._goertzel_tables()
        self._rx_pending = []
        self._sip_t = threading.Thread(target=self._sip_loop, daemon=True)
        self._sip_t.start()
        self._tx_t = self._rx_t = None

    def _rtp_socket(self):
        for _ in range(50):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((self.addr, 0))
            if s.getsockname()[1] % 2 == 0:
                return s
            s.close()
        raise RuntimeError("no even RTP port")

    # ---- SIP ---------------------------------------------------------

    def _sdp(self):
        ip = self.addr
        return (f"v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=vm\r\nc=IN IP4 {ip}\r\n"
                f"t=0 0\r\nm=audio {self.rtp_port} RTP/AVP 0 {self.te_pt}\r\n"
                "a=rtpmap:0 PCMU/8000\r\n"
                f"a=rtpmap:{self.te_pt} telephone-event/8000\r\n"
                f"a=fmtp:{self.te_pt} 0-15\r\na=ptime:20\r\na=sendrecv\r\n")

    def _send(self, text, dest=None):
        self.sip.sendto(text.encode(), dest or self.server)

    def _sip_loop(self):
        while self.running:
            try:
                data, src = self.sip.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                break
            msg = data.decode(errors="replace")
            if msg.startswith("SIP/2.0 "):
                self.responses.put(msg)
            elif msg:
                self._request(msg, src)

    def _reply(self, req, src, code, reason, extra="", body=""):
        head = req.split("\r\n\r\n", 1)[0].split("\r\n")
        keep = [h for h in head[1:] if h.split(":", 1)[0].strip().lower()
                in ("via", "from", "call-id", "cseq", "v", "f", "i")]
        to = hdr(req, "To") or ""
        if "tag=" not in to:
            to += f";tag={self.tag}"
        r = (f"SIP/2.0 {code} {reason}\r\n" + "\r\n".join(keep) +
             f"\r\nTo: {to}\r\n" + extra +
             f"Content-Length: {len(body.encode())}\r\n\r\n{body}")
        self._send(r, src)

    def _request(self, req, src):
        method = req.split(" ", 1)[0]
        with self.lock:
            self.requests.append((time.time(), req))
        if method == "ACK":
            return
        if hdr(req, "Call-ID") != self.call_id:
            self._reply(req, src, 481, "Call/Transaction Does Not Exist")
            return
        if method == "BYE":
            self._reply(req, src, 200, "OK")
            self.hung_up.set()
            self.ended.set()
        elif method == "INVITE":
            body = self._sdp()
            self._reply(req, src, 200, "OK",
                        f"Contact: <sip:{self.user}@{self.addr}:{self.port}>"
                        "\r\nContent-Type: application/sdp\r\n", body)
        else:                               # OPTIONS, INFO, NOTIFY, UPDATE
            self._reply(req, src, 200, "OK")

    def _response(self, cseq, method, timeout):
        """The final answer to our request cseq/method (provisionals are
        noted, retransmitted 200s of the INVITE ACKed again)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                msg = self.responses.get(timeout=0.1)
            except queue.Empty:
                continue
            cs = hdr(msg, "CSeq") or ""
            if hdr(msg, "Call-ID") != self.call_id:
                continue
            if cs.split()[-1:] == ["INVITE"] and status_of(msg) == 200 and \
                    self.t_answer and int(cs.split()[0]) <= self.cseq:
                self._ack_2xx(msg, int(cs.split()[0]))
                if cs != f"{cseq} {method}":
                    continue
            if cs != f"{cseq} {method}":
                continue
            st = status_of(msg)
            if st in (180, 183) and self.t_ringing is None:
                self.t_ringing = time.time()
            if st >= 200:
                return msg
        raise TimeoutError(f"no final answer to {method} {cseq}")

    def _invite(self, target, auth=None):
        self.cseq += 1
        self.branch = f"z9hG4bK{random.randrange(1 << 48):x}"
        host = f"{self.server[0]}:{self.server[1]}"
        self.uri = f"sip:{target}@{host}"
        self.to = f"<sip:{target}@{self.server[0]}>"
        body = self._sdp()
        m = (f"INVITE {self.uri} SIP/2.0\r\n"
             f"Via: SIP/2.0/UDP {self.addr}:{self.port};branch={self.branch};rport\r\n"
             "Max-Forwards: 70\r\n"
             f"From: <sip:{self.user}@{self.server[0]}>;tag={self.tag}\r\n"
             f"To: {self.to}\r\nCall-ID: {self.call_id}\r\n"
             f"CSeq: {self.cseq} INVITE\r\n"
             f"Contact: <sip:{self.user}@{self.addr}:{self.port}>\r\n"
             "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, REFER\r\n"
             "User-Agent: bulwark-vm-test\r\n")
        if auth:
            m += f"Proxy-Authorization: {auth}\r\n"
        m += ("Content-Type: application/sdp\r\n"
              f"Content-Length: {len(body.encode())}\r\n\r\n{body}")
        self._send(m)

    def _ack_non2xx(self, resp):
        to = hdr(resp, "To")
        self._send(f"ACK {self.uri} SIP/2.0\r\n"
                   f"Via: SIP/2.0/UDP {self.addr}:{self.port};branch={self.branch};rport\r\n"
                   "Max-Forwards: 70\r\n"
                   f"From: <sip:{self.user}@{self.server[0]}>;tag={self.tag}\r\n"
                   f"To: {to}\r\nCall-ID: {self.call_id}\r\n"
                   f"CSeq: {self.cseq} ACK\r\nContent-Length: 0\r\n\r\n")

    def _dialog_request(self, method, cseq, extra="", body="", ctype=None):
        uri = self.target or self.uri
        m = (f"{method} {uri} SIP/2.0\r\n"
             f"Via: SIP/2.0/UDP {self.addr}:{self.port};"
             f"branch=z9hG4bK{random.randrange(1 << 48):x};rport\r\n"
             "Max-Forwards: 70\r\n"
             + "".join(f"Route: {r}\r\n" for r in self.routes) +
             f"From: <sip:{self.user}@{self.server[0]}>;tag={self.tag}\r\n"
             f"To: {self.to};tag={self.remote_tag}\r\n"
             f"Call-ID: {self.call_id}\r\nCSeq: {cseq} {method}\r\n"
             f"Contact: <sip:{self.user}@{self.addr}:{self.port}>\r\n"
             + extra)
        if ctype:
            m += f"Content-Type: {ctype}\r\n"
        m += f"Content-Length: {len(body.encode())}\r\n\r\n{body}"
        self._send(m, self._next_hop())

    def _next_hop(self):
        """Where in-dialog requests go: the PBX's signalling address (the
        Contact names it; on loopback it is the same socket)."""
        return self.server

    def _ack_2xx(self, resp, cseq):
        self._dialog_request("ACK", cseq)

    def call(self, target, timeout=15):
        """INVITE, 407, INVITE with credentials, the final answer: on 200
        the ACK goes and media starts. Returns the final status."""
        self.t_invite = time.time()
        self._invite(target)
        resp = self._response(self.cseq, "INVITE", timeout)
        if status_of(resp) == 407:
            self._ack_non2xx(resp)
            auth = digest("INVITE", self.uri, self.user, self.pw, resp)
            self._invite(target, auth)
            resp = self._response(self.cseq, "INVITE", timeout)
        self.final = resp
        st = status_of(resp)
        if st != 200:
            if st >= 300:
                self._ack_non2xx(resp)
            self.ended.set()
            return st
        self.t_answer = time.time()
        m = re.search(r"^To:.*;tag=([^;\s>]+)", resp, re.M | re.I)
        self.remote_tag = m.group(1) if m else ""
        c = re.search(r"^Contact:\s*<?([^>;\s]+)", resp, re.M | re.I)
        self.target = c.group(1) if c else self.uri
        self.routes = list(reversed(re.findall(r"^Record-Route:\s*(.*)$",
                                               resp, re.M | re.I)))
        self.invite_cseq = self.cseq
        self._ack_2xx(resp, self.cseq)
        self._parse_answer(resp.split("\r\n\r\n", 1)[1])
        self._start_media()
        return st

    def _parse_answer(self, sdp):
        ip = re.search(r"^c=IN IP4 (\S+)", sdp, re.M).group(1)
        mline = re.search(r"^m=audio (\d+) RTP/AVP ([\d ]+)", sdp, re.M)
        self.media = (ip, int(mline.group(1)))
        pts = [int(x) for x in mline.group(2).split()]
        self.answer_pt = pts[0]
        te = re.search(r"^a=rtpmap:(\d+) telephone-event/8000", sdp,
                       re.M | re.I)
        self.answer_te = int(te.group(1)) if te else None

    def request(self, method, extra="", body="", ctype=None, timeout=5):
        """An in-dialog request; its final answer (a 401/407 is answered
        once with credentials)."""
        self.cseq += 1
        self._dialog_request(method, self.cseq, extra, body, ctype)
        resp = self._response(self.cseq, method, timeout)
        if status_of(resp) in (401, 407):
            h = "Proxy-Authenticate" if status_of(resp) == 407 \
                else "WWW-Authenticate"
            auth = digest(method, self.target, self.user, self.pw, resp,
                          header=h)
            ah = "Proxy-Authorization" if h.startswith("Proxy") \
                else "Authorization"
            self.cseq += 1
            self._dialog_request(method, self.cseq, extra +
                                 f"{ah}: {auth}\r\n", body, ctype)
            resp = self._response(self.cseq, method, timeout)
        return resp

    def info_digit(self, d, timeout=5):
        """A digit by SIP INFO (application/dtmf-relay): the status."""
        return status_of(self.request(
            "INFO", body=f"Signal={d}\r\nDuration=160\r\n",
            ctype="application/dtmf-relay", timeout=timeout))

    def refer(self, to="203", timeout=5):
        """A transfer attempt inside the call: the status."""
        return status_of(self.request(
            "REFER", extra=f"Refer-To: <sip:{to}@{self.server[0]}>\r\n"
            f"Referred-By: <sip:{self.user}@{self.server[0]}>\r\n",
            timeout=timeout))

    def bye(self, timeout=5):
        """Hang up (unless the PBX already did): the BYE's status, or
        None when the call had ended."""
        if self.hung_up.is_set() or self.media is None:
            self.ended.set()
            return None
        try:
            st = status_of(self.request("BYE", timeout=timeout))
        finally:
            self.ended.set()
        return st

    def wait_hangup(self, timeout):
        """True once the PBX has sent BYE (within timeout seconds)."""
        return self.hung_up.wait(timeout)

    # ---- media -------------------------------------------------------

    def _start_media(self):
        self._tx_t = threading.Thread(target=self._tx_loop, daemon=True)
        self._rx_t = threading.Thread(target=self._rx_loop, daemon=True)
        self._tx_t.start()
        self._rx_t.start()

    def set_tone(self, freq):
        """Send a sine of freq Hz from the next frame on (None: silence)."""
        self.tone = freq

    def send_digits(self, digits, wait=True, gap=0.15):
        """RFC 4733 events for each digit; blocks until sent when wait."""
        for d in digits:
            self.digits.put((EVENTS[d.upper()], gap))
        self.digits_busy.set()
        if wait:
            deadline = time.time() + 2 + 0.4 * len(digits)
            while (not self.digits.empty() or self.digits_busy.is_set()) \
                    and time.time() < deadline:
                time.sleep(0.02)

    def send_inband(self, digits, wait=True, on_ms=100, off_ms=100):
        """Digits as in-band tones in the audio (no RFC 4733 event):
        on_ms of the digit's two tones, then off_ms of silence."""
        for d in digits:
            for k in range(on_ms // 20):
                self.inband.put(_dtmf_frame(d.upper(), k * FRAME))
            for _ in range(off_ms // 20):
                self.inband.put(SILENCE)
        deadline = time.time() + 2 + (on_ms + off_ms) / 1000 * len(digits)
        while wait and not self.inband.empty() and time.time() < deadline:
            time.sleep(0.02)

    def _packet(self, seq, ts, pt, payload, marker=False):
        return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt,
                           seq & 0xFFFF, ts & 0xFFFFFFFF,
                           self.ssrc) + payload

    def _tx_loop(self):
        seq = random.randrange(1 << 15)
        start = time.monotonic()
        n = 0               # frames since start: timestamp n * 160
        phase = 0
        event = None        # [code, ts, packets sent, gap]
        pause_until = 0     # frames of audio between digits
        while self.running and not self.ended.is_set():
            ts = n * FRAME
            if event is None and n >= pause_until:
                try:
                    code, gap = self.digits.get_nowait()
                    event = [code, ts, 0, gap]
                except queue.Empty:
                    if self.digits_busy.is_set() and self.digits.empty():
                        self.digits_busy.clear()
            if event is not None:
                code, ets, k, gap = event
                end = k >= 3
                dur = FRAME * min(k + 1, 4)
                payload = dtmf_payload(code, end, dur)
                pkt = self._packet(seq, ets, self.te_pt, payload,
                                   marker=(k == 0))
                self.sent_events.append((seq, ets, payload, k == 0))
                event[2] += 1
                if event[2] >= 6:
                    event = None
                    pause_until = n + 1 + max(1, int(gap / 0.02))
            else:
                try:
                    payload = self.inband.get_nowait()
                except queue.Empty:
                    payload = _tone_frame(self.tone, phase) if self.tone \
                        else SILENCE
                pkt = self._packet(seq, ts, 0, payload)
            phase += FRAME
            try:
                self.rtp.sendto(pkt, self.media)
            except OSError:
                pass
            seq += 1
            n += 1
            delay = start + n * 0.02 - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    def _goertzel_tables(self):
        t = {}
        for f in self.watch:
            w = 2 * math.pi * f / RATE
            t[f] = ([math.cos(w * i) for i in range(WINDOW)],
                    [math.sin(w * i) for i in range(WINDOW)])
        return t

    def _analyse(self, samples):
        x = [float(v) for v in samples]
        energy = sum(map(float.__mul__, x, x))
        rms = math.sqrt(energy / len(x))
        frac = {}
        for f, (c, s) in self._tables.items():
            if energy <= 0:
                frac[f] = 0.0
                continue
            re_ = sum(map(float.__mul__, x, c))
            im_ = sum(map(float.__mul__, x, s))
            frac[f] = 2 * (re_ * re_ + im_ * im_) / (len(x) * energy)
        with self.lock:
            self.windows.append((time.time(), rms, frac))

    def _rx_loop(self):
        while self.running:
            try:
                data, src = self.rtp.recvfrom(2048)
            except socket.timeout:
                if self.ended.is_set():
                    break
                continue
            except OSError:
                break
            if len(data) < 12 or data[0] >> 6 != 2:
                continue
            cc, pt = data[0] & 0x0F, data[1] & 0x7F
            with self.lock:
                self.rx_pts[pt] = self.rx_pts.get(pt, 0) + 1
                self.rx_sources.add(src)
            if pt != 0:
                continue
            dec = [ULAW[b] for b in data[12 + 4 * cc:]]
            with self.lock:
                self.rx.extend(dec)
            self._rx_pending.extend(dec)
            while len(self._rx_pending) >= WINDOW:
                self._analyse(self._rx_pending[:WINDOW])
                del self._rx_pending[:WINDOW]

    def tone_heard_at(self, freq, since=0.0, min_s=0.25, min_fraction=0.5,
                      min_rms=300.0):
        """The time at which freq had sounded for min_s seconds in a row
        (50 ms windows) after `since`, or None."""
        need = max(1, int(round(min_s / (WINDOW / RATE))))
        run = 0
        with self.lock:
            wins = list(self.windows)
        for t, rms, frac in wins:
            if t < since:
                continue
            if rms >= min_rms and frac.get(freq, 0) >= min_fraction:
                run += 1
                if run >= need:
                    return t
            else:
                run = 0
        return None

    def wait_tone(self, freq, timeout, since=0.0, **kw):
        """Wait until freq (one of `watch`) is heard; its time or None."""
        deadline = time.time() + timeout
        while True:
            t = self.tone_heard_at(freq, since, **kw)
            if t or time.time() > deadline or self.hung_up.is_set():
                return t
            time.sleep(0.05)

    def audio_since(self, since):
        """Seconds of audible (rms >= 300) received windows after since."""
        with self.lock:
            return round(sum(WINDOW / RATE for t, rms, _ in self.windows
                             if t >= since and rms >= 300), 3)

    def received_audio_seconds(self):
        with self.lock:
            return len(self.rx) / RATE

    def save_wav(self, path):
        with self.lock:
            s = list(self.rx)
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes(struct.pack(f"<{len(s)}h", *s))
        return path

    def close(self):
        try:
            if not self.ended.is_set() and self.media:
                self.bye(timeout=2)
        except (TimeoutError, OSError):
            pass
        self.ended.set()
        self.running = False
        for t in (self._tx_t, self._rx_t, self._sip_t):
            if t:
                t.join(2)
        self.sip.close()
        self.rtp.close()
