#!/usr/bin/python3
"""tls_reg.py — SIP over TLS registration load for bench_tls.sh (SIPp 3.6
has no TLS). WORKERS processes, each registering users from CSV
("user;password" lines, its own slice) for SECONDS:

  mode "conn": a new TLS connection (full handshake, no session
               resumption) per registration: REGISTER -> 401 -> REGISTER
               with credentials -> 200, then close;
  mode "keep": one TLS connection per worker, registrations one after
               the other over it.

Prints one line of JSON: registrations ok, failures, seconds, rate. The
client is Python: its own CPU bounds the rate; compare servers by their
CPU per registration (bench_tls.sh reads it from /proc)."""
import hashlib
import json
import multiprocessing as mp
import re
import socket
import ssl
import sys
import time

CHAL = re.compile(r'WWW-Authenticate: Digest ([^\r\n]+)', re.I)


def params(h):
    return dict((k.lower(), v.strip('"')) for k, v in
                re.findall(r'(\w+)=("[^"]*"|[^,\s]+)', h))


def read_msg(t, buf):
    while b"\r\n\r\n" not in buf:
        d = t.recv(65536)
        if not d:
            raise ConnectionError("closed")
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    m = re.search(rb"Content-Length:\s*(\d+)", head, re.I)
    n = int(m.group(1)) if m else 0
    while len(rest) < n:
        d = t.recv(65536)
        if not d:
            raise ConnectionError("closed")
        rest += d
    return head.decode(errors="replace"), rest[n:]


def register(t, host, port, lport, user, pw, seq, buf):
    uri = f"sip:{host}:{port};transport=tls"
    cid = f"b{user}-{lport}"

    def msg(cseq, auth=None):
        m = (f"REGISTER {uri} SIP/2.0\r\n"
             f"Via: SIP/2.0/TLS 127.0.0.1:{lport};branch=z9hG4bK{seq}x{cseq};"
             "rport\r\nMax-Forwards: 70\r\n"
             f"From: <sip:{user}@{host}>;tag={seq}\r\n"
             f"To: <sip:{user}@{host}>\r\nCall-ID: {cid}\r\n"
             f"CSeq: {cseq} REGISTER\r\n"
             f"Contact: <sip:{user}@127.0.0.1:5070;transport=tls>\r\n"
             "Expires: 3600\r\n")
        if auth:
            m += f"Authorization: {auth}\r\n"
        return (m + "Content-Length: 0\r\n\r\n").encode()
    t.sendall(msg(2 * seq + 1))
    head, buf = read_msg(t, buf)
    if not head.startswith("SIP/2.0 401"):
        return False, buf
    p = params(CHAL.search(head).group(1))
    realm, nonce = p["realm"], p["nonce"]
    ha1 = hashlib.md5(f"{user}:{realm}:{pw}".encode()).hexdigest()
    ha2 = hashlib.md5(f"REGISTER:{uri}".encode()).hexdigest()
    nc, cn = "00000001", f"c{seq}"
    resp = hashlib.md5(f"{ha1}:{nonce}:{nc}:{cn}:auth:{ha2}".encode()
                       ).hexdigest()
    auth = (f'Digest username="{user}", realm="{realm}", nonce="{nonce}", '
            f'uri="{uri}", response="{resp}", algorithm=MD5, qop=auth, '
            f'nc={nc}, cnonce="{cn}"')
    if "opaque" in p:
        auth += f', opaque="{p["opaque"]}"'
    t.sendall(msg(2 * seq + 2, auth))
    head, buf = read_msg(t, buf)
    return head.startswith("SIP/2.0 200"), buf


def connect(ctx, host, port):
    s = socket.create_connection((host, port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return ctx.wrap_socket(s, server_hostname=host)


def worker(args):
    wid, nw, mode, host, port, users, secs = args
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE      # both servers use the same cert
    mine = users[wid::nw]
    ok = fail = 0
    seq = 0
    t = None
    buf = b""
    end = time.monotonic() + secs
    while time.monotonic() < end:
        user, pw = mine[seq % len(mine)]
        seq += 1
        try:
            if t is None:
                t = connect(ctx, host, port)
                buf = b""
            good, buf = register(t, host, port, t.getsockname()[1], user,
                                 pw, seq, buf)
        except (OSError, ssl.SSLError, ConnectionError):
            good = False
            t = None
        ok += good
        fail += not good
        if mode == "conn" and t is not None:
            t.close()
            t = None
    if t is not None:
        t.close()
    return ok, fail


def main():
    mode, host, port, csvf, secs, nw = sys.argv[1:7]
    port, secs, nw = int(port), float(secs), int(nw)
    users = [tuple(line.strip().split(";")[:2]) for line in open(csvf)
             if ";" in line and not line.startswith("SEQ")]
    t0 = time.monotonic()
    with mp.Pool(nw) as pool:
        res = pool.map(worker, [(i, nw, mode, host, port, users, secs)
                                for i in range(nw)])
    wall = time.monotonic() - t0
    ok = sum(r[0] for r in res)
    fail = sum(r[1] for r in res)
    print(json.dumps({"mode": mode, "ok": ok, "failed": fail,
                      "seconds": round(wall, 2),
                      "rate": round(ok / wall, 1)}))


if __name__ == "__main__":
    main()
