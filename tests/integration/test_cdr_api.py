"""Calls and call records through the real daemon, its API and its CLI:
GET /api/v1/cdr and `bulwark cdr` (empty on a fresh daemon; rows as the
store reads them; since/limit filtering; a bad since/limit is refused
naming the parameter and its rule), GET /api/v1/calls and `bulwark calls`
(503 until the call layer runs, then a list)."""
import sqlite3
import urllib.parse

T0 = 1764936000000          # 2025-12-05T12:00:00.000Z

GOOD_SINCE = ["0", "1764936000000", "2025-12-05", "2025-12-05T12:00",
              "2025-12-05T12:00:00Z", "2025-12-05T12:00:00.250Z",
              "2025-12-05t12:00:00,5z", "2025-12-05 12:00",
              "2025-12-05T13:00:00+01:00", "2025-12-05T07:00-0500",
              "2024-02-29", "9999-12-31T23:59:59.999Z"]
BAD_SINCE = ["yesterday", "2025-13-01", "2025-02-29", "2025-12-5",
             "2025-12-05T24:00", "2025-12-05T12:60", "2025-12-05T12",
             "2025-12-05T12:00:00.", "2025-12-05T12:00+25:00",
             "2025-12-05T12:00Zjunk", "1969-12-31", "-5", "1e9", "+5",
             "9999999999999999", "1970-01-01T00:00+01:00", "12:00"]
BAD_LIMIT = ["0", "10001", "abc", "-1", "1.5", "100000", " 5", "0x10"]


def q(**params):
    return "/cdr?" + urllib.parse.urlencode(params)


def assert_bad(status, body, name):
    assert status == 400, body
    assert f"'{name}'" in body["error"], body
    assert f"rule cdr.{name}" in body["error"], body
    assert [(e["field"], e["rule"]) for e in body["errors"]] == \
        [(name, f"cdr.{name}")], body


def test_cdr_empty_on_a_fresh_daemon(daemon):
    st, body = daemon.api("GET", "/cdr")
    assert (st, body) == (200, [])
    for since in GOOD_SINCE:
        st, body = daemon.api("GET", q(since=since, limit=1))
        assert (st, body) == (200, []), since
    st, body = daemon.api("GET", q(since="", limit=""))
    assert (st, body) == (200, [])
    r = daemon.cli("--json", "cdr")
    assert r.returncode == 0, r
    assert r.json == []
    r = daemon.cli("cdr", "--since", "2025-12-05T12:00Z", "--limit", "5")
    assert r.returncode == 0, r
    assert r.stdout.strip() == "No call records."


def test_cdr_bad_since_and_limit(daemon):
    for since in BAD_SINCE:
        st, body = daemon.api("GET", q(since=since))
        assert_bad(st, body, "since")
    for limit in BAD_LIMIT:
        st, body = daemon.api("GET", q(limit=limit))
        assert_bad(st, body, "limit")
    # since is checked first, and each alone names itself
    st, body = daemon.api("GET", q(since="x", limit="0"))
    assert_bad(st, body, "since")

    r = daemon.cli("cdr", "--since", "yesterday")
    assert r.returncode == 1, r
    assert "since" in r.stderr and "cdr.since" in r.stderr, r
    r = daemon.cli("--json", "cdr", "--limit", "0")
    assert r.returncode == 1, r
    assert r.json["errors"][0]["rule"] == "cdr.limit", r
    r = daemon.cli("cdr", "--limit")
    assert r.returncode == 2 and "--limit needs a value" in r.stderr, r
    r = daemon.cli("cdr", "--bogus")
    assert r.returncode == 2 and "usage: bulwark cdr" in r.stderr, r


def insert(db, **kw):
    """A row as the CDR writer stores it (migrations 7, 8), written from
    outside: the daemon's reader is what is under test here."""
    row = dict(id="c1", start_ms=T0, answer_ms=0, end_ms=T0 + 1000,
               caller="201", callee="", dialled="202",
               disposition="noanswer", cause=487, hangup_side="caller",
               reason="cancel", codec="", pkts_caller=0, pkts_callee=0,
               lost_caller=0, lost_callee=0, dropped_caller=0,
               dropped_callee=0)
    row.update(kw)
    con = sqlite3.connect(db, timeout=10)
    with con:
        con.execute(f"INSERT INTO cdr ({', '.join(row)}) VALUES "
                    f"({', '.join('?' * len(row))})", list(row.values()))
    con.close()


def test_cdr_rows_since_limit_and_cli(daemon):
    db = str(daemon.data_dir / "bulwark.db")
    insert(db, id="c-answered", start_ms=T0, answer_ms=T0 + 4250,
           end_ms=T0 + 65999, callee="202", disposition="answered",
           cause=200, hangup_side="callee", reason="bye",
           codec="PCMU/8000", pkts_caller=3050, pkts_callee=3049,
           lost_caller=3, lost_callee=7, dropped_caller=11,
           dropped_callee=13)
    insert(db, id="c-cancelled", start_ms=T0 + 100000,
           end_ms=T0 + 130000, disposition="cancelled")
    insert(db, id="c-old", start_ms=T0 - 86400000,
           end_ms=T0 - 86400000 + 5000, disposition="busy", cause=486,
           forward_rule="forward_busy", forward_from="202",
           forward_to="203")

    st, body = daemon.api("GET", "/cdr")
    assert st == 200, body
    assert [r["id"] for r in body] == ["c-cancelled", "c-answered", "c-old"]
    a = body[1]
    assert a == {
        "id": "c-answered", "start": "2025-12-05T12:00:00.000Z",
        "start_ms": T0, "answer": "2025-12-05T12:00:04.250Z",
        "answer_ms": T0 + 4250, "end": "2025-12-05T12:01:05.999Z",
        "end_ms": T0 + 65999, "duration_s": 61, "caller": "201",
        "callee": "202", "dialled": "202", "disposition": "answered",
        "cause": 200, "hangup_side": "callee", "reason": "bye",
        "codec": "PCMU/8000", "packets": {"caller": 3050, "callee": 3049},
        "lost": {"caller": 3, "callee": 7},
        "dropped": {"caller": 11, "callee": 13}, "forward_rule": "",
        "forward_from": "", "forward_to": "", "recording": "",
        "trunk": "", "route": ""}
    assert body[0]["answer"] is None and body[0]["duration_s"] == 0

    st, body = daemon.api("GET", q(since="2025-12-05"))
    assert [r["id"] for r in body] == ["c-cancelled", "c-answered"]
    st, body = daemon.api("GET", q(since=T0 + 65999))
    assert [r["id"] for r in body] == ["c-cancelled", "c-answered"]
    st, body = daemon.api("GET", q(since=T0 + 66000))
    assert [r["id"] for r in body] == ["c-cancelled"]
    st, body = daemon.api("GET", q(since="2025-12-05T13:01:06+01:00"))
    assert [r["id"] for r in body] == ["c-cancelled"]
    st, body = daemon.api("GET", q(limit=2))
    assert [r["id"] for r in body] == ["c-cancelled", "c-answered"]

    r = daemon.cli("--json", "cdr", "--since", "2025-12-05T12:00Z",
                   "--limit", "1")
    assert r.returncode == 0, r
    assert [x["id"] for x in r.json] == ["c-cancelled"]
    r = daemon.cli("cdr")
    assert r.returncode == 0, r
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["END", "CALLER", "DIALLED", "CALLEE",
                                "DISPOSITION", "CAUSE", "DURATION",
                                "CODEC", "REASON", "FORWARDED"], r
    assert len(lines) == 4, r
    assert "2025-12-05 12:01:05Z" in lines[2] and "answered" in lines[2]
    assert "1:01" in lines[2] and "PCMU/8000" in lines[2], r
    assert "busy" in lines[3] and "486" in lines[3], r
    assert lines[3].split()[-2:] == ["202>203", "(forward_busy)"], r
    # empty fields (no callee, no codec) show as "-"
    assert lines[1].split()[4:] == ["-", "cancelled", "487", "0:00", "-",
                                    "cancel", "-"], r


def has_call_layer(daemon):
    st, body = daemon.api("GET", "/sip/status")
    assert st == 200, body
    return "calls" in body


def test_calls_503_until_the_call_layer_runs(daemon):
    st, body = daemon.api("GET", "/calls")
    r = daemon.cli("--json", "calls")
    t = daemon.cli("calls")
    if has_call_layer(daemon):
        assert st == 200 and isinstance(body, list), body
        assert body == []              # a fresh daemon: no call
        assert r.returncode == 0 and r.json == [], r
        assert t.returncode == 0, t
        assert t.stdout.strip() == "No calls in progress.", t
    else:
        assert st == 503, body
        assert "call service is not running" in body["error"], body
        assert r.returncode == 1 and r.json["error"] == body["error"], r
        assert t.returncode == 1, t
        assert "call service is not running" in t.stderr, t
    assert daemon.cli("calls", "extra").returncode == 2
    for cmd in ("calls", "cdr"):
        r = daemon.cli("help", cmd)
        assert r.returncode == 0 and f"bulwark {cmd}" in r.stdout, r
