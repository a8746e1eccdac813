/*
 * record — call recording on the call layer (issue 13): when the
 * caller's or the answering extension's user.recording is "always", the
 * answered call's relay session gets a tap (media/callrec.h) and the CDR
 * names the file. The relay copies, the recorder's thread writes: nothing
 * here touches a disk.
 */
#include <errno.h>
#include <string.h>

#include "call/call_int.h"
#include "common/log.h"
#include "media/callrec.h"
#include "store/snapshot.h"

static bool wants(const struct snap_ext *x)
{
	return x && x->recording == SNAP_REC_ALWAYS;
}

void call_rec_answered(struct call *c)
{
	struct call_app *app = c->app;
	const struct snap_ext *b = c->win && c->win->x ? c->win->x :
		c->callee_x;
	unsigned max = 0;
	int err;

	if (!app->rec || c->svc || !c->relay_live || c->rec_tap ||
	    (!wants(c->caller_x) && !wants(b)))
		return;
	if (c->snap && c->snap->typed)
		max = c->snap->sip.max_recordings;
	err = callrec_start(app->rec, c->id, max, &c->rec_tap, c->rec_path,
			    sizeof(c->rec_path));
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
	log_info(MOD, "call %s: recording (%s)", c->id, c->rec_path);
}

void call_rec_end(struct call *c)
{
	callrec_stop(c->rec_tap);
	c->rec_tap = NULL;
}
