"""The admin API over HTTPS (bulwarkd --https): the generated certificate
and its files, TLS 1.2+ only, the same admin authentication as --http, the
CLI with --cacert / --fingerprint, the certificate kept across restarts or
replaced by the administrator's own, and the admin-https service with its
firewall port."""
import base64
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import stat
import subprocess

import pytest

from conftest import BULWARK, free_port


def start_https(make_daemon, extra=()):
    port = free_port()
    d = make_daemon(extra_args=["--https", f"127.0.0.1:{port}", *extra])
    d.start()
    d.https_port = port
    return d


def credential(d):
    """The generated admin password: in DATA/admin-password (0600), never
    on stdout or in the log."""
    f = d.data_dir / "admin-password"
    assert stat.S_IMODE(os.stat(f).st_mode) == 0o600
    pw = f.read_text().strip()
    assert pw and pw not in d.log(), d.log()
    return pw


def get(d, path, cafile=None, user=None, ctx=None, timeout=15):
    """GET over HTTPS, verifying the server with cafile. (status, body,
    the TLS socket's version and peer certificate)."""
    if ctx is None:
        ctx = ssl.create_default_context(cafile=cafile)
    conn = http.client.HTTPSConnection("127.0.0.1", d.https_port,
                                       context=ctx, timeout=timeout)
    hdrs = {}
    if user:
        hdrs["Authorization"] = "Basic " + base64.b64encode(
            user.encode()).decode()
    try:
        conn.request("GET", "/api/v1" + path, headers=hdrs)
        info = (conn.sock.version(), conn.sock.getpeercert())
        resp = conn.getresponse()
        body = resp.read().decode()
        return resp.status, body, info
    finally:
        conn.close()


def cli(d, *args, timeout=30):
    return subprocess.run([str(BULWARK), "--url",
                           f"https://127.0.0.1:{d.https_port}", *args],
                          capture_output=True, text=True, timeout=timeout)


def test_https_certificate_auth_and_tls_versions(make_daemon):
    d = start_https(make_daemon)
    tls = d.data_dir / "tls"
    crt, key = tls / "admin.crt", tls / "admin.key"
    assert stat.S_IMODE(os.stat(tls).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert crt.read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert "PRIVATE KEY" in key.read_text()
    pw = credential(d)
    # the key never reaches the log or stdout
    key_b64 = "".join(key.read_text().splitlines()[1:-1])
    assert key_b64[:40] not in d.log()

    # verified against the generated certificate, with the credential
    st, body, (version, cert) = get(d, "/status", cafile=crt,
                                    user=f"admin:{pw}")
    assert st == 200, body
    assert json.loads(body)["daemon"] == "bulwarkd"
    assert version in ("TLSv1.2", "TLSv1.3")
    san = cert["subjectAltName"]
    assert ("DNS", "localhost") in san and ("IP Address", "127.0.0.1") in san

    # the SHA-256 fingerprint printed and logged is the certificate's
    der = ssl.PEM_cert_to_DER_cert(crt.read_text())
    import hashlib
    fp = ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())
    assert fp in d.log()

    # no or wrong credential: 401, like --http
    st, body, _ = get(d, "/status", cafile=crt)
    assert st == 401 and "Authentication required" in body
    st, _, _ = get(d, "/status", cafile=crt, user="admin:wrong")
    assert st == 401

    # a client that does not trust the certificate refuses it
    with pytest.raises(ssl.SSLCertVerificationError):
        get(d, "/status", ctx=ssl.create_default_context(),
            user=f"admin:{pw}")

    # plain HTTP to the HTTPS port gets no HTTP answer
    plain = http.client.HTTPConnection("127.0.0.1", d.https_port, timeout=10)
    with pytest.raises((http.client.HTTPException, OSError)):
        plain.request("GET", "/api/v1/status")
        plain.getresponse().read()
    plain.close()

    # TLS 1.2 alone is accepted
    ctx12 = ssl.create_default_context(cafile=crt)
    ctx12.maximum_version = ssl.TLSVersion.TLSv1_2
    st, _, (version, _) = get(d, "/status", user=f"admin:{pw}", ctx=ctx12)
    assert st == 200 and version == "TLSv1.2"

    # TLS 1.1 is refused, if this Python/OpenSSL can still offer it
    ctx11 = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx11.check_hostname = False
    ctx11.verify_mode = ssl.CERT_NONE
    offered = True
    try:
        ctx11.set_ciphers("DEFAULT:@SECLEVEL=0")
        ctx11.minimum_version = ssl.TLSVersion.TLSv1_1
        ctx11.maximum_version = ssl.TLSVersion.TLSv1_1
    except (ValueError, ssl.SSLError):
        offered = False
    if offered:
        raw = socket.create_connection(("127.0.0.1", d.https_port), 10)
        try:
            with pytest.raises((ssl.SSLError, OSError)) as exc:
                with ctx11.wrap_socket(raw) as s:
                    s.version()
            if "NO_PROTOCOLS_AVAILABLE" in str(exc.value).upper() or \
                    "no protocols available" in str(exc.value):
                offered = False      # the client could not offer it
        finally:
            raw.close()
    if not offered:
        print("TLS 1.1 not offered by this Python/OpenSSL: not checked")


def test_https_cli_restart_services_and_firewall(make_daemon):
    d = start_https(make_daemon)
    crt = d.data_dir / "tls" / "admin.crt"
    pw = credential(d)
    pin = re.search(r"public key:\s+(sha256//\S+)", d.log()).group(1)

    r = cli(d, "--user", f"admin:{pw}", "--cacert", crt, "--json", "status")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["daemon"] == "bulwarkd"
    r = cli(d, "--user", f"admin:{pw}", "--fingerprint", pin, "status")
    assert r.returncode == 0, r.stderr
    # a wrong key is refused before the request goes out
    wrong = "sha256//" + base64.b64encode(b"\0" * 32).decode()
    r = cli(d, "--user", f"admin:{pw}", "--fingerprint", wrong, "status")
    assert r.returncode == 2 and "pinned" in r.stderr, r.stderr
    # no trust anchor given: verification fails, the CLI says what to do
    r = cli(d, "--user", f"admin:{pw}", "status")
    assert r.returncode == 2 and "--cacert" in r.stderr, r.stderr
    # --cacert without an https URL is a usage error
    r = subprocess.run([str(BULWARK), "--url", "http://127.0.0.1:1",
                        "--cacert", str(crt), "status"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "https" in r.stderr

    r = cli(d, "--user", f"admin:{pw}", "--cacert", crt, "--json",
            "services")
    assert r.returncode == 0, r.stderr
    svc = {s["name"]: s for s in json.loads(r.stdout)}
    assert svc["admin-https"]["state"] == "running"
    assert svc["admin-http"]["state"] == "stopped"
    r = d.cli("services", "stop", "admin-https")
    assert r.returncode == 1 and "--https" in r.stderr, r

    # the firewall's admin-https entry is the port actually served
    r = d.cli("--json", "firewall", "services")
    assert r.returncode == 0, r
    fw = {s["name"]: s for s in r.json}
    assert fw["admin-https"]["ports"] == str(d.https_port)

    # a restart keeps the certificate and prints no new one
    before = crt.read_bytes()
    d.restart()
    assert crt.read_bytes() == before
    # the whole log (tls: SIP over TLS adds lines; log() is its tail)
    assert d.log_path.read_text(errors="replace").count(
        "generated a self-signed HTTPS certificate") == 1
    r = cli(d, "--user", f"admin:{pw}", "--cacert", crt, "status")
    assert r.returncode == 0, r.stderr


def test_without_https_admin_https_is_stopped(daemon):
    r = daemon.cli("services", "--json")
    assert r.returncode == 0, r
    svc = {s["name"]: s for s in r.json}
    assert svc["admin-https"]["state"] == "stopped"
    # no HTTPS certificate (DATA/tls/ holds SIP over TLS's, issue 15)
    assert not (daemon.data_dir / "tls" / "admin.crt").exists()
    assert not (daemon.data_dir / "tls" / "admin.key").exists()


@pytest.mark.skipif(not shutil.which("openssl"), reason="no openssl tool")
def test_admin_replaces_the_certificate(make_daemon, tmp_path):
    d = start_https(make_daemon)
    pw = credential(d)
    tls = d.data_dir / "tls"
    d.stop()
    own_crt, own_key = tmp_path / "own.crt", tmp_path / "own.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", own_key, "-out", own_crt,
                    "-days", "30", "-subj", "/CN=pbx.example",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    shutil.copy(own_crt, tls / "admin.crt")
    shutil.copy(own_key, tls / "admin.key")
    # a key others can read is refused, with the reason
    os.chmod(tls / "admin.key", 0o644)
    with pytest.raises(RuntimeError) as exc:
        d.start()
    assert "chmod 600" in str(exc.value)
    os.chmod(tls / "admin.key", 0o600)
    d.start()
    st, body, (_, cert) = get(d, "/status", cafile=own_crt,
                              user=f"admin:{pw}")
    assert st == 200, body
    assert dict(x[0] for x in cert["subject"])["commonName"] == "pbx.example"
    # a certificate without its key is refused
    d.stop()
    os.unlink(tls / "admin.key")
    with pytest.raises(RuntimeError) as exc:
        d.start()
    assert "admin.key" in str(exc.value)
