/*
 * tsnap — the "trunks" section as the data plane reads it: the decoder
 * (store_section.decode, run once per snapshot on the control plane;
 * pure: no DNS) into struct trunks_typed, and the lookups on it that
 * trunk.h declares (trunk_by_addr also asks the cache of resolved host
 * names, tdns.c: loop thread).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <re_types.h>
#include <re_sa.h>

#include "store/snapshot.h"
#include "trunk/trunk.h"
#include "trunk/tresolve.h"
#include "trunk/trunk_int.h"

static const json_t *tget(const json_t *obj, const char *name,
			  const char *field)
{
	char k[64];

	snprintf(k, sizeof(k), "%s.%s", name, field);
	return json_object_get(obj, k);
}

static void tstr(const json_t *obj, const char *name, const char *field,
		 char *dst, size_t sz)
{
	const char *v = json_string_value(tget(obj, name, field));

	snprintf(dst, sz, "%s", v && strlen(v) < sz ? v : "");
}

static long tint(const json_t *obj, const char *name, const char *field,
		 long def)
{
	const json_t *v = tget(obj, name, field);

	return json_is_integer(v) ? (long)json_integer_value(v) : def;
}

static void decode_one(const json_t *obj, const char *name,
		       struct trunk_conf *t)
{
	char tp[8], id[8], addrs[512];
	const char *pw;
	size_t n = 0;

	snprintf(t->name, sizeof(t->name), "%s", name);
	tstr(obj, name, "host", t->host, sizeof(t->host));
	t->port = (uint16_t)tint(obj, name, "port", 5060);
	tstr(obj, name, "transport", tp, sizeof(tp));
	t->transport = !strcmp(tp, "tls") ? SNAP_TP_TLS :
		!strcmp(tp, "tcp") ? SNAP_TP_TCP : SNAP_TP_UDP;
	tstr(obj, name, "domain", t->domain, sizeof(t->domain));
	tstr(obj, name, "username", t->username, sizeof(t->username));
	tstr(obj, name, "auth_user", t->auth_user, sizeof(t->auth_user));
	pw = json_string_value(tget(obj, name, "password"));
	if (pw && strncmp(pw, "sealed:", 7) && strlen(pw) < sizeof(t->password))
		snprintf(t->password, sizeof(t->password), "%s", pw);
	t->reg = json_is_true(tget(obj, name, "register"));
	t->reg_expiry = (uint32_t)tint(obj, name, "expiry", 3600);
	tstr(obj, name, "id_header", id, sizeof(id));
	t->id_header = !strcmp(id, "rpid") ? TRUNK_ID_RPID :
		!strcmp(id, "none") ? TRUNK_ID_NONE : TRUNK_ID_PAI;
	t->cid_rewrite = !json_is_false(tget(obj, name, "cid_rewrite"));
	tstr(obj, name, "ani", t->ani, sizeof(t->ani));
	t->max_calls = (uint16_t)tint(obj, name, "max_calls", 0);
	if (!sa_set_str(&t->addr[0], t->host, 0))
		t->n_addr = 1;
	tstr(obj, name, "tls_ca", t->tls_ca, sizeof(t->tls_ca));
	t->tls_verify = !json_is_false(tget(obj, name, "tls_verify"));
	tstr(obj, name, "inbound", addrs, sizeof(addrs));
	if (!trunk_addrs_parse(addrs, TRUNK_ADDR_MAX - (long)t->n_addr,
			 t->addr + t->n_addr, &n))
		t->n_addr += n;
}

static int did_cmp(const void *a, const void *b)
{
	return strcmp(((const struct trunk_did *)a)->number,
		      ((const struct trunk_did *)b)->number);
}

void trunk_decode(const json_t *obj, void *out)
{
	struct trunks_typed *tt = out;
	const char *key;
	json_t *v;

	memset(tt, 0, sizeof(*tt));
	json_object_foreach((json_t *)obj, key, v) {
		const char *dot = strchr(key, '.');
		size_t nl = dot ? (size_t)(dot - key) : 0;
		char name[33];

		if (nl == 3 && !strncmp(key, "did", 3)) {
			const char *d = json_string_value(v);
			struct trunk_did *e;

			if (!d || tt->n_did >= TRUNK_DID_MAX ||
			    strlen(dot + 1) >= sizeof(e->number) ||
			    strlen(d) >= sizeof(e->dest))
				continue;
			e = &tt->did[tt->n_did++];
			snprintf(e->number, sizeof(e->number), "%s",
				 dot[1] == '+' ? dot + 2 : dot + 1);
			snprintf(e->dest, sizeof(e->dest), "%s", d);
			continue;
		}
		if (!dot || strcmp(dot + 1, "host") || !trunk_name_ok(key, nl) ||
		    tt->n >= TRUNK_MAX)
			continue;
		memcpy(name, key, nl);
		name[nl] = '\0';
		decode_one(obj, name, &tt->t[tt->n++]);
	}
	qsort(tt->did, tt->n_did, sizeof(tt->did[0]), did_cmp);
}

/* ---- the snapshot's view ---- */

const struct trunks_typed *trunks_of(const struct snapshot *s)
{
	static const struct trunks_typed none;
	const struct trunks_typed *t = s ? snapshot_typed(s, "trunks") : NULL;

	return t ? t : &none;
}

const struct trunk_conf *trunk_find(const struct snapshot *s,
				    const char *name)
{
	const struct trunks_typed *tt = trunks_of(s);

	for (size_t i = 0; name && i < tt->n; i++)
		if (!strcmp(tt->t[i].name, name))
			return &tt->t[i];
	return NULL;
}

const struct trunk_conf *trunk_by_addr(const struct snapshot *s,
				       const struct sa *src)
{
	const struct trunks_typed *tt = trunks_of(s);

	for (size_t i = 0; src && i < tt->n; i++) {
		const struct trunk_conf *t = &tt->t[i];

		for (size_t k = 0; k < t->n_addr; k++) {
			if (!sa_cmp(&t->addr[k], src, SA_ADDR))
				continue;
			if (!sa_port(&t->addr[k]) ||
			    sa_port(&t->addr[k]) == sa_port(src))
				return t;
		}
		/* a host given as a name: its resolved addresses */
		if (t->host[0] && trunk_dns_has(t->host, src))
			return t;
	}
	return NULL;
}

const char *trunk_did_dest(const struct snapshot *s, const char *number)
{
	const struct trunks_typed *tt = trunks_of(s);
	struct trunk_did key;
	const struct trunk_did *e;

	if (!number)
		return NULL;
	if (number[0] == '+')
		number++;
	if (strlen(number) >= sizeof(key.number))
		return NULL;
	snprintf(key.number, sizeof(key.number), "%s", number);
	e = bsearch(&key, tt->did, tt->n_did, sizeof(tt->did[0]), did_cmp);
	return e ? e->dest : NULL;
}
