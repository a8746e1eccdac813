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
