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


def _attack_then_probe(daemon, user, first_src, pw):
    """dist_sources (3) sources fail on user, then one more stranger
    tries: returns ([(code, seconds)] of the three, (code, seconds, raw
    answer) of the stranger)."""
    fails = []
    for i in range(3):
        u = Uac(daemon, user, src=f"127.0.0.{first_src + i}")
        u.s.settimeout(6)
        fails.append(_attempt(u, f"Wrong{i}Guess{i}x"))
        u.close()
    s = Uac(daemon, user, src=f"127.0.0.{first_src + 3}")
    s.s.settimeout(6)
    chal = s.tx(s.msg())
    assert status(chal) == 401, chal
    t0 = time.monotonic()
    raw = s.tx(s.msg(auth=s.auth(chal, pw)))
    took = time.monotonic() - t0
    s.close()
    return fails, (status(raw), took, raw)


def _shape(raw):
    """An answer without what echoes the request (Via, From, To with its
    tag, Call-ID, CSeq): the status line and the other header lines."""
    echoed = ("via:", "from:", "to:", "call-id:", "cseq:")
    lines = raw.split("\r\n")
    return [lines[0]] + [ln for ln in lines[1:]
                         if not ln.lower().startswith(echoed)]


def test_tarpit_same_for_real_and_unknown_extensions(daemon):
    """Issue 8, item 4: after dist_sources sources fail on a real
    extension its 403s came late while a non-existent one's came at once,
    which told an attacker which extensions exist. Both now go the same
    way: same delay, same bytes."""
    r = daemon.cli("settings", "set", "guard", "dist_sources=3",
                   "tarpit_ms=1500")
    assert r.returncode == 0, r
    add_ext(daemon, "201", PW["201"], extra=("phone.qualify=false",))
    commit(daemon)

    real_fails, real = _attack_then_probe(daemon, "201", 31, "Wrong7x")
    unk_fails, unk = _attack_then_probe(daemon, "299", 41, "Wrong7x")
    print(f"real 201: {real_fails} then {real[:2]}; unknown 299: "
          f"{unk_fails} then {unk[:2]}")
    for fails in (real_fails, unk_fails):
        assert [c for c, _ in fails] == [403, 403, 403]
        assert fails[0][1] < 1.0 and fails[1][1] < 1.0
        assert fails[2][1] >= 1.4       # the one that starts tarpit mode
    assert real[0] == unk[0] == 403
    assert real[1] >= 1.4 and unk[1] >= 1.4, (real[1], unk[1])
    assert abs(real[1] - unk[1]) < 0.5, (real[1], unk[1])
    assert _shape(real[2]) == _shape(unk[2]), (real[2], unk[2])
    evs = [json.loads(line) for line in
           daemon.cli("--json", "events").stdout.splitlines() if line]
    attacked = {e["extension"] for e in evs
                if e.get("type") == "distributed_attack"}
    assert attacked == {"201", "299"}, attacked
