"""A full data filesystem (issue 8, item 3): the data plane keeps serving
from memory, the admin API answers an error for changes it could not
store, status shows the degraded state, one event marks each transition,
and once space returns nothing that was acknowledged is lost — not even
across a restart.

The data directory is a small tmpfs (root only); it is filled with a
file, emptied again, and unmounted in teardown."""
import concurrent.futures
import json
import os
import sqlite3
import subprocess
import time

import pytest

import conftest
from conftest import Daemon
from test_sip_register import Uac, add_ext, commit, status as sip_status

def pw(n):
    """A compliant, unique SIP password per extension."""
    return "Xq7mPz9kLwR" + "bcdfghjkmnpqrstvwxyz"[int(n) % 20] + "Wt"
EXTS = [str(n) for n in range(401, 416)]     # 15 extensions ...
PER_EXT = 20                                 # ... x 20 phones = 300
BAN = "203.0.113.77"


def can_mount():
    return os.geteuid() == 0 and os.path.exists("/usr/bin/mount")


pytestmark = pytest.mark.skipif(not can_mount(),
                                reason="needs root to mount a tmpfs")


@pytest.fixture
def small_fs(tmp_path):
    mnt = tmp_path / "data"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700",
                    "tmpfs", str(mnt)], check=True, timeout=10)
    yield mnt
    subprocess.run(["umount", str(mnt)], timeout=10)
    if os.path.ismount(mnt):
        subprocess.run(["umount", "-l", str(mnt)], timeout=10)


def fill(path):
    """Write path until the filesystem is full, to the last byte."""
    with open(path, "wb", buffering=0) as f:
        for chunk in (1 << 16, 4096, 512, 64, 1):
            buf = b"\0" * chunk
            while True:
                try:
                    if f.write(buf) < chunk:
                        break
                except OSError:
                    break
    st = os.statvfs(os.path.dirname(path))
    assert st.f_bavail == 0, st


def storage(d):
    code, st = d.api("GET", "/status")
    assert code == 200, st
    return st["storage"]


def wait_for(pred):
    """The storage retries run once a second: allow ten."""
    return conftest.wait_for(pred, timeout=10.0)


def events(d, kind):
    code, evs = d.api("GET", f"/events?type={kind}")
    assert code == 200, evs
    return evs


def test_full_disk_loses_nothing_acknowledged(small_fs, tmp_path):
    d = Daemon(small_fs)
    d.log_path = tmp_path / "bulwarkd.stderr"   # not on the full disk
    d.start()
    try:
        _scenario(d, small_fs)
    finally:
        d.stop()


def _scenario(d, data):
    # bans stay in user space: this test must not touch the host's
    # nftables
    r = d.cli("settings", "set", "guard", "offload=false")
    assert r.returncode == 0, r
    for n in EXTS:
        add_ext(d, n, pw(n), extra=(f"phone.max_contacts={PER_EXT}",))
    commit(d)
    # one phone registers while there is room (and credits the source)
    first = Uac(d, EXTS[0])
    assert sip_status(first.register(pw(EXTS[0]), expires=3600)) == 200
    assert wait_for(lambda: d.api("GET", "/status")[1]["sip"]["persist"]
                    ["written"] >= 1)
    assert storage(d)["state"] == "ok"

    # No slack left anywhere: the WAL is emptied into the database file
    # (otherwise SQLite would first reuse its pages), then the disk filled.
    db = sqlite3.connect(str(data / "bulwark.db"))
    busy, _, _ = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    db.close()
    assert busy == 0
    filler = data / "filler"
    fill(filler)

    # --- the data plane keeps serving from memory -----------------------
    phones = []
    for n in EXTS:
        for k in range(PER_EXT):
            if n == EXTS[0] and k == 0:
                continue            # the first phone is already stored
            # each phone keeps its socket (its port, its contact) open
            # until all are registered: a reused port would be a refresh
            u = Uac(d, n)
            assert sip_status(u.register(pw(n), expires=3600)) == 200
            phones.append(u)
    assert len(phones) == 299
    for u in [first, *phones]:
        u.close()
    regs_now = d.cli("--json", "registrations").json
    assert len(regs_now) == 300

    st = wait_for(lambda: (lambda s: s if s["pending"]["bindings"] == 299
                           else None)(storage(d)))
    assert st, storage(d)
    assert st["state"] == "degraded"
    assert st["failed_writes"]["bindings"] >= 1
    assert st["last_error"]["error"] == os.strerror(28)   # ENOSPC
    sip = d.api("GET", "/status")[1]["sip"]["persist"]
    assert sip["written"] == 1          # only what reached the disk
    assert sip["pending"] == 299 and sip["failed"] >= 1
    assert sip["dropped"] == 0

    # --- the admin API says what it could not store ---------------------
    code, body = d.api("POST", "/bans", {"source": BAN, "for": "2h"})
    assert code == 507, body
    assert body["applied"] is True and body["stored"] is False
    assert body["cause"] == "storage_full"
    assert "not stored" in body["error"]
    # kept in force in memory (documented choice), and retried
    code, bans = d.api("GET", "/bans")
    assert BAN in [b["source"] for b in bans]
    # the CLI exits non-zero with the reason
    r = d.cli("bans", "add", "203.0.113.78")
    assert r.returncode != 0, r
    assert "not stored" in (r.stderr + r.stdout), r

    # More bans at once, enough that their security events cannot fit in
    # the security.log page tmpfs had already given it: log lines are
    # then lost, and counted (and each ban answered 507, then stored).
    slack = 4096 - (data / "security.log").stat().st_size % 4096
    more = [f"203.0.113.{100 + i}" for i in range(min(60, slack // 100 + 5))]
    with concurrent.futures.ThreadPoolExecutor(len(more)) as ex:
        codes = list(ex.map(lambda a: d.api("POST", "/bans",
                                            {"source": a})[0], more))
    assert codes == [507] * len(more), codes

    # a configuration change that cannot be stored changes nothing
    code, body = d.api("POST", "/ext", {
        "number": "499", "type": "sip", "name": "Ada Lovelace",
        "auth.password": "Wd3kQz8mNv5T", "voicemail.pin": "826491"})
    assert code == 507, body
    assert body["cause"] == "storage_full"
    assert d.api("GET", "/ext/499?staged=1")[0] == 404
    r = d.cli("ext", "add", "498", "--type", "sip", "--name",
              "Ada Lovelace", "--password", "Wd3kQz8mNv5T", "--vm-pin",
              "826491")
    assert r.returncode != 0, r

    st = storage(d)
    assert st["state"] == "degraded"
    assert st["failed_writes"]["config"] >= 2
    assert st["failed_writes"]["guard"] >= 1
    assert st["pending"]["guard"] >= 2          # two bans (+ events)
    assert st["failed_writes"]["security_log"] >= 1
    assert st["lost"]["security_log"] >= 1
    assert st["degraded_count"] == 1
    # bulwark status shows it
    r = d.cli("status")
    assert r.returncode == 0, r
    line = [x for x in r.stdout.splitlines() if x.startswith("storage")]
    assert line and "DEGRADED" in line[0], r.stdout
    assert "No space left on device" in r.stdout, r.stdout
    assert "pending: 299 binding" in r.stdout, r.stdout
    # logged once, not per write
    log = d.log_path.read_text(errors="replace")
    assert log.count("writes to the data directory fail") == 1, log[-3000:]

    # --- space returns: everything pending is written -------------------
    filler.unlink()
    st = wait_for(lambda: (lambda s: s if s["state"] == "ok" else None)
                  (storage(d)))
    assert st, storage(d)
    assert st["pending"]["bindings"] == 0 and st["pending"]["guard"] == 0
    assert st["recovered_count"] == 1
    sip = d.api("GET", "/status")[1]["sip"]["persist"]
    assert sip["written"] == 300 and sip["pending"] == 0
    # the guard's sweep reports it (once a second)
    assert wait_for(lambda: d.log_path.read_text(errors="replace").count(
        "writes to the data directory succeed again") == 1)
    # one event for each transition, stored now that the disk takes it
    assert wait_for(lambda: len(events(d, "storage_recovered")) == 1)
    assert len(events(d, "storage_degraded")) == 1
    # security.log says how many lines it is missing
    seclog = (data / "security.log").read_text().splitlines()
    gaps = [json.loads(x) for x in seclog if '"log_gap"' in x]
    assert gaps and gaps[0]["lines"] >= 1, seclog[-5:]
    r = d.cli("status")
    assert [x for x in r.stdout.splitlines()
            if x.startswith("storage")][0].split()[1] == "ok", r.stdout
    # an admin change works again
    add_ext(d, "499", "Wd3kQz8mNv5T")

    # --- and a restart finds every acknowledged change -------------------
    d.restart()
    regs_after = d.cli("--json", "registrations").json
    assert len(regs_after) == 300
    assert sorted((r["extension"], r["contact"]) for r in regs_after) == \
        sorted((r["extension"], r["contact"]) for r in regs_now)
    bans = {b["source"]: b for b in d.api("GET", "/bans")[1]}
    assert BAN in bans and "203.0.113.78" in bans
    assert all(a in bans for a in more), sorted(bans)
    assert bans[BAN]["reason"] == "manual"
    assert d.api("GET", "/ext/499?staged=1")[0] == 200
    assert d.api("GET", "/ext/498?staged=1")[0] == 404
    assert storage(d)["state"] == "ok"


def test_security_log_failures_are_counted(tmp_path):
    """security.log that cannot be written (here: /dev/full) is counted and
    shown as degraded; the daemon goes on, and does not spin retrying."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "security.log").symlink_to("/dev/full")
    d = Daemon(data)
    d.start()
    try:
        assert d.cli("settings", "set", "guard", "offload=false") \
            .returncode == 0
        assert d.cli("commit").returncode == 0
        code, body = d.api("POST", "/bans", {"source": BAN})
        assert code == 200, body          # the database took it
        st = wait_for(lambda: (lambda s: s if s["lost"]["security_log"] >= 1
                               else None)(storage(d)))
        assert st, storage(d)
        assert st["state"] == "degraded"
        assert st["last_error"]["source"] == "security_log"
        assert st["failed_writes"]["security_log"] >= 1
        # the probe for a returning disk runs once a second, not in a loop
        ticks = os.sysconf("SC_CLK_TCK")
        with open(f"/proc/{d.proc.pid}/stat") as f:
            before = sum(int(x) for x in f.read().split()[13:15])
        time.sleep(2)
        with open(f"/proc/{d.proc.pid}/stat") as f:
            after = sum(int(x) for x in f.read().split()[13:15])
        assert (after - before) / ticks < 0.5, after - before
        assert [b["source"] for b in d.api("GET", "/bans")[1]] == [BAN]
    finally:
        d.stop()
