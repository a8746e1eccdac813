"""Outbound calls through trunks (issue 15, outbound), end to end.

The carrier stand-in is SIPp: one UAS per trunk (IP-authenticated trunks,
register=false), each in its own directory with its message trace. An
extension dials a number an outbound route takes:

* baresip (201) dials a national number: the route's first trunk (PAI)
  answers 503, the second (RPID) answers; each INVITE carries the number
  after strip/prefix in its Request-URI and 201's external caller ID in
  From and in the trunk's identity header; the second SIPp echoes the
  RTP it gets (-rtp_echo), so 201 hears its own tone back through the
  relay and the trunk: two-way audio through the outbound leg.
* the emergency number works from an extension whose class of service
  allows nothing; the same extension gets 403 naming the class for a
  national number; a class without international gets 403; the second
  international call of an extension in one hour (limit 1) is refused
  with a toll_limit security event.
"""
import shutil
import subprocess
import time

import pytest

from calls_lib import Baresip, heard
from calls_pbx import PW, Later, bounded, start_pbx  # noqa: F401
from calls_sip import (SipUac, Sipp, _msg, _reply, _scenario, status_of,
                       uas_xml)
from conftest import wait_for
from test_sip_register import commit

needs = {t: pytest.mark.skipif(not shutil.which(t), reason=f"needs {t}")
         for t in ("baresip", "sipp")}
TONE = 697


def refuse_xml(code, text):
    """A UAS that answers its one INVITE with code (then takes the ACK)."""
    return _scenario(['  <recv request="INVITE" crlf="true"/>',
                      _reply(code, text),
                      '  <recv request="ACK"/>'])


CHAL = ('WWW-Authenticate: Digest realm="carrier.test", nonce="b7c9e1d3f5",'
        ' algorithm=MD5, qop="auth"')


def challenge_xml(user, pw):
    """A UAS that challenges the INVITE (401), then answers the INVITE
    with credentials when SIPp's verifyauth accepts them (403 if not)."""
    return _scenario([
        '  <recv request="INVITE" crlf="true"/>',
        _msg(["SIP/2.0 401 Unauthorized", "[last_Via:]", "[last_From:]",
              "[last_To:];tag=[pid]uas[call_number]", "[last_Call-ID:]",
              "[last_CSeq:]", CHAL]),
        '  <recv request="ACK"/>',
        '  <recv request="INVITE" crlf="true">',
        f'    <action><verifyauth assign_to="authok" username="{user}"'
        f' password="{pw}"/></action>',
        '  </recv>',
        '  <nop hide="true" test="authok" next="good"/>',
        _reply(403, "Forbidden"),
        '  <recv request="ACK" next="end"/>',
        '  <label id="good"/>',
        _reply(200, "OK", body=True),
        '  <recv request="ACK"/>',
        '  <recv request="BYE"/>',
        _reply(200, "OK", totag=False),
        '  <label id="end"/>'])


def start_sipp(s, echo=False, timeout_s=30):
    """Sipp.start with -rtp_echo when asked (Sipp has no extra args)."""
    if not echo:
        return s.start(timeout_s=timeout_s)
    args = ["sipp", "-sf", "s.xml", "-i", s.addr, "-p", str(s.port),
            "-mi", s.addr, "-mp", str(s.media_port), "-m", "1",
            "-nostdin", "-timeout", f"{timeout_s}s", "-timeout_error",
            "-trace_err", "-trace_msg", "-buff_size", "4194304",
            "-rtp_echo"]
    s.logf = open(s.dir / "out", "ab")
    s.proc = subprocess.Popen(args, cwd=s.dir, stdin=subprocess.DEVNULL,
                              stdout=s.logf, stderr=subprocess.STDOUT)
    return s


def settings(d, section, *kv):
    r = d.cli("settings", "set", section, *kv)
    assert r.returncode == 0, (r.stdout, r.stderr)


def trunk(d, sipp, *extra):
    """Trunk named as sipp's directory, at its address and port."""
    name = sipp.dir.name
    settings(d, "trunks", f"{name}.host={sipp.addr}",
             f"{name}.port={sipp.port}", *[f"{name}.{x}" for x in extra])


# A trunk's host address is trusted as the trunk (calls from it are the
# trunk's, not an extension's): each carrier stand-in has a loopback
# address of its own, never the phones' 127.0.0.1.
ADDR = {"t1": "127.0.0.2", "t2": "127.0.0.3", "sos": "127.0.0.4",
        "intl": "127.0.0.5", "nat": "127.0.0.6"}


def carrier(tmp_path, name, xml):
    return Sipp(tmp_path, name, xml, addr=ADDR[name])


def invites(sipp):
    """The INVITEs SIPp received (its message trace), as text."""
    out = []
    for chunk in sipp.messages().split("message received")[1:]:
        body = chunk.split("\n", 1)[1].lstrip() if "\n" in chunk else ""
        if body.startswith("INVITE "):
            out.append(body.split("\n-----", 1)[0])
    return out


def hdr(msg, name):
    for line in msg.replace("\r\n", "\n").split("\n"):
        if line.lower().startswith(name.lower() + ":"):
            return line.split(":", 1)[1].strip()
    return None


@pytest.fixture
def pbx(make_daemon):
    p = start_pbx(make_daemon, exts=("201", "202", "203"))
    d = p.d
    # 201: a custom external caller ID (what the trunks must see)
    r = d.cli("ext", "edit", "201", "--set",
              "callerid.external.use_default=false", "--set",
              "callerid.external.name=Ada Ltd", "--set",
              "callerid.external.number=442079460000", "--set",
              "phone.codecs=alaw")
    assert r.returncode == 0, r
    # 203: a class of service that allows nothing at all
    settings(d, "cos", "nothing=")
    r = d.cli("ext", "edit", "203", "--set", "class_of_service=nothing",
              "--set", "callerid.emergency.use_default=false", "--set",
              "callerid.emergency.name=Flat 3", "--set",
              "callerid.emergency.number=442079460003")
    assert r.returncode == 0, r
    # 202: restricted (internal, voicemail, emergency: no national)
    r = d.cli("ext", "edit", "202", "--set", "class_of_service=restricted")
    assert r.returncode == 0, r
    commit(d)
    return p


@needs["sipp"]
@needs["baresip"]
def test_outbound_failover_callerid_and_audio(pbx, tmp_path):
    d = pbx.d
    t1 = carrier(tmp_path, "t1", refuse_xml(503, "Service Unavailable"))
    t2 = carrier(tmp_path, "t2", uas_xml(answer=True, pcap=False))
    trunk(d, t1, "id_header=pai")
    trunk(d, t2, "id_header=rpid")
    settings(d, "outbound_routes",
             "national=patterns=0ZX.;trunks=t1,t2;class=national;strip=1;"
             "prefix=+44")
    commit(d)
    a = Baresip(tmp_path / "a", "201", PW["201"], pbx.registrar, TONE,
                max_s=40, codecs="PCMA")
    later = Later()
    try:
        start_sipp(t1)
        start_sipp(t2, echo=True)
        time.sleep(0.3)
        a.start()
        a.dial("02079460123")
        try:
            a.wait("CALL_ESTABLISHED", 10)
        except TimeoutError as e:
            raise AssertionError(f"{e}\n{a.log()}\n{t1.report()}\n"
                                 f"{t2.report()}\n{pbx.log()}")
        time.sleep(3)
        calls = pbx.calls()
        later(lambda: len(calls) == 1 and calls[0]["state"] ==
              "answered" or (_ for _ in ()).throw(AssertionError(calls)))
        assert a.cmd("hangup").get("ok")
        time.sleep(0.5)
        rc1, rc2 = t1.wait(10), t2.wait(10)
    finally:
        a.stop()
        t1.stop()
        t2.stop()
    assert rc1 == 0, t1.report()
    assert rc2 == 0, t2.report()
    # the INVITE to each trunk: Request-URI, From, identity header
    for sipp, want, other in ((t1, "P-Asserted-Identity", "Remote-Party-ID"),
                              (t2, "Remote-Party-ID",
                               "P-Asserted-Identity")):
        inv = invites(sipp)
        assert len(inv) == 1, sipp.messages()[-3000:]
        first = inv[0].split("\n", 1)[0]
        assert first.startswith(f"INVITE sip:+442079460123@{sipp.addr}"), first
        frm = hdr(inv[0], "From")
        assert '"Ada Ltd"' in frm and "sip:442079460000@" in frm, frm
        ident = hdr(inv[0], want)
        assert ident and "sip:442079460000@" in ident, inv[0]
        assert hdr(inv[0], other) is None, inv[0]
        # never the extension's own number or address: not in the
        # headers, not in the description (the phone's a=ssrc CNAME,
        # a=tool), while the audio and its payload types are there
        assert "201@" not in inv[0] and "a=tool" not in inv[0], inv[0]
        assert "m=audio" in inv[0] and "a=rtpmap:8 PCMA/8000" in inv[0], \
            inv[0]
    # two-way audio: 201's own tone came back from the far end (the
    # trunk side echoes what it receives through the relay)
    recs = a.recordings()
    print("tone heard back:", heard(recs, TONE), "s in", recs)
    later(lambda: heard(recs, TONE) >= 1.0 or
          (_ for _ in ()).throw(AssertionError(
              f"tone heard {heard(recs, TONE)} s in {recs}")))
    rows = pbx.wait_cdrs(1)
    row = [r for r in rows if r["caller"] == "201"]
    assert len(row) == 1, rows
    assert row[0]["disposition"] == "answered", row
    assert row[0]["dialled"] == "02079460123", row
    # the CDR names the trunk that answered and the route
    assert row[0]["trunk"] == "t2" and row[0]["route"] == "national", row
    later.done()


def call_final(pbx, user, number, timeout=5):
    u = SipUac(pbx.server, user)
    try:
        _, final = u.call(number, PW[user], timeout=timeout)
        if status_of(final) == 200:
            time.sleep(0.3)
            assert u.bye(final) == 200
        return final
    finally:
        u.close()


@needs["sipp"]
def test_outbound_emergency_cos_and_hourly_limit(pbx, tmp_path):
    d = pbx.d
    sos = carrier(tmp_path, "sos", uas_xml(answer=True, pcap=False))
    intl = carrier(tmp_path, "intl", refuse_xml(486, "Busy Here"))
    nat = carrier(tmp_path, "nat", refuse_xml(486, "Busy Here"))
    trunk(d, sos, "id_header=pai")
    trunk(d, intl, "id_header=none")
    trunk(d, nat)
    settings(d, "outbound_routes",
             "emergency=patterns=112,999;trunks=sos;class=emergency",
             "intl=patterns=00.;trunks=intl;class=international",
             "national=patterns=0ZX.;trunks=nat;class=national")
    settings(d, "toll", "ext_international_hour=1")
    commit(d)
    try:
        start_sipp(sos)
        start_sipp(intl)
        time.sleep(0.3)
        # 203's class allows nothing, yet 112 leaves on the emergency
        # trunk with 203's emergency caller ID
        final = call_final(pbx, "203", "112")
        assert status_of(final) == 200, final + pbx.log()
        assert sos.wait(10) == 0, sos.report()
        inv = invites(sos)
        assert len(inv) == 1, sos.messages()
        assert inv[0].startswith(f"INVITE sip:112@{sos.addr}"), inv[0]
        assert "sip:442079460003@" in hdr(inv[0], "From"), inv[0]
        assert "sip:442079460003@" in hdr(inv[0], "P-Asserted-Identity")
        # ... but nothing else: 403 naming the class
        final = call_final(pbx, "203", "02079460123")
        assert status_of(final) == 403, final
        assert "national" in final.split("\r\n", 1)[0], final
        # a class without international: 403 naming it
        final = call_final(pbx, "202", "0033123456")
        assert status_of(final) == 403, final
        assert "international" in final.split("\r\n", 1)[0], final
        # 201: one international call an hour; the first reaches the
        # trunk (busy there), the second is refused before any trunk
        final = call_final(pbx, "201", "0033123456")
        assert status_of(final) == 486, final
        assert intl.wait(10) == 0, intl.report()
        final = call_final(pbx, "201", "0033123457")
        assert status_of(final) == 403, final
        assert "per hour" in final.split("\r\n", 1)[0], final
    finally:
        sos.stop()
        intl.stop()
        nat.stop()
    assert len(invites(intl)) == 1, intl.messages()
    ev = wait_for(lambda: (lambda b: b if b else None)(
        d.api("GET", "/events?type=toll_limit")[1]), 5)
    assert ev, d.log()
    e = ev[-1]
    assert e["extension"] == "201" and e["class"] == "international" and \
        e["limit"] == "ext_per_hour", e
    assert "ALERT toll fraud" in d.log(), d.log()[-3000:]
    # nothing reached the national trunk (203 and 202 were refused)
    assert not invites(nat)


def fwd(d, ext, number):
    return d.cli("ext", "edit", ext, "--set",
                 "user.forward.immediate.enabled=true", "--set",
                 f"user.forward.immediate.destination={number}")


@needs["sipp"]
def test_outbound_forward_counts_against_forwarder(pbx, tmp_path):
    """A forward to an external number: refused at commit while no route
    takes it, accepted once one does; the call leaves as the forwarding
    extension (its class of service, its external caller ID); a call in
    from a trunk never leaves on one through a forward."""
    d = pbx.d
    nat = carrier(tmp_path, "nat", refuse_xml(486, "Busy Here"))
    trunk(d, nat, "id_header=pai")
    commit(d)
    # no route yet: the commit refuses the external destination
    assert fwd(d, "201", "02079460123").returncode == 0
    r = d.cli("commit")
    assert r.returncode != 0 and "dest.external_no_trunk" in \
        r.stdout + r.stderr, (r.stdout, r.stderr)
    settings(d, "outbound_routes",
             "national=patterns=0ZX.;trunks=nat;class=national")
    assert fwd(d, "202", "02079460123").returncode == 0
    settings(d, "trunks", "did.5550100=201")
    commit(d)
    try:
        start_sipp(nat)
        time.sleep(0.3)
        # 202 (restricted: no national) forwards out: 403 for whoever
        # calls it, even 201 whose own class allows national
        final = call_final(pbx, "201", "202")
        assert status_of(final) == 403, final
        assert "national" in final.split("\r\n", 1)[0], final
        # 201 (national allowed) forwards out: 203, whose class allows
        # nothing, reaches the trunk through it, presented as 201
        final = call_final(pbx, "203", "201")
        assert status_of(final) == 486, final + pbx.log()
        assert nat.wait(10) == 0, nat.report()
        inv = invites(nat)
        assert len(inv) == 1, nat.messages()
        assert inv[0].startswith(f"INVITE sip:02079460123@{nat.addr}"), \
            inv[0]
        assert "sip:442079460000@" in hdr(inv[0], "From"), inv[0]
        # a call in from the trunk to 201's DID would leave again on a
        # trunk: refused (no inbound-to-outbound rule)
        u = SipUac(pbx.server, "carrier", addr=nat.addr)
        try:
            u.invite("5550100")
            final = u.recv_final(5)
        finally:
            u.close()
        assert status_of(final) == 403, final + pbx.log()
        assert "inbound-to-outbound" in final.split("\r\n", 1)[0], final
    finally:
        nat.stop()
    rows = pbx.wait_cdrs(3)
    out = [r for r in rows if r["caller"] == "203"]
    assert len(out) == 1, rows
    assert out[0]["forward_rule"] == "forward_immediate" and \
        out[0]["forward_from"] == "201" and \
        out[0]["forward_to"] == "02079460123", out[0]
    assert len(invites(nat)) == 1


@needs["sipp"]
def test_outbound_trunk_challenge(pbx, tmp_path):
    """A trunk that challenges the INVITE (401, digest MD5 qop=auth): the
    INVITE goes again, once, with the trunk's credentials (the password
    sealed at rest, opened for the snapshot), and the call is answered."""
    d = pbx.d
    t1 = carrier(tmp_path, "t1", challenge_xml("acct77", "Tr9nkPw!x"))
    trunk(d, t1, "username=acct77", "password=Tr9nkPw!x")
    settings(d, "outbound_routes",
             "national=patterns=0ZX.;trunks=t1;class=national")
    commit(d)
    try:
        start_sipp(t1)
        time.sleep(0.3)
        final = call_final(pbx, "201", "02079460123")
        assert status_of(final) == 200, final + t1.report() + pbx.log()
        assert t1.wait(10) == 0, t1.report()
    finally:
        t1.stop()
    inv = invites(t1)
    assert len(inv) == 2, t1.messages()
    auth = hdr(inv[1], "Authorization")
    assert auth and 'username="acct77"' in auth and "qop=auth" in auth, \
        inv[1]
    assert hdr(inv[0], "Authorization") is None, inv[0]
    # the same dialog: Call-ID kept, CSeq up by one
    assert hdr(inv[0], "Call-ID") == hdr(inv[1], "Call-ID")
    assert int(hdr(inv[1], "CSeq").split()[0]) == \
        int(hdr(inv[0], "CSeq").split()[0]) + 1
    assert "Tr9nkPw" not in d.log()


@needs["sipp"]
def test_outbound_silent_trunk_fails_over(pbx, tmp_path):
    """The first trunk answers nothing at all (a socket that swallows the
    INVITE): after 4 s the call goes to the next trunk, which answers;
    the silent one is never answered for."""
    import socket
    d = pbx.d
    mute = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    mute.bind(("127.0.0.7", 0))
    mute.settimeout(0.2)
    t2 = carrier(tmp_path, "t2", uas_xml(answer=True, pcap=False))
    settings(d, "trunks", "mute.host=127.0.0.7",
             f"mute.port={mute.getsockname()[1]}")
    trunk(d, t2)
    settings(d, "outbound_routes",
             "national=patterns=0ZX.;trunks=mute,t2;class=national")
    commit(d)
    try:
        start_sipp(t2)
        time.sleep(0.3)
        t0 = time.time()
        final = call_final(pbx, "201", "02079460123", timeout=12)
        took = time.time() - t0
        assert status_of(final) == 200, final + t2.report() + pbx.log()
        assert t2.wait(10) == 0, t2.report()
        got = []
        while True:
            try:
                got.append(mute.recv(65535).decode(errors="replace"))
            except socket.timeout:
                break
    finally:
        t2.stop()
        mute.close()
    assert any(g.startswith("INVITE sip:2079460123@") or
               g.startswith("INVITE sip:02079460123@") for g in got), got
    assert 3.5 <= took < 10, took
    rows = pbx.wait_cdrs(1)
    assert rows[0]["trunk"] == "t2" and rows[0]["disposition"] == \
        "answered", rows


@needs["sipp"]
def test_outbound_no_answer_forward_out(pbx, tmp_path):
    """201 rings (a phone that never answers) for its 5 s ring time, then
    its no-answer forward, an external number, takes the call out on the
    trunk as 201's call — placed by 203, whose class allows nothing."""
    import socket
    from calls_lib import free_sip_port
    from calls_sip import register_udp
    d = pbx.d
    nat = carrier(tmp_path, "nat", refuse_xml(486, "Busy Here"))
    trunk(d, nat)
    settings(d, "outbound_routes",
             "national=patterns=0ZX.;trunks=nat;class=national")
    r = d.cli("ext", "edit", "201", "--set", "user.ring_time=5", "--set",
              "phone.qualify=false", "--set",
              "user.forward.no_answer.enabled=true", "--set",
              "user.forward.no_answer.destination=02079460123")
    assert r.returncode == 0, r
    commit(d)
    port = free_sip_port()
    assert register_udp(pbx.server, "201", PW["201"], port)
    phone = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    phone.bind(("127.0.0.1", port))     # takes the INVITE, says nothing
    try:
        start_sipp(nat)
        time.sleep(0.3)
        t0 = time.time()
        try:
            final = call_final(pbx, "203", "201", timeout=15)
        except TimeoutError as e:
            raise AssertionError(f"{e}\n{pbx.log()[-3000:]}")
        took = time.time() - t0
        assert status_of(final) == 486, final + pbx.log()
        assert nat.wait(10) == 0, nat.report()
    finally:
        nat.stop()
        phone.close()
    assert took >= 4.5, took
    inv = invites(nat)
    assert len(inv) == 1 and \
        inv[0].startswith(f"INVITE sip:02079460123@{nat.addr}"), inv
    assert "sip:442079460000@" in hdr(inv[0], "From"), inv[0]
    row = [x for x in pbx.wait_cdrs(1) if x["caller"] == "203"]
    assert len(row) == 1, row
    assert row[0]["forward_rule"] == "forward_no_answer" and \
        row[0]["forward_from"] == "201" and row[0]["trunk"] == "nat", row


@needs["sipp"]
def test_outbound_concurrent_limit(pbx, tmp_path):
    """toll.ext_concurrent=1: while 201 has one external call up, its
    second is refused (486, external call limit) with an event, before
    any trunk."""
    d = pbx.d
    t2 = carrier(tmp_path, "t2", uas_xml(answer=True, pcap=False))
    trunk(d, t2)
    settings(d, "outbound_routes",
             "local=patterns=9NXXXXXX;trunks=t2;class=local;strip=1")
    settings(d, "toll", "ext_concurrent=1")
    commit(d)
    u = SipUac(pbx.server, "201")
    try:
        start_sipp(t2)
        time.sleep(0.3)
        _, up = u.call("92345678", PW["201"])
        assert status_of(up) == 200, up + t2.report()
        st = d.api("GET", "/sip/status")[1]["calls"]["toll"]
        assert st["external_calls"] == 1 and st["extensions"] == 1, st
        final = call_final(pbx, "201", "93456789")
        assert status_of(final) == 486, final
        assert "external call limit" in final.split("\r\n", 1)[0], final
        assert u.bye(up) == 200
        assert t2.wait(10) == 0, t2.report()
    finally:
        t2.stop()
        u.close()
    assert len(invites(t2)) == 1, t2.messages()
    # the call ended: its count with it
    st = wait_for(lambda: (lambda s: s if s["external_calls"] == 0 else
                           None)(d.api("GET", "/sip/status")[1]["calls"]
                                 ["toll"]), 5)
    assert st, d.api("GET", "/sip/status")[1]["calls"]
    ev = d.api("GET", "/events?type=toll_limit")[1]
    assert [e["limit"] for e in ev] == ["ext_concurrent"], ev
    assert ev[0]["extension"] == "201", ev


def test_outbound_portal_forward_out(make_daemon):
    """The self-service portal takes a forward to an external number once
    an outbound route takes it (the commit would), and still refuses one
    no route takes, and any external number in a follow-me list."""
    from test_web_session import WEB_PW, login, req, seed_portal_user
    from test_web_session import start as start_web
    d = start_web(make_daemon)
    seed_portal_user(d)
    r = d.cli("settings", "set", "trunks", "itsp.host=192.0.2.10")
    assert r.returncode == 0, r
    settings(d, "outbound_routes",
             "national=patterns=0ZX.;trunks=itsp;class=national")
    commit(d)
    cookie, csrf, _ = login(d, "ada", WEB_PW)
    h = {"Cookie": cookie, "X-CSRF-Token": csrf}
    for body, rule in [
            ({"user.forward.busy.enabled": True,
              "user.forward.busy.destination": "+15551234"},
             "dest.external_no_trunk"),
            ({"user.follow_me.list": ["302", "02079460123"]},
             "dest.external_no_trunk")]:
        st, out, _ = req(d, "PATCH", "/api/v1/me", body, headers=h)
        assert st == 422 and f"rule {rule}" in out["error"], (body, out)
    st, out, _ = req(d, "PATCH", "/api/v1/me",
                     {"user.forward.busy.enabled": True,
                      "user.forward.busy.destination": "02079460123"},
                     headers=h)
    assert st == 200 and out["staged"] is True, out
    st, out = d.api("POST", "/commit")
    assert st == 200 and out["ok"], out
