"""SIP over TLS (issue 15): the listener (`bulwarkd --sip-tls`), its
certificate in DATA/tls/, real phones registering and calling over TLS
with audio proven by tones, connection reuse (a call to a phone
registered over TLS goes over the connection it registered on),
per-extension transports enforced, and the handshake bounds holding
against a flood."""
import hashlib
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import time

import pytest

from calls_lib import TONE_A, TONE_B, Baresip, Linphonec, heard, free_port
from calls_pbx import PW, bounded, start_pbx  # noqa: F401
from conftest import UnixHTTPConnection, wait_for
from test_sip_register import Uac, commit, status

needs = {t: pytest.mark.skipif(not shutil.which(t), reason=f"needs {t}")
         for t in ("baresip", "linphonec", "openssl")}


def tls_pbx(make_daemon, exts=("201", "202"), settings=()):
    """A call-test daemon (calls_pbx.start_pbx) with --sip-tls on a port
    of its own; .tls = "HOST:PORT", .cert = DATA/tls/sip.crt."""
    port = free_port(socket.SOCK_STREAM)
    orig = make_daemon

    def mk(**kw):
        kw["extra_args"] = list(kw.get("extra_args", [])) + [
            "--sip-tls", f"127.0.0.1:{port}"]
        return orig(**kw)
    p = start_pbx(mk, exts=exts)
    p.tls = f"127.0.0.1:{port}"
    p.tls_port = port
    p.cert = p.d.data_dir / "tls" / "sip.crt"
    for s in settings:
        r = p.d.cli("settings", "set", "sip", s)
        assert r.returncode == 0, r
    if settings:
        commit(p.d)
    return p


def sip_status(d):
    st, body = d.api("GET", "/sip/status")
    assert st == 200, body
    return body


def tls_bindings(d, ext):
    return [b for b in d.cli("--json", "registrations").json
            if b.get("extension", b.get("user")) == ext]


def s_client(port, *args, data=b"", timeout=10):
    return subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *args],
        input=data, capture_output=True, timeout=timeout)


# ---- the listener and its certificate ---------------------------------------

@needs["openssl"]
def test_listener_tls12_plus_and_certificate(make_daemon):
    p = tls_pbx(make_daemon, exts=())
    key = p.d.data_dir / "tls" / "sip.key"
    assert p.cert.exists() and key.exists()
    assert (key.stat().st_mode & 0o777) == 0o600
    r = s_client(p.tls_port, "-CAfile", str(p.cert), "-verify_return_error",
                 "-brief")
    out = (r.stdout + r.stderr).decode(errors="replace")
    assert r.returncode == 0, out
    assert "Protocol version: TLSv1.3" in out, out
    assert "Verification: OK" in out, out
    r = s_client(p.tls_port, "-tls1_2", "-brief")
    out = (r.stdout + r.stderr).decode(errors="replace")
    assert r.returncode == 0 and "TLSv1.2" in out, out
    # TLS 1.1 (and older) are refused at the handshake; OpenSSL 3's
    # default security level forbids 1.1 on the client side too, so
    # lower it for the probe
    r = s_client(p.tls_port, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0",
                 "-brief")
    out = (r.stdout + r.stderr).decode(errors="replace")
    assert r.returncode != 0, out
    assert "Protocol version" not in out, out
    st = sip_status(p.d)
    assert {"transport": "tls", "address": p.tls} in st["listen"], st
    assert st["tls"]["counters"]["handshakes_ok"] >= 2, st["tls"]
    assert st["tls"]["counters"]["handshakes_failed"] >= 1, st["tls"]
    fp = p.cert.read_bytes()
    # the same certificate after a restart: generated once
    p.d.restart()
    assert p.cert.read_bytes() == fp


@needs["openssl"]
def test_admin_certificate_is_used(make_daemon, tmp_path):
    """An administrator's own pair in DATA/tls/ is what the listener
    serves (here: a certificate with a CN of our choosing)."""
    d = make_daemon()
    tdir = d.data_dir / "tls"
    tdir.mkdir(mode=0o700, parents=True, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-subj", "/CN=pbx.admin.test", "-days", "30",
                    "-keyout", str(tdir / "sip.key"),
                    "-out", str(tdir / "sip.crt")],
                   check=True, capture_output=True)
    os.chmod(tdir / "sip.key", 0o600)
    port = free_port(socket.SOCK_STREAM)
    d.extra_args += ["--sip-tls", f"127.0.0.1:{port}"]
    d.start()
    r = s_client(port, "-CAfile", str(tdir / "sip.crt"),
                 "-verify_return_error", "-brief")
    out = (r.stdout + r.stderr).decode(errors="replace")
    assert r.returncode == 0 and "pbx.admin.test" in out, out


# ---- phones over TLS ---------------------------------------------------------

def tls_phone(p, tmp_path, name, ext, tone, **kw):
    return Baresip(tmp_path / name, ext, PW[ext], p.tls, tone,
                   transport="tls", cafile=p.cert, **kw)


def registered_over(p, ext):
    """The transports of ext's bindings (bulwark registrations)."""
    rows = p.d.cli("--json", "registrations").json
    return sorted(b.get("transport") for b in rows
                  if str(b.get("extension")) == ext)


def audio_both(a, b, a_tone, b_tone, p):
    b_heard = heard(b.recordings(), a_tone)
    a_heard = heard(a.recordings(), b_tone)
    print(f"B heard {a_tone} Hz {b_heard} s, A heard {b_tone} Hz "
          f"{a_heard} s")
    assert b_heard >= 2.0 and a_heard >= 2.0, (b_heard, a_heard, p.log())


def call(p, a, b, dial, hold=3.0):
    """a dials dial (b answers automatically); both hear the other's
    tone for hold seconds; a hangs up."""
    a.dial(dial)
    try:
        a.wait("CALL_ESTABLISHED", 10)
        b.wait("CALL_ESTABLISHED", 5)
        time.sleep(hold)
        assert a.cmd("hangup").get("ok")
        b.wait("CALL_CLOSED", 5)
        a.wait("CALL_CLOSED", 5)
    except TimeoutError as e:
        raise AssertionError(f"{e}\n--- A:\n{a.log()}\n--- B:\n{b.log()}\n"
                             f"--- bulwarkd:\n{p.log()}")


@needs["baresip"]
def test_baresip_tls_calls_udp_and_back(make_daemon, tmp_path):
    """baresip over TLS (201) registers, calls a plain UDP baresip (202)
    with two-way audio; then 202 calls 201: the INVITE reaches 201 over
    the TLS connection it registered on (baresip refuses inbound TLS: its
    Contact names its own TLS port, which has no certificate)."""
    p = tls_pbx(make_daemon)
    p.set_ext("201", "phone.transports=tls")      # TLS only
    a = tls_phone(p, tmp_path, "a", "201", TONE_A, max_s=45)
    b = Baresip(tmp_path / "b", "202", PW["202"], p.registrar, TONE_B,
                max_s=45)
    try:
        b.start()
        a.start()
        assert registered_over(p, "201") == ["tls"], p.log()
        assert registered_over(p, "202") == ["udp"], p.log()
        st = sip_status(p.d)
        assert st["tls"]["counters"]["handshakes_ok"] >= 1, st["tls"]
        assert st["tcp"]["registered"] >= 1, st["tcp"]
        call(p, a, b, "202")
        audio_both(a, b, TONE_A, TONE_B, p)
        n_a = len(a.recordings())
        # and back: UDP 202 calls TLS 201
        b_before = len(b.recordings())
        call(p, b, a, "201")
        # only one TLS connection was ever accepted from 201: the call
        # went over it (baresip's listening port was never connected to)
        st = sip_status(p.d)
        assert st["tls"]["counters"]["handshakes_ok"] == 1, st["tls"]
        assert "tls: accept error" not in a.log(), a.log()
    finally:
        a.stop()
        b.stop()
    new_a = a.recordings()[n_a:]
    new_b = b.recordings()[b_before:]
    assert new_a and new_b, (a.recordings(), b.recordings())
    ha, hb = heard(new_a, TONE_B), heard(new_b, TONE_A)
    print(f"second call: A heard {TONE_B} Hz {ha} s, B heard {TONE_A} Hz "
          f"{hb} s")
    assert ha >= 2.0 and hb >= 2.0, (ha, hb)


# ---- per-extension transports ------------------------------------------------

class UdpBaresip(Baresip):
    """baresip over UDP that does not register (regint=0): it still
    answers the INVITE's 407 with its credentials."""

    def account_line(self):
        return super().account_line().replace("regint=120", "regint=0")


def events(d, kind):
    r = d.cli("--json", "events")
    assert r.returncode == 0, r
    return [e for e in (json.loads(x) for x in r.stdout.splitlines() if x)
            if e["type"] == kind]


def refused(d):
    st, body = d.api("GET", "/guard/status")
    assert st == 200, body
    return body["counters"]["transport_refused"]


@needs["baresip"]
def test_tls_only_extension_refused_over_udp(make_daemon, tmp_path):
    """201 allows TLS only: with the right password over UDP its REGISTER
    gets 403 Transport Not Allowed and so does its INVITE (a call), each
    with a transport_refused event; over TLS the same phone registers."""
    p = tls_pbx(make_daemon)
    p.set_ext("201", "phone.transports=tls")
    u = Uac(p.d, "201")
    r = u.register(PW["201"])
    assert r.startswith("SIP/2.0 403 Transport Not Allowed\r\n"), r
    u.close()
    assert registered_over(p, "201") == []
    assert wait_for(lambda: events(p.d, "transport_refused"), 5), p.log()
    n_ref = refused(p.d)
    assert n_ref >= 1
    b = Baresip(tmp_path / "b", "202", PW["202"], p.registrar, TONE_B,
                max_s=30)
    a = UdpBaresip(tmp_path / "a", "201", PW["201"], p.registrar, TONE_A,
                   max_s=30)
    try:
        b.start()
        a.start(register=False)
        assert a.cmd("uanew", a.account_line()).get("ok")
        a.dial("202")
        ev = a.wait("CALL_CLOSED", 10)
        assert "403" in (ev.get("param") or ""), ev
        assert "CALL_INCOMING" not in b.ctrl.types(), b.ctrl.types()
        # the INVITE's verdict too (one event per source and extension
        # a while: the guard's counter says it)
        assert refused(p.d) > n_ref, refused(p.d)
        # the same extension over TLS registers
        t = tls_phone(p, tmp_path, "t", "201", TONE_A, max_s=30).start()
        t.stop()
    finally:
        a.stop()
        b.stop()
    assert not p.d.cli("--json", "calls").json, p.log()


@needs["baresip"]
def test_calls_go_only_over_an_allowed_transport(make_daemon, tmp_path):
    """201 registered over UDP (a bare UAC) and over TLS (baresip); the
    admin then allows TLS only: a call to 201 rings the TLS phone and
    sends nothing to the UDP binding."""
    p = tls_pbx(make_daemon)
    p.set_ext("201", "phone.transports=udp,tls")
    u = Uac(p.d, "201")
    assert status(u.register(PW["201"])) == 200
    a = tls_phone(p, tmp_path, "a", "201", TONE_A, max_s=40)
    b = Baresip(tmp_path / "b", "202", PW["202"], p.registrar, TONE_B,
                max_s=40)
    try:
        a.start()
        b.start()
        assert registered_over(p, "201") == ["tls", "udp"], p.log()
        p.set_ext("201", "phone.transports=tls")
        # drain anything sent to the UDP binding so far (qualify)
        u.s.settimeout(0.2)
        try:
            while u.s.recv(65535):
                pass
        except OSError:
            pass
        call(p, b, a, "201", hold=2.5)
        u.s.settimeout(0.5)
        got = b""
        try:
            while True:
                got += u.s.recv(65535)
        except OSError:
            pass
        assert b"INVITE" not in got, got[:400]
    finally:
        a.stop()
        b.stop()
        u.close()
    ha, hb = heard(a.recordings(), TONE_B), heard(b.recordings(), TONE_A)
    assert ha >= 1.5 and hb >= 1.5, (ha, hb)


# ---- linphonec over TLS ----------------------------------------------------

@needs["baresip"]
@needs["linphonec"]
def test_linphonec_tls_calls_baresip(make_daemon, tmp_path):
    p = tls_pbx(make_daemon)
    p.set_ext("201", "phone.transports=tls")
    a = Linphonec(tmp_path / "a", "201", PW["201"], p.tls, TONE_A,
                  max_s=40, transport="tls", cafile=p.cert)
    b = Baresip(tmp_path / "b", "202", PW["202"], p.registrar, TONE_B,
                max_s=40)
    try:
        b.start()
        a.start()
        assert registered_over(p, "201") == ["tls"], p.log()
        a.send(f"call sip:202@{p.tls};transport=tls")
        try:
            b.wait("CALL_ESTABLISHED", 10)
            time.sleep(3)
            assert b.cmd("hangup").get("ok")
            a.wait_line(r"(?i)call.*(ended|terminated)", 5)
        except (TimeoutError, AssertionError) as e:
            raise AssertionError(f"{e}\n--- linphonec:\n{a.output()[-3000:]}"
                                 f"\n--- bulwarkd:\n{p.log()}")
    finally:
        a.stop()
        b.stop()
    hb = heard(b.recordings(), TONE_A)
    ha = heard([a.rec_wav], TONE_B) if a.rec_wav.exists() else 0
    print(f"baresip heard {TONE_A} Hz {hb} s, linphonec heard {TONE_B} Hz "
          f"{ha} s")
    assert hb >= 2.0 and ha >= 2.0, (hb, ha)


# ---- bounds: per-source cap, handshake cap and deadline ----------------------

def options_rtt(p, src="127.0.0.20"):
    """Seconds until a UDP OPTIONS is answered 200."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.settimeout(3)
    port = s.getsockname()[1]
    m = (f"OPTIONS sip:{p.registrar} SIP/2.0\r\n"
         f"Via: SIP/2.0/UDP {src}:{port};branch=z9hG4bKo{time.time_ns()};"
         "rport\r\nMax-Forwards: 70\r\n"
         f"From: <sip:probe@{src}>;tag=p1\r\nTo: <sip:{p.registrar}>\r\n"
         f"Call-ID: o{time.time_ns()}@{src}\r\nCSeq: 1 OPTIONS\r\n"
         "Content-Length: 0\r\n\r\n")
    t0 = time.monotonic()
    s.sendto(m.encode(), (p.d.sip_addr, p.d.sip_port))
    try:
        r = s.recv(65535).decode(errors="replace")
    finally:
        s.close()
    assert r.startswith("SIP/2.0 200"), r
    return time.monotonic() - t0


def open_raw(port, src, n, hello=b""):
    """n TCP connections from src to port, each sending hello (a start
    of a handshake that never finishes) — or nothing."""
    out = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((src, 0))
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", port))
            if hello:
                s.sendall(hello)
        except OSError:
            s.close()
            continue
        out.append(s)
    return out


def tls_handshake(p, src):
    """The TLS version a handshake from src reaches (the server's
    certificate checked), or None when the connection was closed."""
    ctx = ssl.create_default_context(cafile=str(p.cert))
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((src, 0))
    s.settimeout(3)
    try:
        s.connect(("127.0.0.1", p.tls_port))
        with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
            return t.version()
    except (OSError, ssl.SSLError):
        return None
    finally:
        s.close()


def metrics(d):
    """GET /metrics on the control socket, as {series: value}."""
    conn = UnixHTTPConnection(d.sock, timeout=10)
    try:
        conn.request("GET", "/metrics")
        r = conn.getresponse()
        text = r.read().decode()
    finally:
        conn.close()
    assert r.status == 200, text
    return {k: int(v) for k, v in (line.rsplit(" ", 1) for line in
                                   text.splitlines()
                                   if line and not line.startswith("#"))}


def tls_counters(p):
    st = sip_status(p.d)
    return st["tls"], st["tcp"]


# the first 5 octets of a TLS record (handshake, TLS 1.0 record version,
# 512 octets announced) and part of a ClientHello: OpenSSL waits for more
PARTIAL_HELLO = bytes.fromhex("1603010200") + b"\x01\x00\x01\xfc\x03\x03"


@needs["openssl"]
def test_tls_per_source_cap(make_daemon):
    """tcp_per_source (32) holds for TLS connections that have not
    registered: the 33rd from one address is closed at accept."""
    p = tls_pbx(make_daemon, exts=())
    socks = open_raw(p.tls_port, "127.0.0.2", 40, PARTIAL_HELLO)
    try:
        tls, tcp = tls_counters(p)
        assert wait_for(lambda: tls_counters(p)[1]["counters"]
                        ["refused_per_source"] >= 8, 5), tls_counters(p)
        tls, tcp = tls_counters(p)
        assert tls["handshakes"] == 32, tls
        # a 33rd connection from there is closed at once; another
        # address completes its handshake (checking the certificate)
        assert not tls_handshake(p, "127.0.0.2")
        assert tls_handshake(p, "127.0.0.3") in ("TLSv1.3", "TLSv1.2")
    finally:
        for s in socks:
            s.close()


@needs["openssl"]
def test_handshake_flood_bounded(make_daemon):
    """Hundreds of connections that start a handshake and never finish
    it: at most tls_handshakes are in progress, the rest are closed at
    accept (counted); those admitted are closed after
    tls_handshake_timeout; UDP is answered promptly meanwhile, and a
    real client gets through once the flood is over."""
    p = tls_pbx(make_daemon, exts=("201",),
                settings=("tls_handshakes=16", "tls_handshake_timeout=2"))
    base = options_rtt(p)
    socks = []
    t0 = time.monotonic()
    try:
        for i in range(10):                     # 10 sources x 30
            socks += open_raw(p.tls_port, f"127.0.0.{30 + i}", 30,
                              PARTIAL_HELLO)
        rtts = [options_rtt(p) for _ in range(5)]
        print(f"OPTIONS over UDP: {base * 1000:.1f} ms before, "
              f"{max(rtts) * 1000:.1f} ms at most during the flood")
        assert max(rtts) < 0.25, rtts
        tls, tcp = tls_counters(p)
        print("during:", tls)
        assert tls["handshakes"] <= 16, tls
        assert tls["counters"]["refused_handshakes"] >= 250, tls
        # the deadline closes what was admitted
        assert wait_for(lambda: tls_counters(p)[0]["counters"]
                        ["handshake_timeouts"] >= 16, 6), tls_counters(p)
        assert time.monotonic() - t0 >= 1.9
        tls, tcp = tls_counters(p)
        print("after:", tls)
        assert tls["handshakes"] == 0, tls
        m = metrics(p.d)
        assert m['bulwark_sip_tls_handshakes_total{result="timeout"}'] >= 16
        assert m['bulwark_sip_stream_refused_total{reason="tls_handshakes"}'] \
            >= 250, m
        assert m["bulwark_sip_tls_handshakes_in_progress"] == 0, m
    finally:
        for s in socks:
            s.close()
    # a real client now completes its handshake
    r = s_client(p.tls_port, "-CAfile", str(p.cert), "-brief",
                 "-verify_return_error")
    out = (r.stdout + r.stderr).decode(errors="replace")
    assert r.returncode == 0 and "Verification: OK" in out, out
    assert options_rtt(p) < 0.25


# ---- the sip-tls network service ---------------------------------------------

@needs["openssl"]
def test_sip_tls_service_start_stop(make_daemon):
    """Without --sip-tls the listener is the sip-tls service's: stopped at
    first (boot off), started on the --sip address at port tls_port,
    stopped again; the firewall's services list sees it."""
    d = make_daemon()
    d.start()
    port = free_port(socket.SOCK_STREAM)
    r = d.cli("settings", "set", "sip", f"tls_port={port}")
    assert r.returncode == 0, r
    commit(d)
    svc = {s["name"]: s for s in d.cli("services", "--json").json}
    assert svc["sip-tls"]["state"] == "stopped", svc["sip-tls"]
    assert s_client(port, "-brief").returncode != 0
    r = d.cli("services", "start", "sip-tls")
    assert r.returncode == 0, r
    svc = {s["name"]: s for s in d.cli("services", "--json").json}
    assert svc["sip-tls"]["state"] == "running", svc["sip-tls"]
    cert = d.data_dir / "tls" / "sip.crt"
    r = s_client(port, "-CAfile", str(cert), "-verify_return_error",
                 "-brief")
    out = (r.stdout + r.stderr).decode(errors="replace")
    assert r.returncode == 0 and "Verification: OK" in out, out
    st = sip_status(d)
    assert {"transport": "tls", "address": f"127.0.0.1:{port}"} in \
        st["listen"], st["listen"]
    r = d.cli("services", "stop", "sip-tls")
    assert r.returncode == 0, r
    assert s_client(port, "-brief").returncode != 0
    assert st["tls"]["counters"]["handshakes_ok"] >= 1, st["tls"]


@needs["baresip"]
@needs["linphonec"]
def test_udp_baresip_calls_linphonec_over_tls(make_daemon, tmp_path):
    """linphonec registered over TLS (it listens for TLS itself too) is
    called from a UDP phone: the INVITE goes over the connection it
    registered on — one handshake in all — and audio flows both ways."""
    p = tls_pbx(make_daemon)
    p.set_ext("201", "phone.transports=tls")
    a = Linphonec(tmp_path / "a", "201", PW["201"], p.tls, TONE_A,
                  max_s=40, transport="tls", cafile=p.cert, auto_answer=True)
    b = Baresip(tmp_path / "b", "202", PW["202"], p.registrar, TONE_B,
                max_s=40)
    try:
        b.start()
        a.start()
        b.dial("201")
        try:
            b.wait("CALL_ESTABLISHED", 10)
            time.sleep(3)
            assert b.cmd("hangup").get("ok")
            b.wait("CALL_CLOSED", 5)
        except (TimeoutError, AssertionError) as e:
            raise AssertionError(f"{e}\n--- linphonec:\n{a.output()[-3000:]}"
                                 f"\n--- bulwarkd:\n{p.log()}")
        st = sip_status(p.d)
        assert st["tls"]["counters"]["handshakes_ok"] == 1, st["tls"]
    finally:
        a.stop()
        b.stop()
    hb = heard(b.recordings(), TONE_A)
    ha = heard([a.rec_wav], TONE_B) if a.rec_wav.exists() else 0
    print(f"baresip heard {TONE_A} Hz {hb} s, linphonec heard {TONE_B} Hz "
          f"{ha} s")
    assert hb >= 2.0 and ha >= 2.0, (hb, ha)


# ---- a raw TLS client: Via, received/rport, keep-alive --------------------

def test_raw_tls_register_via_and_keepalive(make_daemon):
    """A REGISTER over TLS from a plain client: the answers carry its Via
    (SIP/2.0/TLS) with received and rport filled, the binding says tls,
    and a CRLFCRLF ping on the connection is answered with a CRLF pong
    (RFC 5626 4.4.1)."""
    p = tls_pbx(make_daemon, exts=("201",))
    p.set_ext("201", "phone.transports=tls")
    ctx = ssl.create_default_context(cafile=str(p.cert))
    raw = socket.create_connection(("127.0.0.1", p.tls_port), timeout=5)
    t = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    lport = t.getsockname()[1]
    uri = f"sip:{p.tls};transport=tls"

    def reg(cseq, auth=None):
        m = (f"REGISTER {uri} SIP/2.0\r\n"
             f"Via: SIP/2.0/TLS 10.9.9.9:5061;branch=z9hG4bKr{cseq};rport\r\n"
             "Max-Forwards: 70\r\nFrom: <sip:201@bulwark>;tag=r1\r\n"
             "To: <sip:201@bulwark>\r\nCall-ID: raw-tls-1\r\n"
             f"CSeq: {cseq} REGISTER\r\n"
             "Contact: <sip:201@10.9.9.9:5061;transport=tls>\r\n")
        if auth:
            m += f"Authorization: {auth}\r\n"
        t.sendall((m + "Content-Length: 0\r\n\r\n").encode())
        return t.recv(65535).decode()
    chal = reg(1)
    assert chal.startswith("SIP/2.0 401"), chal
    realm, nonce = re.search(r'realm="([^"]+)", nonce="([^"]+)"',
                             chal).groups()

    def h(s):
        return hashlib.md5(s.encode()).hexdigest()
    ha1, ha2 = h(f"201:{realm}:{PW['201']}"), h(f"REGISTER:{uri}")
    resp = h(f"{ha1}:{nonce}:00000001:cn:auth:{ha2}")
    ok = reg(2, f'Digest username="201", realm="{realm}", nonce="{nonce}", '
                f'uri="{uri}", response="{resp}", algorithm=MD5, qop=auth, '
                'nc=00000001, cnonce="cn"')
    assert ok.startswith("SIP/2.0 200"), ok
    via = re.search(r"^Via: (.*)$", ok, re.M).group(1).strip()
    assert via.startswith("SIP/2.0/TLS 10.9.9.9:5061"), via
    assert "received=127.0.0.1" in via and f"rport={lport}" in via, via
    assert registered_over(p, "201") == ["tls"]
    t.sendall(b"\r\n\r\n")
    assert t.recv(16) == b"\r\n"
    st = sip_status(p.d)
    assert st["tcp"]["counters"]["pongs"] == 1, st["tcp"]
    assert st["tcp"]["registered"] == 1, st["tcp"]
    t.close()
    assert wait_for(lambda: sip_status(p.d)["tcp"]["connections"] == 0, 5)
