/*
 * fw — internal interfaces of the firewall module, shared by its files and
 * its unit test. Not for other modules: they use firewall/firewall.h.
 *
 * The model is pure: it takes the "firewall" section, the ports of the
 * services and the list of interfaces as input (discovery is in ifaces.c),
 * so tests inject interfaces and ports.
 */
#ifndef BULWARK_FW_H
#define BULWARK_FW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "common/report.h"

#define FW_MAX_IFACES   32    /* interfaces considered */
#define FW_MAX_NETS     8     /* addresses kept per interface */
#define FW_MAX_SRC      16    /* networks per permitted service */
#define FW_IFNAMSIZ     16    /* IFNAMSIZ, including the NUL */
#define FW_RULESET_MAX  (256u * 1024u)   /* rendered text bound */
#define FW_ROLLBACK_DEFAULT 120u
#define FW_ROLLBACK_MAX     3600u

enum fw_type { FW_TYPE_NONE = 0, FW_TYPE_SINGLE, FW_TYPE_GATEWAY };
enum fw_proto { FW_UDP = 1u << 0, FW_TCP = 1u << 1 };

struct fw_cidr {
	int family;               /* AF_INET or AF_INET6 */
	uint8_t addr[16];         /* network address (host bits cleared) */
	uint8_t plen;             /* prefix length */
};

struct fw_iface {
	char name[FW_IFNAMSIZ];
	bool lan;                 /* role: LAN (true) or WAN (false) */
	bool down;                /* known to be down (no IFF_UP) */
	size_t n_net;
	struct fw_cidr net[FW_MAX_NETS];   /* networks of its addresses */
	char addr[FW_MAX_NETS][48];        /* "addr/plen" as configured */
};

/* Where a catalogue service's port comes from. */
enum fw_port_id {
	FW_PORT_FIXED = 0,
	FW_PORT_SIP_UDP, FW_PORT_SIP_TCP, FW_PORT_SIP_TLS, FW_PORT_RTP,
	FW_PORT_ADMIN_HTTP, FW_PORT_ADMIN_HTTPS, FW_PORT_SSH,
	FW_PORT_PROV_HTTP,
	FW_PORT_N
};

/* Ports of the services, resolved from their configuration. A value of 0
 * means "unknown" (that service is not rendered nor checked). */
struct fw_ports {
	uint16_t lo[FW_PORT_N];
	uint16_t hi[FW_PORT_N];   /* = lo except for ranges (RTP) */
};

/* The section's scalar keys, typed (firewall_settings_table in model.c:
 * their one definition — defaults, bounds, rules; the server type, the
 * LAN list and the permits keep their own parsing). */
struct fw_settings {
	uint32_t rollback_seconds;
	uint16_t ssh_port;
	uint16_t admin_http_port;
	uint16_t admin_https_port;
	uint16_t provisioning_http_port;
};

struct settings_table;
extern const struct settings_table firewall_settings_table;

struct fw_service {
	const char *name;         /* "sip-udp": key "permit.<name>" */
	const char *label;        /* for the wizard */
	unsigned proto;           /* fw_proto mask */
	enum fw_port_id port;     /* FW_PORT_FIXED: fixed_port */
	uint16_t fixed_port;
	const char *recommended;  /* "any" or "off" (see wizard.c) */
};

extern const struct fw_service firewall_catalogue[];
extern const size_t firewall_catalogue_n;

/* Index of a catalogue service by name, or -1. */
int firewall_service_find(const char *name);

struct fw_permit {
	bool on;                  /* permitted at all */
	bool any;                 /* from anywhere */
	size_t n_src;
	struct fw_cidr src[FW_MAX_SRC];
};

struct fw_conf {
	enum fw_type type;
	size_t n_lan;
	char lan[FW_MAX_IFACES][FW_IFNAMSIZ];
	unsigned rollback_s;
	struct fw_permit *permit; /* firewall_catalogue_n entries, owned */
};

/* --- model.c (pure) --- */

const char *firewall_type_name(enum fw_type t);
int firewall_type_parse(const char *s, enum fw_type *t);

/* "10.0.0.0/8", "2001:db8::/32", "192.0.2.7" (host). Host bits must be
 * clear ("10.1.2.3/8" is refused: ambiguous). 0 or EINVAL. */
int firewall_cidr_parse(const char *s, struct fw_cidr *c);
/* Text "addr/plen" into buf. */
void firewall_cidr_text(const struct fw_cidr *c, char *buf, size_t sz);
/* Network of address addr (family, 4 or 16 bytes) with prefix plen. */
void firewall_cidr_make(struct fw_cidr *c, int family, const void *addr,
			unsigned plen);

/* A permit value: "off", "any" or a comma-separated list of networks.
 * 0 or EINVAL (report item on field, rule firewall.bad_cidr / ...). */
int firewall_permit_parse(const char *s, struct fw_permit *p,
			  const char *field, struct report *r);

/* Interface name syntax (1..15 chars, no '/', no blanks, not "." "..").*/
bool firewall_ifname_valid(const char *s);

/* Parse the section object into c (allocates c->permit: free with
 * firewall_conf_free). Values not valid are reported; returns EINVAL if
 * any, 0 otherwise. */
int firewall_conf_parse(const json_t *sec, struct fw_conf *c,
			struct report *r);
void firewall_conf_free(struct fw_conf *c);

/* Apply the LAN designation of c to the interfaces (sets ifs[i].lan). */
void firewall_assign_roles(const struct fw_conf *c, struct fw_iface *ifs,
			   size_t n);

/* Resolve the ports: sip = the "sip" section (udp_port, tcp_port,
 * tls_port, rtp_start, rtp_end; may be NULL), sec = the "firewall"
 * section (ssh_port, admin_http_port, admin_https_port,
 * provisioning_http_port; may be NULL), sip_listen / http_addr =
 * "ADDR:PORT" given to the daemon (--sip / --http; may be NULL), which
 * win over the sections. */
void firewall_ports_resolve(const json_t *sip, const json_t *sec,
			    const char *sip_listen, const char *http_addr,
			    struct fw_ports *p);

/* --https "ADDR:PORT" given to the daemon (may be NULL or ""): its port
 * wins over firewall.admin_https_port. Call after firewall_ports_resolve.
 * (Addition: admin API over HTTPS.) */
void firewall_ports_https(struct fw_ports *p, const char *https_addr);

/* Port range of catalogue service i; false if unknown (0). */
bool firewall_service_ports(size_t i, const struct fw_ports *p,
			    uint16_t *lo, uint16_t *hi);

/* Every rule of the whole model: type vs interface count, WAN/LAN
 * presence, unknown interfaces, port conflicts between permitted services.
 * 0 or EINVAL with every finding in r (fields "firewall.<key>"). */
int firewall_check(const struct fw_conf *c, const struct fw_iface *ifs,
		   size_t n_if, const struct fw_ports *p, struct report *r);

/* LAN networks as JSON array of "addr/plen" strings (new reference). */
json_t *firewall_lan_cidrs_of(const struct fw_conf *c,
			      const struct fw_iface *ifs, size_t n_if);

/* --- render.c (pure) --- */

/* The nftables script for table inet bulwark (fw_in, fw_fwd, fw_nat and
 * the ban set declarations), for a checked model. malloc'd text. 0,
 * ENOMEM or E2BIG (over FW_RULESET_MAX). */
int firewall_render(const struct fw_conf *c, const struct fw_iface *ifs,
		    size_t n_if, const struct fw_ports *p, char **text);

/* --- ifaces.c (system) --- */

/* Interfaces of the system except loopback, sorted by name, with the
 * networks of their addresses. 0 or errno. */
int firewall_ifaces_discover(struct fw_iface *ifs, size_t max, size_t *n);

/* The discovery the section's staging and commit checks use
 * (firewall_ifaces_discover); unit tests point it at a fake system. */
extern int (*firewall_ifaces_hook)(struct fw_iface *ifs, size_t max,
				   size_t *n);

/* Interfaces that can carry traffic: up, or with an address. A NIC that
 * is down and unconfigured does not make a gateway. */
size_t firewall_ifaces_usable(const struct fw_iface *ifs, size_t n);

/* --- nft.c (kernel, libnftables) --- */

/* Run an nftables script as one transaction. On failure errno-style code
 * (EPERM without CAP_NET_ADMIN) and the first line(s) of nft's message in
 * err. */
int firewall_nft_run(const char *script, char *err, size_t errsz);

/* Script that restores the current state of the firewall chains (fw_in,
 * fw_fwd, fw_nat) as they are in the kernel now: flush + their rules, or
 * delete when absent. malloc'd. */
int firewall_nft_snapshot(char **script);

/* True if the process has CAP_NET_ADMIN in its effective set. */
bool firewall_has_net_admin(void);

/* --- firewall.c, for wizard.c --- */

struct firewall;
struct store;
struct store *firewall_store_of(struct firewall *f);
/* Copies of the daemon's --sip / --http addresses ("" if none). */
void firewall_listen_of(struct firewall *f, char *sip, size_t sipsz,
			char *http, size_t httpsz);
/* Copy of the daemon's --https address ("" if none). */
void firewall_https_of(struct firewall *f, char *buf, size_t sz);

#endif
