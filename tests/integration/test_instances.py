"""Several bulwarkd on one host (--instance): each owns the nftables table
inet bulwark_NAME, the default instance inet bulwark, and none of them
changes another one's table: bans, the guard's chain and a stop stay each
in their own table.

The daemons run in a network namespace of their own (so the host's
ruleset is never touched), all three in the same one, as they would share
a host.
"""
import os
import random
import shutil
import subprocess

import pytest

from conftest import BULWARKD, Daemon, wait_for

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("nft"),
    reason="needs root, ip and nft")


def _run(*args, check=True):
    return subprocess.run(list(args), capture_output=True, text=True,
                          check=check, timeout=20)


class SharedNsDaemon(Daemon):
    def __init__(self, data_dir, ns, **kw):
        super().__init__(data_dir, **kw)
        self.ns = ns

    def launcher(self):
        return ["ip", "netns", "exec", self.ns]


@pytest.fixture
def ns():
    name = f"bwi{os.getpid() % 10000}{random.randint(0, 999)}"
    _run("ip", "netns", "add", name)
    _run("ip", "netns", "exec", name, "ip", "link", "set", "lo", "up")
    yield name
    _run("ip", "netns", "del", name, check=False)


def ban4(ns, table):
    """The elements of set ban4 of table inet TABLE ('' if absent)."""
    r = _run("ip", "netns", "exec", ns, "nft", "list", "set", "inet", table,
             "ban4", check=False)
    return r.stdout if r.returncode == 0 else ""


def has_table(ns, table):
    return _run("ip", "netns", "exec", ns, "nft", "list", "table", "inet",
                table, check=False).returncode == 0


@needs_root
def test_two_instances_keep_to_their_tables(ns, tmp_path):
    one = SharedNsDaemon(tmp_path / "one", ns, instance="one")
    two = SharedNsDaemon(tmp_path / "two", ns, instance="two")
    dflt = SharedNsDaemon(tmp_path / "dflt", ns, instance=None)
    started = []
    try:
        for d in (one, two, dflt):
            d.start()
            started.append(d)
        for t in ("bulwark_one", "bulwark_two", "bulwark"):
            assert wait_for(lambda t=t: has_table(ns, t)), t

        r = one.cli("bans", "add", "198.51.100.7", "--for", "10m")
        assert r.returncode == 0, r
        r = two.cli("bans", "add", "198.51.100.8", "--for", "10m")
        assert r.returncode == 0, r
        r = dflt.cli("bans", "add", "198.51.100.9", "--for", "10m")
        assert r.returncode == 0, r
        assert wait_for(lambda: "198.51.100.7" in ban4(ns, "bulwark_one"))
        assert wait_for(lambda: "198.51.100.8" in ban4(ns, "bulwark_two"))
        assert wait_for(lambda: "198.51.100.9" in ban4(ns, "bulwark"))
        assert "198.51.100.8" not in ban4(ns, "bulwark_one")
        assert "198.51.100.9" not in ban4(ns, "bulwark_one")
        assert "198.51.100.7" not in ban4(ns, "bulwark_two")
        assert "198.51.100.9" not in ban4(ns, "bulwark_two")
        assert "198.51.100.7" not in ban4(ns, "bulwark")
        assert "198.51.100.8" not in ban4(ns, "bulwark")

        # A restart re-declares its own table only: the others keep their
        # bans (before --instance, every start flushed the one guard_in).
        two.restart()
        assert "198.51.100.7" in ban4(ns, "bulwark_one")
        assert "198.51.100.9" in ban4(ns, "bulwark")
        r = two.cli("bans", "rm", "198.51.100.8")
        assert r.returncode == 0, r
        assert wait_for(lambda: "198.51.100.8" not in
                        ban4(ns, "bulwark_two"))
        assert "198.51.100.7" in ban4(ns, "bulwark_one")
        assert "198.51.100.9" in ban4(ns, "bulwark")
    finally:
        for d in started:
            d.stop()


def test_instance_name_is_checked(tmp_path):
    for bad in ("Prod", "a-b", "x" * 17, ""):
        r = subprocess.run([str(BULWARKD), "--data", str(tmp_path / "d"),
                            "--instance", bad], capture_output=True,
                           text=True, timeout=10)
        assert r.returncode == 2, (bad, r)
        assert "--instance" in r.stderr, (bad, r.stderr)
    r = subprocess.run([str(BULWARKD), "--help"], capture_output=True,
                       text=True, timeout=10)
    assert "--instance NAME" in r.stdout
