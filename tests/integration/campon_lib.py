"""Helpers of the camp-on tests (test_calls_campon.py): the PBX with 202
set up for camp-on, a scripted phone (Phone: a registered UDP phone in a
thread, answering or not, hanging up on demand), and small SIP steps (a
busy call, a camp-on code confirmed and hung up by the PBX)."""
import random
import re
import socket
import threading
import time

from calls_lib import TONE_A, free_block, tone_windows
from calls_pbx import PW, Pbx
from calls_sip import SDP, SipUac, register_udp, status_of
from conftest import wait_for
from test_sip_register import add_ext, commit


def campon_pbx(make_daemon, exts, sipp_exts, expiry=None):
    """calls_pbx.start_pbx, with --campon-expiry when given."""
    lo = free_block(40, lo=20000, hi=29990)
    args = ["--rtp-range", f"{lo}-{lo + 39}", "--rtp-addr", "127.0.0.1"]
    if expiry:
        args += ["--campon-expiry", str(expiry)]
    d = make_daemon(extra_args=args)
    d.start()
    r = d.cli("settings", "set", "guard", "trusted=127.0.0.0/8",
              "rate=1000000", "burst=1000000")
    assert r.returncode == 0, r
    for n in exts:
        add_ext(d, n, PW[n], algs="md5")
    for n in sipp_exts:
        add_ext(d, n, PW[n], algs="md5", extra=["phone.qualify=false"])
    commit(d)
    pbx = Pbx(d, lo)
    # 202: callers may camp on it; one call at a time; no mailbox (busy
    # is a 486, not a busy greeting)
    pbx.set_ext("202", "user.camp_on=true", "phone.call_limit_in=1",
                "voicemail.enabled=false")
    return pbx


def hdr(msg, name):
    m = re.search(rf"^{name}: *(.*)$", msg, re.M)
    return m.group(1).strip() if m else ""


class Phone:
    """A scripted phone registered as `user` (UDP, one socket, its own
    thread): every INVITE gets 180, then 200 with an answer (PCMU,
    telephone-event) after answer_s seconds, or never (answer_s None: a
    CANCEL gets 200 and 487); a BYE gets 200. With refuse set (a status,
    486), a new INVITE gets that at once instead. Keeps every INVITE it
    got; bye() hangs up the last answered call."""

    def __init__(self, pbx, user, answer_s=0.0):
        self.pbx, self.user, self.answer_s = pbx, user, answer_s
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        assert register_udp(pbx.server, user, PW[user], self.port)
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.s.bind(("127.0.0.1", self.port))
        self.s.settimeout(0.1)
        self.rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rtp.bind(("127.0.0.1", 0))
        self.refuse = None
        self.invites, self.answered, self.cancelled = [], [], 0
        self.byes_got = 0
        self.dialogs = {}       # Call-ID: (INVITE, our To tag)
        self.due = []           # (time, Call-ID): 200s to send
        self.last_up = None     # Call-ID of the last answered call
        self.lock = threading.Lock()
        self.stopped = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _reply(self, req, code, text, body="", tag=None):
        lines = [f"SIP/2.0 {code} {text}"]
        for ln in req.split("\r\n")[1:]:
            if re.match(r"(Via|From|Call-ID|CSeq):", ln, re.I):
                lines.append(ln)
            elif re.match(r"To:", ln, re.I):
                lines.append(ln + (f";tag={tag}" if tag and
                                   ";tag=" not in ln else ""))
        lines.append(f"Contact: <sip:{self.user}@127.0.0.1:{self.port}>")
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body.encode())}")
        msg = "\r\n".join(lines) + "\r\n\r\n" + body
        self.s.sendto(msg.encode(), self.pbx.server)

    def _answer_sdp(self):
        return SDP.format(ip="127.0.0.1", port=self.rtp.getsockname()[1]) \
            .replace("RTP/AVP 0 8 101", "RTP/AVP 0 101") \
            .replace("a=rtpmap:8 PCMA/8000\r\n", "")

    def _run(self):
        while not self.stopped:
            now = time.time()
            with self.lock:
                for when, cid in [d for d in self.due if d[0] <= now]:
                    self.due.remove((when, cid))
                    inv, tag = self.dialogs[cid]
                    self._reply(inv, 200, "OK", self._answer_sdp(), tag)
                    self.answered.append(inv)
                    self.last_up = cid
            try:
                data = self.s.recv(65535).decode(errors="replace")
            except (socket.timeout, OSError):
                continue
            cid = hdr(data, "Call-ID")
            with self.lock:
                if data.startswith("INVITE "):
                    if cid in self.dialogs:
                        continue        # a retransmission
                    tag = f"ph{random.randrange(1 << 32):x}"
                    self.dialogs[cid] = (data, tag)
                    self.invites.append(data)
                    if self.refuse:
                        self._reply(data, self.refuse, "Busy Here",
                                    tag=tag)
                        continue
                    self._reply(data, 180, "Ringing", tag=tag)
                    if self.answer_s is not None:
                        self.due.append((time.time() + self.answer_s, cid))
                elif data.startswith("BYE "):
                    self.byes_got += 1
                    self._reply(data, 200, "OK")
                elif data.startswith("CANCEL "):
                    self._reply(data, 200, "OK")
                    if cid in self.dialogs:
                        self.cancelled += 1
                        inv, tag = self.dialogs[cid]
                        self._reply(inv, 487, "Request Terminated", tag=tag)

    def wait_invites(self, n, timeout):
        return wait_for(lambda: len(self.invites) >= n or None, timeout)

    def wait_answered(self, n, timeout):
        return wait_for(lambda: len(self.answered) >= n or None, timeout)

    def bye(self):
        """BYE in the last answered call (its 200 is not waited for)."""
        with self.lock:
            inv, tag = self.dialogs[self.last_up]
        ruri = re.search(r"<([^>]*)>", hdr(inv, "Contact")).group(1)
        m = (f"BYE {ruri} SIP/2.0\r\n"
             f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch=z9hG4bK"
             f"{random.randrange(1 << 48):x};rport\r\n"
             "Max-Forwards: 70\r\n"
             f"From: {hdr(inv, 'To')};tag={tag}\r\n"
             f"To: {hdr(inv, 'From')}\r\n"
             f"Call-ID: {hdr(inv, 'Call-ID')}\r\nCSeq: 1 BYE\r\n"
             "Content-Length: 0\r\n\r\n")
        self.s.sendto(m.encode(), self.pbx.server)

    def close(self):
        self.stopped = True
        self.t.join(2)
        self.s.close()
        self.rtp.close()


def answer_bye(c, timeout):
    """Wait for a BYE on SipUac c's socket and answer it 200: True when
    one came."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            data = c.s.recv(65535).decode(errors="replace")
        except socket.timeout:
            continue
        if not data.startswith("BYE "):
            continue
        keep = [ln for ln in data.split("\r\n")
                if re.match(r"(Via|From|To|Call-ID|CSeq):", ln)]
        resp = ("SIP/2.0 200 OK\r\n" + "\r\n".join(keep) +
                "\r\nContent-Length: 0\r\n\r\n")
        c.s.sendto(resp.encode(), c.server)
        return True
    return False


def busy_call(pbx, caller="203"):
    """caller calls 202, which answers: (the SipUac, the 200)."""
    u = SipUac(pbx.server, caller)
    final = u.call("202", PW[caller])[1]
    assert status_of(final) == 200, final
    u.ack(final)
    return u, final


def voice_seconds(path, min_rms=300.0):
    """Seconds of path loud enough to be speech or a tone."""
    return round(sum(0.05 for rms, _ in tone_windows(path, [TONE_A])
                     if rms >= min_rms), 2)


def camp_status(pbx):
    """The call layer's camp-on counters (GET /sip/status)."""
    st, body = pbx.d.api("GET", "/sip/status")
    assert st == 200, body
    return body["calls"]["camp_on"]


def confirm(pbx, c, dialled, pw):
    """SipUac c dials a camp-on code: the PBX answers, then hangs up."""
    final = c.call(dialled, pw)[1]
    assert status_of(final) == 200, final
    c.ack(final)
    assert answer_bye(c, 15), "the PBX did not hang up the camp-on call"
