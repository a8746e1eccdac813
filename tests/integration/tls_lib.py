"""Helpers of the SIP over TLS tests (test_tls.py, test_tls_bounds.py):
a call-test daemon with a TLS listener, its status, openssl s_client,
the transports an extension is registered over."""
import shutil
import socket
import subprocess

import pytest

from calls_lib import free_port
from calls_pbx import start_pbx
from test_sip_register import commit

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


def s_client(port, *args, data=b"", timeout=10):
    return subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *args],
        input=data, capture_output=True, timeout=timeout)



def registered_over(p, ext):
    """The transports of ext's bindings (bulwark registrations)."""
    rows = p.d.cli("--json", "registrations").json
    return sorted(b.get("transport") for b in rows
                  if str(b.get("extension")) == ext)

