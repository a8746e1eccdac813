"""Un-REGISTER (issue 15): a trunk that stops being registered — removed,
or register turned off, by a commit — and every registered trunk at
daemon stop sends REGISTER Expires: 0 (answering Kamailio's challenge),
so the carrier's location holds no contact for it afterwards (the
registrar cfg logs "TRUNK-CONTACTS <AOR> <n>" after each save). The stop
waits at most 2 s for the answers, and never hangs when the carrier is
gone."""
import time

from calls_pbx import bounded, start_pbx  # noqa: F401
from conftest import wait_for
from test_sip_register import commit
from test_trunk import (CARRIER, TRUNK_USER, Kamailio, configure, needs,
                        trunk_status, wait_state)

AOR = f"sip:{TRUNK_USER}@{CARRIER}"


def contacts(kam):
    """The AOR's contact count after the last save, or None."""
    last = None
    for line in kam.log().splitlines():
        i = line.find(f"TRUNK-CONTACTS {AOR} ")
        if i >= 0:
            last = int(line[i:].split()[2])
    return last


def set_trunk(pbx, *kv):
    r = pbx.d.cli("settings", "set", "trunks", *kv)
    assert r.returncode == 0, r
    commit(pbx.d)


@needs
def test_unregister_on_change_and_stop(make_daemon, tmp_path):
    pbx = start_pbx(make_daemon, exts=("201",))
    kam = Kamailio(tmp_path).start()
    try:
        configure(pbx, kam)
        wait_state(pbx, "registered")
        assert wait_for(lambda: contacts(kam) == 1, 5), kam.log()[-2000:]

        # register turned off: Expires: 0, challenged, answered, removed
        chal = kam.log().count("TRUNK-CHALLENGED")
        set_trunk(pbx, "itsp.register=false")
        assert wait_for(lambda: contacts(kam) == 0, 5), kam.log()[-2000:]
        assert kam.log().count("TRUNK-CHALLENGED") > chal, kam.log()
        assert trunk_status(pbx)["itsp"]["state"] == "off"
        assert "itsp: unregistered" in pbx.d.log(), pbx.d.log()

        # on again, then removed (host "" removes the trunk)
        set_trunk(pbx, "itsp.register=true")
        wait_state(pbx, "registered")
        assert wait_for(lambda: contacts(kam) == 1, 5), kam.log()[-2000:]
        set_trunk(pbx, "itsp.host=", f"did.{'5551000'}=")
        assert wait_for(lambda: contacts(kam) == 0, 5), kam.log()[-2000:]
        assert "itsp" not in trunk_status(pbx)

        # registered again, then the daemon stops: un-REGISTER at stop
        configure(pbx, kam)
        wait_state(pbx, "registered")
        assert wait_for(lambda: contacts(kam) == 1, 5), kam.log()[-2000:]
        t0 = time.monotonic()
        assert pbx.d.stop() == 0
        took = time.monotonic() - t0
        assert contacts(kam) == 0, kam.log()[-2000:]
        assert took < 4, took
    finally:
        kam.stop()


@needs
def test_stop_bounded_when_carrier_gone(make_daemon, tmp_path):
    """Registered, then the carrier vanishes: the stop sends its
    un-REGISTER, waits 2 s, and goes."""
    pbx = start_pbx(make_daemon, exts=("201",))
    kam = Kamailio(tmp_path).start()
    try:
        configure(pbx, kam)
        wait_state(pbx, "registered")
    finally:
        kam.stop()
    t0 = time.monotonic()
    assert pbx.d.stop() == 0
    took = time.monotonic() - t0
    assert 1.8 <= took < 4, took
    assert "un-REGISTER(s) not answered at stop" in pbx.d.log(), \
        pbx.d.log()
