/*
 * wizard — the firewall configuration wizard of the manual, as steps a
 * client drives one at a time: type → interfaces → services → review →
 * apply. The wizard keeps no state of its own: each answer is staged in
 * the "firewall" section, so the CLI, the web GUI and `bulwark config`
 * all see the same draft, and it is committed like all configuration.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "firewall/firewall.h"
#include "firewall/fw.h"

static const struct {
	const char *name;
	const char *title;
} steps[] = {
	{ "type", "Server type" },
	{ "interfaces", "WAN and LAN interfaces" },
	{ "services", "Inbound services (permit)" },
	{ "review", "Review" },
	{ "apply", "Apply (rollback unless confirmed)" },
};
#define N_STEPS (sizeof(steps) / sizeof(steps[0]))

static const struct {
	enum fw_type type;
	const char *label;
	const char *help;
} type_opts[] = {
	{ FW_TYPE_NONE, "No Firewall", "no rules are installed" },
	{ FW_TYPE_SINGLE, "Single System", "police this host's WAN "
	  "interfaces" },
	{ FW_TYPE_GATEWAY, "Gateway/Firewall", "as Single System, plus "
	  "forwarding from LAN to WAN with outgoing NAT (needs two or more "
	  "interfaces)" },
};

/* The draft: staged section (+ overrides), interfaces, ports. */
struct draft {
	json_t *sec;
	struct fw_conf conf;
	bool conf_ok;
	struct fw_iface ifs[FW_MAX_IFACES];
	size_t n_if;
	struct fw_ports ports;
};

static void draft_free(struct draft *d)
{
	if (!d)
		return;
	if (d->conf_ok)
		firewall_conf_free(&d->conf);
	json_decref(d->sec);
	free(d);
}

/* Load the staged draft with the keys of over (may be NULL) replacing
 * the staged ones. Parse errors go to r. */
static int draft_load(struct firewall *f, const json_t *over,
		      struct draft **dp, struct report *r)
{
	struct store *st = firewall_store_of(f);
	struct draft *d = calloc(1, sizeof(*d));
	json_t *sip = NULL;
	char sl[80], ha[80], hs[80];
	int rc;

	if (!d)
		return ENOMEM;
	if (!st || store_section_get(st, "firewall", STORE_STAGED, &d->sec)) {
		draft_free(d);
		return EIO;
	}
	if (over)
		json_object_update(d->sec, (json_t *)over);
	if (store_section_get(st, "sip", STORE_STAGED, &sip))
		sip = NULL;
	firewall_listen_of(f, sl, sizeof(sl), ha, sizeof(ha));
	firewall_ports_resolve(sip, d->sec, sl, ha, &d->ports);
	firewall_https_of(f, hs, sizeof(hs));
	firewall_ports_https(&d->ports, hs);
	json_decref(sip);
	rc = firewall_ifaces_discover(d->ifs, FW_MAX_IFACES, &d->n_if);
	if (rc) {
		draft_free(d);
		return rc;
	}
	rc = firewall_conf_parse(d->sec, &d->conf, r);
	if (rc) {
		*dp = d;
		return rc;
	}
	d->conf_ok = true;
	firewall_assign_roles(&d->conf, d->ifs, d->n_if);
	*dp = d;
	return 0;
}

/* The interface with the default route (IPv4), from /proc/net/route. */
static void default_route_iface(char *name, size_t sz)
{
	FILE *fp = fopen("/proc/net/route", "re");
	char line[256], ifn[32], dst[16];

	name[0] = '\0';
	if (!fp)
		return;
	while (fgets(line, sizeof(line), fp)) {
		if (sscanf(line, "%31s %15s", ifn, dst) == 2 &&
		    !strcmp(dst, "00000000")) {
			snprintf(name, sz, "%s", ifn);
			break;
		}
	}
	fclose(fp);
}

static json_t *ifaces_json(const struct draft *d)
{
	json_t *a = json_array();
	char def[32];
	size_t i, j;

	default_route_iface(def, sizeof(def));
	for (i = 0; a && i < d->n_if; i++) {
		json_t *addrs = json_array();
		const char *sugg;

		for (j = 0; j < d->ifs[i].n_net; j++)
			json_array_append_new(addrs,
					      json_string(d->ifs[i].addr[j]));
		/* Gateway: the default route leaves by the WAN; the others
		 * are LAN. Single: everything is WAN (policed). */
		if (d->conf_ok && d->conf.type == FW_TYPE_GATEWAY)
			sugg = (*def ? !strcmp(def, d->ifs[i].name) : i == 0)
				? "wan" : "lan";
		else
			sugg = "wan";
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:o}",
			"name", d->ifs[i].name, "role",
			d->ifs[i].lan ? "lan" : "wan", "suggested", sugg,
			"addresses", addrs));
	}
	return a;
}

static bool has_lan(const struct draft *d)
{
	size_t i;

	for (i = 0; i < d->n_if; i++)
		if (d->ifs[i].lan)
			return true;
	return false;
}

/* Recommended permit of service i for this draft. SIP and RTP from
 * anywhere: remote (nomadic) phones are why a PBX faces the Internet,
 * and the guard bans who abuses them. Administration (admin-https, ssh)
 * is reached from the LAN, which is never policed — except on a Single
 * System without LAN, where the WAN is the only way in: then the wizard
 * proposes them from anywhere (narrow them to your networks) rather than
 * lock the administrator out. Plain-HTTP admin, IAX2 and provisioning
 * stay off until chosen. */
static const char *recommended(const struct draft *d, size_t i)
{
	const char *n = firewall_catalogue[i].name;

	if (!has_lan(d) && (!strcmp(n, "ssh") || !strcmp(n, "admin-https")))
		return "any";
	return firewall_catalogue[i].recommended;
}

static json_t *services_json(const struct draft *d)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a && i < firewall_catalogue_n; i++) {
		const struct fw_service *s = &firewall_catalogue[i];
		uint16_t lo = 0, hi = 0;
		char ports[16], key[64];
		const json_t *v;

		firewall_service_ports(i, &d->ports, &lo, &hi);
		if (lo == hi)
			snprintf(ports, sizeof(ports), "%u", lo);
		else
			snprintf(ports, sizeof(ports), "%u-%u", lo, hi);
		snprintf(key, sizeof(key), "permit.%s", s->name);
		v = json_object_get(d->sec, key);
		json_array_append_new(a, json_pack(
			"{s:s, s:s, s:s, s:s, s:s, s:s}", "name", s->name,
			"label", s->label, "proto",
			s->proto == FW_UDP ? "udp" : "tcp", "ports", ports,
			"permit", json_is_string(v) ? json_string_value(v) :
			s->recommended, "recommended", recommended(d, i)));
	}
	return a;
}

static int step_index(const char *step)
{
	size_t i;

	for (i = 0; step && i < N_STEPS; i++)
		if (!strcmp(steps[i].name, step))
			return (int)i;
	return -1;
}

static json_t *step_head(int i)
{
	return json_pack("{s:s, s:s, s:i, s:s?}", "step", steps[i].name,
			 "title", steps[i].title, "number", i + 1, "next",
			 (size_t)i + 1 < N_STEPS ? steps[i + 1].name : NULL);
}

int firewall_wizard_get(struct firewall *f, const char *step, json_t **out)
{
	struct report r;
	struct draft *d = NULL;
	json_t *o = NULL, *a;
	size_t i;
	int idx, rc;

	if (!f || !out)
		return EINVAL;
	report_init(&r);
	rc = draft_load(f, NULL, &d, &r);
	if (rc && !d)
		goto out;
	if (!d->conf_ok) {
		/* a broken draft can still be looked at and fixed */
		report_reset(&r);
		firewall_conf_parse(NULL, &d->conf, &r);
		d->conf_ok = true;
	}
	rc = 0;
	if (!step) {
		a = json_array();
		for (i = 0; i < N_STEPS; i++)
			json_array_append_new(a, json_pack("{s:s, s:s}",
				"name", steps[i].name, "title",
				steps[i].title));
		o = json_pack("{s:o, s:s, s:i}", "steps", a, "type",
			      firewall_type_name(d->conf.type),
			      "interfaces", (json_int_t)d->n_if);
		goto out;
	}
	idx = step_index(step);
	if (idx < 0) {
		rc = ENOENT;
		goto out;
	}
	o = step_head(idx);
	if (!strcmp(step, "type")) {
		a = json_array();
		for (i = 0; i < sizeof(type_opts) / sizeof(type_opts[0]); i++) {
			/* only what the interface count allows */
			if (type_opts[i].type == FW_TYPE_GATEWAY &&
			    firewall_ifaces_usable(d->ifs, d->n_if) < 2)
				continue;
			json_array_append_new(a, json_pack("{s:s, s:s, s:s}",
				"value", firewall_type_name(type_opts[i].type),
				"label", type_opts[i].label, "help",
				type_opts[i].help));
		}
		json_object_set_new(o, "options", a);
		json_object_set_new(o, "current", json_string(
			firewall_type_name(d->conf.type)));
		json_object_set_new(o, "recommended", json_string("single"));
		json_object_set_new(o, "interfaces", ifaces_json(d));
	} else if (!strcmp(step, "interfaces")) {
		json_object_set_new(o, "type", json_string(
			firewall_type_name(d->conf.type)));
		json_object_set_new(o, "interfaces", ifaces_json(d));
		json_object_set_new(o, "roles", json_pack("[s, s]", "wan",
							  "lan"));
	} else if (!strcmp(step, "services")) {
		json_object_set_new(o, "services", services_json(d));
		json_object_set_new(o, "values", json_string(
			"off | any | networks (comma-separated, e.g. "
			"203.0.113.0/24,2001:db8::/32)"));
	} else {
		struct report chk;
		char *text = NULL;

		report_init(&chk);
		if (firewall_check(&d->conf, d->ifs, d->n_if, &d->ports,
				   &chk) == 0)
			firewall_render(&d->conf, d->ifs, d->n_if, &d->ports,
					&text);
		json_object_set_new(o, "type", json_string(
			firewall_type_name(d->conf.type)));
		json_object_set_new(o, "interfaces", ifaces_json(d));
		json_object_set_new(o, "services", services_json(d));
		json_object_set_new(o, "ok", json_boolean(
			report_count(&chk) == 0 && text));
		json_object_set_new(o, "errors", store_report_json(&chk));
		json_object_set_new(o, "ruleset", text ? json_string(text) :
				    json_null());
		json_object_set_new(o, "rollback_seconds",
				    json_integer(d->conf.rollback_s));
		free(text);
		report_reset(&chk);
	}
out:
	report_reset(&r);
	draft_free(d);
	if (rc)
		return rc;
	if (!o)
		return ENOMEM;
	*out = o;
	return 0;
}

/* The keys an answer stages, built from the body; EINVAL with r. */
static int answer_keys(const struct draft *cur, const char *step,
		       const json_t *body, json_t *keys, struct report *r)
{
	const json_t *v;
	const char *k;
	size_t i;
	int rc = 0;

	if (!json_is_object(body)) {
		report_add(r, "", "body", "wizard.bad_body",
			   "the answer must be a JSON object");
		return EINVAL;
	}
	if (!strcmp(step, "type")) {
		enum fw_type t;

		v = json_object_get(body, "type");
		if (!json_is_string(v) ||
		    firewall_type_parse(json_string_value(v), &t)) {
			report_add(r, "", "firewall.type", "firewall.bad_type",
				   "firewall.type: choose none, single or "
				   "gateway");
			return EINVAL;
		}
		if (t == FW_TYPE_GATEWAY &&
		    firewall_ifaces_usable(cur->ifs, cur->n_if) < 2) {
			report_add(r, "", "firewall.type",
				   "firewall.gateway_needs_two_interfaces",
				   "firewall.type: Gateway/Firewall needs two "
				   "or more network interfaces that are up or "
				   "have an address; this system has %zu "
				   "(choose single or none)",
				   firewall_ifaces_usable(cur->ifs,
							  cur->n_if));
			return EINVAL;
		}
		json_object_set_new(keys, "type", json_string(
			firewall_type_name(t)));
		return 0;
	}
	if (!strcmp(step, "interfaces")) {
		const json_t *roles = json_object_get(body, "roles");
		bool lan[FW_MAX_IFACES];
		char list[FW_MAX_IFACES * FW_IFNAMSIZ + FW_MAX_IFACES] = "";
		size_t len = 0;

		if (!json_is_object(roles)) {
			report_add(r, "", "roles", "wizard.bad_body",
				   "roles: an object such as {\"eth0\": "
				   "\"wan\", \"eth1\": \"lan\"}");
			return EINVAL;
		}
		for (i = 0; i < cur->n_if; i++)
			lan[i] = cur->ifs[i].lan;
		json_object_foreach((json_t *)roles, k, v) {
			const char *role = json_string_value(v);

			for (i = 0; i < cur->n_if; i++)
				if (!strcmp(cur->ifs[i].name, k))
					break;
			if (i == cur->n_if) {
				report_add(r, "", "firewall.lan",
					   "firewall.unknown_interface",
					   "firewall.lan: no interface "
					   "'%.40s' on this system", k);
				rc = EINVAL;
				continue;
			}
			if (!role || (strcmp(role, "wan") &&
				      strcmp(role, "lan"))) {
				report_add(r, "", "firewall.lan",
					   "firewall.bad_role",
					   "firewall.lan: role of '%.40s' "
					   "must be wan or lan", k);
				rc = EINVAL;
				continue;
			}
			lan[i] = !strcmp(role, "lan");
		}
		if (rc)
			return rc;
		for (i = 0; i < cur->n_if; i++) {
			int n;

			if (!lan[i])
				continue;
			n = snprintf(list + len, sizeof(list) - len, "%s%s",
				     len ? "," : "", cur->ifs[i].name);
			if (n > 0 && (size_t)n < sizeof(list) - len)
				len += (size_t)n;
		}
		json_object_set_new(keys, "lan", json_string(list));
		return 0;
	}
	/* services: the chosen ones; every other service goes off */
	v = json_object_get(body, "permit");
	if (!json_is_object(v)) {
		report_add(r, "", "permit", "wizard.bad_body",
			   "permit: an object such as {\"sip-udp\": "
			   "\"any\", \"ssh\": \"192.0.2.0/24\"}");
		return EINVAL;
	}
	json_object_foreach((json_t *)v, k, body) {
		char field[96];

		snprintf(field, sizeof(field), "firewall.permit.%.60s", k);
		if (firewall_service_find(k) < 0) {
			report_add(r, "", field, "firewall.unknown_service",
				   "%s: no inbound service '%.40s' (see "
				   "'bulwark firewall services')", field, k);
			rc = EINVAL;
		} else if (!json_is_string(body)) {
			report_add(r, "", field, "firewall.bad_cidr",
				   "%s: write off, any, or networks", field);
			rc = EINVAL;
		}
	}
	if (rc)
		return rc;
	for (i = 0; i < firewall_catalogue_n; i++) {
		char key[64];
		const json_t *pv = json_object_get(v,
						   firewall_catalogue[i].name);

		snprintf(key, sizeof(key), "permit.%s",
			 firewall_catalogue[i].name);
		json_object_set_new(keys, key, json_string(
			pv ? json_string_value(pv) : "off"));
	}
	return 0;
}

int firewall_wizard_post(struct firewall *f, const char *step,
			 const json_t *body, struct report *r, json_t **out)
{
	struct store *st = firewall_store_of(f);
	struct draft *cur = NULL, *next = NULL;
	json_t *keys = json_object(), *v;
	const char *k;
	int rc;

	if (!f || !st || !keys) {
		json_decref(keys);
		return EINVAL;
	}
	if (!step || (strcmp(step, "type") && strcmp(step, "interfaces") &&
		      strcmp(step, "services"))) {
		json_decref(keys);
		return ENOENT;
	}
	rc = draft_load(f, NULL, &cur, r);
	if (rc)
		goto out;
	rc = answer_keys(cur, step, body, keys, r);
	if (rc)
		goto out;
	/* The answer as text, parsed and checked with the rest of the
	 * draft before anything is staged (all keys or none). The type
	 * step comes before the roles: only its own rule applies. */
	{
		json_t *norm = json_object();

		if (!norm) {
			rc = ENOMEM;
			goto out;
		}
		json_object_foreach(keys, k, v) {
			if (firewall_section.set(norm, k,
						 json_string_value(v), r))
				rc = EINVAL;
		}
		json_decref(keys);
		keys = norm;
	}
	if (rc)
		goto out;
	rc = draft_load(f, keys, &next, r);
	if (rc)
		goto out;
	if (strcmp(step, "type")) {
		rc = firewall_check(&next->conf, next->ifs, next->n_if,
				    &next->ports, r);
		if (rc)
			goto out;
	}
	json_object_foreach(keys, k, v) {
		char text[1024];

		if (json_is_string(v))
			snprintf(text, sizeof(text), "%s",
				 json_string_value(v));
		else
			snprintf(text, sizeof(text), "%lld",
				 (long long)json_integer_value(v));
		rc = store_section_set(st, "firewall", k, text, r);
		if (rc)
			goto out;
	}
	if (out) {
		int idx = step_index(step);

		*out = json_pack("{s:b, s:O, s:s?}", "staged", 1, "values",
				 keys, "next", steps[idx + 1].name);
	}
out:
	json_decref(keys);
	draft_free(cur);
	draft_free(next);
	return rc;
}

static bool only_firewall_pending(const json_t *diff)
{
	const json_t *it;
	size_t i;

	json_array_foreach(diff, i, it) {
		const char *kind = json_string_value(
			json_object_get(it, "kind"));
		const char *key = json_string_value(
			json_object_get(it, "key"));

		if (!kind || strcmp(kind, "section") || !key ||
		    (strcmp(key, "firewall") && strncmp(key, "firewall.", 9)))
			return false;
	}
	return true;
}

int firewall_wizard_check(struct firewall *f, struct report *r)
{
	struct store *st = firewall_store_of(f);
	struct draft *d = NULL;
	json_t *diff = NULL;
	int rc;

	if (!st)
		return EINVAL;
	rc = draft_load(f, NULL, &d, r);
	if (!rc)
		rc = firewall_check(&d->conf, d->ifs, d->n_if, &d->ports, r);
	draft_free(d);
	if (rc)
		return rc;
	rc = store_pending(st, &diff);
	if (rc)
		return rc;
	if (!only_firewall_pending(diff)) {
		report_add(r, "", "", "wizard.other_changes",
			   "changes other than the firewall are staged: "
			   "commit or discard them first, so that applying "
			   "the firewall commits nothing else");
		rc = EBUSY;
	}
	json_decref(diff);
	return rc;
}
