"""Message-waiting indication (issue 12): SUBSCRIBE message-summary is
challenged like an INVITE (the same 407 for a known and an unknown user),
then answered 200 with an immediate NOTIFY (0/0); a refresh inside the
subscription is authenticated too and NOTIFYed again; Expires: 0 ends it
with a terminated NOTIFY; another event gets 489; too short a period 423;
the per-extension cap 503 with Retry-After; a NOTIFY refused with 481 ends
the subscription; losing voicemail.mwi ends it (reason=noresource).

The counts themselves come from the voicemail side (mwi_set); until a
deposit exists they are 0/0 here (tests/unit/test_mwi.c checks bodies).
A raw UDP client: every answer and NOTIFY is compared as text.
"""
import random
import re
import socket
import time

import pytest

from calls_pbx import PW, pbx  # noqa: F401
from calls_sip import digest, status_of
from conftest import wait_for

BODY = ("Messages-Waiting: no\r\nMessage-Account: sip:{n}@{realm}\r\n"
        "Voice-Message: 0/0 (0/0)\r\n")


def hdr(msg, name):
    m = re.search(rf"^{name}:[ \t]*(.*)$", msg, re.M | re.I)
    return m.group(1).strip() if m else None


def body_of(msg):
    return msg.split("\r\n\r\n", 1)[1] if "\r\n\r\n" in msg else ""


class Subscriber:
    """One subscription dialog from one UDP socket, by hand. NOTIFYs are
    answered with self.notify_code and kept in self.notifies."""

    def __init__(self, server, user, from_user=None):
        self.server = server
        self.user = user
        self.from_user = from_user or user
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))
        self.s.settimeout(0.2)
        self.port = self.s.getsockname()[1]
        self.call_id = f"m{random.randrange(1 << 48):x}"
        self.tag = f"t{random.randrange(1 << 32):x}"
        self.cseq = 0
        self.to_tag = None
        self.notifies = []
        self.notify_code = 200
        self.branch = None

    def close(self):
        self.s.close()

    def send(self, target, expires=600, event="message-summary", auth=None,
             extra=""):
        host = f"{self.server[0]}:{self.server[1]}"
        self.uri = f"sip:{target}@{host}"
        self.cseq += 1
        self.branch = f"z9hG4bK{random.randrange(1 << 48):x}"
        to = f"<sip:{target}@{self.server[0]}>"
        if self.to_tag:
            to += f";tag={self.to_tag}"
        m = (f"SUBSCRIBE {self.uri} SIP/2.0\r\n"
             f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch={self.branch};rport\r\n"
             "Max-Forwards: 70\r\n"
             f"From: <sip:{self.from_user}@{self.server[0]}>;tag={self.tag}\r\n"
             f"To: {to}\r\nCall-ID: {self.call_id}\r\n"
             f"CSeq: {self.cseq} SUBSCRIBE\r\n"
             f"Contact: <sip:{self.user}@127.0.0.1:{self.port}>\r\n")
        if event is not None:
            m += f"Event: {event}\r\n"
        if expires is not None:
            m += f"Expires: {expires}\r\n"
        m += "Accept: application/simple-message-summary\r\n" + extra
        if auth:
            m += f"Proxy-Authorization: {auth}\r\n"
        self.last = m + "Content-Length: 0\r\n\r\n"
        self.s.sendto(self.last.encode(), self.server)

    def pump(self, until, timeout=5):
        """Read until until(msg) is true for a response: NOTIFYs are
        answered and collected on the way. Returns that response."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                data, src = self.s.recvfrom(65535)
            except socket.timeout:
                continue
            msg = data.decode(errors="replace")
            if msg.startswith("NOTIFY "):
                self.notifies.append(msg)
                self.answer(msg, src)
                continue
            if until(msg):
                return msg
        raise TimeoutError("no such answer")

    def answer(self, req, src):
        head = req.split("\r\n\r\n", 1)[0].split("\r\n")
        keep = [h for h in head[1:] if h.split(":", 1)[0].strip().lower()
                in ("via", "from", "to", "call-id", "cseq")]
        r = (f"SIP/2.0 {self.notify_code} "
             f"{'OK' if self.notify_code == 200 else 'No'}\r\n" +
             "\r\n".join(keep) + "\r\nContent-Length: 0\r\n\r\n")
        self.s.sendto(r.encode(), src)

    def final(self, timeout=5):
        cs = f"CSeq: {self.cseq} SUBSCRIBE"
        return self.pump(lambda m: status_of(m) >= 200 and cs in m, timeout)

    def wait_notify(self, n, timeout=5):
        """The n-th NOTIFY (1-based) once it came."""
        deadline = time.time() + timeout
        while len(self.notifies) < n and time.time() < deadline:
            try:
                self.pump(lambda m: False, timeout=0.3)
            except TimeoutError:
                pass
        assert len(self.notifies) >= n, self.notifies
        return self.notifies[n - 1]

    def subscribe(self, target, pw, **kw):
        """SUBSCRIBE, 407, SUBSCRIBE with credentials: (challenge, final);
        the dialog's To tag is learnt from a 200."""
        self.send(target, **kw)
        chal = self.final()
        if status_of(chal) != 407:
            return chal, chal
        auth = digest("SUBSCRIBE", self.uri, self.from_user, pw, chal)
        kw = dict(kw, auth=auth)
        self.send(target, **kw)
        fin = self.final()
        if status_of(fin) == 200 and not self.to_tag:
            self.to_tag = re.search(r"^To:.*;tag=([^;\s]+)", fin,
                                    re.M).group(1)
        return chal, fin


def realm_of(chal):
    return re.search(r'realm="([^"]*)"', chal).group(1)


def mwi_status(pbx):
    st, body = pbx.d.api("GET", "/sip/status")
    assert st == 200, body
    return body["mwi"]


def check_notify(n, user, realm, state):
    assert n.startswith(f"NOTIFY sip:{user}@127.0.0.1:"), n
    assert hdr(n, "Event") == "message-summary", n
    assert hdr(n, "Content-Type") == "application/simple-message-summary"
    assert re.match(state, hdr(n, "Subscription-State")), n
    assert hdr(n, "Contact"), n
    assert body_of(n) == BODY.format(n=user, realm=realm), n


def test_subscribe_notify_refresh_unsubscribe(pbx):
    c = Subscriber(pbx.server, "201")
    try:
        chal, fin = c.subscribe("201", PW["201"], expires=600)
        assert status_of(chal) == 407, chal
        assert status_of(fin) == 200, (fin, pbx.log())
        assert hdr(fin, "Expires") == "600", fin
        assert hdr(fin, "Contact"), fin
        realm = realm_of(chal)
        n1 = c.wait_notify(1)
        check_notify(n1, "201", realm, r"active;expires=(600|599)$")
        # the NOTIFY is in the dialog the 200 made
        assert hdr(n1, "Call-ID") == c.call_id
        assert f"tag={c.to_tag}" in hdr(n1, "From")
        assert f"tag={c.tag}" in hdr(n1, "To")
        assert mwi_status(pbx)["subscriptions"] == 1

        # a refresh: challenged too, then 200 and a NOTIFY
        chal, fin = c.subscribe("201", PW["201"], expires=3600)
        assert status_of(chal) == 407, chal
        assert status_of(fin) == 200, fin
        assert hdr(fin, "Expires") == "3600"
        n2 = c.wait_notify(2)
        check_notify(n2, "201", realm, r"active;expires=(3600|3599)$")
        assert int(hdr(n2, "CSeq").split()[0]) > \
            int(hdr(n1, "CSeq").split()[0])
        # too long: clamped
        chal, fin = c.subscribe("201", PW["201"], expires=86400)
        assert hdr(fin, "Expires") == "7200", fin
        c.wait_notify(3)

        # unsubscribe: 200 Expires: 0, a terminated NOTIFY
        chal, fin = c.subscribe("201", PW["201"], expires=0)
        assert status_of(fin) == 200, fin
        assert hdr(fin, "Expires") == "0"
        n4 = c.wait_notify(4)
        check_notify(n4, "201", realm, r"terminated;reason=timeout$")
        assert wait_for(lambda: mwi_status(pbx)["subscriptions"] == 0, 3)

        # the dialog is gone: 481 at once, no challenge
        c.send("201", expires=600)
        fin = c.final()
        assert status_of(fin) == 481, fin
    finally:
        c.close()
    st = mwi_status(pbx)
    assert st["notify_sent"] >= 4 and st["notify_failed"] == 0, st


def _norm(msg, c):
    for v, k in ((c.call_id, "CALLID"), (c.tag, "FTAG"), (c.branch, "BR"),
                 (str(c.port), "PORT")):
        msg = msg.replace(v, k)
    msg = re.sub(r'nonce="[^"]*"', 'nonce="N"', msg)
    msg = re.sub(r'opaque="[^"]*"', 'opaque="O"', msg)
    msg = re.sub(r"(To: [^\r]*;tag=)[^;\r]*", r"\1T", msg)
    return msg


def test_unknown_user_alike_other_event_489_fetch(pbx):
    seen = {}
    for user in ("201", "2999"):
        c = Subscriber(pbx.server, user)
        try:
            c.send(user)
            ans = c.final()
            assert status_of(ans) == 407, ans
            seen[user] = _norm(ans, c).replace(f"sip:{user}@", "sip:U@")
        finally:
            c.close()
    assert seen["201"] == seen["2999"], seen
    # a wrong password: the same challenge again, nothing kept
    c = Subscriber(pbx.server, "201")
    try:
        chal, fin = c.subscribe("201", "Wrong7Password")
        assert status_of(fin) == 407, fin
        assert mwi_status(pbx)["subscriptions"] == 0
    finally:
        c.close()
    # another event package, and none
    for event in ("presence", None):
        c = Subscriber(pbx.server, "201")
        try:
            chal, fin = c.subscribe("201", PW["201"], event=event)
            assert status_of(fin) == 489, fin
            assert hdr(fin, "Allow-Events") == "message-summary", fin
        finally:
            c.close()
    # a malformed Event value
    c = Subscriber(pbx.server, "201")
    try:
        chal, fin = c.subscribe("201", PW["201"],
                                event="message-summary;id=\"x\"")
        assert status_of(fin) == 400, fin
    finally:
        c.close()
    # another extension's mailbox: refused
    c = Subscriber(pbx.server, "201")
    try:
        chal, fin = c.subscribe("202", PW["201"])
        assert status_of(fin) == 403, fin
    finally:
        c.close()
    # a fetch (Expires: 0 outside a dialog): 200, one terminated NOTIFY
    c = Subscriber(pbx.server, "201")
    try:
        chal, fin = c.subscribe("201", PW["201"], expires=0)
        assert status_of(fin) == 200, fin
        check_notify(c.wait_notify(1), "201", realm_of(chal),
                     r"terminated;reason=timeout$")
    finally:
        c.close()
    assert mwi_status(pbx)["subscriptions"] == 0


def test_brief_423_cap_503(pbx):
    c = Subscriber(pbx.server, "202")
    try:
        chal, fin = c.subscribe("202", PW["202"], expires=30)
        assert status_of(fin) == 423, fin
        assert hdr(fin, "Min-Expires") == "60", fin
    finally:
        c.close()
    subs = []
    try:
        for i in range(8):
            c = Subscriber(pbx.server, "202")
            subs.append(c)
            chal, fin = c.subscribe("202", PW["202"])
            assert status_of(fin) == 200, (i, fin)
            c.wait_notify(1)
        c = Subscriber(pbx.server, "202")
        subs.append(c)
        chal, fin = c.subscribe("202", PW["202"])
        assert status_of(fin) == 503, fin
        assert hdr(fin, "Retry-After") == "60", fin
        st = mwi_status(pbx)
        assert st["subscriptions"] == 8 and st["refused_full"] == 1, st
        # another extension is not held back by 202's subscriptions
        c = Subscriber(pbx.server, "203")
        subs.append(c)
        chal, fin = c.subscribe("203", PW["203"])
        assert status_of(fin) == 200, fin
    finally:
        for c in subs:
            c.close()


def test_notify_481_ends_and_refresh_of_another_user_refused(pbx):
    c = Subscriber(pbx.server, "201")
    try:
        c.notify_code = 481
        chal, fin = c.subscribe("201", PW["201"])
        assert status_of(fin) == 200, fin
        c.wait_notify(1)
        assert wait_for(lambda: mwi_status(pbx)["subscriptions"] == 0, 3)
        assert mwi_status(pbx)["notify_failed"] >= 1
        c.send("201")
        assert status_of(c.final()) == 481
    finally:
        c.close()
    # 202's credentials on 201's dialog (its Call-ID and tags): 403
    a = Subscriber(pbx.server, "201")
    b = Subscriber(pbx.server, "202")
    try:
        chal, fin = a.subscribe("201", PW["201"])
        assert status_of(fin) == 200, fin
        a.wait_notify(1)
        b.call_id, b.tag, b.to_tag, b.cseq = a.call_id, a.tag, a.to_tag, \
            a.cseq
        chal, fin = b.subscribe("201", PW["202"])
        assert status_of(chal) == 407, chal
        assert status_of(fin) == 403, fin
        assert mwi_status(pbx)["subscriptions"] == 1
    finally:
        a.close()
        b.close()


def test_mwi_off_ends_subscription_and_refuses(pbx):
    c = Subscriber(pbx.server, "203")
    try:
        chal, fin = c.subscribe("203", PW["203"])
        assert status_of(fin) == 200, fin
        c.wait_notify(1)
        pbx.set_ext("203", "voicemail.mwi=false")
        n = c.wait_notify(2)
        check_notify(n, "203", realm_of(chal),
                     r"terminated;reason=noresource$")
        assert mwi_status(pbx)["subscriptions"] == 0
    finally:
        c.close()
    c = Subscriber(pbx.server, "203")
    try:
        chal, fin = c.subscribe("203", PW["203"])
        assert status_of(fin) == 404, fin
    finally:
        c.close()
