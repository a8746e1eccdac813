"""Shared fixtures: start the real bulwarkd on a temporary data directory and
talk to it through the real CLI and the admin API on its control socket.

Every process a test starts is bounded in time and stopped by its pid.
"""
import http.client
import itertools
import json
import os
import pathlib
import signal
import socket
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("BULWARK_BUILD", ROOT / "build"))
BULWARKD = BUILD / "src" / "daemon" / "bulwarkd"
BULWARK = BUILD / "src" / "cli" / "bulwark"


def free_port(kind=socket.SOCK_DGRAM, addr="127.0.0.1"):
    """A port free for both UDP and TCP on addr (SIP listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind((addr, 0))
            port = s.getsockname()[1]
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t, \
                    socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                t.bind((addr, port))
                u.bind((addr, port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port")


# Every daemon started here in the host's network namespace is an instance
# of its own (--instance): its nftables table is inet bulwark_NAME, so a
# test never changes the table of another test's daemon, of a daemon other
# work runs on this host, or of a production install (inet bulwark). The
# table goes when the daemon is stopped; whatever a killed run left behind
# goes at the end of the session. Daemons in a network namespace of their
# own (launcher `ip netns exec NS`) need no instance: the namespace has
# its own tables.
_instance_seq = itertools.count(1)
_instances = set()


def new_instance():
    """A fresh instance name (1-16 of [a-z0-9_])."""
    return f"t{os.getpid() % 10_000_000}_{next(_instance_seq)}"


def drop_instance_table(name):
    """Delete table inet bulwark_NAME in the host namespace, if there."""
    if not name:
        return
    try:
        subprocess.run(["nft", "delete", "table", "inet", f"bulwark_{name}"],
                       capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        pass


@pytest.fixture(scope="session", autouse=True)
def _instance_tables():
    yield
    for name in sorted(_instances):
        drop_instance_table(name)


def wait_for(pred, timeout=5.0, step=0.1):
    """pred() until it returns something true or timeout seconds pass;
    returns its last value."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


class Result:
    def __init__(self, proc):
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr

    @property
    def json(self):
        return json.loads(self.stdout)

    def __repr__(self):
        return (f"<rc={self.returncode} stdout={self.stdout[:2000]!r} "
                f"stderr={self.stderr[:2000]!r}>")


class Daemon:
    """A bulwarkd process on its own data directory."""

    def __init__(self, data_dir, sip_addr="127.0.0.1", sip_port=None,
                 http=None, extra_args=(), instance="auto"):
        self.data_dir = pathlib.Path(data_dir)
        # "auto": an instance of its own unless in a namespace of its own
        self.instance = instance
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.sip_addr = sip_addr
        self.sip_port = sip_port or free_port(addr=sip_addr)
        self.http = http
        self.extra_args = list(extra_args)
        self.proc = None
        self.log_path = self.data_dir / "bulwarkd.stderr"
        self._logf = None

    @property
    def sock(self):
        return str(self.data_dir / "control.sock")

    def launcher(self):
        """Words run before bulwarkd (e.g. `ip netns exec NS`); none here."""
        return []

    def start(self, timeout=15):
        args = [*self.launcher(), str(BULWARKD), "--data", str(self.data_dir),
                "--sip", f"{self.sip_addr}:{self.sip_port}"]
        if self.http:
            args += ["--http", self.http]
        if self.instance == "auto":
            self.instance = (None if self.launcher()[:3] ==
                             ["ip", "netns", "exec"] else new_instance())
        if self.instance:
            _instances.add(self.instance)
            args += ["--instance", self.instance]
        args += self.extra_args
        self._logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self._logf,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"bulwarkd exited {self.proc.returncode}: "
                                   f"{self.log()}")
            if os.path.exists(self.sock):
                try:
                    status, _ = self.api("GET", "/status")
                    if status == 200:
                        return self
                except OSError:
                    pass
            time.sleep(0.05)
        raise RuntimeError(f"bulwarkd did not become ready: {self.log()}")

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=10, keep_table=False):
        try:
            return self._stop(sig, timeout)
        finally:
            if not keep_table and self.instance != "auto":
                drop_instance_table(self.instance)

    def _stop(self, sig, timeout):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                raise AssertionError("bulwarkd ignored SIGTERM")
        rc = self.proc.returncode if self.proc else None
        if self._logf:
            self._logf.close()
            self._logf = None
        return rc

    def kill(self):
        return self.stop(signal.SIGKILL)

    def restart(self):
        self.stop(keep_table=True)
        return self.start()

    def cli(self, *args, input=None, timeout=60):
        """Run the bulwark CLI against this daemon; returns a Result."""
        proc = subprocess.run([str(BULWARK), "--data", str(self.data_dir),
                               *map(str, args)], input=input,
                              capture_output=True, text=True, timeout=timeout)
        return Result(proc)

    def api(self, method, path, body=None, raw=None, headers=None,
            timeout=60):
        """Call /api/v1<path> on the control socket. Returns (status, body)
        where body is parsed JSON when the reply is JSON, else text."""
        conn = UnixHTTPConnection(self.sock, timeout=timeout)
        hdrs = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        elif raw is not None:
            data = raw.encode() if isinstance(raw, str) else raw
            hdrs.setdefault("Content-Type", "text/csv")
        try:
            conn.request(method, "/api/v1" + path, body=data, headers=hdrs)
            resp = conn.getresponse()
            text = resp.read().decode(errors="replace")
            ctype = resp.getheader("Content-Type") or ""
            if "json" in ctype and text:
                return resp.status, json.loads(text)
            return resp.status, text
        finally:
            conn.close()


@pytest.fixture
def daemon(tmp_path):
    """A running bulwarkd on a fresh data directory, SIP on 127.0.0.1."""
    d = Daemon(tmp_path / "data")
    d.start()
    yield d
    d.stop()


@pytest.fixture
def make_daemon(tmp_path):
    """Factory for daemons with custom arguments; all are stopped after."""
    started = []

    def make(**kw):
        d = Daemon(tmp_path / f"data{len(started)}", **kw)
        started.append(d)
        return d
    yield make
    for d in started:
        try:
            d.stop()
        except Exception:
            pass
