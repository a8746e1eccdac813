/*
 * trunk_in — inbound calls from a trunk's addresses (trunk_in.h).
 */
#include <string.h>
#include <strings.h>

#include "call/call_int.h"
#include "call/trunk_in.h"
#include "model/model.h"
#include "trunk/trunk.h"

#define MOD "call"

static const struct snap_feat inbound_feat = { .cos = "inbound" };

/* Live calls whose caller is trunk name. */
static unsigned trunk_calls(struct call_app *app, const char *name)
{
	unsigned n = 0;

	for (struct le *le = list_head(&app->calls); le; le = le->next) {
		const struct call *c = le->data;

		if (c->trunk_in && !strcmp(c->trunk_in->trunk, name))
			n++;
	}
	return n;
}

static bool cid_char(char ch)
{
	return (ch >= '0' && ch <= '9') || ch == '+' || ch == '*' ||
	       ch == '#';
}

/* The caller ID number of s (a user part), or false. */
static bool cid_number(char *dst, size_t sz, const struct sipmsg_str *s)
{
	if (!s->l || s->l >= sz)
		return false;
	for (size_t i = 0; i < s->l; i++)
		if (!cid_char(s->p[i]))
			return false;
	memcpy(dst, s->p, s->l);
	dst[s->l] = '\0';
	return true;
}

/* What the trunk asserts: P-Asserted-Identity's user when it is a
 * number, else the From user; the display name likewise. */
static void caller_id(const struct sipmsg *m, struct trunk_caller *tc)
{
	const struct sipmsg_addr *use = &m->from;
	struct sipmsg_addr pai;

	for (size_t i = 0; i < m->n_hdr; i++) {
		const struct sipmsg_hdr *h = &m->hdr[i];
		const char *p = h->val.p;

		if (h->name.l != 19 ||
		    strncasecmp(h->name.p, "P-Asserted-Identity", 19))
			continue;
		memset(&pai, 0, sizeof(pai));
		if (!sipmsg_addr(&pai, &p, h->val.p + h->val.l, true) &&
		    pai.user.l)
			use = &pai;
		break;
	}
	if (!cid_number(tc->x.number, sizeof(tc->x.number), &use->user) &&
	    !cid_number(tc->x.number, sizeof(tc->x.number), &m->from.user))
		snprintf(tc->x.number, sizeof(tc->x.number), "anonymous");
	/* the display name: call_new copies the From one (caller_disp),
	 * shown because cid_override is on; PAI's wins when it has one */
	if (use != &m->from && use->dname.l &&
	    use->dname.l < sizeof(tc->x.name))
		snprintf(tc->x.name, sizeof(tc->x.name), "%.*s",
			 (int)use->dname.l, use->dname.p);
}

static void caller_init(struct trunk_caller *tc)
{
	static const uint8_t codecs[] = { SNAP_CODEC_ULAW, SNAP_CODEC_ALAW,
		SNAP_CODEC_G722, SNAP_CODEC_OPUS, SNAP_CODEC_GSM };
	struct snap_ext *x = &tc->x;

	x->type = MODEL_SIP;
	x->auth = false;
	x->transports = SNAP_TP_UDP | SNAP_TP_TCP | SNAP_TP_TLS;
	x->limit_in = 0;          /* nobody calls it */
	x->limit_out = 65535;     /* the trunk's max_calls is checked here */
	x->n_codecs = sizeof(codecs);
	memcpy(x->codecs, codecs, sizeof(codecs));
	x->cid_override = true;   /* the callee sees the trunk's caller ID */
	x->feat = &inbound_feat;
}

/* The DID the trunk dialled: Request-URI user, else To user. */
static const char *did_of(const struct snapshot *s, const struct sipmsg *m,
			  char *did, size_t sz)
{
	const struct sipmsg_str *cand[2] = { NULL, &m->to.user };
	const char *up, *dest;
	size_t ul;
	struct sipmsg_str ru;

	call_uri_user(&m->ruri, &up, &ul);
	ru.p = up;
	ru.l = ul;
	cand[0] = &ru;
	for (size_t i = 0; i < 2; i++) {
		if (!cand[i]->l || cand[i]->l >= sz)
			continue;
		memcpy(did, cand[i]->p, cand[i]->l);
		did[cand[i]->l] = '\0';
		dest = trunk_did_dest(s, did);
		if (dest)
			return dest;
	}
	return NULL;
}

struct trunk_caller *trunk_in_caller(struct call_app *app,
				     struct sipd_req *rq,
				     struct strans_tx **txp, bool *handled)
{
	const struct snapshot *s = sipd_snapshot(app->sd);
	const struct trunk_conf *t = trunk_by_addr(s, rq->src);
	struct trunk_caller *tc;
	enum strans_rx rx;
	const char *dest;
	char did[24];

	*handled = false;
	if (!t)
		return NULL;
	*handled = true;
	rx = strans_receive(app->st, rq->m, rq->tp, rq->src, rq->conn,
			    call_now_ms(), txp);
	call_tick_schedule(app);
	if (rx != STRANS_RX_NEW) {
		if (rx == STRANS_RX_BAD)
			sipd_reply(rq, 400, "Bad Request", NULL, 0);
		return NULL;
	}
	dest = did_of(s, rq->m, did, sizeof(did));
	if (!dest) {
		log_info(MOD, "trunk %s: call to an unknown DID refused (404)",
			 t->name);
		call_answer(app, rq, *txp, 404, "Not Found", NULL);
		return NULL;
	}
	if (t->max_calls && trunk_calls(app, t->name) >= t->max_calls) {
		log_warn(MOD, "trunk %s: %u calls: DID %s refused (503)",
			 t->name, t->max_calls, did);
		call_answer(app, rq, *txp, 503, "Service Unavailable",
			    "Retry-After: 30\r\n");
		return NULL;
	}
	tc = mem_zalloc(sizeof(*tc), NULL);
	if (!tc) {
		call_answer(app, rq, *txp, 500, "Server Internal Error", NULL);
		return NULL;
	}
	caller_init(tc);
	caller_id(rq->m, tc);
	snprintf(tc->trunk, sizeof(tc->trunk), "%s", t->name);
	snprintf(tc->did, sizeof(tc->did), "%s", did);
	snprintf(tc->dest, sizeof(tc->dest), "%s", dest);
	return tc;
}

const struct snap_ext *trunk_in_attach(struct call *c,
				       struct trunk_caller *tc)
{
	c->trunk_in = tc;
	c->caller_x = &tc->x;
	snprintf(c->caller, sizeof(c->caller), "%s", tc->x.number);
	snprintf(c->dialled, sizeof(c->dialled), "%s", tc->dest);
	log_info(MOD, "call %s: trunk %s, DID %s -> %s", c->id, tc->trunk,
		 tc->did, tc->dest);
	return &tc->x;
}
