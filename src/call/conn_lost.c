/*
 * conn_lost — an outbound connection (sipd_connect: a trunk's TCP or TLS
 * connection, issue 15) closed or never came up (refused, a certificate
 * that failed verification, closed by the peer). A trunk leg whose
 * INVITE went on it and still waits for a final response will never hear
 * one: it fails over at once (trunk_out_conn_closed) rather than when the
 * trunk's response timer runs out. Legs of answered calls are left as
 * they are (their dialog lives on; a BYE or the relay's RTP timeout ends
 * them). Loop thread only.
 */
#include "call/call_int.h"

/* The first trunk leg whose INVITE went on conn and has no final
 * response yet, or NULL. */
static struct leg *waiting_on(struct call_app *app, uint64_t conn)
{
	for (struct le *le = list_head(&app->calls); le; le = le->next) {
		struct call *c = le->data;

		for (struct le *bl = list_head(&c->blegs); bl; bl = bl->next) {
			struct leg *l = bl->data;
			enum ctrans_state s;

			if (!l->trunk || !l->inv || l->dlg.conn != conn)
				continue;
			s = ctrans_state(l->inv);
			if (s == CTRANS_CALLING || s == CTRANS_PROCEEDING)
				return l;
		}
	}
	return NULL;
}

void call_conn_closed(struct sipd *sd, uint64_t conn, const char *why,
		      void *arg)
{
	struct call_app *app = arg;
	struct leg *l;

	(void)sd;
	if (!app || !conn)
		return;
	/* one leg at a time, from the start each time: a failover may end
	 * its call (and free it); trunk_out_conn_closed lets go of the
	 * leg's INVITE, so the same leg is never found twice */
	while ((l = waiting_on(app, conn)))
		trunk_out_conn_closed(app, l, why ? why : "connection closed");
}
