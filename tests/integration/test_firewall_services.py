"""The network services manager: registry, start at boot (staged and
committed), start/stop of the SIP transports on the real daemon, "restart
required" after a commit, and the admin API that cannot be stopped or
disabled. The firewall service itself is exercised in
test_firewall_netns.py (it would touch this host's nftables here)."""
import socket



def sip_answers(d, timeout=1.0):
    """Send a REGISTER over UDP; True if anything comes back."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.bind(("127.0.0.1", 0))
        me = s.getsockname()[1]
        msg = (f"REGISTER sip:127.0.0.1 SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bK-svc{me}\r\n"
               f"Max-Forwards: 70\r\nFrom: <sip:100@127.0.0.1>;tag=s1\r\n"
               f"To: <sip:100@127.0.0.1>\r\nCall-ID: svc-{me}\r\n"
               f"CSeq: 1 REGISTER\r\nContact: <sip:100@127.0.0.1:{me}>\r\n"
               f"Expires: 60\r\nContent-Length: 0\r\n\r\n")
        s.sendto(msg.encode(), ("127.0.0.1", d.sip_port))
        try:
            return s.recv(4096).startswith(b"SIP/2.0 ")
        except socket.timeout:
            return False


def services(d):
    r = d.cli("services", "--json")
    assert r.returncode == 0, r
    return {s["name"]: s for s in r.json}


def test_registry_lists_every_service(daemon):
    svc = services(daemon)
    for name in ("sip-udp", "sip-tcp", "sip-tls", "admin-api", "admin-http",
                 "admin-https", "guard", "firewall"):
        assert name in svc, name
    assert svc["sip-udp"]["state"] == "running"
    assert svc["sip-udp"]["boot"] is True
    assert svc["admin-api"]["state"] == "running"
    assert svc["admin-api"]["mandatory"] is True
    assert svc["firewall"]["sections"] == ["firewall", "sip"]
    assert all(s["restart_required"] is False for s in svc.values())
    # the table view
    r = daemon.cli("services")
    assert r.returncode == 0 and "RESTART_REQUIRED" in r.stdout


def test_stop_and_start_sip_udp(daemon):
    assert sip_answers(daemon)
    r = daemon.cli("services", "stop", "sip-udp")
    assert r.returncode == 0, r
    assert services(daemon)["sip-udp"]["state"] == "stopped"
    assert not sip_answers(daemon)
    r = daemon.cli("services", "start", "sip-udp")
    assert r.returncode == 0, r
    assert services(daemon)["sip-udp"]["state"] == "running"
    assert sip_answers(daemon)


def test_admin_api_cannot_be_stopped_or_disabled(daemon):
    for action in ("stop", "disable", "restart"):
        r = daemon.cli("services", action, "admin-api")
        assert r.returncode == 1, (action, r)
        assert "admin-api cannot be" in r.stderr, r
    st, body = daemon.api("POST", "/services/admin-api/disable")
    assert st == 403 and body["errors"][0]["rule"] == "services.mandatory"
    # nor through the settings section
    r = daemon.cli("settings", "set", "services", "admin-api.boot=false")
    assert r.returncode != 0 and "services.mandatory" in r.stderr, r
    # unknown service / action
    r = daemon.cli("services", "stop", "telnetd")
    assert r.returncode == 1 and "no service 'telnetd'" in r.stderr, r
    st, body = daemon.api("POST", "/services/sip-udp/explode")
    assert st == 422


def test_boot_is_staged_committed_and_used_at_start(make_daemon):
    d = make_daemon().start()
    r = d.cli("services", "disable", "sip-udp")
    assert r.returncode == 0 and "staged" in r.stdout, r
    svc = services(d)
    assert svc["sip-udp"]["boot"] is True          # not committed yet
    assert svc["sip-udp"]["boot_staged"] is False
    assert d.cli("commit").returncode == 0
    assert services(d)["sip-udp"]["boot"] is False
    d.restart()
    assert services(d)["sip-udp"]["state"] == "stopped"
    assert not sip_answers(d)
    assert d.cli("services", "enable", "sip-udp").returncode == 0
    assert d.cli("commit").returncode == 0
    d.restart()
    assert services(d)["sip-udp"]["state"] == "running"
    assert sip_answers(d)


def test_commit_marks_restart_required(daemon):
    r = daemon.cli("settings", "set", "sip", "min_expires=61")
    assert r.returncode == 0, r
    assert daemon.cli("commit").returncode == 0
    svc = services(daemon)
    # readers of "sip" that cannot reload in place
    assert svc["sip-udp"]["restart_required"] is True
    assert svc["sip-tcp"]["restart_required"] is True
    assert svc["firewall"]["restart_required"] is True
    # the guard reloads in place; the admin API reads neither
    assert svc["guard"]["restart_required"] is False
    assert svc["admin-api"]["restart_required"] is False
    assert daemon.cli("services", "restart", "sip-udp").returncode == 0
    svc = services(daemon)
    assert svc["sip-udp"]["restart_required"] is False
    assert svc["sip-tcp"]["restart_required"] is True
    assert sip_answers(daemon)
