/*
 * gate — admission and deadlines of the admin API's TCP and HTTPS
 * listeners (internal to src/api; control.sock has no gate).
 *
 * Why: libmicrohttpd's idle timeout is renewed by every byte, so a client
 * sending a request slowly (slowloris) or not at all after the handshake
 * holds a connection slot for as long as it likes; nine addresses at the
 * per-address limit filled all 64. The gate
 *   - gives a request that has not authenticated a total deadline, from
 *     the accept (or the end of the previous request on the connection)
 *     to its complete header: past it the connection is shut down;
 *   - allows fewer connections per address to sources that have not
 *     logged in recently, and keeps the last slots for sources that have
 *     (guard_admin_credited), so strangers cannot take them all;
 *   - counts what it refused and closed, for the log (rate-limited) and
 *     the status.
 * An authenticated request has no total deadline (a large CSV import or
 * a long commit must finish); the idle timeout still applies to it.
 */
#ifndef BULWARK_API_GATE_H
#define BULWARK_API_GATE_H

#include <stdbool.h>
#include <sys/socket.h>

#include <jansson.h>
#include <microhttpd.h>

struct api_gate;

struct api_gate_conf {
	const char *name;          /* "tcp" / "https", for the log */
	unsigned limit;            /* connections in all (MHD's limit too) */
	unsigned reserve;          /* of which kept for credited sources */
	unsigned per_source;       /* per credited source */
	unsigned per_source_new;   /* per source without credit */
	unsigned deadline_ms;      /* accept → authenticated header */
	/* sa has logged in recently (may be NULL: nobody has) */
	bool (*credited)(void *arg, const struct sockaddr *sa);
	void *arg;
};

/* Allocate a gate and start its watchdog thread. 0 or an errno code. */
int api_gate_alloc(struct api_gate **gp, const struct api_gate_conf *conf);
/* Stop the watchdog and free. Call after MHD_stop_daemon (which reports
 * every connection closed). NULL-safe. */
void api_gate_free(struct api_gate *g);

/* For MHD_OPTION_ACCEPT_POLICY_CALLBACK (cls = the gate). */
enum MHD_Result api_gate_accept(void *cls, const struct sockaddr *addr,
				socklen_t addrlen);
/* For MHD_OPTION_NOTIFY_CONNECTION (cls = the gate). */
void api_gate_notify(void *cls, struct MHD_Connection *conn,
		     void **socket_context,
		     enum MHD_ConnectionNotificationCode toe);

/* The request on conn authenticated: no total deadline until it ends.
 * No-op for connections without a gate. */
void api_gate_authed(struct MHD_Connection *conn);
/* The request on conn ended (MHD_OPTION_NOTIFY_COMPLETED): the next one
 * on the same connection gets a fresh deadline. */
void api_gate_request_done(struct MHD_Connection *conn);

/* {connections, refused_per_source, refused_reserve, refused_full,
 * deadline_closed}. New reference. */
json_t *api_gate_status(struct api_gate *g);

#endif
