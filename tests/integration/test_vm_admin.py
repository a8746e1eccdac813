"""Mailboxes from the administrator's side (api/routes_vm.c, bulwark vm):
list with state, download, delete, unlock; 404s naming the field and
rule; a PIN generated for an extension added with its mailbox on and no
PIN (API and CLI, shown once); the portal's own PIN applying at once is in
test_web_session.py. Messages are put in place as the mailbox store keeps
them (a row in vm_msg, DATA/voicemail/EXT/m-ID.wav)."""
import json
import os
import re
import sqlite3
import time

STRONG = "Kq7Vx9Zr2Pw"
AUDIO = b"RIFF\x24\x00\x00\x00WAVEfmt \x00\x01\xff\xfe" + bytes(range(256))


def put_message(d, number, msg_id, data=AUDIO, folder=0):
    box = d.data_dir / "voicemail" / number
    box.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = box / f"m-{msg_id}.wav"
    path.write_bytes(data)
    os.chmod(path, 0o600)
    db = sqlite3.connect(str(d.data_dir / "bulwark.db"), timeout=10)
    db.execute("INSERT INTO vm_msg(number, id, folder, caller, caller_name,"
               " time_ms, duration_ms, bytes) VALUES (?, ?, ?, '202',"
               " 'Grace Hopper', ?, 4200, ?)",
               (number, msg_id, folder, int(time.time() * 1000), len(data)))
    db.commit()
    db.close()
    return path


def lock(d, number, until_ms, fails=0, level=1):
    db = sqlite3.connect(str(d.data_dir / "bulwark.db"), timeout=10)
    db.execute("INSERT INTO vm_box(number, fails, lock_level, locked_until)"
               " VALUES (?, ?, ?, ?)", (number, fails, level, until_ms))
    db.commit()
    db.close()


def add(d, number):
    st, body = d.api("POST", "/ext", {
        "number": number, "type": "sip", "name": "Ada Lovelace",
        "auth.password": STRONG + number[-1], "voicemail.pin": "583920"})
    assert st == 201, body


def test_vm_api(daemon):
    add(daemon, "201")
    p1 = put_message(daemon, "201", "0000000000001-aaaaaaaa")
    put_message(daemon, "201", "0000000000002-bbbbbbbb", folder=1)
    lock(daemon, "201", int(time.time() * 1000) + 600000, fails=2)

    st, body = daemon.api("GET", "/voicemail/201")
    assert st == 200, body
    assert [m["id"] for m in body["messages"]] == [
        "0000000000001-aaaaaaaa", "0000000000002-bbbbbbbb"]
    m = body["messages"][0]
    assert m["folder"] == "new" and m["caller"] == "202"
    assert m["caller_name"] == "Grace Hopper" and m["bytes"] == len(AUDIO)
    assert m["duration_ms"] == 4200 and "copy_of" not in m
    assert body["messages"][1]["folder"] == "saved"
    assert body["new"] == 1 and body["saved"] == 1
    s = body["state"]
    assert s["locked"] is True and s["fails"] == 2 and s["lock_level"] == 1
    assert s["initialised"] is False

    # download: the bytes of the file
    st, text = daemon.api("GET", "/voicemail/201/0000000000001-aaaaaaaa")
    assert st == 200 and text.startswith("RIFF")

    # unlock
    st, body = daemon.api("POST", "/voicemail/201/unlock")
    assert st == 200 and body["unlocked"] is True
    st, body = daemon.api("GET", "/voicemail/201")
    assert body["state"]["locked"] is False
    assert body["state"]["fails"] == 0 and body["state"]["lock_level"] == 0

    # delete: row and file
    st, body = daemon.api("DELETE", "/voicemail/201/0000000000001-aaaaaaaa")
    assert st == 200, body
    assert not p1.exists()
    st, body = daemon.api("GET", "/voicemail/201")
    assert [m["id"] for m in body["messages"]] == ["0000000000002-bbbbbbbb"]
    st, body = daemon.api("DELETE", "/voicemail/201/0000000000001-aaaaaaaa")
    assert st == 404
    assert body["errors"][0]["field"] == "id"
    assert body["errors"][0]["rule"] == "vm.no_message"


def test_vm_api_refusals(daemon):
    add(daemon, "201")
    # no such extension
    st, body = daemon.api("GET", "/voicemail/999")
    assert st == 404 and "999" in body["error"]
    assert body["errors"][0]["field"] == "number"
    assert body["errors"][0]["rule"] == "ext.not_found"
    st, body = daemon.api("POST", "/voicemail/999/unlock")
    assert st == 404
    # ids that are paths, or a file without its row, are never served
    (daemon.data_dir / "voicemail" / "201").mkdir(parents=True)
    (daemon.data_dir / "voicemail" / "201" / "m-stray.wav").write_bytes(AUDIO)
    for bad in ["..%2F..%2Fbulwark.db", "%2e%2e%2fbulwark.db"]:
        st, body = daemon.api("GET", f"/voicemail/201/{bad}")
        assert st == 404, (bad, body)   # no route at all
    for bad in ["..", "m-stray", "stray", "A" * 60, "a.wav"]:
        st, body = daemon.api("GET", f"/voicemail/201/{bad}")
        assert st == 404, (bad, body)
        assert body["errors"][0]["rule"] == "vm.no_message", (bad, body)
    st, body = daemon.api("DELETE", "/voicemail/201/stray")
    assert st == 404
    assert (daemon.data_dir / "voicemail" / "201" / "m-stray.wav").exists()
    # an empty mailbox
    st, body = daemon.api("GET", "/voicemail/201")
    assert st == 200 and body["messages"] == [] and body["new"] == 0


def test_vm_cli(daemon, tmp_path):
    add(daemon, "201")
    put_message(daemon, "201", "0000000000001-aaaaaaaa")
    lock(daemon, "201", int(time.time() * 1000) + 600000)

    r = daemon.cli("vm", "list", "201")
    assert r.returncode == 0, r.stderr
    assert "LOCKED" in r.stdout and "0000000000001-aaaaaaaa" in r.stdout
    assert "Grace Hopper" in r.stdout
    r = daemon.cli("vm", "list", "201", "--json")
    assert r.returncode == 0
    j = json.loads(r.stdout)
    assert j["state"]["locked"] is True and len(j["messages"]) == 1

    out = tmp_path / "msg.wav"
    r = daemon.cli("vm", "get", "201", "0000000000001-aaaaaaaa", "-o", out)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == AUDIO
    assert (out.stat().st_mode & 0o777) == 0o600
    # never over an existing file
    r = daemon.cli("vm", "get", "201", "0000000000001-aaaaaaaa", "-o", out)
    assert r.returncode != 0

    r = daemon.cli("vm", "unlock", "201")
    assert r.returncode == 0, r.stderr
    assert "not locked" in daemon.cli("vm", "list", "201").stdout

    r = daemon.cli("vm", "delete", "201", "0000000000001-aaaaaaaa")
    assert r.returncode == 0, r.stderr
    assert "No messages" in daemon.cli("vm", "list", "201").stdout
    r = daemon.cli("vm", "delete", "201", "0000000000001-aaaaaaaa")
    assert r.returncode == 1 and "vm.no_message" in r.stderr
    r = daemon.cli("vm", "list", "999")
    assert r.returncode == 1 and "ext.not_found" in r.stderr
    r = daemon.cli("vm", "get", "201", "x")
    assert r.returncode == 2


def test_add_generates_pin(daemon):
    # API: mailbox on by default, no PIN given: one generated, shown once
    st, body = daemon.api("POST", "/ext", {
        "number": "201", "type": "sip", "name": "Ada Lovelace",
        "auth.password": STRONG + "1"})
    assert st == 201, body
    pin = body["generated"]["voicemail.pin"]
    assert re.fullmatch(r"[0-9]{6,}", pin)
    st, ext = daemon.api("GET", "/ext/201?staged=1&reveal=1")
    assert ext["voicemail.pin"] == pin
    st, ext = daemon.api("GET", "/ext/201?staged=1")
    assert ext["voicemail.pin"] == "********"
    # CLI: printed once
    r = daemon.cli("ext", "add", "202", "--type", "sip", "--name",
                   "Alan Turing", "--password", STRONG + "2")
    assert r.returncode == 0, r.stderr
    m = re.search(r"voicemail\.pin\s+([0-9]{6,})", r.stdout)
    assert m, r.stdout
    st, ext = daemon.api("GET", "/ext/202?staged=1&reveal=1")
    assert ext["voicemail.pin"] == m.group(1)
    # no mailbox: no PIN
    st, body = daemon.api("POST", "/ext", {
        "number": "203", "type": "sip", "name": "Grace Hopper",
        "auth.password": STRONG + "3", "voicemail.enabled": False})
    assert st == 201, body
    assert "voicemail.pin" not in body["generated"]
    # clearing the PIN of a mailbox is still refused
    st, body = daemon.api("PATCH", "/ext/201", {"voicemail.pin": ""})
    assert st == 422, body
    assert any(e["field"] == "voicemail.pin" and e["rule"] == "field.required"
               for e in body["errors"]), body
