"""Caller ID, PAI/RPID, Alert-Info and the language of prompts (issue 13),
end to end against bulwarkd.

The callee is a phone made here: a UDP socket registered as the
extension (calls_sip.register_udp, then bound to the same port) that
keeps every INVITE the PBX sends it and answers 486 or 200. The caller
is calls_sip.SipUac whose requests are rewritten on the way out to carry
what a hostile or misconfigured phone might send about itself: its own
From display name, a P-Asserted-Identity and a Remote-Party-ID naming
911, an Alert-Info asking for auto answer. None of it may reach the
callee; what the callee sees is the caller's configured caller ID.

The language test leaves the SIP layer: a mailbox whose user.language is
fr must play its prompts from the French set, proven with the audio of
an admin's French prompt (DATA/prompts/fr/vm-theperson.wav, a 1000 Hz
tone) heard by the caller, while a mailbox in the default language plays
the English prompt (no 1000 Hz).
"""
import pathlib
import random
import re
import socket
import threading
import time

import pytest

from calls_lib import free_sip_port, write_tone
from calls_pbx import PW, start_pbx
from calls_sip import SipUac, register_udp, status_of
from test_sip_register import commit
from vm_lib import bounded, phones, plog, vm_pbx  # noqa: F401 (fixtures)
from vm_phone import VmPhone

EVIL = "sip:911@evil.test"
FR_HZ = 1000
GEN_HZ = 1400


def hdrs(msg, name):
    """Every value of header `name` (case-insensitive) in msg's head."""
    head = msg.split("\r\n\r\n", 1)[0].split("\r\n")[1:]
    return [h.split(":", 1)[1].strip() for h in head
            if ":" in h and h.split(":", 1)[0].strip().lower() ==
            name.lower()]


class Tamper:
    """A socket whose outgoing SIP requests get the caller's own claims."""

    def __init__(self, s, display='"Evil CEO"'):
        self.s = s
        self.display = display

    def sendto(self, data, addr):
        m = data.decode()
        if not m.startswith("SIP/2.0"):
            m = re.sub(r"^From: <", f"From: {self.display} <", m,
                       flags=re.M)
            if m.startswith("INVITE "):
                m = m.replace(
                    "Max-Forwards: 70\r\n", "Max-Forwards: 70\r\n"
                    f'P-Asserted-Identity: "Chief" <{EVIL}>\r\n'
                    f'Remote-Party-ID: "Chief" <{EVIL}>;party=calling;'
                    "screen=yes;privacy=off\r\n"
                    "Alert-Info: <http://evil.test/r>;"
                    "info=alert-autoanswer\r\n", 1)
        return self.s.sendto(m.encode(), addr)

    def __getattr__(self, name):
        return getattr(self.s, name)


class Callee:
    """A phone registered as `user`: keeps the INVITEs it gets, answers
    them with `code` (200 with an SDP answer, or a failure), answers BYE
    and OPTIONS with 200."""

    def __init__(self, server, user, pw, code=486):
        self.server, self.user, self.code = server, user, code
        self.port = free_sip_port()
        assert register_udp(server, user, pw, self.port)
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.s.bind(("127.0.0.1", self.port))
        self.s.settimeout(0.2)
        self.rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rtp.bind(("127.0.0.1", 0))
        self.invites = []
        self.stop = threading.Event()
        self.t = threading.Thread(target=self._loop, daemon=True)
        self.t.start()

    def _reply(self, req, src, code, reason, body=""):
        lines = req.split("\r\n\r\n", 1)[0].split("\r\n")[1:]
        keep = [x for x in lines if x.split(":", 1)[0].strip().lower() in
                ("via", "from", "call-id", "cseq")]
        to = hdrs(req, "To")[0]
        if ";tag=" not in to:
            to += f";tag=u{random.randrange(1 << 32):x}"
        r = (f"SIP/2.0 {code} {reason}\r\n" + "\r\n".join(keep) +
             f"\r\nTo: {to}\r\n"
             f"Contact: <sip:{self.user}@127.0.0.1:{self.port}>\r\n")
        if body:
            r += "Content-Type: application/sdp\r\n"
        r += f"Content-Length: {len(body)}\r\n\r\n{body}"
        self.s.sendto(r.encode(), src)

    def _loop(self):
        while not self.stop.is_set():
            try:
                data, src = self.s.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            m = data.decode(errors="replace")
            method = m.split(" ", 1)[0]
            if method == "INVITE":
                if not any(hdrs(m, "Call-ID")[0] == hdrs(i, "Call-ID")[0]
                           for i in self.invites):
                    self.invites.append(m)
                if self.code == 200:
                    ip, port = self.rtp.getsockname()
                    sdp = (f"v=0\r\no=- 2 2 IN IP4 {ip}\r\ns=-\r\n"
                           f"c=IN IP4 {ip}\r\nt=0 0\r\n"
                           f"m=audio {port} RTP/AVP 0\r\n"
                           "a=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n")
                    self._reply(m, src, 200, "OK", sdp)
                else:
                    self._reply(m, src, self.code, "Busy Here")
            elif method in ("BYE", "OPTIONS", "CANCEL"):
                self._reply(m, src, 200, "OK")

    def wait_invite(self, timeout=5):
        deadline = time.time() + timeout
        while time.time() < deadline and not self.invites:
            time.sleep(0.05)
        assert self.invites, "the callee got no INVITE"
        return self.invites[0]

    def close(self):
        self.stop.set()
        self.t.join(2)
        self.s.close()
        self.rtp.close()


@pytest.fixture
def cid_pbx(make_daemon):
    # 202 and 203 are the phones made here: no qualify (OPTIONS)
    pbx = start_pbx(make_daemon, exts=("201",), sipp_exts=("202", "203"))
    r = pbx.d.cli("ext", "edit", "201", "--set", "name=Alice Smith")
    assert r.returncode == 0, r
    # no mailbox: a busy answer reaches the caller (not voicemail)
    r = pbx.d.cli("ext", "edit", "202", "--set", "name=Bob Jones",
                  "--set", "voicemail.enabled=false")
    assert r.returncode == 0, r
    commit(pbx.d)
    return pbx


@pytest.fixture
def callee_of(cid_pbx):
    made = []

    def make(user="202", code=486):
        c = Callee(cid_pbx.server, user, PW[user], code)
        made.append(c)
        return c
    yield make
    for c in made:
        c.close()


def call_from_201(pbx, target="202", display='"Evil CEO"'):
    """201 calls target from a phone that claims things: the caller's
    final answer and its UAC (closed by the caller of this)."""
    uac = SipUac(pbx.server, "201")
    uac.s = Tamper(uac.s, display)
    _, final = uac.call(target, PW["201"])
    return uac, final


def realm_of(invite):
    return re.search(r"<sip:\w+@([^>;]+)>", hdrs(invite, "To")[0]).group(1)


def assert_no_caller_claims(invite):
    """Nothing the caller's phone said about itself reached the callee."""
    for word in ("911", "evil.test", "Chief", "Evil CEO",
                 "alert-autoanswer"):
        assert word not in invite, (word, invite)


def test_callee_sees_internal_callerid_and_pai(cid_pbx, callee_of):
    """Defaults: the caller's name and number in From and in a PAI
    (phone.send_pai is on by default); no RPID, no Alert-Info."""
    callee = callee_of()
    uac, final = call_from_201(cid_pbx)
    try:
        assert status_of(final) == 486, (final, plog(cid_pbx))
        inv = callee.wait_invite()
    finally:
        uac.close()
    realm = realm_of(inv)
    frm = hdrs(inv, "From")
    assert len(frm) == 1 and frm[0].startswith(
        f'"Alice Smith" <sip:201@{realm}>;tag='), frm
    assert hdrs(inv, "P-Asserted-Identity") == \
        [f'"Alice Smith" <sip:201@{realm}>'], inv
    assert hdrs(inv, "Remote-Party-ID") == [], inv
    assert hdrs(inv, "Alert-Info") == [], inv
    assert_no_caller_claims(inv)


def test_custom_callerid_rpid_and_alert_info(cid_pbx, callee_of):
    """A custom internal caller ID; a callee phone set to RPID (not PAI)
    with an Alert-Info value."""
    pbx = cid_pbx
    pbx.set_ext("201", "callerid.internal.use_default=false",
                "callerid.internal.name=Reception",
                "callerid.internal.number=2000")
    pbx.set_ext("202", "phone.send_pai=false", "phone.send_rpid=true",
                "phone.alert_info=<http://127.0.0.1/ring2>;info=Bellcore-dr2")
    callee = callee_of()
    uac, final = call_from_201(pbx)
    try:
        assert status_of(final) == 486, (final, plog(pbx))
        inv = callee.wait_invite()
    finally:
        uac.close()
    realm = realm_of(inv)
    assert hdrs(inv, "From")[0].startswith(
        f'"Reception" <sip:2000@{realm}>;tag='), inv
    assert hdrs(inv, "P-Asserted-Identity") == [], inv
    assert hdrs(inv, "Remote-Party-ID") == [
        f'"Reception" <sip:2000@{realm}>;party=calling;screen=yes;'
        "privacy=off"], inv
    assert hdrs(inv, "Alert-Info") == [
        "<http://127.0.0.1/ring2>;info=Bellcore-dr2"], inv
    assert_no_caller_claims(inv)
    # the PBX knows the caller as 201 all the same (CDR)
    rows = pbx.wait_cdrs(1)
    assert rows[-1]["caller"] == "201", rows


def test_override_takes_the_phones_name_only(cid_pbx, callee_of):
    """callerid.allow_override: the phone's own display name is shown;
    the number stays the extension's, the phone's PAI is still dropped."""
    pbx = cid_pbx
    pbx.set_ext("201", "callerid.allow_override=true")
    callee = callee_of()
    uac, final = call_from_201(pbx, display='"Front Desk"')
    try:
        assert status_of(final) == 486, (final, plog(pbx))
        inv = callee.wait_invite()
    finally:
        uac.close()
    realm = realm_of(inv)
    assert hdrs(inv, "From")[0].startswith(
        f'"Front Desk" <sip:201@{realm}>;tag='), inv
    assert hdrs(inv, "P-Asserted-Identity") == \
        [f'"Front Desk" <sip:201@{realm}>'], inv
    assert "911" not in inv and "evil.test" not in inv, inv


def test_connected_line_in_the_200(cid_pbx, callee_of):
    """The callee answers: the caller's 200 names who answered (PAI, the
    caller's extension has send_pai)."""
    callee = callee_of(code=200)
    uac, final = call_from_201(cid_pbx)
    try:
        assert status_of(final) == 200, (final, plog(cid_pbx))
        realm = realm_of(callee.wait_invite())
        assert hdrs(final, "P-Asserted-Identity") == \
            [f'"Bob Jones" <sip:202@{realm}>'], final
        assert uac.bye(final) == 200
    finally:
        uac.close()


def test_alert_info_header_injection_refused(cid_pbx):
    """phone.alert_info goes into a header as is: CR/LF is refused at the
    edit, naming the field and the rule."""
    r = cid_pbx.d.cli("ext", "edit", "202", "--set",
                      "phone.alert_info=x\r\nP-Asserted-Identity: <sip:911@x>")
    assert r.returncode != 0, r
    out = r.stdout + r.stderr
    assert "phone.alert_info" in out and "sip_header.format" in out, out


# ---- language: the prompt set -----------------------------------------------

def first_prompt_has(pbx, phones_, mailbox, hz, listen=3.0):
    """Call mailbox's voicemail (no answer: 202/203 are not registered):
    did the caller hear hz in the first seconds?"""
    p = VmPhone(pbx.server, "201", PW["201"], watch=(hz,))
    phones_.append(p)
    assert p.call(mailbox) == 200, (p.final, plog(pbx))
    t = p.t_answer
    heard = p.wait_tone(hz, listen, since=t)
    # not heard: a prompt played all the same (the English one)
    assert heard or p.audio_since(t) >= 1.0, ("no prompt", plog(pbx))
    p.bye()
    return heard


def test_french_mailbox_plays_french_prompts(make_daemon, phones):
    """user.language=fr: the deposit's first prompt comes from the French
    set (here the admin's DATA/prompts/fr/ copy: 1000 Hz); a mailbox in
    the default language plays the English one."""
    pbx = vm_pbx(make_daemon, menus=())
    fr = pbx.d.data_dir / "prompts" / "fr"
    fr.mkdir(parents=True)
    write_tone(fr / "vm-theperson.wav", FR_HZ, 2.0)
    pbx.set_ext("202", "user.language=fr")
    pbx.set_ext("203", "user.language=en")
    assert first_prompt_has(pbx, phones, "202", FR_HZ), \
        ("the French prompt was not played", plog(pbx))
    assert not first_prompt_has(pbx, phones, "203", FR_HZ, listen=2.5), \
        "an English mailbox played the French prompt"
    # fr_CA (a country of the language) finds the same set
    pbx.set_ext("203", "user.language=fr_CA")
    assert first_prompt_has(pbx, phones, "203", FR_HZ)


FR_SET = pathlib.Path("/usr/share/asterisk/sounds/fr_CA_f_June")


@pytest.mark.skipif(not (FR_SET / "vm-theperson.wav").exists(),
                    reason="needs asterisk-core-sounds-fr-wav")
def test_installed_french_set_before_the_default(make_daemon, phones):
    """Debian's French set (asterisk-core-sounds-fr-wav) serves a French
    mailbox before the default set: the admin's generic copy of the
    prompt (DATA/prompts/vm-theperson.wav, 1400 Hz; the default set's
    override) is heard in the default language only."""
    pbx = vm_pbx(make_daemon, menus=())
    (pbx.d.data_dir / "prompts").mkdir(exist_ok=True)
    write_tone(pbx.d.data_dir / "prompts" / "vm-theperson.wav", GEN_HZ, 2.0)
    pbx.set_ext("202", "user.language=fr")
    assert first_prompt_has(pbx, phones, "203", GEN_HZ), \
        ("the default language did not play the admin's prompt", plog(pbx))
    assert not first_prompt_has(pbx, phones, "202", GEN_HZ, listen=2.5), \
        "a French mailbox played the default set's prompt"
