"""Toll-fraud hourly counts survive a restart (issue 15): an extension
that used its international calls of the hour is still refused after the
daemon restarts (DATA/toll.json, written off the loop thread), and each
refusal is alerted: a toll_limit security event naming the extension and
the limit, and bulwark_toll_limit_refused_total{limit=...} in /metrics.

The carrier is a SIPp UAS on the trunk's address that answers its one
INVITE 486: a second INVITE reaching it would be a toll the limit let
through."""
import json
import time

from calls_pbx import bounded, start_pbx  # noqa: F401
from calls_sip import status_of
from conftest import wait_for
from test_outbound import (call_final, carrier, invites, needs, refuse_xml,
                           settings, start_sipp, trunk)
from test_sip_register import commit
from test_srtp import metrics

SERIES = 'bulwark_toll_limit_refused_total{limit="%s"}'


def toll_status(d):
    return d.api("GET", "/sip/status")[1]["calls"]["toll"]


@needs["sipp"]
def test_hourly_limit_survives_restart(make_daemon, tmp_path):
    pbx = start_pbx(make_daemon, exts=("201", "202"))
    d = pbx.d
    intl = carrier(tmp_path, "intl", refuse_xml(486, "Busy Here"))
    trunk(d, intl, "id_header=none")
    settings(d, "outbound_routes",
             "intl=patterns=00.;trunks=intl;class=international")
    settings(d, "toll", "ext_international_hour=1",
             "global_international_hour=2")
    commit(d)
    m = metrics(d)
    assert m[SERIES % "ext_per_hour"] == 0, m
    try:
        start_sipp(intl)
        time.sleep(0.3)
        # 201's one international call of the hour reaches the trunk
        final = call_final(pbx, "201", "0033123456")
        assert status_of(final) == 486, final
        assert intl.wait(10) == 0, intl.report()
        saved = d.data_dir / "toll.json"
        assert wait_for(lambda: saved.exists(), 5)
        dump = json.loads(saved.read_text())
        assert list(dump["extensions"]) == ["201"], dump
        assert (saved.stat().st_mode & 0o777) == 0o600

        d.restart()
        assert "toll counts of the last hour restored" in d.log(), d.log()
        st = toll_status(d)
        assert st["international_hour"] == 1, st
        # still refused after the restart, before any trunk
        final = call_final(pbx, "201", "0033123457")
        assert status_of(final) == 403, final
        assert "per hour" in final.split("\r\n", 1)[0], final
    finally:
        intl.stop()
    assert len(invites(intl)) == 1, intl.messages()
    ev = wait_for(lambda: (lambda b: b if b else None)(
        d.api("GET", "/events?type=toll_limit")[1]), 5)
    assert ev, d.log()
    e = ev[-1]
    assert e["extension"] == "201" and e["limit"] == "ext_per_hour" and \
        e["class"] == "international", e
    m = metrics(d)
    assert m[SERIES % "ext_per_hour"] == 1, m
    assert m[SERIES % "global_per_hour"] == 0, m
    assert toll_status(d)["refused"]["ext_per_hour"] == 1


@needs["sipp"]
def test_global_hour_survives_restart(make_daemon, tmp_path):
    """The PBX's hour too: 201 uses the only one, 202 is refused by the
    global limit after a restart (not by its own, which is unused)."""
    pbx = start_pbx(make_daemon, exts=("201", "202"))
    d = pbx.d
    intl = carrier(tmp_path, "intl", refuse_xml(486, "Busy Here"))
    trunk(d, intl, "id_header=none")
    settings(d, "outbound_routes",
             "intl=patterns=00.;trunks=intl;class=international")
    settings(d, "toll", "ext_international_hour=5",
             "global_international_hour=1")
    commit(d)
    try:
        start_sipp(intl)
        time.sleep(0.3)
        final = call_final(pbx, "201", "0033123456")
        assert status_of(final) == 486, final
        assert intl.wait(10) == 0, intl.report()
        assert wait_for(lambda: (d.data_dir / "toll.json").exists(), 5)
        d.restart()
        final = call_final(pbx, "202", "0033123457")
        assert status_of(final) == 403, final
    finally:
        intl.stop()
    assert len(invites(intl)) == 1, intl.messages()
    ev = wait_for(lambda: (lambda b: b if b else None)(
        d.api("GET", "/events?type=toll_limit")[1]), 5)
    assert ev and ev[-1]["extension"] == "202" and \
        ev[-1]["limit"] == "global_per_hour", ev
    assert metrics(d)[SERIES % "global_per_hour"] == 1
