/*
 * render — the nftables script of the firewall model, for this
 * instance's table only ("inet bulwark" by default, common/instance.h;
 * docs/internals/firewall.md has the layout). Pure given the instance:
 * the same model gives byte-identical text, which is what `bulwark
 * firewall preview` prints and what apply sends to the kernel.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/instance.h"
#include "firewall/fw.h"

#define T instance_nft_table()

/* A bounded text buffer: appends fail once FW_RULESET_MAX is reached. */
struct buf {
	char *p;
	size_t len, cap;
	int err;
};

static void bput(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void bput(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->err)
		return;
	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? room : 0,
			      fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->err = EINVAL;
			return;
		}
		if (b->p && (size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		if (b->len + (size_t)n + 1 > FW_RULESET_MAX) {
			b->err = E2BIG;
			return;
		}
		{
			size_t cap = b->cap ? b->cap * 2 : 4096;
			char *np;

			while (cap < b->len + (size_t)n + 1)
				cap *= 2;
			if (cap > FW_RULESET_MAX)
				cap = FW_RULESET_MAX;
			np = realloc(b->p, cap);
			if (!np) {
				b->err = ENOMEM;
				return;
			}
			b->p = np;
			b->cap = cap;
		}
	}
}

static size_t count_role(const struct fw_iface *ifs, size_t n, bool lan);

/* '{ "a", "b" }' or '"a"': interface names of one role. */
static void put_ifset(struct buf *b, const struct fw_iface *ifs, size_t n,
		      bool lan)
{
	size_t i, k = 0, total = count_role(ifs, n, lan);

	if (total > 1)
		bput(b, "{ ");
	for (i = 0; i < n; i++) {
		if (ifs[i].lan != lan)
			continue;
		bput(b, "%s\"%s\"", k++ ? ", " : "", ifs[i].name);
	}
	if (total > 1)
		bput(b, " }");
}

static size_t count_role(const struct fw_iface *ifs, size_t n, bool lan)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		if (ifs[i].lan == lan)
			k++;
	return k;
}

static void put_names(struct buf *b, const struct fw_iface *ifs, size_t n,
		      bool lan)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (ifs[i].lan != lan)
			continue;
		bput(b, "%s%s", k++ ? ", " : "", ifs[i].name);
	}
	if (!k)
		bput(b, "-");
}

/* The source networks of one family, "{ a, b }" or "a"; 0 if none. */
static size_t put_srcs(struct buf *b, const struct fw_permit *p, int family,
		       bool dry)
{
	size_t i, k = 0, n = 0;
	char t[64];

	for (i = 0; i < p->n_src; i++)
		if (p->src[i].family == family)
			n++;
	if (dry || !n)
		return n;
	if (n > 1)
		bput(b, "{ ");
	for (i = 0; i < p->n_src; i++) {
		if (p->src[i].family != family)
			continue;
		firewall_cidr_text(&p->src[i], t, sizeof(t));
		bput(b, "%s%s", k++ ? ", " : "", t);
	}
	if (n > 1)
		bput(b, " }");
	return n;
}

static void put_service(struct buf *b, size_t i, const struct fw_permit *p,
			const struct fw_ports *ports)
{
	const struct fw_service *s = &firewall_catalogue[i];
	static const struct { unsigned bit; const char *kw; } protos[] = {
		{ FW_UDP, "udp" }, { FW_TCP, "tcp" },
	};
	static const struct { int family; const char *kw; } fams[] = {
		{ AF_INET, "ip" }, { AF_INET6, "ip6" },
	};
	uint16_t lo, hi;
	size_t k, f;
	char port[16];

	if (!firewall_service_ports(i, ports, &lo, &hi))
		return;
	if (lo == hi)
		snprintf(port, sizeof(port), "%u", lo);
	else
		snprintf(port, sizeof(port), "%u-%u", lo, hi);
	for (k = 0; k < sizeof(protos) / sizeof(protos[0]); k++) {
		/* TFTP answers from a new port: the kernel's tftp helper
		 * makes the client's replies "related". */
		const char *helper = !strcmp(s->name, "tftp") ?
			"ct helper set \"tftp\" " : "";

		if (!(s->proto & protos[k].bit))
			continue;
		if (p->any) {
			bput(b, "add rule %s fw_in %s dport %s %scounter "
			     "accept comment \"%s\"\n", T, protos[k].kw, port,
			     helper, s->name);
			continue;
		}
		for (f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
			if (!put_srcs(b, p, fams[f].family, true))
				continue;
			bput(b, "add rule %s fw_in %s saddr ", T, fams[f].kw);
			put_srcs(b, p, fams[f].family, false);
			bput(b, " %s dport %s %scounter accept comment "
			     "\"%s\"\n", protos[k].kw, port, helper, s->name);
		}
	}
}

static bool tftp_on(const struct fw_conf *c)
{
	int i = firewall_service_find("tftp");

	return i >= 0 && c->permit[i].on;
}

int firewall_render(const struct fw_conf *c, const struct fw_iface *ifs,
		    size_t n_if, const struct fw_ports *ports, char **text)
{
	struct buf b = { 0 };
	size_t i, n_lan = count_role(ifs, n_if, true);
	size_t n_wan = n_if - n_lan;

	bput(&b, "# Bulwark firewall, table %s (chains fw_in, "
	     "fw_fwd, fw_nat)\n", T);
	bput(&b, "# server type: %s; WAN: ", firewall_type_name(c->type));
	put_names(&b, ifs, n_if, false);
	bput(&b, "; LAN: ");
	put_names(&b, ifs, n_if, true);
	bput(&b, "\n");
	bput(&b, "add table %s\n", T);
	/* Declared exactly as the guard declares them; never flushed. */
	bput(&b, "add set %s ban4 { type ipv4_addr; flags interval, "
	     "timeout; }\n", T);
	bput(&b, "add set %s ban6 { type ipv6_addr; flags interval, "
	     "timeout; }\n", T);
	if (c->type != FW_TYPE_NONE && tftp_on(c))
		bput(&b, "add ct helper %s tftp { type \"tftp\" protocol "
		     "udp; }\n", T);
	bput(&b, "add chain %s fw_in { type filter hook input priority 0; "
	     "policy accept; }\n", T);
	bput(&b, "add chain %s fw_fwd { type filter hook forward priority "
	     "0; policy accept; }\n", T);
	bput(&b, "add chain %s fw_nat { type nat hook postrouting priority "
	     "100; policy accept; }\n", T);
	bput(&b, "flush chain %s fw_in\n", T);
	bput(&b, "flush chain %s fw_fwd\n", T);
	bput(&b, "flush chain %s fw_nat\n", T);
	if (c->type == FW_TYPE_NONE)
		goto out;

	/* fw_in: what reaches this host. LAN and loopback are never
	 * policed; everything else is WAN (also interfaces that appear
	 * later: policed until designated LAN). */
	bput(&b, "add rule %s fw_in iifname \"lo\" accept comment "
	     "\"loopback\"\n", T);
	if (n_lan) {
		bput(&b, "add rule %s fw_in iifname ", T);
		put_ifset(&b, ifs, n_if, true);
		bput(&b, " accept comment \"lan: never policed\"\n");
	}
	bput(&b, "add rule %s fw_in ip saddr @ban4 counter drop comment "
	     "\"banned by the guard\"\n", T);
	bput(&b, "add rule %s fw_in ip6 saddr @ban6 counter drop comment "
	     "\"banned by the guard\"\n", T);
	bput(&b, "add rule %s fw_in ct state established,related accept "
	     "comment \"established\"\n", T);
	bput(&b, "add rule %s fw_in icmpv6 type { destination-unreachable, "
	     "packet-too-big, time-exceeded, parameter-problem, echo-request, "
	     "nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } "
	     "accept comment \"icmpv6: errors, PMTU, echo, neighbour "
	     "discovery\"\n", T);
	bput(&b, "add rule %s fw_in ct state invalid drop comment "
	     "\"invalid\"\n", T);
	bput(&b, "add rule %s fw_in icmp type { destination-unreachable, "
	     "time-exceeded, parameter-problem, echo-request } accept comment "
	     "\"icmp: errors, PMTU, echo\"\n", T);
	for (i = 0; i < firewall_catalogue_n; i++)
		if (c->permit[i].on)
			put_service(&b, i, &c->permit[i], ports);
	bput(&b, "add rule %s fw_in counter drop comment \"wan: not "
	     "permitted\"\n", T);

	/* fw_fwd: LAN may go anywhere; from WAN only replies. */
	if (n_lan) {
		bput(&b, "add rule %s fw_fwd iifname ", T);
		put_ifset(&b, ifs, n_if, true);
		bput(&b, " accept comment \"lan: never policed\"\n");
	}
	bput(&b, "add rule %s fw_fwd ip saddr @ban4 counter drop comment "
	     "\"banned by the guard\"\n", T);
	bput(&b, "add rule %s fw_fwd ip6 saddr @ban6 counter drop comment "
	     "\"banned by the guard\"\n", T);
	bput(&b, "add rule %s fw_fwd ct state established,related accept "
	     "comment \"established\"\n", T);
	bput(&b, "add rule %s fw_fwd counter drop comment \"wan: no "
	     "forwarding\"\n", T);

	/* fw_nat: Gateway/Firewall masquerades what leaves by a WAN. */
	if (c->type == FW_TYPE_GATEWAY && n_wan) {
		bput(&b, "add rule %s fw_nat meta nfproto ipv4 oifname ", T);
		put_ifset(&b, ifs, n_if, false);
		bput(&b, " masquerade comment \"gateway: outgoing NAT\"\n");
	}
out:
	if (b.err) {
		free(b.p);
		return b.err;
	}
	*text = b.p;
	return 0;
}
