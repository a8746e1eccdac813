/*
 * tdns — DNS for trunk hosts given as names (issue 15): libre's
 * dnsc on the loop (never blocking it), A and AAAA asked together, the
 * answers cached for their TTL (at least TDNS_TTL_MIN, at most
 * TDNS_TTL_MAX seconds; a failure is remembered TDNS_NEG_S seconds).
 * The servers are /etc/resolv.conf's (dns_srv_get), or BULWARK_DNS
 * ("ADDR:PORT", the tests' resolver). Callers poll: trunk_resolve says
 * EINPROGRESS while a lookup runs, and the answer is in the cache next
 * time. At most TDNS_MAX names.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <re_types.h>
#include <re_fmt.h>
#include <re_mem.h>
#include <re_mbuf.h>
#include <re_list.h>
#include <re_sa.h>
#include <re_tmr.h>
#include <re_dns.h>

#include "common/log.h"
#include "trunk/tresolve.h"

#define MOD "trunk"
#define TDNS_MAX 32
#define TDNS_ADDR 8
#define TDNS_TTL_MIN 30
#define TDNS_TTL_MAX 3600
#define TDNS_NEG_S 30

struct tdns_ent {
	struct le le;
	char name[254];
	struct sa addr[TDNS_ADDR];   /* port 0 */
	size_t n;
	uint64_t expires;            /* tmr_jiffies ms */
	int64_t ttl;
	struct dns_query *qa, *qaaaa;
	bool done_a, done_aaaa;
};

static struct dnsc *dnsc;
static struct list ents;
static size_t n_ents;

static void ent_destructor(void *arg)
{
	struct tdns_ent *e = arg;

	list_unlink(&e->le);
	mem_deref(e->qa);
	mem_deref(e->qaaaa);
	n_ents--;
}

static int client(void)
{
	struct sa srv[4];
	uint32_t n = 4;
	char dom[64];
	const char *env = getenv("BULWARK_DNS");
	int err;

	if (dnsc)
		return 0;
	if (env && *env) {
		err = sa_decode(&srv[0], env, strlen(env));
		n = 1;
	}
	else {
		err = dns_srv_get(dom, sizeof(dom), srv, &n);
	}
	if (!err && !n)
		err = ENOENT;
	if (!err)
		err = dnsc_alloc(&dnsc, NULL, srv, n);
	if (err)
		log_warn(MOD, "DNS: no resolver (%s)", strerror(err));
	return err;
}

static bool rr_h(struct dnsrr *rr, void *arg)
{
	struct tdns_ent *e = arg;
	struct sa sa;

	if (e->n >= TDNS_ADDR)
		return true;
	if (rr->type == DNS_TYPE_A)
		sa_set_in(&sa, rr->rdata.a.addr, 0);
	else if (rr->type == DNS_TYPE_AAAA)
		sa_set_in6(&sa, rr->rdata.aaaa.addr, 0);
	else
		return false;
	for (size_t i = 0; i < e->n; i++)
		if (sa_cmp(&e->addr[i], &sa, SA_ADDR))
			return false;
	e->addr[e->n++] = sa;
	if (e->ttl < 0 || rr->ttl < e->ttl)
		e->ttl = rr->ttl;
	return false;
}

static void finish(struct tdns_ent *e)
{
	int64_t ttl = e->n ? e->ttl : TDNS_NEG_S;

	if (!e->done_a || !e->done_aaaa)
		return;
	if (ttl < TDNS_TTL_MIN)
		ttl = e->n ? TDNS_TTL_MIN : TDNS_NEG_S;
	if (ttl > TDNS_TTL_MAX)
		ttl = TDNS_TTL_MAX;
	e->expires = tmr_jiffies() + (uint64_t)ttl * 1000;
	log_info(MOD, "DNS: %s: %zu address(es), kept %lld s", e->name, e->n,
		 (long long)ttl);
}

static void a_h(int err, const struct dnshdr *hdr, struct list *ansl,
		struct list *authl, struct list *addl, void *arg)
{
	struct tdns_ent *e = arg;

	(void)hdr; (void)authl; (void)addl;
	e->qa = mem_deref(e->qa);
	if (!err)
		dns_rrlist_apply(ansl, NULL, DNS_TYPE_A, DNS_CLASS_IN, true,
				 rr_h, e);
	e->done_a = true;
	finish(e);
}

static void aaaa_h(int err, const struct dnshdr *hdr, struct list *ansl,
		   struct list *authl, struct list *addl, void *arg)
{
	struct tdns_ent *e = arg;

	(void)hdr; (void)authl; (void)addl;
	e->qaaaa = mem_deref(e->qaaaa);
	if (!err)
		dns_rrlist_apply(ansl, NULL, DNS_TYPE_AAAA, DNS_CLASS_IN,
				 true, rr_h, e);
	e->done_aaaa = true;
	finish(e);
}

static struct tdns_ent *ent_find(const char *name)
{
	for (struct le *le = list_head(&ents); le; le = le->next) {
		struct tdns_ent *e = le->data;

		if (!strcasecmp(e->name, name))
			return e;
	}
	return NULL;
}

/* Start (again) the lookup of e. */
static int ent_query(struct tdns_ent *e)
{
	int err;

	e->n = 0;
	e->ttl = -1;
	e->done_a = e->done_aaaa = false;
	err = dnsc_query(&e->qa, dnsc, e->name, DNS_TYPE_A, DNS_CLASS_IN,
			 true, a_h, e);
	if (!err)
		err = dnsc_query(&e->qaaaa, dnsc, e->name, DNS_TYPE_AAAA,
				 DNS_CLASS_IN, true, aaaa_h, e);
	if (err) {
		e->qa = mem_deref(e->qa);
		e->qaaaa = mem_deref(e->qaaaa);
		e->done_a = e->done_aaaa = true;
		e->expires = tmr_jiffies() + TDNS_NEG_S * 1000u;
	}
	return err;
}

int trunk_dns_lookup(const char *name, uint16_t port, struct sa *out,
		     size_t max, size_t *n)
{
	struct tdns_ent *e;
	int err;

	if (!name || !*name || !out || !n || strlen(name) >= sizeof(e->name))
		return EINVAL;
	*n = 0;
	e = ent_find(name);
	if (e && (!e->done_a || !e->done_aaaa))
		return EINPROGRESS;
	if (e && tmr_jiffies() < e->expires) {
		for (size_t i = 0; i < e->n && *n < max; i++) {
			out[*n] = e->addr[i];
			sa_set_port(&out[(*n)++], port);
		}
		return *n ? 0 : ENOENT;
	}
	err = client();
	if (err)
		return err;
	if (!e) {
		if (n_ents >= TDNS_MAX)
			return ENOSPC;
		e = mem_zalloc(sizeof(*e), ent_destructor);
		if (!e)
			return ENOMEM;
		n_ents++;
		snprintf(e->name, sizeof(e->name), "%s", name);
		list_append(&ents, &e->le, e);
	}
	err = ent_query(e);
	return err ? err : EINPROGRESS;
}

bool trunk_dns_has(const char *name, const struct sa *a)
{
	const struct tdns_ent *e = name ? ent_find(name) : NULL;

	for (size_t i = 0; e && i < e->n; i++)
		if (sa_cmp(&e->addr[i], a, SA_ADDR))
			return true;
	return false;
}

void trunk_dns_note(const char *name, const struct sa *addr, size_t n)
{
	struct tdns_ent *e;

	if (!name || !*name || strlen(name) >= sizeof(e->name))
		return;
	e = ent_find(name);
	if (e && (!e->done_a || !e->done_aaaa))
		return;
	if (!e) {
		if (n_ents >= TDNS_MAX)
			return;
		e = mem_zalloc(sizeof(*e), ent_destructor);
		if (!e)
			return;
		n_ents++;
		snprintf(e->name, sizeof(e->name), "%s", name);
		list_append(&ents, &e->le, e);
	}
	e->done_a = e->done_aaaa = true;
	e->n = 0;
	for (size_t i = 0; i < n && e->n < TDNS_ADDR; i++) {
		e->addr[e->n] = addr[i];
		sa_set_port(&e->addr[e->n++], 0);
	}
	e->expires = tmr_jiffies() + TDNS_TTL_MAX * 1000u;
}

void trunk_dns_close(void)
{
	list_flush(&ents);
	dnsc = mem_deref(dnsc);
}
