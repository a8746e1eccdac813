"""The control plane through the bulwark CLI against the real daemon:
extensions, refusals (nothing changed afterwards), policy and auto-fix at
commit, dry run, discard, bulk, CSV, licences, files and modes, the TCP
admin API's authentication, and clean shutdown."""
import json
import os
import re
import signal
import stat
import subprocess
import time

import pytest

from conftest import BULWARK, Daemon

STRONG = "Kq7Vx9Zr2Pw"  # alnum, 2+ upper, 2+ digits, no 4-letter word


def numbers(d, running=False):
    args = ["--json", "ext", "list"] + (["--running"] if running else [])
    r = d.cli(*args)
    assert r.returncode == 0, r
    return [e["number"] for e in r.json]


def pending(d):
    r = d.cli("--json", "pending")
    assert r.returncode == 0, r
    return r.json


def add(d, number, *extra, name="Ada Lovelace", type_="sip"):
    return d.cli("ext", "add", number, "--type", type_, "--name", name,
                 *extra)


NAMES = ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra",
         "Barbara Liskov", "Donald Knuth"]


def add_many(d, first, count):
    for i in range(count):
        r = add(d, str(first + i), "--generate-password", "--generate-pin",
                name=NAMES[i % len(NAMES)])
        assert r.returncode == 0, r


def test_add_show_list_edit_rm(daemon):
    r = add(daemon, "201", "--generate-password", "--generate-pin")
    assert r.returncode == 0, r
    m = re.search(r"auth\.password\s+(\S+)", r.stdout)
    assert m, r.stdout
    secret = m.group(1)
    assert len(secret) >= 8 and "shown only now" in r.stdout
    assert numbers(daemon) == ["201"]
    assert numbers(daemon, running=True) == []

    shown = daemon.cli("ext", "show", "201")
    assert shown.returncode == 0 and "Ada Lovelace" in shown.stdout
    assert secret not in shown.stdout          # masked unless revealed
    revealed = daemon.cli("--json", "ext", "show", "201", "--reveal")
    assert revealed.json["auth.password"] == secret

    assert daemon.cli("commit").returncode == 0
    assert numbers(daemon, running=True) == ["201"]
    assert pending(daemon) == []

    r = daemon.cli("ext", "edit", "201", "--set", "phone.nat=true")
    assert r.returncode == 0, r
    assert daemon.cli("--json", "ext", "show", "201").json["phone.nat"] is True
    assert daemon.cli("--json", "ext", "show", "201",
                      "--running").json["phone.nat"] is False
    assert daemon.cli("commit").returncode == 0

    assert daemon.cli("ext", "rm", "201").returncode == 0
    assert daemon.cli("commit").returncode == 0
    assert numbers(daemon, running=True) == []
    r = daemon.cli("ext", "show", "201")
    assert r.returncode == 1 and "201" in r.stderr


REFUSALS = [
    ("bad name", ["--name", "Ada", "--password", STRONG, "--vm-pin", "583920"],
     ["name.format"]),
    ("weak password", ["--password", "abc", "--vm-pin", "583920"],
     ["sip.min_length", "sip.min_upper", "sip.min_digits"]),
    ("username not number", ["--password", STRONG, "--vm-pin", "583920",
                             "--set", "auth.username=999"],
     ["auth.username"]),
    ("unknown field", ["--password", STRONG, "--vm-pin", "583920",
                       "--set", "no.such_field=1"], ["field.unknown"]),
    ("field not for type", ["--type", "ring_group", "--set",
                            "phone.nat=true"], ["field.not_for_type|field.type"]),
    ("ring group with mailbox", ["--type", "ring_group", "--set",
                                 "voicemail.enabled=true"], ["voicemail"]),
    ("trivial pin", ["--password", STRONG, "--vm-pin", "123456"],
     ["vm.no_trivial"]),
]


@pytest.mark.parametrize("case,args,rules", REFUSALS,
                         ids=[c[0] for c in REFUSALS])
def test_refused_changes_nothing(daemon, case, args, rules):
    assert add(daemon, "200", "--generate-password",
               "--generate-pin").returncode == 0
    assert daemon.cli("commit").returncode == 0
    before_list = numbers(daemon)
    argv = ["ext", "add", "301", "--name", "Ada Lovelace"]
    if "--type" not in args:
        argv += ["--type", "sip"]
    r = daemon.cli(*argv, *args)
    assert r.returncode == 1, r
    for rule in rules:   # "a|b": the store may use either code
        assert any(alt in r.stderr for alt in rule.split("|")), \
            (rule, r.stderr)
    assert "refused" in r.stderr
    assert numbers(daemon) == before_list
    assert pending(daemon) == []


def test_duplicate_number_refused(daemon):
    assert add(daemon, "201", "--generate-password",
               "--generate-pin").returncode == 0
    r = add(daemon, "201", "--generate-password", "--generate-pin",
            name="Alan Turing")
    assert r.returncode == 1 and "number" in r.stderr, r
    shown = daemon.cli("--json", "ext", "show", "201").json
    assert shown["name"] == "Ada Lovelace"


def test_usage_errors_exit_2(daemon, tmp_path):
    assert daemon.cli("ext", "add").returncode == 2
    assert daemon.cli("ext", "add", "201", "--type", "sip").returncode == 2
    assert daemon.cli("ext", "add", "201", "--type", "sip", "--name", "A B",
                      "--password", "x", "--generate-password").returncode == 2
    assert daemon.cli("nonsense").returncode == 2
    r = subprocess.run([str(BULWARK), "--data", str(tmp_path / "nowhere"),
                        "ext", "list"], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == 2 and "cannot reach bulwarkd" in r.stderr


def test_policy_change_autofix_off_then_on(daemon):
    for n, name in (("201", "Ada Lovelace"), ("202", "Alan Turing")):
        assert add(daemon, n, "--generate-password", "--generate-pin",
                   name=name).returncode == 0
    assert daemon.cli("commit").returncode == 0
    running_before = {n: daemon.cli("--json", "ext", "show", n, "--running",
                                    "--reveal").json["auth.password"]
                      for n in ("201", "202")}

    # Staged policy change: stored secrets are re-checked at commit.
    assert daemon.cli("policy", "set", "sip.min_length=30").returncode == 0
    r = daemon.cli("commit")
    assert r.returncode == 1, r
    for n in ("201", "202"):
        assert re.search(rf"{n}: auth\.password: .*\[sip\.min_length\]",
                         r.stderr), r.stderr
    for n, pw in running_before.items():
        assert daemon.cli("--json", "ext", "show", n, "--running",
                          "--reveal").json["auth.password"] == pw
    pol = daemon.cli("--json", "policy", "show").json
    assert pol["running"]["sip.min_length"] == 8
    assert pol["staged"]["sip.min_length"] == 30

    # Dry run with auto-fix on changes nothing either.
    assert daemon.cli("policy", "set", "auto_fix=true").returncode == 0
    r = daemon.cli("--json", "commit", "--dry-run")
    assert r.returncode == 0, r
    assert {f["number"] for f in r.json["fixed"]} == {"201", "202"}
    assert daemon.cli("--json", "policy",
                      "show").json["running"]["sip.min_length"] == 8

    r = daemon.cli("commit")
    assert r.returncode == 0, r
    for n in ("201", "202"):
        m = re.search(rf"^{n}\s+auth\.password\s+(\S+)$", r.stdout, re.M)
        assert m, r.stdout
        assert len(m.group(1)) >= 30
        assert daemon.cli("--json", "ext", "show", n, "--running",
                          "--reveal").json["auth.password"] == m.group(1)
    assert pending(daemon) == []


def test_dry_run_and_discard(daemon):
    assert add(daemon, "201", "--generate-password",
               "--generate-pin").returncode == 0
    r = daemon.cli("commit", "--dry-run")
    assert r.returncode == 0 and "nothing was written" in r.stdout, r
    assert numbers(daemon, running=True) == []
    assert len(pending(daemon)) == 1
    r = daemon.cli("discard")
    assert r.returncode == 0, r
    assert pending(daemon) == [] and numbers(daemon) == []


def test_bulk_then_commit(daemon):
    r = daemon.cli("--json", "ext", "bulk", "--range", "200-299", "--type",
                   "sip")
    assert r.returncode == 0, r
    created = r.json["created"]
    assert [c["number"] for c in created] == [str(n) for n in range(200, 300)]
    for c in created:
        assert re.fullmatch(r"[A-Za-z0-9]{8,}", c["auth.password"]), c
        assert re.fullmatch(r"[0-9]{6,}", c["voicemail.pin"]), c
    assert daemon.cli("commit").returncode == 0
    assert numbers(daemon, running=True) == [str(n) for n in range(200, 300)]


def test_csv_import_bad_row_and_round_trip(daemon, make_daemon, tmp_path):
    add_many(daemon, 200, 5)
    assert daemon.cli("commit").returncode == 0
    exported = daemon.cli("ext", "export", "--running")
    assert exported.returncode == 0 and exported.stdout.startswith("number,")
    lines = exported.stdout.strip().splitlines()
    assert len(lines) == 6

    other = make_daemon().start()
    good = tmp_path / "good.csv"
    good.write_text(exported.stdout)
    # One bad row (row 4: a name with a digit): nothing is imported.
    bad_lines = list(lines)
    cols = bad_lines[3].split(",")
    cols[2] = "Bad Name9"
    bad_lines[3] = ",".join(cols)
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(bad_lines) + "\n")
    r = other.cli("ext", "import", str(bad))
    assert r.returncode == 1, r
    assert "row 4" in r.stderr, r.stderr
    assert numbers(other) == [] and pending(other) == []

    r = other.cli("ext", "import", str(good))
    assert r.returncode == 0, r
    assert numbers(other) == [str(n) for n in range(200, 205)]
    assert other.cli("commit").returncode == 0
    again = other.cli("ext", "export", "--running")
    assert again.stdout == exported.stdout


def test_licences_limit_exceeded(daemon):
    assert daemon.cli("settings", "set", "limits", "user=2").returncode == 0
    add_many(daemon, 200, 3)
    r = daemon.cli("commit")
    assert r.returncode == 1 and "licen" in r.stderr.lower(), r
    assert numbers(daemon, running=True) == []
    lic = daemon.cli("--json", "licences").json
    assert lic["user"]["staged"] == 3 and lic["user"]["limit"] == 2
    r = daemon.cli("licences")
    assert r.returncode == 0 and "user" in r.stdout


def test_passwd_generate(daemon):
    r = daemon.cli("passwd", "generate", "--sip")
    assert r.returncode == 0
    pw = r.stdout.strip()
    assert re.fullmatch(r"[A-Za-z0-9]{16,}", pw)
    assert len(re.findall(r"[A-Z]", pw)) >= 2
    assert len(re.findall(r"[0-9]", pw)) >= 2
    r = daemon.cli("passwd", "generate", "--vm")
    assert r.returncode == 0 and re.fullmatch(r"[0-9]{6,}", r.stdout.strip())
    assert daemon.cli("passwd", "generate").returncode == 2


def test_files_and_modes(daemon):
    data = daemon.data_dir
    assert stat.S_IMODE(os.stat(data).st_mode) == 0o700
    st = os.stat(data / "control.sock")
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
    assert stat.S_IMODE(os.stat(data / "secret.key").st_mode) == 0o600
    assert os.path.getsize(data / "secret.key") == 32
    assert (data / "bulwark.db").exists()


def test_sigterm_exits_0_and_removes_socket(make_daemon):
    d = make_daemon().start()
    assert os.path.exists(d.sock)
    assert d.stop(signal.SIGTERM) == 0
    assert not os.path.exists(d.sock)
    assert "stopped" in d.log()


def test_stale_socket_after_kill(make_daemon):
    d = make_daemon().start()
    assert d.kill() == -signal.SIGKILL
    assert os.path.exists(d.sock)      # left behind by SIGKILL
    d.start()                          # replaced, daemon starts
    assert d.cli("status").returncode == 0


def test_tcp_admin_api_auth(make_daemon):
    from conftest import free_port
    port = free_port()
    d = make_daemon(http=f"127.0.0.1:{port}").start()
    out = d.log()
    pw_file = d.data_dir / "admin-password"
    pw = pw_file.read_text().strip()
    assert len(pw) >= 20
    assert stat.S_IMODE(os.stat(pw_file).st_mode) == 0o600
    assert pw not in out and str(pw_file) in out     # never on stdout
    url = f"http://127.0.0.1:{port}"
    hash_file = d.data_dir / "admin.hash"
    assert stat.S_IMODE(os.stat(hash_file).st_mode) == 0o600
    assert pw not in hash_file.read_text()
    assert hash_file.read_text().startswith("$argon2id$")

    def tcp(*args, user=None):
        argv = [str(BULWARK), "--url", url]
        if user:
            argv += ["--user", user]
        return subprocess.run(argv + list(args), capture_output=True,
                              text=True, timeout=30)

    t0 = time.monotonic()
    r = tcp("status")
    assert r.returncode == 1 and "Authentication" in r.stderr, r.stderr
    r = tcp("status", user="admin:wrong-password")
    assert r.returncode == 1
    assert time.monotonic() - t0 >= 1.5     # each failure is delayed
    r = tcp("status", user=f"root:{pw}")
    assert r.returncode == 1
    r = tcp("--json", "status", user=f"admin:{pw}")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["daemon"] == "bulwarkd"
    # A failing client does not hold up others: the unix socket answers
    # while a wrong login is being delayed.
    slow = subprocess.Popen([str(BULWARK), "--url", url, "--user", "admin:x",
                             "status"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        t1 = time.monotonic()
        assert tcp("status", user=f"admin:{pw}").returncode == 0
        assert time.monotonic() - t1 < 0.8
    finally:
        slow.wait(10)
    # Neither a restart nor the failed logins put it in the log.
    d.restart()
    assert pw not in d.log()


def test_reset_admin(make_daemon):
    from conftest import BULWARKD, free_port
    port = free_port()
    d = make_daemon(http=f"127.0.0.1:{port}").start()
    pw_file = d.data_dir / "admin-password"
    old = pw_file.read_text().strip()
    r = subprocess.run([str(BULWARKD), "--data", str(d.data_dir),
                        "--reset-admin"], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    new = pw_file.read_text().strip()
    assert new != old and new not in r.stdout
    url = f"http://127.0.0.1:{port}"

    def st(pw):
        return subprocess.run([str(BULWARK), "--url", url, "--user",
                               f"admin:{pw}", "status"], capture_output=True,
                              text=True, timeout=30).returncode
    assert st(new) == 0
    assert st(old) == 1
