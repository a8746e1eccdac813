"""SIP over TLS bounds (issue 15): the per-source cap on TLS
connections, the handshake cap and deadline against a flood (UDP still
answered promptly, counters and /metrics move), the sip-tls service, and
a raw TLS client's Via (received/rport) and CRLF keep-alive."""
import hashlib
import os
import re
import socket
import ssl
import subprocess
import time

from calls_lib import free_port
from calls_pbx import PW, bounded  # noqa: F401
from conftest import UnixHTTPConnection, wait_for
from test_sip_register import commit
from tls_lib import needs, registered_over, s_client, sip_status, tls_pbx


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


@needs["openssl"]
def test_unusable_certificate_leaves_tls_off(make_daemon):
    """A key readable by others is refused: the daemon runs without TLS
    (UDP answers), the log says why, and starting sip-tls says it has no
    usable certificate; with --sip-tls the daemon does not start."""
    d = make_daemon()
    tdir = d.data_dir / "tls"
    tdir.mkdir(mode=0o700, parents=True, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", "/CN=x", "-days", "30",
                    "-keyout", str(tdir / "sip.key"),
                    "-out", str(tdir / "sip.crt")],
                   check=True, capture_output=True)
    os.chmod(tdir / "sip.key", 0o644)
    d.start()
    assert "sip.key is readable by group or others" in d.log(), d.log()
    r = d.cli("services", "start", "sip-tls")
    assert r.returncode != 0 and "no usable certificate" in r.stderr, r
    assert sip_status(d)["tls"]["listening"] is False
    d.stop()
    d.extra_args += ["--sip-tls", f"127.0.0.1:{free_port(socket.SOCK_STREAM)}"]
    try:
        d.start(timeout=5)
        started = True
    except RuntimeError:
        started = False
    assert not started, d.log()
