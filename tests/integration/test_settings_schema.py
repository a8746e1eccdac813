"""The settings sections on the common table (common/settings.h): the GUI
schema shows their defaults, bounds, choices and applying module; a
refused value names the field and the rule; a committed SIP port reaches
the data plane through the typed snapshot."""


def section(body, name):
    return {k["key"]: k for s in body["sections"] if s["name"] == name
            for k in s["keys"]}


def test_schema_from_the_table(daemon):
    st, body = daemon.api("GET", "/schema/sections")
    assert st == 200, body
    sip = section(body, "sip")
    assert sip["udp_port"]["default"] == 5060
    assert sip["udp_port"]["min"] == 1 and sip["udp_port"]["max"] == 65535
    assert sip["udp_port"]["module"] == "sip"
    assert sip["rtp_start"]["module"] == "media"
    assert sip["realm"]["max_length"] == 63
    assert sip["min_expires"]["help"]
    guard = section(body, "guard")
    assert guard["fail_threshold"]["max"] == 32
    assert guard["ban_scope"]["choices"] == ["sip", "all"]
    assert guard["offload"]["default"] is True
    fw = section(body, "firewall")
    assert fw["ssh_port"]["default"] == 22 and fw["ssh_port"]["max"] == 65535
    assert fw["rollback_seconds"]["max"] == 3600
    assert "help" not in fw["type"]             # parsed by the firewall
    pol = section(body, "policy")                # its own table type, read
    assert pol["sip.min_length"]["min"] == 8      # as a settings table
    assert pol["sip.min_length"]["default"] == 8 and pol["sip.min_length"]["help"]
    # a section without a table is listed as before
    assert "user" in section(body, "limits")


def test_refusals_name_field_and_rule(daemon):
    st, body = daemon.api("PATCH", "/settings/sip", {"udp_port": 0})
    assert st == 422, body
    assert "sip.udp_port" in body["error"] and "sip.range" in body["error"]
    st, body = daemon.api("PATCH", "/settings/guard", {"ban_scope": "x"})
    assert st == 422, body
    assert "guard.scope" in body["error"], body
    st, body = daemon.api("GET", "/settings/sip")
    assert body["staged"]["udp_port"] == 5060       # nothing changed


def test_cross_key_rules_at_commit(daemon):
    st, body = daemon.api("PATCH", "/settings/sip", {"rtp_start": 30000})
    assert st == 200, body
    st, body = daemon.api("POST", "/commit?dry_run=1")
    rules = [e["rule"] for e in body.get("errors", [])]
    assert "sip.range" in rules, body


def test_services_on_the_table(daemon):
    st, body = daemon.api("GET", "/schema/sections")
    svc = section(body, "services")
    assert svc["sip-udp.boot"]["default"] is True
    assert svc["sip-tls.boot"]["default"] is False
    assert "SIP over UDP" in svc["sip-udp.boot"]["help"]
    st, body = daemon.api("PATCH", "/settings/services",
                          {"sip-tls.boot": "perhaps"})
    assert st == 422 and "services.bad_bool" in body["error"], body
