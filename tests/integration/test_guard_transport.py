"""A phone with the right password over a transport its extension does
not allow (issue 8, item 7): before, it was recorded as `user_mismatch`
and counted toward a ban, so a misconfigured phone retried its way into
one. Now it gets `403 Transport Not Allowed` (only with the right
password: without it the answer is the usual `403 Forbidden`), a
`transport_refused` event, and is never counted."""
import json

from test_sip_register import PW, Uac, add_ext, commit, status


def _events(d):
    r = d.cli("--json", "events")
    assert r.returncode == 0, r
    return [json.loads(line) for line in r.stdout.splitlines() if line]


def test_wrong_transport_right_password_is_answered_not_banned(daemon):
    add_ext(daemon, "201", PW["201"],
            extra=("phone.transports=tcp", "phone.qualify=false"))
    commit(daemon)
    u = Uac(daemon, "201", src="127.0.0.7")          # UDP
    for i in range(30):          # six times the failure threshold
        r = u.register(PW["201"])
        assert r.startswith("SIP/2.0 403 Transport Not Allowed\r\n"), (i, r)
    assert daemon.cli("bans", "--json").json == []
    evs = _events(daemon)
    tr = [e for e in evs if e["type"] == "transport_refused"]
    assert tr and tr[0]["extension"] == "201", evs
    assert tr[0]["source"] == "127.0.0.7"
    assert not [e for e in evs if e["type"] == "auth_failure"], evs
    st, body = daemon.api("GET", "/guard/status")
    assert body["counters"]["transport_refused"] == 30, body
    assert body["counters"]["auth_fail"] == 0, body

    # Without the password nothing is revealed: the usual 403.
    r = u.register("Wrong1Guess1x")
    assert r.startswith("SIP/2.0 403 Forbidden\r\n"), r
    u.close()

    # Over the allowed transport the same phone registers.
    t = Uac(daemon, "201", tp="tcp", src="127.0.0.7")
    assert status(t.register(PW["201"])) == 200
    t.close()
