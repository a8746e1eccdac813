/*
 * registrar — the registrar as an application of the SIP stack: its
 * method row (REGISTER), its hooks (qualify responses, a new snapshot,
 * status), the bindings' life cycle and persistence, the live
 * registrations.
 */
#include <errno.h>
#include <string.h>

#include "common/log.h"
#include "registrar/reg_priv.h"
#include "store/snapshot.h"

#define REG_BIND_MAX 200000   /* until the snapshot's max_bindings */

/* A deleted extension (or one without credentials) loses its bindings. */
static void exts_gone(struct registrar *r)
{
	const struct snapshot *s = sipd_snapshot(r->sd);
	struct reg_ext *e, *cur = NULL;
	size_t pos = 0;

	while ((e = reg_ext_next(r->loc, &pos, &cur))) {
		const struct snap_ext *x = snapshot_find(s, e->number,
							 strlen(e->number));

		if (!x || !x->auth)
			reg_ext_clear(r->loc, e, reg_persist_change, r->persist);
	}
}

/* Settings and the extensions' algorithm mix of the running snapshot. */
static void settings_apply(struct registrar *r)
{
	const struct sipd_settings *set = sipd_settings(r->sd);

	r->loc->max_bind = set->max_bindings;
	/* nonce-count tables are forgotten once every nonce they hold has
	 * expired; never sooner than the longest nonce lifetime this
	 * process has used */
	if (r->loc->nc_keep < set->nonce_ttl + 60)
		r->loc->nc_keep = set->nonce_ttl + 60;
	auth_snapshot(r->auth, sipd_snapshot(r->sd));
}

static void on_apply(struct sipd *sd, void *arg)
{
	struct registrar *r = arg;

	(void)sd;
	settings_apply(r);
	exts_gone(r);
}

static void on_status(json_t *o, void *arg)
{
	struct registrar *r = arg;
	json_t *c = json_object_get(o, "counters");
	uint64_t q = 0, w = 0, d = 0, pend = 0, fail = 0, chal, chal_re;

	auth_stats(r->auth, &chal, &chal_re);
	reg_persist_stats(r->persist, &q, &w, &d);
	reg_persist_retry_stats(r->persist, &pend, &fail);
	json_object_set_new(o, "bindings",
			    json_integer((json_int_t)r->loc->n_bind));
	if (c) {
		json_object_set_new(c, "challenges",
				    json_integer((json_int_t)chal));
		json_object_set_new(c, "register_ok",
				    json_integer((json_int_t)r->c_reg_ok));
		json_object_set_new(c, "register_failed",
				    json_integer((json_int_t)r->c_reg_fail));
		json_object_set_new(c, "qualify_sent",
				    json_integer((json_int_t)r->c_qualify));
		json_object_set_new(c, "retransmissions",
				    json_integer((json_int_t)r->c_retrans));
		json_object_set_new(c, "challenge_retransmissions",
				    json_integer((json_int_t)chal_re));
	}
	json_object_set_new(o, "persist", json_pack(
		"{s:I,s:I,s:I,s:I,s:I}", "queued", (json_int_t)q,
		"written", (json_int_t)w, "dropped", (json_int_t)d,
		"pending", (json_int_t)pend, "failed", (json_int_t)fail));
}

static const struct sipd_method methods[] = {
	{ "REGISTER", GUARD_REQ_REGISTER, NULL, reg_register },
};

static const struct sipd_app app = {
	.name = "registrar",
	.methods = methods,
	.n_methods = ARRAY_SIZE(methods),
	.response = reg_qualify_response,
	.apply = on_apply,
	.status = on_status,
};

static void registrar_destructor(void *arg)
{
	struct registrar *r = arg;

	tmr_cancel(&r->sweep);
	sipd_app_unregister(r->sd, r);
	reg_persist_close(r->persist);
	r->persist = NULL;
	mem_deref(r->loc);
	mem_deref(r->auth);
}

static bool keep_ext(const char *number, void *arg)
{
	const struct registrar *r = arg;
	const struct snap_ext *x = snapshot_find(sipd_snapshot(r->sd), number,
						 strlen(number));

	return x && x->auth;
}

int registrar_alloc(struct registrar **rp, struct sipd *sd,
		    const struct registrar_conf *conf)
{
	struct registrar *r;
	size_t restored = 0;
	int err;

	if (!rp || !sd)
		return EINVAL;
	r = mem_zalloc(sizeof(*r), registrar_destructor);
	if (!r)
		return ENOMEM;
	r->sd = sd;
	tmr_init(&r->sweep);
	err = auth_alloc(&r->auth);
	if (!err)
		err = reg_loc_alloc(&r->loc, REG_BIND_MAX);
	if (!err) {
		r->loc->nc_keep = 0;   /* settings_apply sets it */
		settings_apply(r);
	}
	if (!err && conf && conf->db_path) {
		err = reg_persist_open(&r->persist, conf->db_path,
				       REG_BIND_MAX);
		if (!err)
			err = reg_persist_load(r->persist, r->loc, sipd_now(sd),
					       keep_ext, r, &restored);
		if (err)
			log_err(REG_MOD, "bindings database %s: %s",
				conf->db_path, strerror(err));
	}
	if (!err)
		err = sipd_app_register(sd, &app, r);
	if (err) {
		mem_deref(r);
		return err;
	}
	tmr_start(&r->sweep, 1000, reg_sweep, r);
	if (conf && conf->db_path)
		log_info(REG_MOD, "%zu bindings restored", restored);
	*rp = r;
	return 0;
}

static const char *tp_name(uint8_t tp)
{
	switch (tp) {
	case REG_TP_UDP: return "udp";
	case REG_TP_TCP: return "tcp";
	default:         return "tls";
	}
}

json_t *registrar_registrations(struct registrar *r)
{
	json_t *a = json_array();
	const struct reg_binding *b;
	size_t pos = 0;
	int64_t now;

	if (!r || !a)
		return a;
	now = sipd_now(r->sd);

	while ((b = reg_binding_next(r->loc, &pos))) {
		char src[64];

		re_snprintf(src, sizeof(src), "%J", &b->src);
		json_array_append_new(a, json_pack(
			"{s:s, s:s, s:s, s:s, s:s, s:I, s:o, s:o}",
			"extension", b->ext->number,
			"contact", reg_binding_uri(b),
			"source", src,
			"transport", tp_name(b->tp),
			"user_agent", reg_binding_ua(b),
			"expires_in", (json_int_t)(b->expires > now ?
						   b->expires - now : 0),
			"reachable", b->q_known ? json_boolean(b->reachable) :
				json_null(),
			"rtt_ms", b->q_known && b->reachable ?
				json_integer(b->rtt_ms) : json_null()));
	}
	return a;
}

void registrar_close(struct registrar *r)
{
	mem_deref(r);
}

size_t registrar_contacts(struct registrar *r, const char *number,
			  int64_t now, const struct reg_binding **out,
			  size_t max)
{
	struct reg_ext *e;
	size_t n = 0;

	if (!r || !number || !out || !max)
		return 0;
	e = reg_ext_find(r->loc, number, strlen(number));
	if (!e)
		return 0;
	/* bindings are kept oldest first: fill from the end of the list */
	for (const struct reg_binding *b = e->bindings; b; b = b->next) {
		/* expired, or qualify found it unreachable: a call to it
		 * would only ring into the void (issue 13: "unavailable") */
		if (b->expires <= now || (b->q_known && !b->reachable))
			continue;
		if (n < max) {
			out[n++] = b;
			continue;
		}
		memmove(out, out + 1, (max - 1) * sizeof(*out));
		out[max - 1] = b;
	}
	for (size_t i = 0; i < n / 2; i++) {
		const struct reg_binding *t = out[i];

		out[i] = out[n - 1 - i];
		out[n - 1 - i] = t;
	}
	return n;
}
