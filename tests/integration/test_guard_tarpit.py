"""Distributed attack on one extension (issue 4): failures from many
sources raise an alert, and authentication attempts on that extension from
sources that never authenticated are answered only after the guard's
tarpit delay — while the extension's real phone is answered at once."""
import json
import time

from test_sip_register import PW, Uac, add_ext, commit, status


def _attempt(u, pw):
    chal = u.tx(u.msg())
    assert status(chal) == 401, chal
    t0 = time.monotonic()
    r = u.tx(u.msg(auth=u.auth(chal, pw)))
    return status(r), time.monotonic() - t0


def test_distributed_attack_tarpits_strangers_not_the_phone(daemon):
    r = daemon.cli("settings", "set", "guard", "dist_sources=3",
                   "tarpit_ms=1500")
    assert r.returncode == 0, r
    # no qualify: this socket is read as a plain request/answer client
    add_ext(daemon, "201", PW["201"], extra=("phone.qualify=false",))
    commit(daemon)

    phone = Uac(daemon, "201", src="127.0.0.5")
    code, took = _attempt(phone, PW["201"])
    assert code == 200 and took < 0.5

    # three sources, one wrong password each: nobody is banned, but the
    # extension is now under a distributed attack
    for i in range(3):
        u = Uac(daemon, "201", src=f"127.0.0.{21 + i}")
        u.s.settimeout(6)
        code, took = _attempt(u, f"Wrong{i}Guess{i}x")
        assert code == 403, (i, code)
        # the failure that crosses dist_sources is already tarpitted
        assert took < 1.0 if i < 2 else took >= 1.4, (i, took)
        u.close()
    r = daemon.cli("--json", "events")     # one JSON object per line
    assert r.returncode == 0, r
    evs = [json.loads(line) for line in r.stdout.splitlines() if line]
    assert any(e.get("type") == "distributed_attack" for e in evs), evs

    # a stranger's attempt is answered only after the tarpit delay ...
    stranger = Uac(daemon, "201", src="127.0.0.24")
    stranger.s.settimeout(6)
    code, took = _attempt(stranger, "Wrong9Guess9x")
    assert code == 403 and took >= 1.4, took
    stranger.close()

    # ... while the real phone, which authenticated before, is not slowed
    code, took = _attempt(phone, PW["201"])
    assert code == 200 and took < 0.5, took
    phone.close()
