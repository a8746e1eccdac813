"""Voicemail with phones nobody here wrote: linphonec leaves a message
(its RFC 4733 key skips the greeting, '#' ends it, its tone is found in
the stored WAV, and it heard the PBX's prompts), then SIPp logs in with
`*97` by replaying Debian's RFC 4733 pcaps (PIN, '#', '1' listen, '7'
delete) and the message is gone."""
import time

import pytest

from calls_lib import Linphonec, tone_seconds
from calls_pbx import pbx, PW  # noqa: F401  (fixture)
from calls_sip import (Sipp, _ack, _invite, _msg, _scenario)
from conftest import wait_for

TONE = 1400
PIN = "739164"
needs = pytest.mark.skipif(
    __import__("shutil").which("linphonec") is None or
    __import__("shutil").which("sipp") is None,
    reason="linphonec and sipp (Debian's linphone-cli, sip-tester)")

DTMF = "/usr/share/sip-tester/dtmf_2833_{}.pcap"


def messages(pbx, n):
    st, body = pbx.d.api("GET", f"/voicemail/{n}")
    assert st == 200, body
    return body["messages"]


def keys_xml(user, pw, keys):
    """SIPp dials [service] as user, then replays one DTMF pcap per key
    ("," = a 1.5 s pause), and hangs up."""
    x = [_invite(1, user),
         '  <recv response="100" optional="true"/>',
         '  <recv response="407" auth="true"/>']
    x.append(_ack(1, user, branch=f"[branch-{len(x)}]"))
    x += [_invite(2, user, auth=(user, pw)),
          '  <recv response="100" optional="true"/>',
          '  <recv response="200" rrs="true"/>',
          _ack(2, user, in_dialog=True),
          '  <pause milliseconds="800"/>']
    for k in keys:
        if k == ",":
            x.append('  <pause milliseconds="1500"/>')
            continue
        name = {"#": "pound", "*": "star"}.get(k, k)
        x += [f'  <nop><action><exec play_pcap_audio="{DTMF.format(name)}"/>'
              '</action></nop>',
              '  <pause milliseconds="400"/>']
    x += ['  <pause milliseconds="1500"/>',
          _msg(["BYE [next_url] SIP/2.0",
                "Via: SIP/2.0/[transport] [local_ip]:[local_port];"
                "branch=[branch]", "[routes]",
                f"From: <sip:{user}@[remote_ip]>;tag=[pid]uac[call_number]",
                "To: <sip:[service]@[remote_ip]>[peer_tag_param]",
                "Call-ID: [call_id]", "CSeq: 3 BYE", "Max-Forwards: 70"],
               retrans=True),
          '  <recv response="200"/>']
    return _scenario(x)


@needs
def test_linphonec_leaves_a_message_sipp_deletes_it(pbx, tmp_path):
    r = pbx.d.cli("ext", "edit", "202", "--vm-pin", PIN, "--set",
                  "voicemail.force_name=false", "--set",
                  "voicemail.force_greeting=false")
    assert r.returncode == 0, r
    assert pbx.d.cli("commit").returncode == 0
    a = Linphonec(tmp_path / "a", "201", PW["201"], pbx.registrar, TONE,
                  max_s=40)
    try:
        a.start()
        a.send("call sip:202@127.0.0.1")
        a.wait_line(r"Call 1 with .* connected", 10)
        time.sleep(2.0)            # a part of the greeting
        a.send("1")                # skips it: the beep, then recording
        time.sleep(5.0)
        a.send("#")
        a.wait_line(r"Call 1 with .* ended", 10)
    finally:
        a.stop()
    msgs = wait_for(lambda: messages(pbx, "202"), 5)
    assert msgs and msgs[0]["caller"] == "201", (msgs, pbx.log())
    assert 3500 <= msgs[0]["duration_ms"] <= 6500, msgs
    wav = tmp_path / "msg.wav"
    r = pbx.d.cli("vm", "get", "202", msgs[0]["id"], "-o", str(wav))
    assert r.returncode == 0 and wav.stat().st_size > 44, r
    left = tone_seconds(str(wav), TONE)
    print(f"stored message: {msgs[0]['duration_ms']} ms, {left:.1f} s of "
          f"{TONE} Hz")
    assert left >= 3.0, (left, msgs)
    # linphonec heard the PBX: the greeting's speech in its recording
    # (the tone it sent is not in what it heard)
    assert a.rec_wav.exists() and a.rec_wav.stat().st_size > 16000

    # SIPp as 202: *97, the PIN from RFC 4733 pcaps, 1 (listen), 7
    b = Sipp(tmp_path, "uac97", keys_xml("202", PW["202"],
                                         PIN + "#,1,,7"))
    b.start(target=f"{pbx.server[0]}:{pbx.server[1]}", service="*97",
            timeout_s=40)
    rc = b.wait(50)
    assert rc == 0, (rc, b.report() if hasattr(b, "report") else "",
                     pbx.log()[-3000:])
    assert wait_for(lambda: not messages(pbx, "202"), 5), \
        (messages(pbx, "202"), pbx.log()[-3000:])
    assert "mailbox 202: owner logged in" in pbx.log()
    assert PIN not in pbx.log()
