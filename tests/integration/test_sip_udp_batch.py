"""UDP in batches (src/sip/transport.c): a burst of datagrams that the
daemon reads with recvmmsg() several batches at a time is answered whole,
one reply per request, each to its own sender, with the replies of one
batch sent together; the queue flushes across batch boundaries."""
import socket
import time


def options(port, cid, i, src_port):
    return (f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{src_port};branch=z9hG4bKb{i}x\r\n"
            f"From: <sip:burst@127.0.0.1>;tag=t{i}\r\n"
            f"To: <sip:127.0.0.1>\r\n"
            f"Call-ID: {cid}-{i}\r\n"
            f"CSeq: {i + 1} OPTIONS\r\n"
            f"Max-Forwards: 70\r\n"
            f"Content-Length: 0\r\n\r\n").encode()


def test_burst_is_answered_whole(daemon):
    r = daemon.cli("settings", "set", "guard", "trusted=127.0.0.0/8")
    assert r.returncode == 0, r
    r = daemon.cli("commit")
    assert r.returncode == 0, r
    # several senders, so a batch holds replies to different addresses
    socks = []
    for _ in range(4):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.bind(("127.0.0.1", 0))
        s.settimeout(5)
        socks.append(s)
    n = 300   # more than UDP_BATCH x UDP_WAKE_BATCHES
    for i in range(n):
        s = socks[i % len(socks)]
        s.sendto(options(daemon.sip_port, "burst", i, s.getsockname()[1]),
                 ("127.0.0.1", daemon.sip_port))
    got = {}
    deadline = time.time() + 20
    for k, s in enumerate(socks):
        want = len(range(k, n, len(socks)))
        while sum(1 for c in got.values() if c == k) < want:
            assert time.time() < deadline, (len(got), n)
            data = s.recv(65535).decode()
            assert data.startswith("SIP/2.0 "), data
            cid = next(line.split(":", 1)[1].strip()
                       for line in data.split("\r\n")
                       if line.lower().startswith("call-id:"))
            i = int(cid.split("-")[1])
            assert i % len(socks) == k, (i, k)   # to its own sender
            assert cid not in got                  # one reply each
            got[cid] = k
    assert len(got) == n
    for s in socks:
        s.close()
