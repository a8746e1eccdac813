"""Browser tests of the web GUI (tests/gui/gui.mjs): the real bulwarkd on a
temporary data directory with the admin API on a free loopback port, seeded
through its control socket, then Debian's Chromium driven by playwright-core
through every scenario. Screenshots of the main screens go to
BULWARK_GUI_SHOTS (make screenshots: docs/gui/), else into the build
directory, so a test run leaves the tree as it was.
"""
import os
import pathlib
import random
import shutil
import subprocess
import sys
import time

import pytest

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
from conftest import Daemon, UnixHTTPConnection, free_port  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SHOTS = pathlib.Path(os.environ.get(
    "BULWARK_GUI_SHOTS",
    pathlib.Path(os.environ.get("BULWARK_BUILD", ROOT / "build")) / "gui-shots"))
PORTAL_USER, PORTAL_PW = "ada", "Qz7vXk2pLm9w"
# the Calls screen's one real call: SIPp as 601 calling 602 (tests/gui/sipp)
CALLER, CALLER_PW = "601", "Kq7vRz2mWp9x"
CALLEE, CALLEE_PW = "602", "Tf4nHw8cXs3b"


def fixture_voicemail(d):
    """One message for 301 as the mailbox store keeps them (its row in
    vm_msg, its file DATA/voicemail/NUMBER/m-ID.wav; store/vmstore.h):
    a second of a 440 Hz tone, G.711-rate 16-bit PCM, made here (no
    recording copied into the tree)."""
    import math
    import sqlite3
    import struct
    import wave
    box = d.data_dir / "voicemail" / "301"
    box.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = box / "m-msg0001.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / 8000)))
                               for i in range(8000)))
    db = sqlite3.connect(str(d.data_dir / "bulwark.db"), timeout=10)
    db.execute("INSERT INTO vm_msg(number, id, folder, caller, caller_name,"
               " time_ms, duration_ms, bytes) VALUES ('301', 'msg0001', 0,"
               " '302', 'Grace', ?, 1000, ?)",
               (int(time.time() * 1000), path.stat().st_size))
    db.commit()
    db.close()


def metrics(d):
    """GET /metrics over the control socket: {series: value}."""
    conn = UnixHTTPConnection(d.sock, timeout=30)
    try:
        conn.request("GET", "/metrics")
        resp = conn.getresponse()
        text = resp.read().decode()
        assert resp.status == 200, text
        assert resp.getheader("Content-Type", "").startswith("text/plain"), resp.getheaders()
    finally:
        conn.close()
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line and not line.startswith("#")}


def seed(d):
    """10,000 extensions for the paging, two people, a ban to lift."""
    t0 = time.time()
    st, out = d.api("POST", "/ext/bulk", {"range": "1000-10999", "type": "sip"})
    assert st == 201, out
    st, out = d.api("POST", "/ext", {
        "number": "301", "type": "sip", "name": "Ada Lovelace",
        "generate_password": True, "generate_pin": True,
        "web.enabled": True, "web.username": PORTAL_USER,
        "web.password": PORTAL_PW})
    assert st == 201, out
    st, out = d.api("POST", "/ext", {
        "number": "302", "type": "sip", "name": "Alan Turing",
        "generate_password": True, "generate_pin": True})
    assert st == 201, out
    # SIPp's phones; the answering one does not answer OPTIONS (qualify
    # off, else the registrar's OPTIONS would take its one call)
    for number, name, pw, more in ((CALLER, "Sipp Caller", CALLER_PW, {}),
                             (CALLEE, "Sipp Callee", CALLEE_PW, {"phone.qualify": False})):
        st, out = d.api("POST", "/ext", {
            "number": number, "type": "sip", "name": name,
            "auth.password": pw, "generate_pin": True, **more})
        assert st == 201, out
    st, out = d.api("POST", "/commit")
    assert st == 200 and out["ok"], out
    st, out = d.api("POST", "/bans", {"source": "203.0.113.9", "for": "1h"})
    assert st == 200, out
    print(f"gui: seeded 10,004 extensions in {time.time() - t0:.1f} s")


def test_gui(tmp_path, monkeypatch):
    node = shutil.which("node")
    assert node, "node is not installed: run make deps (scripts/deps.sh)"
    assert os.access(CHROMIUM, os.X_OK), \
        f"{CHROMIUM} is missing: run make deps (Debian package chromium)"
    assert (HERE / "node_modules" / "playwright-core").is_dir(), \
        "playwright-core is not installed: run make gui-deps (npm ci in tests/gui)"
    # the tree's own files, even where an older copy is installed
    monkeypatch.setenv("BULWARK_WEB", str(ROOT / "web"))
    port = free_port(addr="127.0.0.1")
    # a relay port range of its own: parallel tests do not collide
    rtp = random.randrange(40000, 59000, 2)
    d = Daemon(tmp_path / "data", http=f"127.0.0.1:{port}",
               extra_args=["--rtp-range", f"{rtp}-{rtp + 99}"])
    d.start()
    try:
        seed(d)
        fixture_voicemail(d)
        env = dict(os.environ,
                   BULWARK_URL=f"http://127.0.0.1:{port}",
                   BULWARK_ADMIN_PASSWORD=(d.data_dir / "admin-password").read_text().strip(),
                   BULWARK_PORTAL_USER=PORTAL_USER,
                   BULWARK_PORTAL_PASSWORD=PORTAL_PW,
                   BULWARK_SHOTS=str(SHOTS), CHROMIUM=CHROMIUM,
                   BULWARK_SIP=f"127.0.0.1:{d.sip_port}",
                   BULWARK_PYTHON=sys.executable,
                   BULWARK_CALLER=CALLER, BULWARK_CALLER_PASSWORD=CALLER_PW,
                   BULWARK_CALLEE=CALLEE, BULWARK_CALLEE_PASSWORD=CALLEE_PW,
                   BULWARK_SIPP_PORTS=",".join(
                       str(free_port(addr="127.0.0.1")) for _ in range(4)))
        proc = subprocess.run([node, str(HERE / "gui.mjs")], cwd=HERE, env=env,
                              capture_output=True, text=True, timeout=420)
        print(proc.stdout)
        print(proc.stderr, file=sys.stderr)
        assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
        assert "# gui: " in proc.stdout and " 0 failed" in proc.stdout

        # what the browser did, seen from the server
        st, access = d.api("GET", "/admin/access")
        blocked = [b["source"] for b in access["admin_scope"]["blocked"]]
        assert "127.0.0.1" in blocked, access
        # the page's modules all came through the admin port's gate (a
        # few connections per address before a login): none was refused
        assert access["tcp"]["refused_per_address"] == 0, access["tcp"]
        # the portal deleted the messages it played (the fixture and the
        # one the scripted caller left), and the greeting it uploaded; the
        # refused one was never stored
        box = d.data_dir / "voicemail" / "301"
        assert sorted(p.name for p in box.iterdir()) == [], list(box.iterdir())
        # the administrator's upload for 302 was deleted in the page, the
        # refused one never stored; the log says who did it
        box = d.data_dir / "voicemail" / "302"
        assert not box.exists() or not list(box.glob("*.wav")), list(box.iterdir())
        assert "greeting busy uploaded by the administrator" in d.log_path.read_text(errors="replace")
        st, vm = d.api("GET", "/voicemail/301")
        assert st == 200 and vm["messages"] == [], vm
        st, ext = d.api("GET", "/ext/301?staged=1")
        assert ext["user.forward.busy.destination"] == "302", ext
        assert (ext["user.follow_me.enabled"], ext["user.follow_me.list"]) \
            == (True, ["302", "1000"]), ext
        # the admin block never reaches SIP: no SIP ban for the address
        st, bans = d.api("GET", "/bans")
        assert not [b for b in bans if b["source"] == "127.0.0.1"], bans
        # the call the Calls screen showed and the portal's voicemail
        # call, as the API records them
        st, cdr = d.api("GET", "/cdr")
        assert st == 200 and len(cdr) == 2, cdr
        assert sorted((c["caller"], c["callee"], c["disposition"]) for c in cdr) \
            == [(CALLER, "301", "answered"), (CALLER, CALLEE, "answered")], cdr
        # and as /metrics tells a monitoring system (the control socket: the
        # admin port now refuses this address): the series moved
        m = metrics(d)
        assert m['bulwark_calls_total{result="answered"}'] == 2, m
        assert m["bulwark_calls_active"] == 0, m
        assert m["bulwark_relay_packets_total"] > 100, m
        assert m["bulwark_relay_dropped_source_total"] == 0, m
        assert m["bulwark_relay_ports_free"] == m["bulwark_relay_ports"] > 0, m
        assert m["bulwark_registrations"] >= 1, m    # SIPp's callee
        assert m["bulwark_bans_total"] >= 1 and m["bulwark_bans"] == 0, m
        assert 'bulwark_sip_auth_failures_total{reason="bad_password"}' in m, m
        # seeding, the Commit screen, the CSV import, the SIP setting of the
        # Network Services scenario; the Commit screen's dry run
        assert m['bulwark_commits_total{result="applied"}'] == 4, m
        assert m['bulwark_commits_total{result="dry_run"}'] == 1, m
    finally:
        d.stop()
