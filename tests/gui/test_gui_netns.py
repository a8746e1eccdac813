"""The firewall's commit-confirmed apply in the browser, on a real kernel
table (tests/gui/firewall_netns.mjs).

bulwarkd runs in a network namespace of its own, so the rules the page
applies go into that namespace's kernel and nowhere else:

    host namespace                     namespace bwgui_PID (bulwarkd)
    Chromium ── bwgPID 10.213.N.1/30 ── gui0 10.213.N.2/30  (LAN role)
                                        wan0 203.0.113.1/24 (WAN role) ──
                                          eth0 203.0.113.2/24 in bwgui_wan_PID

Chromium, in the host's namespace, reaches the admin port on
10.213.N.2 over the veth. After the browser run the kernel's table is read
here too: the confirmed rules are installed and kept for the next start.
Skipped, with the reason, where namespaces or nft are not available (not
root, no iproute2/nft, no namespace support).
"""
import os
import re
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from conftest import Daemon  # noqa: E402
from nat_lib import Netns, missing_tools, ns, sh, sweep_stale  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SHOTS = os.environ.get("BULWARK_GUI_SHOTS", os.path.join(
    os.environ.get("BULWARK_BUILD", os.path.join(ROOT, "build")), "gui-shots"))
PID = os.getpid() % 100000
NETNS = f"bwgui_fw_{PID}"
NETNS_WAN = f"bwgui_wan_{PID}"   # the far end of wan0
HOST_IF = f"bwg{PID}"             # the veth's end in the host namespace
LAN_IF, WAN_IF = "gui0", "wan0"
NET = PID % 250
HOST_ADDR, NS_ADDR = f"10.213.{NET}.1", f"10.213.{NET}.2"
ADMIN_PORT = 8080


class NsDaemon(Daemon):
    """bulwarkd inside the namespace; the control socket is a path, so
    .api() works from here."""

    def launcher(self):
        return ["ip", "netns", "exec", NETNS]


@pytest.fixture
def net():
    why = missing_tools()
    if why:
        pytest.skip(why)
    sweep_stale("bwgui_")
    n = Netns()
    try:
        n.add(NETNS)
        sh("ip", "link", "add", HOST_IF, "type", "veth", "peer", "name",
           LAN_IF, "netns", NETNS)
        sh("ip", "addr", "add", f"{HOST_ADDR}/30", "dev", HOST_IF)
        sh("ip", "link", "set", HOST_IF, "up")
        ns(NETNS, "ip", "addr", "add", f"{NS_ADDR}/30", "dev", LAN_IF)
        ns(NETNS, "ip", "link", "set", LAN_IF, "up")
        n.add(NETNS_WAN)
        n.link(NETNS, WAN_IF, "203.0.113.1/24", NETNS_WAN, "eth0",
               "203.0.113.2/24")
        yield
    finally:
        # deleting the namespace deletes the veth pair with it
        sh("ip", "link", "del", HOST_IF, check=False)
        n.delete_all()


def kernel_table():
    r = ns(NETNS, "nft", "list", "table", "inet", "bulwark", check=False)
    return r.stdout if r.returncode == 0 else ""


def test_firewall_commit_confirmed_in_browser(net, tmp_path, monkeypatch):
    node = shutil.which("node")
    assert node, "node is not installed: run make deps (scripts/deps.sh)"
    assert os.access(CHROMIUM, os.X_OK), \
        f"{CHROMIUM} is missing: run make deps (Debian package chromium)"
    assert os.path.isdir(os.path.join(HERE, "node_modules", "playwright-core")), \
        "playwright-core is not installed: run make gui-deps (npm ci in tests/gui)"
    d = NsDaemon(tmp_path / "data", sip_addr="127.0.0.1", sip_port=5060,
                 http=f"{NS_ADDR}:{ADMIN_PORT}",
                 extra_args=["--rtp-range", "40000-40099"])
    # the tree's own files, even where an older copy is installed
    monkeypatch.setenv("BULWARK_WEB", os.path.join(ROOT, "web"))
    try:
        d.start()
        assert "chain fw_in" not in kernel_table()
        env = dict(os.environ, BULWARK_URL=f"http://{NS_ADDR}:{ADMIN_PORT}",
                   BULWARK_ADMIN_PASSWORD=(d.data_dir / "admin-password")
                   .read_text().strip(),
                   BULWARK_SHOTS=SHOTS, CHROMIUM=CHROMIUM,
                   BULWARK_NETNS=NETNS, BULWARK_LAN_IF=LAN_IF,
                   BULWARK_WAN_IF=WAN_IF)
        proc = subprocess.run([node, os.path.join(HERE, "firewall_netns.mjs")],
                              cwd=HERE, env=env, capture_output=True,
                              text=True, timeout=120)
        print(proc.stdout)
        print(proc.stderr, file=sys.stderr)
        assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
        assert re.search(r"# gui: 1 passed, 0 failed of 1", proc.stdout)

        # what the browser did, seen from here: confirmed, nothing waits,
        # the rules are in the namespace's kernel and kept for the next start
        st, fw = d.api("GET", "/firewall")
        assert st == 200, fw
        assert (fw["type"], fw["active"], fw["pending"], fw["confirmed"]) \
            == ("single", True, False, True), fw
        table = kernel_table()
        for chain in ("fw_in", "fw_fwd", "fw_nat"):
            assert f"chain {chain} " in table, table
        assert f'iifname "{LAN_IF}" accept' in table, table
        assert 'comment "sip-udp"' in table, table
        assert (d.data_dir / "firewall.rules").is_file()
    finally:
        d.stop()
