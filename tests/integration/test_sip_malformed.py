"""Issue 8, items 0 and 7: the datagrams that killed bulwarkd, and the Via
of a 400 for a request refused before its top Via was parsed (echoed
unchanged, never with received= glued onto it)."""
import pathlib
import socket

from test_sip_rfc4475 import udp_exchange

REPRO = pathlib.Path(__file__).resolve().parents[3] / "shared" / "repro"
if not REPRO.exists():
    REPRO = pathlib.Path("/work/shared/repro")
SEEDS = pathlib.Path(__file__).resolve().parents[1] / "fuzz" / "corpus" / "sip"

OPTIONS = (b"OPTIONS sip:201@127.0.0.1 SIP/2.0\r\n"
           b"Via: SIP/2.0/UDP 127.0.0.1:5999;rport;branch=z9hG4bKalive%d\r\n"
           b"From: <sip:probe@127.0.0.1>;tag=a\r\nTo: <sip:201@127.0.0.1>\r\n"
           b"Call-ID: alive-%d\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
           b"Content-Length: 0\r\n\r\n")


def alive(daemon, n):
    got = udp_exchange(daemon.sip_port, OPTIONS % (n, n), 2.0)
    return daemon.proc.poll() is None and got is not None and \
        got.startswith(b"SIP/2.0 200 ")


def via_lines(data):
    return [line for line in data.split(b"\r\n")
            if line.lower().startswith(b"via:") or line.startswith(b"v:")]


def test_crash_datagrams_do_not_kill(daemon):
    """Both reproducers (the checked-in seed copies, so the test does not
    depend on shared/), each sent many times, over UDP: the daemon answers
    OPTIONS after every one."""
    files = sorted(SEEDS.glob("repro-*"))
    assert len(files) == 3
    for i, f in enumerate(files):
        payload = f.read_bytes()
        for _ in range(20):
            udp_exchange(daemon.sip_port, payload, 0.05)
        assert alive(daemon, i), f"daemon gone after {f.name}"


def test_repro_files_match_shared_copies():
    if not REPRO.exists():
        return
    for name, seed in (("sip-via-rport-crash-min.bin",
                        "repro-via-rport-crash-min"),
                       ("sip-via-bare-lf-overread.bin",
                        "repro-via-bare-lf-overread")):
        assert (REPRO / name).read_bytes() == (SEEDS / seed).read_bytes()


def test_unparsed_top_via_echoed_unchanged(daemon):
    """A request whose top Via does not parse gets a 400 whose Via lines
    are the request's, byte for byte (no received=, rport not filled)."""
    top = b"Via: SIP/2.0/UDP host.example.com;branch=z9hG4bK1;=x"
    second = b"Via: SIP/2.0/UDP relay.example.com;branch=z9hG4bK2;rport"
    req = (b"OPTIONS sip:201@127.0.0.1 SIP/2.0\r\n" + top + b"\r\n" +
           second + b"\r\n"
           b"From: <sip:a@example.com>;tag=1\r\nTo: <sip:201@127.0.0.1>\r\n"
           b"Call-ID: via-echo\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
           b"Content-Length: 0\r\n\r\n")
    got = udp_exchange(daemon.sip_port, req, 2.0)
    assert got is not None and got.startswith(b"SIP/2.0 400 "), got
    assert via_lines(got) == [top, second]
    assert b"received=" not in got


def test_via_with_control_octets_gets_no_reply(daemon):
    """A Via holding a NUL (no SIP grammar allows it there) is not echoed
    into a 400 that peers, and our own parser, would refuse: no reply at
    all, and the daemon answers the next request."""
    req = (b"OPTIONS sip:201@127.0.0.1 SIP/2.0\r\n"
           b"Via: SIP/2.0/UDP host.example.com;branch=z9hG4bK1\x00\x00x\r\n"
           b"From: <sip:a@example.com>;tag=1\r\nTo: <sip:201@127.0.0.1>\r\n"
           b"Call-ID: via-nul\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
           b"Content-Length: 0\r\n\r\n")
    assert udp_exchange(daemon.sip_port, req, 1.0) is None
    assert alive(daemon, 0)


def test_parsed_top_via_gets_received_and_rport(daemon):
    """The normal case still follows RFC 3581: received= and rport=."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(2.0)
        port = s.getsockname()[1]
        s.sendto(OPTIONS % (7, 7), ("127.0.0.1", daemon.sip_port))
        got = s.recv(65535)
    vias = via_lines(got)
    assert len(vias) == 1
    assert vias[0] == (b"Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKalive7"
                       b";received=127.0.0.1;rport=%d" % port)
