"""The registration client's less common answers (issue 15), with SIPp as
the carrier's registrar (a UAS scenario per case) on its own loopback
address:

* 423 Interval Too Brief with Min-Expires: 600 → the next REGISTER asks
  for 600 s, and what is granted counts;
* a challenge answered, then a second 401 with stale=true and a new
  nonce → answered again with that nonce, registered;
* a challenge answered, then a second 401 without stale → "failed"
  (credentials refused), no third REGISTER (no loop), the 30 s backoff
  visible in GET /api/v1/trunks.
"""
import re
import shutil
import time

import pytest

from calls_pbx import bounded, start_pbx  # noqa: F401
from calls_sip import Sipp, _msg, _scenario
from conftest import wait_for
from test_sip_register import commit

needs = pytest.mark.skipif(not shutil.which("sipp"), reason="needs sipp")
ADDR = "127.0.0.7"
USER, PW = "acct2002", "Reg-Pw-9xV"


def chal(nonce, stale=False):
    return ('WWW-Authenticate: Digest realm="carrier.test", '
            f'nonce="{nonce}", algorithm=MD5, qop="auth"' +
            (", stale=true" if stale else ""))


def answer(code, text, *extra):
    return _msg([f"SIP/2.0 {code} {text}", "[last_Via:]", "[last_From:]",
                 "[last_To:];tag=[pid]uas[call_number]", "[last_Call-ID:]",
                 "[last_CSeq:]", *extra])


RECV = '  <recv request="REGISTER" crlf="true"/>'
OK = answer(200, "OK", "[last_Contact:];expires=600")


def registers(sipp):
    """The REGISTERs SIPp received, as text, in order."""
    out = []
    for chunk in sipp.messages().split("message received")[1:]:
        body = chunk.split("\n", 1)[1].lstrip() if "\n" in chunk else ""
        if body.startswith("REGISTER "):
            out.append(body.split("\n-----", 1)[0])
    return out


def hdr(msg, name):
    for line in msg.replace("\r\n", "\n").split("\n"):
        if line.lower().startswith(name.lower() + ":"):
            return line.split(":", 1)[1].strip()
    return None


def status(d):
    st, body = d.api("GET", "/trunks")
    assert st == 200, body
    return {t["name"]: t for t in body["trunks"]}.get("reg")


def run(make_daemon, tmp_path, xml):
    pbx = start_pbx(make_daemon, exts=("201",))
    d = pbx.d
    s = Sipp(tmp_path, "reg", _scenario(xml), addr=ADDR)
    s.start(timeout_s=20)
    time.sleep(0.3)
    r = d.cli("settings", "set", "trunks", f"reg.host={ADDR}",
              f"reg.port={s.port}", f"reg.username={USER}",
              f"reg.password={PW}", "reg.register=true", "reg.expiry=120")
    assert r.returncode == 0, r
    commit(d)
    return d, s


def wait_state(d, state, timeout=8):
    t = wait_for(lambda: (lambda x: x if x and x["state"] == state
                          else None)(status(d)), timeout)
    assert t, (status(d), d.log()[-2000:])
    return t


@needs
def test_423_min_expires_is_used(make_daemon, tmp_path):
    d, s = run(make_daemon, tmp_path, [
        RECV, answer(423, "Interval Too Brief", "Min-Expires: 600"),
        RECV, OK])
    try:
        t = wait_state(d, "registered")
        assert s.wait(10) == 0, s.report()
    finally:
        s.stop()
    regs = registers(s)
    assert len(regs) == 2, s.messages()
    assert hdr(regs[0], "Expires") == "120", regs[0]
    assert hdr(regs[1], "Expires") == "600", regs[1]
    assert hdr(regs[0], "Call-ID") == hdr(regs[1], "Call-ID")
    assert t["expires_at"] - t["registered_at"] == 600, t
    assert t["failures"] == 0 and t["last_error"] == "", t


@needs
def test_stale_challenge_answered_again(make_daemon, tmp_path):
    d, s = run(make_daemon, tmp_path, [
        RECV, answer(401, "Unauthorized", chal("nonceA111")),
        RECV, answer(401, "Unauthorized", chal("nonceB222", stale=True)),
        RECV, OK])
    try:
        t = wait_state(d, "registered")
        assert s.wait(10) == 0, s.report()
    finally:
        s.stop()
    regs = registers(s)
    assert len(regs) == 3, s.messages()
    assert hdr(regs[0], "Authorization") is None
    assert 'nonce="nonceA111"' in hdr(regs[1], "Authorization"), regs[1]
    a3 = hdr(regs[2], "Authorization")
    assert 'nonce="nonceB222"' in a3 and f'username="{USER}"' in a3, a3
    cseqs = [int(hdr(r, "CSeq").split()[0]) for r in regs]
    assert cseqs == sorted(set(cseqs)), cseqs
    assert t["failures"] == 0, t
    assert PW not in d.log()


@needs
def test_second_challenge_without_stale_fails(make_daemon, tmp_path):
    d, s = run(make_daemon, tmp_path, [
        RECV, answer(401, "Unauthorized", chal("nonceA111")),
        RECV, answer(401, "Unauthorized", chal("nonceC333")),
        '  <pause milliseconds="3000"/>'])
    try:
        t = wait_state(d, "failed")
        before = time.time()
        s.wait(10)
    finally:
        s.stop()
    assert t["last_error"] == "401: credentials refused", t
    assert t["failures"] == 1, t
    # the backoff: next try 30 s after the failure, nothing before it
    assert 28 <= t["next_refresh"] - int(before) <= 31, (t, before)
    regs = registers(s)
    assert len(regs) == 2, s.messages()   # no third: no loop
    assert re.search(r'nonce="nonceA111"', hdr(regs[1], "Authorization"))
    assert "registration failed (401: credentials refused); next try in " \
        "30 s" in d.log(), d.log()[-2000:]
    assert status(d)["state"] == "failed"
