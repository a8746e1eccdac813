"""bulwarkd set up for call tests: a small RTP range of its own (so the
spray covers all of it and parallel tests never share ports), loopback
trusted by the guard in the host namespace (a ban of 127.0.0.1 would drop
other tests' traffic to these ports; bans are tested in a namespace), and
extensions whose phones are MD5-only (baresip 1.0).

Also the read-outs the call tests assert on: live calls, CDRs, relay
ports, and a per-test time bound.
"""
import signal

import pytest

from calls_lib import free_block
from conftest import wait_for
from test_sip_register import add_ext, commit

PW = {"201": "Xq7mPz9kLw2R", "202": "Rt5hGv8nQe3W", "203": "Kp4nWs7tYb2Z",
      "204": "Hn6cVb2xQm8T", "205": "Zq8nXv4mBc6W"}
RTP_PORTS = 40
TEST_BOUND_S = 60


class Pbx:
    def __init__(self, d, rtp_lo):
        self.d = d
        self.rtp = range(rtp_lo, rtp_lo + RTP_PORTS)
        self.server = (d.sip_addr, d.sip_port)
        self.registrar = f"{d.sip_addr}:{d.sip_port}"

    def calls(self):
        r = self.d.cli("--json", "calls")
        assert r.returncode == 0, \
            f"bulwark --json calls: rc {r.returncode}: {r.stderr[:100]!r}"
        return r.json

    def cdrs(self):
        r = self.d.cli("--json", "cdr")
        assert r.returncode == 0, \
            f"bulwark --json cdr: rc {r.returncode}: {r.stderr[:100]!r}"
        return r.json

    def wait_cdrs(self, n, timeout=5):
        """The CDRs once there are at least n (the writer is a thread)."""
        rows = wait_for(lambda: (lambda r: r if len(r) >= n else None)(
            self.cdrs()), timeout)
        assert rows and len(rows) >= n, (rows, self.d.log())
        return rows

    def relay(self):
        st, body = self.d.api("GET", "/sip/status")
        assert st == 200, body
        return body["calls"]["relay"]

    def set_ext(self, num, *settings):
        r = self.d.cli("ext", "edit", num, *[x for s in settings
                                              for x in ("--set", s)])
        assert r.returncode == 0, r
        commit(self.d)

    def log(self):
        return self.d.log()


def start_pbx(make_daemon, exts=("201", "202", "203"), sipp_exts=()):
    """A daemon on 127.0.0.1 with a 40-port relay range; exts for phones,
    sipp_exts without qualify (SIPp would take an OPTIONS for a call)."""
    lo = free_block(RTP_PORTS, lo=20000, hi=29990)
    d = make_daemon(extra_args=["--rtp-range", f"{lo}-{lo + RTP_PORTS - 1}",
                                "--rtp-addr", "127.0.0.1"])
    d.start()
    r = d.cli("settings", "set", "guard", "trusted=127.0.0.0/8",
              "rate=1000000", "burst=1000000")
    assert r.returncode == 0, r
    for n in exts:
        add_ext(d, n, PW[n], algs="md5")
    for n in sipp_exts:
        add_ext(d, n, PW[n], algs="md5", extra=["phone.qualify=false"])
    commit(d)
    return Pbx(d, lo)


@pytest.fixture
def pbx(make_daemon):
    return start_pbx(make_daemon, sipp_exts=("204", "205"))


@pytest.fixture(autouse=True)
def bounded():
    """No call test may take more than TEST_BOUND_S seconds."""
    def expire(*_):
        raise TimeoutError(f"test took more than {TEST_BOUND_S} s")
    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(TEST_BOUND_S)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def one_call(rows, caller, callee):
    hits = [r for r in rows if r["caller"] == caller and r["callee"] == callee]
    assert len(hits) == 1, rows
    return hits[0]


class Later:
    """Checks whose failure must not hide the rest of a test (a missing
    `bulwark calls` must not keep the audio from being checked): run now,
    failures kept, raised together by done()."""

    def __init__(self):
        self.failures = []

    def __call__(self, fn, *args, **kw):
        try:
            return fn(*args, **kw)
        except (AssertionError, TimeoutError) as e:
            self.failures.append(f"{getattr(fn, '__name__', fn)}: "
                                 f"{str(e)[:600]}")
            return None

    def done(self):
        assert not self.failures, "\n".join(self.failures)


def check_live(pbx, caller, callee, state):
    live = pbx.calls()
    st, body = pbx.d.api("GET", "/calls")
    assert st == 200 and [c["id"] for c in body] == [c["id"] for c in live], \
        (st, body, live)
    assert len(live) == 1, live
    assert live[0]["caller"] == caller and live[0]["callee"] == callee, live
    assert live[0]["state"] == state, live
    return live


def check_idle(pbx):
    """Every relay port free, no live call."""
    relay = wait_for(lambda: (lambda r: r if r["ports_free"] ==
                              r["ports_total"] else None)(pbx.relay()), 3)
    assert relay, pbx.relay()
    assert wait_for(lambda: pbx.calls() == [], 3), pbx.calls()


def check_busy_relay(pbx):
    relay = pbx.relay()
    assert relay["ports_free"] < relay["ports_total"], relay
