/*
 * model — the firewall model: catalogue of inbound services, parsing of the
 * "firewall" section, port resolution and the whole-model check. Pure.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/settings.h"
#include "common/sip_settings.h"
#include "firewall/fw.h"

/* The catalogue (STYLE.md: one table feeds everything — the section keys,
 * the wizard, the rendering and the checks). "recommended" is what the
 * wizard proposes when a LAN exists; see wizard.c for the single-system
 * case. */
const struct fw_service firewall_catalogue[] = {
	{ "sip-udp", "SIP over UDP", FW_UDP, FW_PORT_SIP_UDP, 0, "any" },
	{ "sip-tcp", "SIP over TCP", FW_TCP, FW_PORT_SIP_TCP, 0, "any" },
	{ "sip-tls", "SIP over TLS", FW_TCP, FW_PORT_SIP_TLS, 0, "any" },
	{ "rtp", "RTP media (voice)", FW_UDP, FW_PORT_RTP, 0, "any" },
	{ "iax2", "IAX2 trunks and phones", FW_UDP, FW_PORT_FIXED, 4569,
	  "off" },
	{ "admin-https", "Admin web GUI and API over HTTPS", FW_TCP,
	  FW_PORT_ADMIN_HTTPS, 0, "off" },
	{ "admin-http", "Admin web GUI and API over plain HTTP", FW_TCP,
	  FW_PORT_ADMIN_HTTP, 0, "off" },
	{ "ssh", "SSH remote shell", FW_TCP, FW_PORT_SSH, 0, "off" },
	{ "provisioning-http", "Phone provisioning over HTTP", FW_TCP,
	  FW_PORT_PROV_HTTP, 0, "off" },
	{ "tftp", "Phone provisioning over TFTP", FW_UDP, FW_PORT_FIXED, 69,
	  "off" },
};
const size_t firewall_catalogue_n =
	sizeof(firewall_catalogue) / sizeof(firewall_catalogue[0]);

/* The section's scalar keys (fw.h struct fw_settings). */
#define FS struct fw_settings
#define FW_PORT_KEY(m, d, h) \
	{ .name = #m, .type = SETTING_INT, .def = (d), .min = 1, \
	  .max = 65535, .rule = "firewall.bad_port", \
	  .msg = "firewall." #m ": must be a whole number 1..65535", \
	  .module = "firewall", .off = offsetof(FS, m), \
	  .size = sizeof(((FS *)0)->m), .help = (h) }

_Static_assert(FW_ROLLBACK_MAX == 3600, "the rollback sentence names it");

static const struct setting_def fw_defs[] = {
	{ .name = "rollback_seconds", .type = SETTING_INT,
	  .def = FW_ROLLBACK_DEFAULT, .min = 1, .max = FW_ROLLBACK_MAX,
	  .rule = "firewall.bad_rollback",
	  .msg = "firewall.rollback_seconds: must be a whole number 1..3600",
	  .module = "firewall", .off = offsetof(FS, rollback_seconds),
	  .size = sizeof(((FS *)0)->rollback_seconds),
	  .help = "seconds before an unconfirmed firewall change is rolled "
		  "back" },
	FW_PORT_KEY(ssh_port, 22, "port of the SSH service"),
	FW_PORT_KEY(admin_http_port, 8080,
		    "port of the admin API over HTTP (--http wins)"),
	FW_PORT_KEY(admin_https_port, 443,
		    "port of the admin API over HTTPS (--https wins)"),
	FW_PORT_KEY(provisioning_http_port, 80,
		    "port of phone provisioning over HTTP"),
};

const struct settings_table firewall_settings_table = {
	.section = "firewall", .defs = fw_defs,
	.n = sizeof(fw_defs) / sizeof(fw_defs[0]), .struct_size = sizeof(FS),
};

static const char *const type_names[] = {
	[FW_TYPE_NONE] = "none",
	[FW_TYPE_SINGLE] = "single",
	[FW_TYPE_GATEWAY] = "gateway",
};

int firewall_service_find(const char *name)
{
	size_t i;

	if (!name)
		return -1;
	for (i = 0; i < firewall_catalogue_n; i++)
		if (!strcmp(firewall_catalogue[i].name, name))
			return (int)i;
	return -1;
}

const char *firewall_type_name(enum fw_type t)
{
	if ((size_t)t >= sizeof(type_names) / sizeof(type_names[0]))
		return "?";
	return type_names[t];
}

int firewall_type_parse(const char *s, enum fw_type *t)
{
	size_t i;

	for (i = 0; s && i < sizeof(type_names) / sizeof(type_names[0]); i++) {
		if (!strcmp(s, type_names[i])) {
			*t = (enum fw_type)i;
			return 0;
		}
	}
	return EINVAL;
}

void firewall_cidr_make(struct fw_cidr *c, int family, const void *addr,
			unsigned plen)
{
	size_t len = family == AF_INET ? 4 : 16;
	unsigned maxp = (unsigned)len * 8, i;

	memset(c, 0, sizeof(*c));
	c->family = family;
	if (plen > maxp)
		plen = maxp;
	c->plen = (uint8_t)plen;
	memcpy(c->addr, addr, len);
	for (i = 0; i < len; i++) {
		unsigned bits = i * 8;

		if (bits >= plen)
			c->addr[i] = 0;
		else if (plen - bits < 8)
			c->addr[i] &= (uint8_t)(0xffu << (8 - (plen - bits)));
	}
}

int firewall_cidr_parse(const char *s, struct fw_cidr *c)
{
	char buf[64], *slash, *end;
	uint8_t addr[16];
	int family;
	unsigned long plen;
	struct fw_cidr tmp;

	if (!s || strlen(s) >= sizeof(buf) || !*s)
		return EINVAL;
	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	if (inet_pton(AF_INET, buf, addr) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, buf, addr) == 1)
		family = AF_INET6;
	else
		return EINVAL;
	if (slash) {
		if (*slash < '0' || *slash > '9')
			return EINVAL;
		errno = 0;
		plen = strtoul(slash, &end, 10);
		if (errno || *end || plen > (family == AF_INET ? 32u : 128u))
			return EINVAL;
	} else {
		plen = family == AF_INET ? 32 : 128;
	}
	firewall_cidr_make(&tmp, family, addr, (unsigned)plen);
	if (memcmp(tmp.addr, addr, family == AF_INET ? 4 : 16))
		return EINVAL;   /* host bits set */
	*c = tmp;
	return 0;
}

void firewall_cidr_text(const struct fw_cidr *c, char *buf, size_t sz)
{
	char a[INET6_ADDRSTRLEN];

	if (!inet_ntop(c->family, c->addr, a, sizeof(a)))
		snprintf(a, sizeof(a), "?");
	snprintf(buf, sz, "%s/%u", a, c->plen);
}

bool firewall_ifname_valid(const char *s)
{
	size_t i, n;

	if (!s)
		return false;
	n = strlen(s);
	if (n == 0 || n >= FW_IFNAMSIZ || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		/* what the kernel allows, minus what would need quoting in
		 * the nft script */
		if (ch <= ' ' || ch >= 0x7f || ch == '/' || ch == '"' ||
		    ch == '\\' || ch == ',')
			return false;
	}
	return true;
}

int firewall_permit_parse(const char *s, struct fw_permit *p,
			  const char *field, struct report *r)
{
	char buf[1024], *tok, *save = NULL;
	struct fw_permit out;
	int err = 0;

	memset(&out, 0, sizeof(out));
	if (!s || !strcmp(s, "off") || !*s) {
		*p = out;
		return 0;
	}
	if (!strcmp(s, "any")) {
		out.on = out.any = true;
		*p = out;
		return 0;
	}
	if (strlen(s) >= sizeof(buf)) {
		report_add(r, "", field, "firewall.too_long",
			   "%s: at most %zu characters", field,
			   sizeof(buf) - 1);
		return EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, ", ", &save); tok;
	     tok = strtok_r(NULL, ", ", &save)) {
		struct fw_cidr c;

		if (firewall_cidr_parse(tok, &c)) {
			report_add(r, "", field, "firewall.bad_cidr",
				   "%s: '%.60s' is not a network: write "
				   "off, any, or networks such as "
				   "203.0.113.0/24 or 2001:db8::/32 (host "
				   "bits clear)", field, tok);
			err = EINVAL;
			continue;
		}
		if (out.n_src >= FW_MAX_SRC) {
			report_add(r, "", field, "firewall.too_many_networks",
				   "%s: at most %u networks per service",
				   field, FW_MAX_SRC);
			err = EINVAL;
			break;
		}
		out.src[out.n_src++] = c;
	}
	if (!err && out.n_src == 0) {
		report_add(r, "", field, "firewall.bad_cidr",
			   "%s: write off, any, or a list of networks",
			   field);
		err = EINVAL;
	}
	if (err)
		return err;
	out.on = true;
	*p = out;
	return 0;
}

static const char *sec_str(const json_t *sec, const char *key)
{
	const json_t *v = sec ? json_object_get(sec, key) : NULL;

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Integer value of a section key (typed, or text as the CLI stages it). */
static long long sec_int(const json_t *sec, const char *key, long long dflt)
{
	const json_t *v = sec ? json_object_get(sec, key) : NULL;
	char *end;
	long long x;

	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_string(v)) {
		errno = 0;
		x = strtoll(json_string_value(v), &end, 10);
		if (!errno && *json_string_value(v) && !*end)
			return x;
	}
	return dflt;
}

void firewall_conf_free(struct fw_conf *c)
{
	if (!c)
		return;
	free(c->permit);
	c->permit = NULL;
}

int firewall_conf_parse(const json_t *sec, struct fw_conf *c,
			struct report *r)
{
	const char *s;
	long long rb;
	size_t i;
	int err = 0;

	memset(c, 0, sizeof(*c));
	c->permit = calloc(firewall_catalogue_n, sizeof(*c->permit));
	if (!c->permit)
		return ENOMEM;
	s = sec_str(sec, "type");
	if (s && firewall_type_parse(s, &c->type)) {
		report_add(r, "", "firewall.type", "firewall.bad_type",
			   "firewall.type: '%.40s' is not a server type "
			   "(none, single or gateway)", s);
		err = EINVAL;
	}
	s = sec_str(sec, "lan");
	if (s && *s) {
		char buf[FW_MAX_IFACES * FW_IFNAMSIZ + FW_MAX_IFACES];
		char *tok, *save = NULL;

		if (strlen(s) >= sizeof(buf)) {
			report_add(r, "", "firewall.lan", "firewall.too_long",
				   "firewall.lan: too many interfaces");
			err = EINVAL;
		} else {
			snprintf(buf, sizeof(buf), "%s", s);
			for (tok = strtok_r(buf, ", ", &save); tok;
			     tok = strtok_r(NULL, ", ", &save)) {
				if (!firewall_ifname_valid(tok)) {
					report_add(r, "", "firewall.lan",
						   "firewall.bad_interface",
						   "firewall.lan: '%.40s' is "
						   "not an interface name",
						   tok);
					err = EINVAL;
					continue;
				}
				if (c->n_lan >= FW_MAX_IFACES) {
					err = EINVAL;
					break;
				}
				snprintf(c->lan[c->n_lan++], FW_IFNAMSIZ,
					 "%s", tok);
			}
		}
	}
	rb = sec_int(sec, "rollback_seconds", FW_ROLLBACK_DEFAULT);
	if (rb < 1 || rb > FW_ROLLBACK_MAX) {
		report_add(r, "", "firewall.rollback_seconds",
			   "firewall.bad_rollback",
			   "firewall.rollback_seconds: must be 1..%u seconds",
			   FW_ROLLBACK_MAX);
		err = EINVAL;
		rb = FW_ROLLBACK_DEFAULT;
	}
	c->rollback_s = (unsigned)rb;
	for (i = 0; i < firewall_catalogue_n; i++) {
		char key[64], field[80];
		const char *v;

		snprintf(key, sizeof(key), "permit.%s",
			 firewall_catalogue[i].name);
		snprintf(field, sizeof(field), "firewall.%s", key);
		v = sec_str(sec, key);
		if (!v)
			v = firewall_catalogue[i].recommended;
		if (firewall_permit_parse(v, &c->permit[i], field, r))
			err = EINVAL;
	}
	if (err) {
		firewall_conf_free(c);
		return err;
	}
	return 0;
}

void firewall_assign_roles(const struct fw_conf *c, struct fw_iface *ifs,
			   size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		ifs[i].lan = false;
		for (j = 0; j < c->n_lan; j++)
			if (!strcmp(ifs[i].name, c->lan[j]))
				ifs[i].lan = true;
	}
}

/* Port of "ADDR:PORT" / "[V6]:PORT" / "PORT", or 0. */
static uint16_t addr_port(const char *s)
{
	const char *colon;
	char *end;
	unsigned long v;

	if (!s || !*s)
		return 0;
	colon = strrchr(s, ':');
	if (colon && strchr(s, ']') && colon < strchr(s, ']'))
		return 0;
	s = colon ? colon + 1 : s;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || !*s || v == 0 || v > 65535)
		return 0;
	return (uint16_t)v;
}

void firewall_ports_resolve(const json_t *sip, const json_t *sec,
			    const char *sip_listen, const char *http_addr,
			    struct fw_ports *p)
{
	uint16_t lp = addr_port(sip_listen), hp = addr_port(http_addr);
	struct sip_settings ss;   /* the ports' one definition */
	struct fw_settings fs;
	size_t i;

	memset(p, 0, sizeof(*p));
	sip_settings_decode(sip, &ss);
	settings_decode(&firewall_settings_table, sec, &fs);
	p->lo[FW_PORT_SIP_UDP] = ss.udp_port;
	p->lo[FW_PORT_SIP_TCP] = ss.tcp_port;
	p->lo[FW_PORT_SIP_TLS] = ss.tls_port;
	if (lp) {
		/* --sip ADDR:PORT serves UDP and TCP on that port */
		p->lo[FW_PORT_SIP_UDP] = lp;
		p->lo[FW_PORT_SIP_TCP] = lp;
	}
	p->lo[FW_PORT_RTP] = ss.rtp_start;
	p->hi[FW_PORT_RTP] = ss.rtp_end;
	if (p->hi[FW_PORT_RTP] < p->lo[FW_PORT_RTP])
		p->hi[FW_PORT_RTP] = p->lo[FW_PORT_RTP];
	p->lo[FW_PORT_ADMIN_HTTP] = hp ? hp : fs.admin_http_port;
	p->lo[FW_PORT_ADMIN_HTTPS] = fs.admin_https_port;
	p->lo[FW_PORT_SSH] = fs.ssh_port;
	p->lo[FW_PORT_PROV_HTTP] = fs.provisioning_http_port;
	for (i = 0; i < FW_PORT_N; i++)
		if (i != FW_PORT_RTP)
			p->hi[i] = p->lo[i];
}

void firewall_ports_https(struct fw_ports *p, const char *https_addr)
{
	uint16_t port = addr_port(https_addr);

	if (port)
		p->lo[FW_PORT_ADMIN_HTTPS] = p->hi[FW_PORT_ADMIN_HTTPS] = port;
}

bool firewall_service_ports(size_t i, const struct fw_ports *p,
			    uint16_t *lo, uint16_t *hi)
{
	const struct fw_service *s;

	if (i >= firewall_catalogue_n)
		return false;
	s = &firewall_catalogue[i];
	if (s->port == FW_PORT_FIXED) {
		*lo = *hi = s->fixed_port;
	} else {
		*lo = p->lo[s->port];
		*hi = p->hi[s->port];
	}
	return *lo != 0;
}

static const struct fw_iface *iface_find(const struct fw_iface *ifs,
					 size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(ifs[i].name, name))
			return &ifs[i];
	return NULL;
}

int firewall_check(const struct fw_conf *c, const struct fw_iface *ifs,
		   size_t n_if, const struct fw_ports *p, struct report *r)
{
	size_t i, j, n_lan = 0, usable = firewall_ifaces_usable(ifs, n_if);
	int err = 0;

	for (i = 0; i < c->n_lan; i++) {
		if (!iface_find(ifs, n_if, c->lan[i])) {
			report_add(r, "", "firewall.lan",
				   "firewall.unknown_interface",
				   "firewall.lan: no interface '%s' on this "
				   "system", c->lan[i]);
			err = EINVAL;
		}
		for (j = 0; j < i; j++)
			if (!strcmp(c->lan[i], c->lan[j]))
				break;
		if (j == i && iface_find(ifs, n_if, c->lan[i]))
			n_lan++;
	}
	if (c->type == FW_TYPE_NONE)
		return err;
	if (n_if == 0) {
		report_add(r, "", "firewall.type", "firewall.no_interface",
			   "firewall.type: no network interface found");
		return EINVAL;
	}
	if (c->type == FW_TYPE_GATEWAY && usable < 2) {
		report_add(r, "", "firewall.type",
			   "firewall.gateway_needs_two_interfaces",
			   "firewall.type: Gateway/Firewall needs two or more "
			   "network interfaces that are up or have an "
			   "address; this system has %zu (choose single or "
			   "none)", usable);
		err = EINVAL;
	}
	if (n_lan >= n_if) {
		report_add(r, "", "firewall.lan", "firewall.no_wan",
			   "firewall.lan: every interface is LAN, so the "
			   "firewall would police nothing; leave at least "
			   "one WAN interface");
		err = EINVAL;
	}
	if (c->type == FW_TYPE_GATEWAY && usable >= 2 && n_lan == 0) {
		report_add(r, "", "firewall.lan", "firewall.gateway_needs_lan",
			   "firewall.lan: Gateway/Firewall needs at least one "
			   "LAN interface to forward from");
		err = EINVAL;
	}
	/* Two permitted services may not claim the same port of the same
	 * protocol: one of them would be unreachable or wrongly exposed. */
	for (i = 0; i < firewall_catalogue_n; i++) {
		uint16_t alo, ahi;
		char field[80];

		if (!c->permit[i].on ||
		    !firewall_service_ports(i, p, &alo, &ahi))
			continue;
		for (j = 0; j < i; j++) {
			uint16_t blo, bhi;

			if (!c->permit[j].on ||
			    !firewall_service_ports(j, p, &blo, &bhi))
				continue;
			if (!(firewall_catalogue[i].proto &
			      firewall_catalogue[j].proto))
				continue;
			if (alo > bhi || blo > ahi)
				continue;
			snprintf(field, sizeof(field), "firewall.permit.%s",
				 firewall_catalogue[i].name);
			report_add(r, "", field, "firewall.port_conflict",
				   "%s: %s port %u is also used by %s "
				   "(%u-%u); give each service its own port",
				   field, firewall_catalogue[i].proto & FW_UDP ?
				   "UDP" : "TCP", alo,
				   firewall_catalogue[j].name, blo, bhi);
			err = EINVAL;
		}
	}
	return err;
}

json_t *firewall_lan_cidrs_of(const struct fw_conf *c,
			      const struct fw_iface *ifs, size_t n_if)
{
	json_t *a = json_array();
	size_t i, j, k;

	if (!a)
		return NULL;
	for (i = 0; i < n_if; i++) {
		bool lan = false;

		for (k = 0; k < c->n_lan; k++)
			if (!strcmp(ifs[i].name, c->lan[k]))
				lan = true;
		if (!lan)
			continue;
		for (j = 0; j < ifs[i].n_net; j++) {
			char t[64];

			firewall_cidr_text(&ifs[i].net[j], t, sizeof(t));
			json_array_append_new(a, json_string(t));
		}
	}
	return a;
}
