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
