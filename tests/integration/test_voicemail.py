"""Voicemail end to end, the caller's side (issue 12; the menus:
docs/admin/voicemail-menus.md): leaving a message (baresip and
vm_phone.VmPhone; '#', hanging up, no answer), MWI through listening and
deleting, e-mail, no way out (REFER), limits, '*' in the greeting,
in-band digits. Each outcome is proven where it lands: the caller's
recording (the greeting's audio, the beep), the stored message (the
caller's tone in the WAV the API serves), the MWI subscriber's NOTIFYs,
the mail an SMTP sink receives. Helpers: vm_lib.py.
"""
import shutil
import time

import pytest

from calls_lib import Baresip, tone_seconds, write_tone
from calls_pbx import PW
from conftest import wait_for
from test_mwi import Subscriber, body_of
from test_vm_admin import put_message
from calls_sip import Sipp, register_udp, status_of
from test_calls_route import uas_busy_xml
from vm_lib import (  # noqa: F401 (fixtures)
    bounded, phones, BEEP, BEEP_WAV, MSG_HZ, PIN, audible_seconds,
    beep_seconds, vm_pbx,
    box, check_message, deposit, dial, download, heard_something, login,
    needs_baresip, plog, skip_to_beep, speak, state)


# ---- leaving a message -----------------------------------------------------

@needs_baresip
def test_deposit_baresip_greeting_beep_message(make_daemon, tmp_path):
    """201 (baresip, sending 1400 Hz) calls 202, which has a mailbox and no
    phone: the PBX answers; 201 hears the greeting and the beep; its
    message (the 1400 Hz it sent after the beep) is in 202's mailbox."""
    assert beep_seconds(BEEP_WAV) >= 0.35        # the beep is 700 Hz
    pbx = vm_pbx(make_daemon, menus=())
    a = Baresip(tmp_path / "a", "201", PW["201"], pbx.registrar, MSG_HZ,
                max_s=40)
    try:
        a.start()
        a.dial("202")
        try:
            a.wait("CALL_ESTABLISHED", 10)
        except TimeoutError as e:
            raise AssertionError(f"{e}\n{a.log()}\n{plog(pbx)}")
        time.sleep(2.0)                  # some of the greeting
        assert a.cmd("sndcode", "1").get("ok")      # skip to the tone
        time.sleep(7.0)                  # ~6.5 s of message
        a.cmd("hangup")
        a.wait("CALL_CLOSED", 5)
    finally:
        a.stop()
    recs = a.recordings()
    assert recs, a.log()
    assert audible_seconds(recs[0]) >= 1.0, "no greeting heard"
    assert beep_seconds(recs[0]) >= 0.25, "no beep heard"
    m, wav = check_message(pbx, tmp_path, "202", "201", 3000, 3.0)
    # the greeting is not in the message: no beep recorded
    assert beep_seconds(wav) == 0


def test_deposit_hash_ends_pbx_hangs_up(make_daemon, tmp_path, phones):
    """'#' ends the recording: "saved, goodbye", the PBX sends BYE; the
    message is kept (the caller's tone in it, ~3 s long)."""
    pbx = vm_pbx(make_daemon, menus=())
    p = deposit(pbx, phones, secs=3.0, end="#")
    assert p.audio_since(p.t_hash) >= 0.5, "no goodbye prompt after '#'"
    m, wav = check_message(pbx, tmp_path, "202", "201", 2500, 2.5)
    assert m["duration_ms"] <= 6000, m
    rec = p.save_wav(tmp_path / "caller.wav")
    assert beep_seconds(rec) >= 0.25


def test_ring_group_message_reaches_its_mailboxes(make_daemon, tmp_path,
                                                  phones):
    """A ring group has no mailbox of its own: with nobody to ring, the
    caller leaves the message in the first of ring_group.vm_copies (203)
    and the other listed mailbox (202) gets a copy; the caller's tone is
    in both."""
    pbx = vm_pbx(make_daemon, menus=())
    r = pbx.d.cli("ext", "add", "600", "--type", "ring_group", "--name",
                  "Support Team", "--set", "ring_group.members=202",
                  "--set", "ring_group.vm_copies=203,202")
    assert r.returncode == 0, r
    r = pbx.d.cli("commit")
    assert r.returncode == 0, r
    deposit(pbx, phones, mailbox="600", secs=3.0, end="#")
    check_message(pbx, tmp_path, "203", "201", 2500, 2.5)
    check_message(pbx, tmp_path, "202", "201", 2500, 2.5)
    # without the option the group has nowhere to take a message
    r = pbx.d.cli("ext", "edit", "600", "--set", "ring_group.vm_copies=")
    assert r.returncode == 0, r
    assert pbx.d.cli("commit").returncode == 0
    dial(pbx, phones, "201", "600", expect=480)


@needs_baresip
def test_no_answer_goes_to_voicemail_after_ring_time(make_daemon, tmp_path,
                                                    phones):
    """202 registered but not answering, ring time 5 s (user.ring_time,
    at least 5): the caller is answered by 202's mailbox after ~5 s, 202's
    phone stops ringing; hanging up after speaking keeps the message."""
    pbx = vm_pbx(make_daemon, menus=())
    pbx.set_ext("202", "user.ring_time=5")
    b = Baresip(tmp_path / "b", "202", PW["202"], pbx.registrar, 1000,
                answer="manual", max_s=40)
    try:
        b.start()
        p = dial(pbx, phones, "201", "202")
        waited = p.t_answer - p.t_invite
        assert p.t_ringing, "no 180 while 202 rang"
        assert 4.5 <= waited <= 9.0, waited
        b.wait("CALL_INCOMING", 2)
        b.wait("CALL_CLOSED", 5)
        skip_to_beep(p)
        speak(p, MSG_HZ, 2.0)
        assert p.bye() == 200
    finally:
        b.stop()
    check_message(pbx, tmp_path, "202", "201", 1500, 1.5)


def busy_phone(tmp_path, pbx, num, name, port=None):
    """A SIPp UAS registered as num that answers one INVITE 486 (port:
    the one an earlier such phone registered, so that its binding is
    replaced rather than left ringing unanswered)."""
    s = Sipp(tmp_path, name, uas_busy_xml(), port=port)
    assert register_udp(pbx.server, num, PW[num], s.port)
    s.start(timeout_s=30)
    time.sleep(0.3)
    return s


def deposit_at_busy(tmp_path, pbx, phones, name, port=None):
    """201 calls 202 while 202's phone (a busy_phone) answers 486, and
    leaves a 3 s message wherever that leads; the phone's port."""
    uas = busy_phone(tmp_path, pbx, "202", name, port=port)
    try:
        deposit(pbx, phones, mailbox="202", secs=3.0, end="#")
        assert uas.wait(10) == 0, uas.report()
    finally:
        uas.stop()
    return uas.port


@pytest.mark.skipif(not shutil.which("sipp"), reason="needs sipp")
def test_busy_forward_to_a_mailbox_and_busy_to_voicemail(
        make_daemon, tmp_path, phones):
    """202's phone (SIPp) answers 486: with a busy forward to 600, a
    voicemail-only extension, 600's mailbox takes the caller's message
    (CDR rule forward_busy); without it, 202's own mailbox does. Each
    message holds the caller's tone. (In this order: once 202 has a
    message, its registration gets an MWI NOTIFY, which the SIPp
    scenario would take for its call.)"""
    pbx = vm_pbx(make_daemon, menus=())
    r = pbx.d.cli("ext", "add", "600", "--type", "voicemail", "--name",
                  "Front Desk", "--set", "voicemail.pin=582931",
                  "--set", "voicemail.force_name=false",
                  "--set", "voicemail.force_greeting=false")
    assert r.returncode == 0, r
    pbx.set_ext("202", "phone.qualify=false",
                "user.forward.busy.enabled=true",
                "user.forward.busy.destination=600")
    port = deposit_at_busy(tmp_path, pbx, phones, "busy1")
    check_message(pbx, tmp_path, "600", "201", 2500, 2.5)
    assert box(pbx, "202")["messages"] == []
    rows = pbx.wait_cdrs(1)
    assert (rows[-1]["forward_rule"], rows[-1]["forward_to"]) == \
        ("forward_busy", "600"), rows

    pbx.set_ext("202", "user.forward.busy.enabled=false")
    deposit_at_busy(tmp_path, pbx, phones, "busy2", port=port)
    check_message(pbx, tmp_path, "202", "201", 2500, 2.5)
    assert len(box(pbx, "600")["messages"]) == 1     # only the first


# ---- MWI, listening, deleting ------------------------------------------------

def wait_waiting(sub, value, timeout=5):
    """The first NOTIFY saying Messages-Waiting: value."""
    deadline = time.time() + timeout
    want = f"Messages-Waiting: {value}"
    while time.time() < deadline:
        hit = [n for n in sub.notifies if want in body_of(n)]
        if hit:
            return hit[0]
        try:
            sub.pump(lambda m: False, timeout=0.2)
        except TimeoutError:
            pass
    raise AssertionError(f"no '{want}' in {sub.notifies}")


def test_mwi_deposit_listen_delete(make_daemon, tmp_path, phones):
    pbx = vm_pbx(make_daemon)
    sub = Subscriber(pbx.server, "202")
    try:
        chal, fin = sub.subscribe("202", PW["202"])
        assert status_of(fin) == 200, fin
        assert "Messages-Waiting: no" in body_of(sub.wait_notify(1))
        deposit(pbx, phones, secs=2.0)
        n = wait_waiting(sub, "yes", timeout=3)
        assert "Voice-Message: 1/0" in body_of(n), n
        assert box(pbx, "202")["new"] == 1

        # the owner: *97, PIN, 1 (listen), 7 (delete)
        o = dial(pbx, phones, "202", "*97")
        login(o, PIN)
        time.sleep(1.0)
        t = time.time()
        o.send_digits("1")
        assert o.wait_tone(MSG_HZ, 6, since=t, min_s=0.5), \
            ("the message did not play", plog(pbx))
        o.send_digits("7")
        n = wait_waiting(sub, "no", timeout=4)
        assert "Voice-Message: 0/0" in body_of(n), n
        b = wait_for(lambda: (lambda x: x if not x["messages"] else None)(
            box(pbx, "202")), 3)
        assert b, box(pbx, "202")
        assert state(pbx, "202")["fails"] == 0
        o.bye()
    finally:
        sub.close()


# ---- e-mail ------------------------------------------------------------------

def test_deposit_sends_mail_with_wav(make_daemon, tmp_path, phones):
    aiosmtpd = pytest.importorskip("aiosmtpd.controller")
    from conftest import free_port
    import email
    import email.policy

    class Sink:
        def __init__(self):
            self.mails = []

        async def handle_DATA(self, server, session, envelope):
            self.mails.append(envelope)
            return "250 OK"

    sink = Sink()
    port = free_port(addr="127.0.0.1")
    ctl = aiosmtpd.Controller(sink, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        pbx = vm_pbx(make_daemon, menus=())
        st, body = pbx.d.api("PATCH", "/settings/smtp", {
            "host": "127.0.0.1", "port": port, "security": "none",
            "from": "vm@pbx.test"})
        assert st == 200, body
        pbx.set_ext("202", "voicemail.email=owner@example.org")
        deposit(pbx, phones, secs=2.5)
        assert wait_for(lambda: sink.mails, 10), \
            (pbx.d.api("GET", "/voicemail/mail/status"), plog(pbx))
        time.sleep(0.5)
        assert len(sink.mails) == 1, sink.mails
        env = sink.mails[0]
        assert env.rcpt_tos == ["owner@example.org"], env.rcpt_tos
        msg = email.message_from_bytes(env.content,
                                       policy=email.policy.default)
        parts = [x for x in msg.iter_attachments()
                 if x.get_content_type() == "audio/wav"]
        assert len(parts) == 1, [x.get_content_type()
                                 for x in msg.iter_attachments()]
        wav = tmp_path / "mailed.wav"
        wav.write_bytes(parts[0].get_payload(decode=True))
        assert tone_seconds(wav, MSG_HZ) >= 2.0
        m = box(pbx, "202")["messages"][0]
        stored = download(pbx, "202", m["id"], tmp_path / "stored.wav")
        assert stored.read_bytes() == wav.read_bytes()
        ms = wait_for(lambda: (lambda r: r[1] if r[0] == 200 and
                               r[1]["sent"] == 1 else None)(
            pbx.d.api("GET", "/voicemail/mail/status")), 3)
        assert ms, pbx.d.api("GET", "/voicemail/mail/status")
    finally:
        ctl.stop()


# ---- no way out -----------------------------------------------------------------

def test_refer_refused_info_digits_work(make_daemon, tmp_path, phones):
    """A REFER inside a voicemail call gets 403 and the call goes on:
    digits by SIP INFO skip the greeting and '#' by INFO ends the
    message, which is kept."""
    pbx = vm_pbx(make_daemon, menus=())
    p = dial(pbx, phones, "201", "202")
    heard_something(p)
    assert p.refer("203") == 403
    assert not p.hung_up.is_set()
    skip_to_beep(p, digit="info")
    speak(p, MSG_HZ, 2.0)
    assert p.info_digit("#") == 200
    assert p.wait_hangup(10), plog(pbx)
    check_message(pbx, tmp_path, "202", "201", 1500, 1.5)
    assert pbx.calls() == []


# ---- limits, '*' in the greeting, in-band digits ------------------------------------

def test_short_message_dropped_full_mailbox_refused(make_daemon, tmp_path,
                                                    phones):
    """max_messages 1: a message under a second is not kept; a 2 s one
    is; the next caller hears "mailbox full", goodbye, no beep, and the
    PBX hangs up."""
    pbx = vm_pbx(make_daemon, menus=())
    pbx.set_ext("202", "voicemail.max_messages=1")
    deposit(pbx, phones, secs=0.4)
    time.sleep(1.0)
    assert box(pbx, "202")["messages"] == [], box(pbx, "202")
    deposit(pbx, phones, secs=2.0)
    check_message(pbx, tmp_path, "202", "201", 1500, 1.5)
    p = dial(pbx, phones, "201", "202")
    assert p.wait_hangup(12), ("a full mailbox did not hang up", plog(pbx))
    assert p.audio_since(p.t_answer) >= 0.5, "no 'mailbox full' prompt"
    assert p.tone_heard_at(BEEP, p.t_answer) is None, "beep on a full box"
    assert len(box(pbx, "202")["messages"]) == 1


def test_star_in_greeting_logs_in_inband_digit(make_daemon, tmp_path,
                                               phones):
    """'*' during the greeting goes to this mailbox's login: the PIN,
    then '1' plays the waiting message; every digit sent as in-band DTMF
    tones (no RFC 4733 event)."""
    pbx = vm_pbx(make_daemon)
    put_message(pbx.d, "202", "0000000000001-aaaaaaaa",
                data=write_tone(tmp_path / "m.wav", MSG_HZ, 3.0).read_bytes())
    p = dial(pbx, phones, "201", "202")
    heard_something(p)
    # all in-band: the endpoint stops listening for tones once it has
    # seen an RFC 4733 event in the call
    p.send_inband("*")
    time.sleep(1.0)
    p.send_inband(PIN + "#")
    time.sleep(1.5)
    t = time.time()
    p.send_inband("1")
    assert p.wait_tone(MSG_HZ, 8, since=t, min_s=0.5), \
        ("in-band '*', PIN, '1' did not play the message", plog(pbx))
    assert state(pbx, "202")["fails"] == 0
    assert len(box(pbx, "202")["messages"]) == 1, "the caller, who logged in, left none"
