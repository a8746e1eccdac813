/*
 * hdcall — the call layer's side of hotdesk (issue 13; call.h
 * call_set_hotdesk): routing asks where a hotdesk extension is logged in
 * (route.h route_live.hotdesk_at), and a new call from a phone a hotdesk
 * user is logged in at is placed as that user. The table itself belongs
 * to the hotdesk application (src/hotdesk); the call layer only asks.
 */
#include <stdio.h>
#include <string.h>

#include "call/call_int.h"
#include "common/log.h"
#include "model/model.h"
#include "store/snapshot.h"

void call_set_hotdesk(struct call_app *app,
		      const struct call_hotdesk_ops *ops, void *arg)
{
	if (!app)
		return;
	app->hd_ops = ops;
	app->hd_arg = ops ? arg : NULL;
}

/* route_live.hotdesk_at: a call reaching the hotdesk extension is a
 * use of its log-in (the idle bound). */
static const char *live_hotdesk_at(const char *number, void *arg)
{
	struct call_app *app = arg;
	const char *at;

	if (!app->hd_ops || !app->hd_ops->phone_of)
		return NULL;
	at = app->hd_ops->phone_of(number, app->hd_arg);
	if (at && app->hd_ops->used)
		app->hd_ops->used(number, app->hd_arg);
	return at;
}

void hdcall_live(struct call_app *app, struct route_live *live)
{
	live->hotdesk_at = app->hd_ops ? live_hotdesk_at : NULL;
}

/* dialled is one of the codes the phone keeps for itself. */
static bool hotdesk_code(const struct snapshot *snap, const char *dialled)
{
	const struct snap_features *f = snapshot_typed(snap, "features");

	return f && dialled[0] &&
		(!strcmp(f->code[SNAP_FEAT_HOTDESK], dialled) ||
		 !strcmp(f->code[SNAP_FEAT_HOTDESK_LOGOUT], dialled));
}

const struct snap_ext *hdcall_caller(struct call *c,
				     const struct snap_ext *phone)
{
	struct call_app *app = c->app;
	const struct snap_ext *x;
	const char *hd;

	if (!app->hd_ops || !app->hd_ops->user_at ||
	    hotdesk_code(c->snap, c->dialled))
		return phone;
	hd = app->hd_ops->user_at(phone->number, app->hd_arg);
	x = hd ? snapshot_find(c->snap, hd, strlen(hd)) : NULL;
	if (!x || x->type != MODEL_HOTDESK)
		return phone;
	/* the identity the callee sees (From user, display name), the
	 * class of service and limits routing applies, the CDR's caller */
	c->caller_x = x;
	snprintf(c->caller, sizeof(c->caller), "%s", x->number);
	if (app->hd_ops->used)
		app->hd_ops->used(x->number, app->hd_arg);
	log_info(MOD, "call %s: phone %s calls as hotdesk %s", c->id,
		 phone->number, x->number);
	return x;
}
