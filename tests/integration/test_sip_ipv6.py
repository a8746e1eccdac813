"""SIP over IPv6 (issue 3: UDP and TCP, IPv4 and IPv6): a phone registers
to bulwarkd listening on [::1] over UDP and over TCP, and the binding shows
its IPv6 source."""
import hashlib
import random
import re
import socket

import pytest

from conftest import Daemon
from test_sip_register import PW, add_ext, commit, regs, status


def _port6():
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
        s.bind(("::1", 0))
        return s.getsockname()[1]


def _ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def _register(port, tp, user, pw):
    kind = socket.SOCK_DGRAM if tp == "udp" else socket.SOCK_STREAM
    s = socket.socket(socket.AF_INET6, kind)
    s.settimeout(3)
    if tp == "udp":
        s.bind(("::1", 0))
    else:
        s.connect(("::1", port))
    lport = s.getsockname()[1]
    uri = f"sip:[::1]:{port}"
    cid = f"v6-{random.randrange(1 << 40)}"

    def msg(cseq, auth=None):
        m = (f"REGISTER {uri} SIP/2.0\r\n"
             f"Via: SIP/2.0/{tp.upper()} [::1]:{lport};branch=z9hG4bK{random.randrange(1 << 40)};rport\r\n"
             f"Max-Forwards: 70\r\nFrom: <sip:{user}@bulwark>;tag=v6\r\n"
             f"To: <sip:{user}@bulwark>\r\nCall-ID: {cid}\r\n"
             f"CSeq: {cseq} REGISTER\r\nContact: <sip:{user}@[::1]:{lport}>\r\n")
        if auth:
            m += f"Authorization: {auth}\r\n"
        return (m + "Content-Length: 0\r\n\r\n").encode()

    def tx(data):
        if tp == "udp":
            s.sendto(data, ("::1", port))
        else:
            s.sendall(data)
        return s.recv(65535).decode()

    chal = tx(msg(1))
    assert status(chal) == 401, chal
    realm, nonce = re.search(r'realm="([^"]+)", nonce="([^"]+)"', chal).groups()
    h = lambda x: hashlib.md5(x.encode()).hexdigest()  # noqa: E731
    ha1, ha2 = h(f"{user}:{realm}:{pw}"), h(f"REGISTER:{uri}")
    resp = h(f"{ha1}:{nonce}:00000001:c6:auth:{ha2}")
    auth = (f'Digest username="{user}", realm="{realm}", nonce="{nonce}", '
            f'uri="{uri}", response="{resp}", algorithm=MD5, qop=auth, '
            f'nc=00000001, cnonce="c6"')
    r = tx(msg(2, auth))
    s.close()
    return r


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback")
def test_register_over_ipv6_udp_and_tcp(tmp_path):
    d = Daemon(tmp_path / "data", sip_addr="[::1]", sip_port=_port6())
    d.start()
    try:
        # default phone.transports is udp; this phone may use both
        add_ext(d, "201", PW["201"], extra=("phone.transports=udp,tcp",))
        commit(d)
        for tp in ("udp", "tcp"):
            r = _register(d.sip_port, tp, "201", PW["201"])
            assert status(r) == 200, (tp, r)
        r = _register(d.sip_port, "udp", "201", "Wrong9Password9")
        assert status(r) == 403, r
        rows = regs(d)
        assert {r["transport"] for r in rows} >= {"udp", "tcp"}, rows
        assert all("::1" in r["source"] for r in rows), rows
    finally:
        d.stop()
