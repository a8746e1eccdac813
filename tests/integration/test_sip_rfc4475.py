"""RFC 4475 torture messages over UDP and TCP against the real daemon:
each gets the answer MANIFEST.tsv names (or none where it says discard),
and the daemon neither dies nor grows."""
import pathlib
import socket
import time

import pytest

CORPUS = pathlib.Path(__file__).resolve().parents[3] / "shared" / "conformance" / "rfc4475"
if not CORPUS.exists():
    CORPUS = pathlib.Path("/work/shared/conformance/rfc4475")

# Acceptable status codes per file; None = must be discarded (no answer).
# An INVITE without credentials → 407 (the call layer challenges before
# anything else), an in-dialog one naming no call → 481; methods we do not
# do not serve yet (MESSAGE) → 407 like an INVITE, unknown methods → 501, OPTIONS → 200, REGISTER
# without credentials → 401.
EXPECT = {
    "wsinv.dat": {481}, "intmeth.dat": {501}, "esc01.dat": {407},
    "escnull.dat": {401}, "esc02.dat": {501}, "lwsdisp.dat": {200},
    "longreq.dat": {407}, "dblreq.dat": {401}, "semiuri.dat": {200},
    "transports.dat": {200}, "mpart01.dat": {407}, "unreason.dat": None,
    "noreason.dat": None, "badinv01.dat": {400}, "clerr.dat": {400},
    "ncl.dat": {400}, "scalar02.dat": {400}, "scalarlg.dat": None,
    "quotbal.dat": {400}, "ltgtruri.dat": {400}, "lwsruri.dat": {400},
    "lwsstart.dat": {400}, "trws.dat": {400}, "escruri.dat": {400},
    "baddate.dat": {407}, "regbadct.dat": {400}, "badaspec.dat": {400},
    "baddn.dat": {400}, "badvers.dat": {505}, "mismatch01.dat": {400},
    "mismatch02.dat": {400}, "bigcode.dat": None, "badbranch.dat": {200},
    "insuf.dat": {400}, "unkscm.dat": {416}, "novelsc.dat": {416},
    "unksm2.dat": {401}, "bext01.dat": {420}, "invut.dat": {415},
    "regaut01.dat": {401}, "multi01.dat": {400}, "mcl01.dat": {400},
    "bcast.dat": None, "zeromf.dat": {200}, "cparam01.dat": {401},
    "cparam02.dat": {401}, "regescrt.dat": {401}, "sdp01.dat": {407},
    "inv2543.dat": {407},
}
# Over a stream, Content-Length larger than what was sent means "wait".
TCP_WAIT = {"clerr.dat"}


def manifest():
    rows = []
    for line in (CORPUS / "MANIFEST.tsv").read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        rows.append(line.split("\t")[0])
    return rows


def status_of(data):
    line = data.split(b"\r\n", 1)[0].decode(errors="replace")
    assert line.startswith("SIP/2.0 "), line
    return int(line.split()[1])


def udp_exchange(port, payload, wait):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(wait)
        s.sendto(payload, ("127.0.0.1", port))
        try:
            return s.recv(65535)
        except socket.timeout:
            return None


def tcp_exchange(port, payload, wait):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(payload)
        s.settimeout(wait)
        try:
            return s.recv(65535) or None
        except socket.timeout:
            return None


def rss_kb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def test_manifest_covers_all_49():
    names = manifest()
    assert len(names) == 49
    assert set(names) == set(EXPECT)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_rfc4475_corpus(daemon, transport):
    failures = []
    for name in manifest():
        payload = (CORPUS / name).read_bytes()
        want = EXPECT[name]
        wait = 0.3 if want is None or (transport == "tcp" and name in TCP_WAIT) else 2.0
        if transport == "udp":
            got = udp_exchange(daemon.sip_port, payload, wait)
        else:
            got = tcp_exchange(daemon.sip_port, payload, wait)
        if want is None or (transport == "tcp" and name in TCP_WAIT):
            if got is not None:
                failures.append(f"{name}: expected no answer, got {got[:40]!r}")
        elif got is None:
            failures.append(f"{name}: no answer, expected {sorted(want)}")
        elif status_of(got) not in want:
            failures.append(f"{name}: got {status_of(got)}, expected {sorted(want)}")
        assert daemon.proc.poll() is None, f"daemon died on {name}"
    assert not failures, "\n".join(failures)


def test_rfc4475_repeated_no_growth(daemon):
    """Replay the whole corpus many times over UDP: no crash, RSS flat."""
    payloads = [(CORPUS / n).read_bytes() for n in manifest()]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(0.01)

        def burst(rounds):
            for _ in range(rounds):
                for p in payloads:
                    s.sendto(p, ("127.0.0.1", daemon.sip_port))
                    try:
                        while True:
                            s.recv(65535)
                    except (socket.timeout, BlockingIOError):
                        pass
        burst(20)
        time.sleep(0.5)
        before = rss_kb(daemon.proc.pid)
        burst(60)
        time.sleep(0.5)
        after = rss_kb(daemon.proc.pid)
    assert daemon.proc.poll() is None
    assert after - before < 2048, f"RSS grew {before} -> {after} kB"
