"""GET /metrics: Prometheus text behind the admin credential, and its
values moving with what happens — a phone registers, a wrong password is
refused, a source is banned, a commit is applied and one dry-run."""
import base64
import http.client
import re

from conftest import free_port
from test_sip_register import PW, Uac, add_ext, commit, status


def start(make_daemon):
    port = free_port()
    d = make_daemon(extra_args=["--http", f"127.0.0.1:{port}"])
    d.start()
    d.port = port
    d.pw = (d.data_dir / "admin-password").read_text().strip()
    return d


def get(d, path="/metrics", auth=True, method="GET"):
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=15)
    hdrs = {}
    if auth:
        hdrs["Authorization"] = "Basic " + base64.b64encode(
            f"admin:{d.pw}".encode()).decode()
    try:
        conn.request(method, path, headers=hdrs)
        r = conn.getresponse()
        return r.status, r.read().decode(), r.getheader("Content-Type") or ""
    finally:
        conn.close()


def scrape(d):
    st, text, ctype = get(d)
    assert st == 200, text
    assert ctype.startswith("text/plain; version=0.0.4"), ctype
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        m = re.fullmatch(r'([a-z_]+(?:\{[a-z_]+="[a-z_]+"\})?) (\d+)', line)
        assert m, f"not Prometheus text: {line!r}"
        out[m.group(1)] = int(m.group(2))
    return out


def test_metrics_needs_the_admin_credential(make_daemon):
    d = start(make_daemon)
    st, text, _ = get(d, auth=False)
    assert st == 401, text
    st, text, _ = get(d, method="POST")
    assert st == 405, text
    # the same credential as /api/v1, and nothing of the GUI's files
    assert scrape(d)["bulwark_up"] == 1


def test_metrics_move(make_daemon):
    d = start(make_daemon)
    m0 = scrape(d)
    assert m0["bulwark_registrations"] == 0
    assert m0["bulwark_bans"] == 0
    assert m0['bulwark_commits_total{result="applied"}'] == 0
    # the call layer's series: nothing yet, every relay port pair free
    assert m0["bulwark_calls_active"] == 0
    assert m0['bulwark_calls_total{result="answered"}'] == 0
    assert m0["bulwark_relay_packets_total"] == 0
    assert m0["bulwark_relay_ports"] > 0
    assert m0["bulwark_relay_ports_free"] == m0["bulwark_relay_ports"]

    add_ext(d, "201", PW["201"])
    commit(d)
    u = Uac(d, "201")
    assert status(u.register(PW["201"])) == 200
    chal = u.tx(u.msg())
    assert status(u.tx(u.msg(auth=u.auth(chal, "wrongpassword1")))) == 403
    u.close()
    st, out = d.api("POST", "/bans", {"source": "192.0.2.7"})
    assert st == 200, out
    st, out = d.api("POST", "/commit?dry_run=1")
    assert st == 200 and out["dry_run"], out

    m = scrape(d)
    assert m["bulwark_registrations"] == 1
    assert m["bulwark_registered_extensions"] == 1
    assert m["bulwark_sip_auth_successes_total"] >= 1
    assert m['bulwark_sip_auth_failures_total{reason="bad_password"}'] == 1
    assert m['bulwark_sip_auth_failures_total{reason="unknown_user"}'] == 0
    assert m["bulwark_bans"] == 1
    assert m["bulwark_bans_total"] >= 1
    assert m['bulwark_commits_total{result="applied"}'] == 1
    assert m['bulwark_commits_total{result="dry_run"}'] == 1
    assert m['bulwark_commits_total{result="refused"}'] == 0
    assert m["bulwark_commit_version"] == m0["bulwark_commit_version"] + 1
    assert m["bulwark_guard_packets_total"] > m0["bulwark_guard_packets_total"]
