"""The web GUI's server side, over HTTP and HTTPS without a browser: the
files served and refused, the login and its cookie (Secure over HTTPS),
CSRF on every state change, the portal kept to its own extension, and a
failed GUI login counted in the admin scope like a wrong HTTP Basic one.
(The browser itself: tests/gui/.)"""
import base64
import http.client
import json
import ssl

from conftest import ROOT, free_port

WEB_PW = "Qz7vXk2pLm9w"


def start(make_daemon, https=False):
    port = free_port()
    flag = "--https" if https else "--http"
    d = make_daemon(extra_args=[flag, f"127.0.0.1:{port}"])
    d.start()
    d.port = port
    d.https = https
    d.pw = (d.data_dir / "admin-password").read_text().strip()
    return d


def req(d, method, path, body=None, headers=None, ctype="application/json"):
    if d.https:
        ctx = ssl.create_default_context(cafile=str(d.data_dir / "tls" / "admin.crt"))
        conn = http.client.HTTPSConnection("127.0.0.1", d.port, context=ctx, timeout=15)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=15)
    hdrs = dict(headers or {})
    data = None
    if body is not None:
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        hdrs["Content-Type"] = ctype
    try:
        conn.request(method, path, body=data, headers=hdrs)
        r = conn.getresponse()
        text = r.read().decode(errors="replace")
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = text
        return r.status, parsed, {k.lower(): v for k, v in r.getheaders()}
    finally:
        conn.close()


def login(d, user, pw):
    st, body, hd = req(d, "POST", "/api/v1/session", {"user": user, "password": pw})
    assert st == 200, body
    cookie = hd["set-cookie"].split(";")[0]
    return cookie, body["csrf"], hd["set-cookie"]


def basic(d):
    return {"Authorization": "Basic " + base64.b64encode(f"admin:{d.pw}".encode()).decode()}


def seed_portal_user(d):
    st, out = d.api("POST", "/ext", {
        "number": "301", "type": "sip", "name": "Ada Lovelace",
        "generate_password": True, "generate_pin": True,
        "web.enabled": True, "web.username": "ada", "web.password": WEB_PW})
    assert st == 201, out
    st, out = d.api("POST", "/ext", {"number": "302", "type": "sip", "name": "Alan Turing",
                                     "generate_password": True, "generate_pin": True})
    assert st == 201, out
    st, out = d.api("POST", "/commit")
    assert st == 200 and out["ok"], out


def test_files_headers_and_refusals(make_daemon):
    d = start(make_daemon)
    st, body, hd = req(d, "GET", "/")
    assert st == 200 and "<script type=\"module\" src=\"/app.js\">" in body
    assert "script-src 'self'" in hd["content-security-policy"]
    assert "frame-ancestors 'none'" in hd["content-security-policy"]
    assert hd["x-frame-options"] == "DENY"
    # every module of the GUI, with the type a browser requires of a
    # module script (nosniff: any other type and the page stays blank)
    for name in sorted(p.name for p in (ROOT / "web").glob("*.js")):
        st, body, hd = req(d, "GET", f"/{name}")
        assert st == 200 and hd["content-type"].startswith("text/javascript"), name
        assert "export " in body or name == "app.js", name
    # nothing outside web/, no hidden files, only known types, only reads
    for path in ["/../README.md", "/%2e%2e/README.md", "/.git/config", "/x/../../etc/passwd",
                 "/app.js.map", "/index.html/", "//etc/passwd"]:
        st, body, _ = req(d, "GET", path)
        assert st == 404, (path, st, body)
    st, _, _ = req(d, "POST", "/index.html", {"a": 1})
    assert st == 405
    # the API's answers are not cached and not framed
    st, _, hd = req(d, "GET", "/api/v1/status", headers=basic(d))
    assert st == 200 and hd["cache-control"] == "no-store"
    assert hd["x-frame-options"] == "DENY" and "default-src 'none'" in hd["content-security-policy"]
    # the GUI's probe without a credential: 401, but no browser dialog
    st, body, hd = req(d, "GET", "/api/v1/session", headers={"X-Bulwark-GUI": "1"})
    assert st == 401 and "www-authenticate" not in hd
    st, body, hd = req(d, "GET", "/api/v1/session")
    assert st == 401 and "www-authenticate" in hd


def test_admin_session_csrf_and_logout(make_daemon):
    d = start(make_daemon)
    # a form from another site cannot post the login: JSON only
    # (text/plain is what another site's form can send without asking)
    st, body, _ = req(d, "POST", "/api/v1/session",
                      json.dumps({"user": "admin", "password": d.pw}),
                      ctype="text/plain")
    assert st == 415, body
    cookie, csrf, raw = login(d, "admin", d.pw)
    assert cookie.startswith("bw_admin=")
    assert "HttpOnly" in raw and "SameSite=Strict" in raw and "Secure" not in raw
    st, body, _ = req(d, "GET", "/api/v1/status", headers={"Cookie": cookie})
    assert st == 200, body
    # a state change without the token, or with another one: 403
    st, body, _ = req(d, "POST", "/api/v1/discard", headers={"Cookie": cookie})
    assert st == 403 and "CSRF" in body["error"]
    st, body, _ = req(d, "POST", "/api/v1/discard", headers={"Cookie": cookie, "X-CSRF-Token": "x" * len(csrf)})
    assert st == 403
    st, body, _ = req(d, "POST", "/api/v1/discard", headers={"Cookie": cookie, "X-CSRF-Token": csrf})
    assert st == 200, body
    # another site's page may not change anything, whatever it carries
    st, body, _ = req(d, "POST", "/api/v1/discard",
                      headers={**basic(d), "Sec-Fetch-Site": "cross-site"})
    assert st == 403
    st, body, _ = req(d, "POST", "/api/v1/discard",
                      headers={"Cookie": cookie, "X-CSRF-Token": csrf, "Sec-Fetch-Site": "same-origin"})
    assert st == 200
    # HTTP Basic is unchanged for scripts
    st, body, _ = req(d, "POST", "/api/v1/discard", headers=basic(d))
    assert st == 200
    # log out: the cookie is cleared and the session is gone
    st, body, hd = req(d, "DELETE", "/api/v1/session", headers={"Cookie": cookie, "X-CSRF-Token": csrf})
    assert st == 200 and body["closed"] is True and "Max-Age=0" in hd["set-cookie"]
    st, body, hd = req(d, "GET", "/api/v1/status", headers={"Cookie": cookie})
    assert st == 401 and body["session"] == "expired"
    assert hd.get("connection", "").lower() == "close"


def test_portal_reaches_only_its_own_extension(make_daemon):
    d = start(make_daemon)
    seed_portal_user(d)
    cookie, csrf, raw = login(d, "ada", WEB_PW)
    assert cookie.startswith("bw_user=")
    h = {"Cookie": cookie}
    st, me, _ = req(d, "GET", "/api/v1/me", headers=h)
    assert st == 200 and me["number"] == "301"
    assert "voicemail.pin" in [f["name"] for f in me["fields"]]
    st, _, _ = req(d, "GET", "/api/v1/me/ext/301", headers=h)
    assert st == 200
    for path in ["/api/v1/me/ext/302", "/api/v1/ext/302", "/api/v1/ext", "/api/v1/status"]:
        st, body, _ = req(d, "GET", path, headers=h)
        assert st == 403, (path, st, body)
    st, body, _ = req(d, "POST", "/api/v1/commit", headers={**h, "X-CSRF-Token": csrf})
    assert st == 403
    # only the owner's own fields, under the PIN policy
    st, body, _ = req(d, "PATCH", "/api/v1/me", {"name": "Eve Hacker"}, headers={**h, "X-CSRF-Token": csrf})
    assert st == 403 and "name" in body["error"]
    st, body, _ = req(d, "PATCH", "/api/v1/me", {"voicemail.pin": "301301"}, headers={**h, "X-CSRF-Token": csrf})
    assert st == 422 and "rule vm." in body["error"], body
    st, body, _ = req(d, "PATCH", "/api/v1/me", {"voicemail.pin": "739164"}, headers=h)
    assert st == 403   # no CSRF token
    st, body, _ = req(d, "PATCH", "/api/v1/me", {"voicemail.pin": "739164"}, headers={**h, "X-CSRF-Token": csrf})
    assert st == 200, body
    assert body["applied"] is True and body["staged"] is False, body
    st, ext = d.api("GET", "/ext/301?staged=1&reveal=1")
    assert ext["voicemail.pin"] == "739164"
    # the owner cannot commit: the PIN is running at once, nothing pending
    st, ext = d.api("GET", "/ext/301?reveal=1")
    assert ext["voicemail.pin"] == "739164"
    st, pend = d.api("GET", "/pending")
    assert not any(p["key"] == "301" for p in pend), pend
    # the previous PIN again is refused (vm.no_previous)
    st, body, _ = req(d, "PATCH", "/api/v1/me", {"voicemail.pin": "739164"}, headers={**h, "X-CSRF-Token": csrf})
    assert st == 422 and "vm.no_previous" in body["error"], body
    # the user's cookie is no admin session, and the admin's is no portal one
    acookie, acsrf, _ = login(d, "admin", d.pw)
    st, _, _ = req(d, "GET", "/api/v1/me", headers={"Cookie": acookie})
    assert st == 401
    st, _, _ = req(d, "GET", "/api/v1/status", headers={"Cookie": acookie + "; " + cookie})
    assert st == 200
    # a disabled web login no longer logs in
    st, out = d.api("PATCH", "/ext/301", {"web.enabled": False})
    assert st == 200, out
    assert d.api("POST", "/commit")[0] == 200
    st, body, _ = req(d, "POST", "/api/v1/session", {"user": "ada", "password": WEB_PW})
    assert st == 401


def test_portal_destinations_must_be_extensions(make_daemon):
    """The owner cannot commit: a forward or follow-me naming a number that
    is not an extension is refused when the owner sends it (the same rule
    the commit would apply), so that it can never block the
    administrator's commits; existing extensions are taken."""
    d = start(make_daemon)
    seed_portal_user(d)
    cookie, csrf, _ = login(d, "ada", WEB_PW)
    h = {"Cookie": cookie, "X-CSRF-Token": csrf}
    for body, rule in [
            ({"user.follow_me.list": ["302", "+15551234"]}, "dest.external_no_trunk"),
            ({"user.follow_me.list": "302,399"}, "ref.missing"),
            ({"user.forward.busy.enabled": True,
              "user.forward.busy.destination": "399"}, "ref.missing")]:
        st, out, _ = req(d, "PATCH", "/api/v1/me", body, headers=h)
        assert st == 422 and f"rule {rule}" in out["error"], (body, out)
    st, pend = d.api("GET", "/pending")
    assert not any(p["key"] == "301" for p in pend), pend
    st, out, _ = req(d, "PATCH", "/api/v1/me", {"user.follow_me.list": ["302"],
                                                "user.follow_me.enabled": True},
                     headers=h)
    assert st == 200 and out["staged"] is True, out
    st, out = d.api("POST", "/commit")
    assert st == 200, out


def test_failed_gui_logins_are_counted_by_the_admin_scope(make_daemon):
    d = start(make_daemon)
    seed_portal_user(d)
    # admin and portal failures count together: 5 block the address
    for i, user in enumerate(["admin", "ada", "nobody", "admin", "ada"], 1):
        st, body, hd = req(d, "POST", "/api/v1/session", {"user": user, "password": f"wrong{i}"})
        assert st == 401, body
        assert body["failures"] == {"count": i, "threshold": 5}, body
        assert "www-authenticate" not in hd and hd["connection"].lower() == "close"
    assert "refused for" in body["error"]
    st, body, hd = req(d, "POST", "/api/v1/session", {"user": "admin", "password": d.pw})
    assert st == 429 and int(hd["retry-after"]) > 0
    st, body, _ = req(d, "GET", "/api/v1/status", headers=basic(d))
    assert st == 429
    st, access = d.api("GET", "/admin/access")
    assert [b["source"] for b in access["admin_scope"]["blocked"]] == ["127.0.0.1"]
    st, events = d.api("GET", "/events?type=admin_auth_failure")
    assert [e.get("listener") for e in events][-5:] == ["web"] * 5, events
    # never a SIP ban
    st, bans = d.api("GET", "/bans")
    assert bans == []
    # lifted from the control socket, the admin logs in again
    assert d.api("DELETE", "/admin/access/blocks/127.0.0.1")[0] == 200
    login(d, "admin", d.pw)


def test_https_cookie_is_secure(make_daemon):
    d = start(make_daemon, https=True)
    cookie, csrf, raw = login(d, "admin", d.pw)
    assert "Secure" in raw and "HttpOnly" in raw and "SameSite=Strict" in raw
    st, body, hd = req(d, "GET", "/")
    assert st == 200 and "frame-ancestors 'none'" in hd["content-security-policy"]
    st, body, _ = req(d, "POST", "/api/v1/commit?dry_run=1", headers={"Cookie": cookie, "X-CSRF-Token": csrf})
    assert st == 200, body
