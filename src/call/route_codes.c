/*
 * route_codes — the dialled feature codes (route.h): the caller's class
 * of service decides which it may use; voicemail access, hotdesk log-in
 * and log-out are services, camp-on (*82[number]) a rule of its own. The
 * rules over an extension are route.c's (route_int.h).
 */
#include <stdint.h>
#include <string.h>

#include "call/route.h"
#include "call/route_int.h"
#include "model/model.h"
#include "store/snapshot.h"

/* What the caller's class of service allows (snap_cos bits); all when
 * the snapshot has no classes (built by hand). */
uint32_t route_cos_allow(const struct snapshot *snap,
			 const struct snap_ext *caller)
{
	const struct snap_cos *cos = snapshot_typed(snap, "cos");
	const char *name = caller->feat && caller->feat->cos[0] ?
		caller->feat->cos : "default";

	if (!cos)
		return UINT32_MAX;
	for (size_t i = 0; i < cos->n; i++)
		if (!strcmp(cos->cls[i].name, name))
			return cos->cls[i].allow;
	/* refused at commit; an older row: internal calls only */
	return SNAP_COS_DEST(SNAP_DEST_INTERNAL);
}

/* The feature a dialled code names, -1 for none. */
static int feature_of(const struct snapshot *snap, const char *d, size_t len)
{
	const struct snap_features *f = snapshot_typed(snap, "features");

	for (int i = 0; f && i < SNAP_FEAT__COUNT; i++)
		if (f->code[i][0] && strlen(f->code[i]) == len &&
		    !memcmp(f->code[i], d, len))
			return i;
	return -1;
}

/* ---- camp-on (issue 13) ------------------------------------------------ */

bool route_campon_code(const struct snapshot *snap, const char *dialled,
		       size_t len, const char **rest, size_t *rlen)
{
	const struct snap_features *f = snapshot_typed(snap, "features");
	const char *code = f ? f->code[SNAP_FEAT_CAMP_ON] : "";
	size_t n = strlen(code);

	if (!n || len < n || memcmp(dialled, code, n))
		return false;
	for (size_t i = n; i < len; i++)
		if (dialled[i] < '0' || dialled[i] > '9')
			return false;
	*rest = dialled + n;
	*rlen = len - n;
	return true;
}

/* *82 alone: the extension last busy for the caller; *82<number>: that
 * one. It must let callers camp on it (user.camp_on), be a phone and
 * have no call password;
 * busy (in any call): the PBX takes the request (the camp-on service);
 * free: it is simply rung, as if dialled. */
static void camp_on(struct ctx *c, const char *num, size_t nlen,
		    uint32_t allow)
{
	const struct route_live *live = c->live;
	const struct snap_ext *x;
	const char *last;

	if (!nlen) {
		last = live->last_busy ?
			live->last_busy(c->caller->number, live->arg) : NULL;
		if (!last || !*last) {
			route_reject(c->out, ROUTE_R_CAMPON_REFUSED, 404,
				     "Not Found", "notfound");
			return;
		}
		num = last;
		nlen = strlen(last);
	}
	x = snapshot_find(c->snap, num, nlen);
	if (!x) {
		route_reject(c->out, ROUTE_R_NOT_FOUND, 404, "Not Found",
			     "notfound");
		return;
	}
	c->out->callee = x;
	/* a call password: the callback would ring it without one */
	if (!x->camp_on || !route_rings(x) || x == c->caller || x->call_pw ||
		  route_blacklisted(x, c->caller->number)) {
		route_reject(c->out, ROUTE_R_CAMPON_REFUSED, 403, "Forbidden",
			     "rejected");
		return;
	}
	if (!live->calls_in(x->number, live->arg) &&
	    !live->calls_out(x->number, live->arg)) {
		/* rung as a call to it: the class must allow internal */
		if ((allow & SNAP_COS_DESTS) &&
		    !(allow & SNAP_COS_DEST(SNAP_DEST_INTERNAL))) {
			route_reject(c->out, ROUTE_R_COS_DEST, 403, "Forbidden",
				     "rejected");
			return;
		}
		route_ext(c, x, 0);
		return;
	}
	c->out->kind = ROUTE_SERVICE;
	c->out->rule = ROUTE_R_CAMPON;
	c->out->svc = ROUTE_SVC_CAMPON;
}

void route_code(struct ctx *c, const char *dialled, size_t len,
		uint32_t allow)
{
	int fi = feature_of(c->snap, dialled, len);
	const char *rest = NULL;
	size_t rlen = 0;

	/* camp-on: the code, or the code and a number */
	if (route_campon_code(c->snap, dialled, len, &rest, &rlen))
		fi = SNAP_FEAT_CAMP_ON;

	if (fi >= 0 && !(allow & (1u << fi))) {
		route_reject(c->out, ROUTE_R_COS_FEATURE, 403, "Forbidden",
			     "rejected");
		return;
	}
	if (fi == SNAP_FEAT_VOICEMAIL ||
	    fi == SNAP_FEAT_VOICEMAIL_LOGIN) {
		/* *97: the caller's own mailbox (still asks the PIN);
		 * *98, or a caller without one: number, then PIN */
		c->out->kind = ROUTE_SERVICE;
		c->out->rule = ROUTE_R_VM_ACCESS;
		c->out->svc = ROUTE_SVC_ACCESS;
		c->out->mailbox = fi == SNAP_FEAT_VOICEMAIL &&
			c->caller->vm ? c->caller : NULL;
		return;
	}
	if (fi == SNAP_FEAT_CAMP_ON) {
		camp_on(c, rest, rlen, allow);
		return;
	}
	if (fi == SNAP_FEAT_HOTDESK ||
	    fi == SNAP_FEAT_HOTDESK_LOGOUT) {
		/* hotdesk (issue 13): log in (number, then PIN) or
		 * out at this phone; the hotdesk service answers */
		c->out->kind = ROUTE_SERVICE;
		c->out->rule = ROUTE_R_HOTDESK_CODE;
		c->out->svc = ROUTE_SVC_HOTDESK;
		return;
	}
	route_reject(c->out, ROUTE_R_FEATURE_CODE, 404, "Not Found",
		     "notfound");
}
