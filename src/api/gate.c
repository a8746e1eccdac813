/*
 * gate — admission and deadlines of the admin API's TCP and HTTPS
 * listeners (see gate.h for why).
 *
 * Every live connection has a slot (a fixed table of conf.limit slots,
 * the same bound as MHD's own connection limit). libmicrohttpd accepts on
 * one thread and calls the accept policy and then "connection started"
 * for the same connection before accepting the next, so the counts the
 * policy reads are exact. A watchdog thread shuts down the socket of a
 * request past its deadline; the slot lock is held while it does, and MHD
 * reports a connection closed (which frees the slot) before it closes the
 * descriptor, so the watchdog never touches a descriptor of another
 * connection.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "api/gate.h"
#include "common/log.h"

#define GATE_TICK_MS     200u     /* watchdog period */
#define GATE_REPORT_MS 10000u     /* aggregated log line at most every */
#define GATE_MAX_SLOTS  1024u

struct slot {
	struct api_gate *gate;
	bool used;
	bool authed;                 /* current request authenticated */
	bool closed;                 /* shut down by the watchdog */
	int fd;
	struct sockaddr_storage addr;
	uint64_t since;              /* ms: accept / end of last request */
};

struct api_gate {
	struct api_gate_conf conf;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool running, stop;
	struct slot *slot;
	/* totals, and the part not yet reported in the log */
	struct gate_counts {
		uint64_t refused_source, refused_reserve, refused_full;
		uint64_t deadline_closed;
	} total, unreported;
	uint64_t reported_at;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Same source as the limits count it: IPv4 address, IPv6 /64 (one
 * subscriber owns at least a /64). */
static bool same_source(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET)
		return ((const struct sockaddr_in *)(const void *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)(const void *)b)->sin_addr.s_addr;
	if (a->sa_family == AF_INET6) {
		const struct in6_addr *x =
			&((const struct sockaddr_in6 *)(const void *)a)->sin6_addr;
		const struct in6_addr *y =
			&((const struct sockaddr_in6 *)(const void *)b)->sin6_addr;

		/* IPv4 clients of a dual-stack listener share one /64 */
		if (IN6_IS_ADDR_V4MAPPED(x) || IN6_IS_ADDR_V4MAPPED(y))
			return !memcmp(x, y, sizeof(*x));
		return !memcmp(x, y, 8);
	}
	return false;
}

static void report(struct api_gate *g, uint64_t now, bool force)
{
	struct gate_counts c;

	/* called with g->lock held */
	if (!force && now - g->reported_at < GATE_REPORT_MS)
		return;
	c = g->unreported;
	g->reported_at = now;
	if (!c.refused_source && !c.refused_reserve && !c.refused_full &&
	    !c.deadline_closed)
		return;
	memset(&g->unreported, 0, sizeof(g->unreported));
	log_warn("api", "%s: refused %llu connections (%llu over the "
		 "per-address limit, %llu into the slots kept for addresses "
		 "that logged in, %llu with all %u slots taken) and closed "
		 "%llu requests past the %u ms deadline in the last %u s",
		 g->conf.name,
		 (unsigned long long)(c.refused_source + c.refused_reserve +
				      c.refused_full),
		 (unsigned long long)c.refused_source,
		 (unsigned long long)c.refused_reserve,
		 (unsigned long long)c.refused_full, g->conf.limit,
		 (unsigned long long)c.deadline_closed, g->conf.deadline_ms,
		 GATE_REPORT_MS / 1000);
}

static void *watchdog(void *arg)
{
	struct api_gate *g = arg;
	struct timespec ts;

	pthread_mutex_lock(&g->lock);
	while (!g->stop) {
		uint64_t now = now_ms();

		for (unsigned i = 0; i < g->conf.limit; i++) {
			struct slot *s = &g->slot[i];

			if (!s->used || s->authed || s->closed ||
			    now - s->since < g->conf.deadline_ms)
				continue;
			/* MHD's connection thread sees end of file and
			 * closes the connection itself. */
			if (s->fd >= 0)
				shutdown(s->fd, SHUT_RDWR);
			s->closed = true;
			g->total.deadline_closed++;
			g->unreported.deadline_closed++;
		}
		report(g, now, false);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += (long)GATE_TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&g->cond, &g->lock, &ts);
	}
	report(g, now_ms(), true);
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

int api_gate_alloc(struct api_gate **gp, const struct api_gate_conf *conf)
{
	struct api_gate *g;
	pthread_condattr_t ca;
	int err;

	if (!gp || !conf || !conf->limit || conf->limit > GATE_MAX_SLOTS ||
	    conf->reserve >= conf->limit || !conf->per_source_new ||
	    conf->per_source < conf->per_source_new || !conf->deadline_ms)
		return EINVAL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return ENOMEM;
	g->conf = *conf;
	g->slot = calloc(conf->limit, sizeof(*g->slot));
	if (!g->slot) {
		free(g);
		return ENOMEM;
	}
	for (unsigned i = 0; i < conf->limit; i++) {
		g->slot[i].gate = g;
		g->slot[i].fd = -1;
	}
	pthread_mutex_init(&g->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->cond, &ca);
	pthread_condattr_destroy(&ca);
	g->reported_at = now_ms();
	err = pthread_create(&g->thread, NULL, watchdog, g);
	if (err) {
		pthread_cond_destroy(&g->cond);
		pthread_mutex_destroy(&g->lock);
		free(g->slot);
		free(g);
		return err;
	}
	g->running = true;
	*gp = g;
	return 0;
}

void api_gate_free(struct api_gate *g)
{
	if (!g)
		return;
	if (g->running) {
		pthread_mutex_lock(&g->lock);
		g->stop = true;
		pthread_cond_signal(&g->cond);
		pthread_mutex_unlock(&g->lock);
		pthread_join(g->thread, NULL);
	}
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->lock);
	free(g->slot);
	free(g);
}

enum MHD_Result api_gate_accept(void *cls, const struct sockaddr *addr,
				socklen_t addrlen)
{
	struct api_gate *g = cls;
	unsigned total = 0, same = 0;
	bool credited;

	(void)addrlen;
	if (!g || !addr)
		return MHD_YES;
	pthread_mutex_lock(&g->lock);
	for (unsigned i = 0; i < g->conf.limit; i++) {
		if (!g->slot[i].used)
			continue;
		total++;
		if (same_source((const struct sockaddr *)&g->slot[i].addr, addr))
			same++;
	}
	pthread_mutex_unlock(&g->lock);

	/* The common case needs no look-up in the guard. */
	if (same < g->conf.per_source_new &&
	    total < g->conf.limit - g->conf.reserve)
		return MHD_YES;
	credited = g->conf.credited && g->conf.credited(g->conf.arg, addr);
	pthread_mutex_lock(&g->lock);
	if (total >= g->conf.limit) {
		g->total.refused_full++;
		g->unreported.refused_full++;
	} else if (same >= (credited ? g->conf.per_source :
			    g->conf.per_source_new)) {
		g->total.refused_source++;
		g->unreported.refused_source++;
	} else if (!credited) {
		g->total.refused_reserve++;
		g->unreported.refused_reserve++;
	} else {
		pthread_mutex_unlock(&g->lock);
		return MHD_YES;
	}
	pthread_mutex_unlock(&g->lock);
	return MHD_NO;
}

void api_gate_notify(void *cls, struct MHD_Connection *conn,
		     void **socket_context,
		     enum MHD_ConnectionNotificationCode toe)
{
	struct api_gate *g = cls;
	struct slot *s;

	if (!g)
		return;
	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		s = *socket_context;
		if (!s)
			return;
		pthread_mutex_lock(&g->lock);
		s->used = false;
		s->fd = -1;
		pthread_mutex_unlock(&g->lock);
		*socket_context = NULL;
		return;
	}
	if (toe != MHD_CONNECTION_NOTIFY_STARTED)
		return;
	{
		const union MHD_ConnectionInfo *fd_i, *addr_i;

		fd_i = MHD_get_connection_info(conn,
					       MHD_CONNECTION_INFO_CONNECTION_FD);
		addr_i = MHD_get_connection_info(conn,
					MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		pthread_mutex_lock(&g->lock);
		for (unsigned i = 0; i < g->conf.limit; i++) {
			s = &g->slot[i];
			if (s->used)
				continue;
			memset(&s->addr, 0, sizeof(s->addr));
			if (addr_i && addr_i->client_addr)
				memcpy(&s->addr, addr_i->client_addr,
				       addr_i->client_addr->sa_family == AF_INET6 ?
				       sizeof(struct sockaddr_in6) :
				       sizeof(struct sockaddr_in));
			s->fd = fd_i ? fd_i->connect_fd : -1;
			s->used = true;
			s->authed = false;
			s->closed = false;
			s->since = now_ms();
			*socket_context = s;
			break;
		}
		pthread_mutex_unlock(&g->lock);
	}
}

static struct slot *slot_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci;

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

void api_gate_authed(struct MHD_Connection *conn)
{
	struct slot *s = slot_of(conn);

	if (!s)
		return;
	pthread_mutex_lock(&s->gate->lock);
	s->authed = true;
	pthread_mutex_unlock(&s->gate->lock);
}

void api_gate_request_done(struct MHD_Connection *conn)
{
	struct slot *s = slot_of(conn);

	if (!s)
		return;
	pthread_mutex_lock(&s->gate->lock);
	s->authed = false;
	s->since = now_ms();
	pthread_mutex_unlock(&s->gate->lock);
}

json_t *api_gate_status(struct api_gate *g)
{
	unsigned n = 0;
	json_t *out;

	if (!g)
		return NULL;
	pthread_mutex_lock(&g->lock);
	for (unsigned i = 0; i < g->conf.limit; i++)
		if (g->slot[i].used)
			n++;
	out = json_pack("{s:i,s:i,s:i,s:i,s:i,s:I,s:I,s:I,s:I}",
		"connections", (int)n, "limit", (int)g->conf.limit,
		"reserve", (int)g->conf.reserve,
		"per_address", (int)g->conf.per_source_new,
		"deadline_ms", (int)g->conf.deadline_ms,
		"refused_per_address", (json_int_t)g->total.refused_source,
		"refused_reserve", (json_int_t)g->total.refused_reserve,
		"refused_full", (json_int_t)g->total.refused_full,
		"deadline_closed", (json_int_t)g->total.deadline_closed);
	pthread_mutex_unlock(&g->lock);
	return out;
}
