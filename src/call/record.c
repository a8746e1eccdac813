/*
 * record — call recording on the call layer (issue 13): when the
 * caller's or the answering extension's user.recording is "always", the
 * answered call's relay session gets a tap (media/callrec.h) and the CDR
 * names the file; "on_demand": the same tap, paused until that side's
 * phone sends the feature code (CALLREC_TOGGLE_CODE, RFC 4733). The relay copies, the recorder's thread writes: nothing
 * here touches a disk.
 */
#include <errno.h>
#include <string.h>

#include "call/call_int.h"
#include "common/log.h"
#include "media/callrec.h"
#include "store/snapshot.h"

static bool is(const struct snap_ext *x, enum snap_rec how)
{
	return x && x->recording == how;
}

void call_rec_answered(struct call *c)
{
	struct call_app *app = c->app;
	const struct snap_ext *b = c->win && c->win->x ? c->win->x :
		c->callee_x;
	struct callrec_opts o = { .te_pt = -1 };
	unsigned max = 0;
	int pt, err;

	if (!app->rec || c->svc || !c->relay_live || c->rec_tap)
		return;
	if (!is(c->caller_x, SNAP_REC_ALWAYS) && !is(b, SNAP_REC_ALWAYS)) {
		/* on demand: paused until a side that may toggles it (an
		 * "always" side records all, and nobody pauses it) */
		o.toggle_sides = (is(c->caller_x, SNAP_REC_ON_DEMAND) ? 1u : 0) |
			(is(b, SNAP_REC_ON_DEMAND) ? 2u : 0);
		if (!o.toggle_sides)
			return;
		o.paused = true;
		(void)media_svc_pick(c, &pt, &o.te_pt);
		if (o.te_pt < 0) {
			log_info(MOD, "call %s: recording on demand: no "
				 "telephone-event negotiated, the code "
				 "cannot be seen: not recorded", c->id);
			return;
		}
	}
	if (c->snap && c->snap->typed)
		max = c->snap->sip.max_recordings;
	err = callrec_start(app->rec, c->id, max, &o, &c->rec_tap,
			    c->rec_path, sizeof(c->rec_path));
	if (err) {
		c->rec_tap = NULL;
		c->rec_path[0] = '\0';
		log_warn(MOD, "call %s: not recorded: %s", c->id,
			 err == EBUSY ? "sip.max_recordings calls are being "
			 "recorded" : strerror(err));
		return;
	}
	err = relay_session_tap(app->relay, c->relay_id, c->rec_tap);
	if (err) {
		/* the relay took nothing: its reference is ours to drop */
		callrec_tap_release(c->rec_tap);
		callrec_stop(c->rec_tap);
		c->rec_tap = NULL;
		c->rec_path[0] = '\0';
		log_warn(MOD, "call %s: not recorded: relay: %s", c->id,
			 strerror(err));
		return;
	}
	log_info(MOD, "call %s: recording%s (%s)", c->id,
		 o.paused ? " on demand" : "", c->rec_path);
}

void call_rec_end(struct call *c)
{
	callrec_stop(c->rec_tap);
	c->rec_tap = NULL;
}
