"""Issue 10: the places a new administrator tripped over — each point of
the issue checked through the real daemon, CLI and API."""
import json
import os
import stat
import subprocess

import pytest

from conftest import BULWARK, BULWARKD, BUILD, ROOT


def add(daemon, number, *extra, type_="sip", name="Ada Lovelace"):
    return daemon.cli("ext", "add", number, "--type", type_, "--name", name,
                      *extra)


def rules(res):
    """Rule codes of a refused CLI call (the '[rule]' of each finding)."""
    out = []
    for line in res.stderr.splitlines():
        line = line.strip()
        if line.startswith("- ") and line.endswith("]"):
            out.append(line.rsplit("[", 1)[1][:-1])
    return out


# ---- 1. the manual's new-mailbox procedure, every number length --------

@pytest.mark.parametrize("number", ["20", "201", "2001", "20000001"])
def test_extension_as_first_pin_any_length(daemon, number):
    r = add(daemon, number, "--generate-password", "--vm-pin", number)
    assert r.returncode == 0, r
    r = daemon.cli("commit")
    assert r.returncode == 0, r
    shown = daemon.cli("--json", "ext", "show", number).json
    assert shown["voicemail.must_change"] is True


def test_extension_as_pin_needs_force_new_user(daemon):
    r = add(daemon, "201", "--generate-password", "--vm-pin", "201",
            "--set", "voicemail.force_greeting=false")
    assert r.returncode == 1, r
    assert "vm.min_length" in rules(r)
    assert "vm.no_extension" in rules(r)
    assert "field.length" not in rules(r)


# ---- 3. errors that name the right thing --------------------------------

def test_hotdesk_pin_error_names_hotdesk_pin(daemon):
    r = add(daemon, "301", "--generate-pin", "--set", "hotdesk.pin=1234",
            type_="hotdesk", name="Hot Desk")
    assert r.returncode == 1, r
    findings = [l for l in r.stderr.splitlines() if l.strip().startswith("- ")]
    assert findings and all("hotdesk.pin" in l for l in findings), r
    assert "voicemail.pin" not in r.stderr


def test_choice_any_case_cli_and_api(daemon):
    r = add(daemon, "202", "--generate-password", "--generate-pin",
            "--set", "phone.dtmf_mode=RFC2833")
    assert r.returncode == 0, r
    st, body = daemon.api("PATCH", "/ext/202", {"phone.dtmf_mode": "INFO"})
    assert st == 200, body
    shown = daemon.cli("--json", "ext", "show", "202").json
    assert shown["phone.dtmf_mode"] == "info"


def test_control_character_password_one_rule(daemon):
    assert daemon.cli("policy", "set", "sip.alnum_only=false").returncode == 0
    r = add(daemon, "205", "--password", "Xk9Qm2Lp\tZZ", "--generate-pin")
    assert r.returncode == 1, r
    assert rules(r) == ["sip.charset"], r


def test_bulk_limit_is_one_constant(daemon):
    r = daemon.cli("ext", "bulk", "--range", "10000-20000", "--type", "sip")
    assert r.returncode == 1, r
    assert rules(r) == ["range.max"], r
    assert "10000" in r.stderr
    st, body = daemon.api("POST", "/ext/bulk",
                          {"range": "10000-24999", "type": "sip"})
    assert st == 422 and "10000" in json.dumps(body), body


def _rule_codes_in_source():
    import re
    text = ""
    for p in (ROOT / "src").rglob("*.c"):
        text += p.read_text(errors="replace")
    return set(re.findall(r'"([a-z_0-9]+\.[a-z_0-9.]+)"', text)), text


def test_documented_rule_codes_exist_in_code():
    """Every rule code the admin guide names is one the code reports."""
    import re
    codes, text = _rule_codes_in_source()
    missing = []
    ext = (ROOT / "docs/admin/extensions.md").read_text()
    table = ext.split("## Rules checked at commit", 1)[1].split("## Field", 1)[0]
    for row in table.splitlines():
        if not row.startswith("| `"):
            continue
        for code in re.findall(r"`([a-z_0-9]+\.[a-z_0-9.]+)`", row.split("|")[1]):
            if code not in codes:
                missing.append(("extensions.md", code))
    for page in ("security-policy.md", "firewall.md", "commit.md"):
        doc = (ROOT / "docs/admin" / page).read_text()
        for code in re.findall(r"\(rule `([a-z_0-9]+\.[a-z_0-9.]+)`", doc) + \
                re.findall(r"rule codes?:?\s*((?:`[a-z_0-9.]+`,?\s*)+)", doc, re.I):
            for c in re.findall(r"[a-z_0-9]+\.[a-z_0-9.]+", code):
                if c not in codes and f'"{c}"' not in text:
                    missing.append((page, c))
    assert not missing, missing


# ---- 2. the dictionary cannot vanish silently ---------------------------

def test_status_shows_dictionary_size(daemon):
    st = daemon.cli("--json", "status").json
    d = st["dictionary"]
    assert d["degraded"] is False, d
    assert d["words"] > 70000
    paths = {l["path"].rsplit("/", 1)[-1]: l for l in d["lists"]}
    assert paths["words"]["loaded"] and paths["common-passwords.txt"]["loaded"]
    assert paths["common-passwords.txt"]["words"] > 0
    human = daemon.cli("status")
    assert human.returncode == 0
    assert f"{d['words']} distinct words" in human.stdout
    assert "DEGRADED" not in human.stdout
    # the example: only the common-password list knows "letmein"
    r = add(daemon, "201", "--password", "Letmein24XY", "--generate-pin")
    assert r.returncode == 1 and "sip.dict_min_word" in rules(r), r


def test_missing_word_list_is_loud_and_persistent(make_daemon, tmp_path,
                                                  monkeypatch):
    empty = tmp_path / "share"
    empty.mkdir()
    monkeypatch.setenv("BULWARK_SHARE", str(empty))
    d = make_daemon().start()
    assert "DEGRADED" in d.log() and "common-passwords.txt" in d.log()
    for _ in range(2):   # persistent: every status call says so
        st = d.cli("--json", "status").json["dictionary"]
        assert st["degraded"] is True
        missing = [l["path"] for l in st["lists"] if not l["loaded"]]
        assert missing == [str(empty / "common-passwords.txt")]
        human = d.cli("status").stdout
        assert "DEGRADED" in human and "MISSING" in human


def test_meson_install_ships_the_word_list(tmp_path):
    """meson install into a staging root: the common-password list where
    the installed daemon looks (PREFIX/share/bulwark), both programs, the
    man pages, the systemd unit (clean under systemd-analyze verify) and
    its system user."""
    dest = tmp_path / "root"
    r = subprocess.run(["meson", "install", "-C", str(BUILD), "--no-rebuild",
                        "--destdir", str(dest)], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    opts = json.loads(subprocess.run(
        ["meson", "introspect", str(BUILD), "--buildoptions"],
        capture_output=True, text=True, timeout=60).stdout)
    opt = {o["name"]: o["value"] for o in opts}
    prefix = dest / opt["prefix"].lstrip("/")
    share = prefix / opt["datadir"] / "bulwark"
    assert (share / "common-passwords.txt").read_bytes() == \
        (ROOT / "data" / "common-passwords.txt").read_bytes()
    bindir = prefix / opt["bindir"]
    assert os.access(bindir / "bulwarkd", os.X_OK)
    assert os.access(bindir / "bulwark", os.X_OK)
    # ---- 8. the production install: man pages, unit, system user
    man = prefix / opt["mandir"]
    for page in (man / "man8" / "bulwarkd.8", man / "man1" / "bulwark.1"):
        r = subprocess.run(["groff", "-man", "-ww", "-z", str(page)],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and not r.stderr, (page, r.stderr)
    sysusers = prefix / "lib" / "sysusers.d" / "bulwark.conf"
    assert sysusers.read_text().split("\n")[1].startswith("u bulwark ")
    unit = prefix / "lib" / "systemd" / "system" / "bulwarkd.service"
    text = unit.read_text()
    want = f"ExecStart={opt['prefix']}/{opt['bindir']}/bulwarkd "
    assert want in text, text
    # systemd-analyze verify checks that ExecStart exists: point it at
    # the staged binary (the only line changed)
    staged = tmp_path / "bulwarkd.service"
    staged.write_text(text.replace(want, f"ExecStart={bindir}/bulwarkd "))
    r = subprocess.run(["systemd-analyze", "verify", str(staged)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and not r.stderr.strip(), r.stderr


# ---- 5. web and call passwords follow a policy --------------------------

def test_weak_web_password_refused(daemon):
    base = ["--generate-password", "--generate-pin", "--set",
            "web.enabled=true", "--set", "web.username=ada.l"]
    for weak, rule in (("password", "web.min_length"),
                       ("Password2024", "web.dict_min_word"),
                       ("xx-ada.l-xx-qz", "web.no_username")):
        r = add(daemon, "201", *base, "--set", f"web.password={weak}")
        assert r.returncode == 1, r
        assert rule in rules(r), (weak, r)
        assert all(l.split(": ", 1)[1].startswith("web.password")
                   for l in r.stderr.splitlines()
                   if l.strip().startswith("- ")), r
    # auto-fix cannot repair a password only its owner knows: still refused
    assert daemon.cli("policy", "set", "auto_fix=true").returncode == 0
    r = add(daemon, "201", *base, "--set", "web.password=password")
    assert r.returncode == 1 and "web.min_length" in rules(r), r
    r = add(daemon, "201", *base, "--set", "web.password=qz86 vbnm jrkx")
    assert r.returncode == 0, r
    st, pol = daemon.api("GET", "/policy")
    keys = json.dumps(pol)
    assert "web.min_length" in keys and "web.no_username" in keys


def test_weak_call_password_refused(daemon):
    r = add(daemon, "201", "--generate-password", "--generate-pin",
            "--set", "security.call_password=1234")
    assert r.returncode == 1, r
    assert "vm.no_trivial" in rules(r) and "vm.min_length" in rules(r), r
    assert "security.call_password" in r.stderr
    assert "voicemail.pin" not in r.stderr
    r = add(daemon, "201", "--generate-password", "--generate-pin",
            "--set", "security.call_password=583920")
    assert r.returncode == 0, r


# ---- 4. validation where it can be done ---------------------------------

def test_firewall_port_conflict_refused_at_commit_and_dry_run(daemon):
    # ssh moved onto the port bulwarkd serves SIP on (--sip)
    r = daemon.cli("settings", "set", "firewall", "type=single",
                   f"ssh_port={daemon.sip_port}", "permit.ssh=any")
    assert r.returncode == 0, r
    for args in (("commit", "--dry-run"), ("commit",)):
        r = daemon.cli(*args)
        assert r.returncode == 1, r
        assert "firewall.port_conflict" in rules(r), r
        assert "sip-tcp" in r.stderr
    assert daemon.cli("--json", "pending").json, "the change stays staged"
    r = daemon.cli("settings", "set", "firewall", "ssh_port=22")
    assert r.returncode == 0 and daemon.cli("commit").returncode == 0


def test_unknown_interface_refused_at_staging(daemon):
    r = daemon.cli("settings", "set", "firewall", "lan=nosuch9")
    assert r.returncode == 1, r
    assert rules(r) == ["firewall.unknown_interface"], r
    assert "nosuch9" in r.stderr
    assert daemon.cli("--json", "pending").json == []


def _interfaces():
    out = subprocess.run(["ip", "-j", "addr"], capture_output=True,
                         text=True, timeout=30).stdout
    res = []
    for i in json.loads(out or "[]"):
        if "LOOPBACK" in i.get("flags", []):
            continue
        addrs = [a for a in i.get("addr_info", [])
                 if not (a.get("family") == "inet6" and
                         a.get("scope") == "link")]
        res.append((i["ifname"], "UP" in i.get("flags", []), bool(addrs)))
    return res


def test_down_bare_interfaces_do_not_make_a_gateway(daemon):
    ifs = _interfaces()
    usable = [n for n, up, addr in ifs if up or addr]
    bare = [n for n, up, addr in ifs if not up and not addr]
    if len(usable) != 1 or not bare:
        pytest.skip(f"needs one usable and one down, unaddressed "
                    f"interface: {ifs}")
    r = daemon.cli("settings", "set", "firewall", "type=gateway",
                   f"lan={bare[0]}")
    assert r.returncode == 0, r
    r = daemon.cli("commit", "--dry-run")
    assert r.returncode == 1, r
    assert "firewall.gateway_needs_two_interfaces" in rules(r), r
    st, body = daemon.api("GET", "/firewall/wizard/type")
    assert "gateway" not in [o["value"] for o in body["options"]], body


# ---- 6. generated secrets the admin can collect -------------------------

CSV = ("number,type,name\n"
       "401,sip,Ada Lovelace\n"
       "402,voicemail,Alan Turing\n")


def _secrets(path):
    lines = path.read_text().splitlines()
    assert lines[0] == "number,auth.password,voicemail.pin"
    return {l.split(",")[0]: l.split(",")[1:] for l in lines[1:]}


def test_import_secrets_file(daemon, tmp_path):
    src = tmp_path / "new.csv"
    src.write_text(CSV)
    out = tmp_path / "secrets.csv"
    r = daemon.cli("ext", "import", str(src), "--secrets-file", str(out))
    assert r.returncode == 0, r
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    got = _secrets(out)
    assert set(got) == {"401", "402"}
    pw, pin = got["401"]
    assert pw not in r.stdout and pin not in r.stdout
    assert got["402"][0] == "" and got["402"][1].isdigit()
    # they are the stored ones
    shown = daemon.cli("--json", "ext", "show", "401", "--reveal").json
    assert shown["auth.password"] == pw and shown["voicemail.pin"] == pin
    # written once: never overwritten, and nothing staged then
    src.write_text("number,type,name\n403,sip,Grace Hopper\n")
    r = daemon.cli("ext", "import", str(src), "--secrets-file", str(out))
    assert r.returncode == 2 and "never overwritten" in r.stderr, r
    assert _secrets(out) == got
    assert "403" not in daemon.cli("ext", "list").stdout


def test_import_without_file_shows_secrets_once(daemon, tmp_path):
    src = tmp_path / "new.csv"
    src.write_text(CSV)
    r = daemon.cli("ext", "import", str(src))
    assert r.returncode == 0, r
    pw = daemon.cli("--json", "ext", "show", "401",
                    "--reveal").json["auth.password"]
    assert pw in r.stdout and "shown only now" in r.stdout


def test_bulk_secrets_file_and_refusal_leaves_no_file(daemon, tmp_path):
    out = tmp_path / "bulk.csv"
    r = daemon.cli("ext", "bulk", "--range", "500-504", "--type", "sip",
                   "--secrets-file", str(out))
    assert r.returncode == 0, r
    got = _secrets(out)
    assert sorted(got) == ["500", "501", "502", "503", "504"]
    assert all(pw and pw not in r.stdout for pw, _ in got.values())
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    bad = tmp_path / "refused.csv"
    r = daemon.cli("ext", "bulk", "--range", "500-501", "--type", "sip",
                   "--secrets-file", str(bad))
    assert r.returncode == 1, r
    assert not bad.exists()


# ---- 7. classes of service and feature codes are configuration ----------

def test_unknown_class_of_service_refused_at_commit(daemon):
    r = add(daemon, "201", "--generate-password", "--generate-pin",
            "--set", "class_of_service=sales")
    assert r.returncode == 0, r
    r = daemon.cli("commit", "--dry-run")
    assert r.returncode == 1 and rules(r) == ["cos.unknown"], r
    assert "201" in r.stderr and "class_of_service" in r.stderr
    r = daemon.cli("settings", "set", "cos", "sales=voicemail, pickup")
    assert r.returncode == 0, r
    assert daemon.cli("commit").returncode == 0
    cos = daemon.cli("--json", "settings", "show", "cos").json
    cos = cos.get("staged", cos) if isinstance(cos, dict) else cos
    assert "voicemail,pickup" in json.dumps(cos)
    # a class still in use cannot be removed
    assert daemon.cli("settings", "set", "cos", "sales=-").returncode == 0
    r = daemon.cli("commit")
    assert r.returncode == 1 and "cos.unknown" in rules(r), r


def test_classes_and_features_checked(daemon):
    r = daemon.cli("settings", "set", "cos", "sales=voicemail,teleport")
    assert r.returncode == 1 and rules(r) == ["cos.unknown_feature"], r
    r = daemon.cli("settings", "set", "features", "teleport=*99")
    assert r.returncode == 1 and rules(r) == ["features.unknown"], r
    r = daemon.cli("settings", "set", "features", "pickup=97")
    assert r.returncode == 1 and rules(r) == ["features.code_format"], r
    r = daemon.cli("settings", "set", "features", "pickup=*97")
    assert r.returncode == 0, r
    r = daemon.cli("commit")
    assert r.returncode == 1 and "features.duplicate_code" in rules(r), r
    feats = json.dumps(daemon.cli("--json", "settings", "show",
                                  "features").json)
    assert "hotdesk" in feats and "*55" in feats



# ---- 8. the command line a Unix admin expects ---------------------------

def _cli(*args):
    return subprocess.run([str(BULWARK), *args], capture_output=True,
                          text=True, timeout=60)


def test_version_and_help_need_no_daemon():
    r = _cli("--version")
    assert r.returncode == 0 and r.stdout.startswith("bulwark "), r
    assert r.stdout.split()[1][0].isdigit()
    r = _cli("help")
    assert r.returncode == 0 and "Commands:" in r.stdout
    r = _cli("help", "firewall")
    assert r.returncode == 0 and "bulwark firewall apply" in r.stdout
    assert "bulwark ext add" not in r.stdout
    r = _cli("help", "nosuch")
    assert r.returncode == 2 and "nosuch" in r.stderr


def test_ext_fields_is_the_model_table():
    everything = json.loads(_cli("--json", "ext", "fields").stdout)
    hotdesk = json.loads(_cli("--json", "ext", "fields", "--type",
                              "hotdesk").stdout)
    names = {f["field"] for f in hotdesk}
    assert "hotdesk.pin" in names and "auth.password" not in names
    assert all("hotdesk" in f["types"] for f in hotdesk)
    # the field reference of the admin guide lists the same fields
    doc = (ROOT / "docs/admin/extensions.md").read_text()
    import re
    documented = set(re.findall(r"^\| `([a-z0-9_.]+)` \|", doc.split(
        "<!-- BEGIN FIELDS -->")[1], re.M))
    assert documented == {f["field"] for f in everything}
    human = _cli("ext", "fields", "--type", "ring_group").stdout
    assert "ring_group.members" in human and "voicemail.pin" not in human
    assert _cli("ext", "fields", "--type", "fax").returncode == 2


def test_cli_reference_and_man_page_name_every_command():
    """Every command 'bulwark help' lists is in the admin guide
    (docs/admin/*.md: cli.md and the page of its feature) and in
    bulwark(1)."""
    import re
    cmds = set()
    for line in _cli("help").stdout.split("Commands:")[1].splitlines():
        w = line.split()
        if w and w[0][0].isalpha() and line.startswith("  "):
            cmds.add(" ".join(w[:2]) if len(w) > 1 and
                     re.match(r"^[a-z]+$", w[1]) else w[0])
    ref = "".join(p.read_text() for p in (ROOT / "docs/admin").glob("*.md"))
    man = (ROOT / "docs/man/bulwark.1").read_text().replace("\\-", "-")
    missing = [c for c in cmds
               if f"bulwark {c}" not in ref and f"`{c}`" not in ref]
    assert not missing, missing
    tops = {c.split()[0] for c in cmds}
    assert not [t for t in tops if t not in man], tops


def test_status_is_human_readable_json_with_flag(daemon):
    human = daemon.cli("status")
    assert human.returncode == 0
    assert not human.stdout.lstrip().startswith("{")
    assert "listening on" in human.stdout and "daemon" in human.stdout
    assert '{"' not in human.stdout      # no raw JSON objects
    st = daemon.cli("--json", "status").json
    assert st["daemon"] == "bulwarkd" and "sip" in st


# ---- 9. readable bulk-generated names -----------------------------------

def test_bulk_names_read_back_as_the_number(daemon):
    r = daemon.cli("ext", "bulk", "--range", "2019-2020", "--type", "sip")
    assert r.returncode == 0, r
    names = {e["number"]: e["name"]
             for e in daemon.cli("--json", "ext", "list").json}
    assert names == {"2019": "Extension TwoZeroOneNine",
                     "2020": "Extension TwoZeroTwoZero"}
    assert daemon.cli("commit").returncode == 0


# ---- 8. registrations and authentication failures in the daemon log ------

def test_daemon_logs_registrations_and_failures(daemon):
    from test_sip_register import Uac, status
    pw = "Xq7mPz9kLw2R"
    r = add(daemon, "201", "--password", pw, "--vm-pin", "826491")
    assert r.returncode == 0 and daemon.cli("commit").returncode == 0
    u = Uac(daemon, "201")
    try:
        assert status(u.register(pw)) == 200
        assert status(u.register("Wr0ngPassw0rdXY")) == 403
        chal = u.tx(u.msg(to="299"))
        u.tx(u.msg(to="299", auth=u.auth(chal, pw, user="299")))
    finally:
        u.close()
    log = daemon.log()
    assert f"registered: '201' from 127.0.0.1:{u.port}" in log, log
    assert "authentication failed: wrong password: '201'" in log, log
    assert "authentication failed: unknown user: '299'" in log, log
    assert pw not in log and "Wr0ngPassw0rdXY" not in log
    assert "response=" not in log
