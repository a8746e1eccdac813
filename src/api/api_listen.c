/*
 * api_listen — the admin API's listeners: the control socket, TCP and
 * HTTPS addresses, one libmicrohttpd daemon each (thread per connection;
 * the TLS hand-off: the PEM pair from tls.c and the protocol versions),
 * the connection limits and the gate (gate.c) per TCP listener, the
 * admin credential and scope made on first use, libmicrohttpd's log
 * lines rate-limited, and the client's address. Part of the API server
 * (api_int.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <sodium.h>

#include "api/api.h"
#include "api/api_int.h"
#include "api/auth.h"
#include "api/gate.h"
#include "api/tls.h"
#include "api/web.h"
#include "common/log.h"
#include "daemon/daemon.h"
#include "guard/guard.h"

#define CONN_LIMIT      64
#define PER_IP_LIMIT    8     /* per address that logged in (and MHD's cap) */
#define PER_IP_NEW      4     /* per address that did not */
#define CONN_RESERVE    16    /* slots only addresses that logged in get */
#define REQ_DEADLINE_MS 10000 /* accept → authenticated header, in all */
#define MHD_LOG_BURST   20    /* libmicrohttpd lines per MHD_LOG_WINDOW_S */
#define MHD_LOG_WINDOW_S 10
/* TLS 1.2 and 1.3 only, GnuTLS's NORMAL ciphers otherwise */
#define TLS_PRIORITIES  "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

static struct loglimit mhd_lines = { PTHREAD_MUTEX_INITIALIZER, 0, 0, 0 };

/* True if a line may be written now; *dropped: lines held back before. */
bool api_log_allowed(struct loglimit *ll, unsigned burst,
		     unsigned *dropped)
{
	struct timespec ts;
	bool ok = false;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	pthread_mutex_lock(&ll->lock);
	if (ts.tv_sec - ll->window >= MHD_LOG_WINDOW_S) {
		ll->window = ts.tv_sec;
		ll->n = 0;
	}
	*dropped = 0;
	if (ll->n < burst) {
		ll->n++;
		*dropped = ll->dropped;
		ll->dropped = 0;
		ok = true;
	} else {
		ll->dropped++;
	}
	pthread_mutex_unlock(&ll->lock);
	return ok;
}

__attribute__((format(printf, 2, 0)))
static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	unsigned dropped = 0;

	(void)cls;
	if (!api_log_allowed(&mhd_lines, MHD_LOG_BURST, &dropped))
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\r\n")] = '\0';
	if (dropped)
		log_warn("api", "http: %s (and %u similar lines suppressed)",
			 buf, dropped);
	else
		log_warn("api", "http: %s", buf);
}

/* The client's address as text ("192.0.2.7", "2001:db8::1"; "local" for
 * control.sock). */
const struct sockaddr *api_client_sa(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn,
		MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	return ci ? ci->client_addr : NULL;
}

void api_client_str(struct MHD_Connection *conn, char *buf, size_t sz)
{
	const struct sockaddr *sa = api_client_sa(conn);

	if (sa && sa->sa_family == AF_INET &&
	    inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
		      buf, (socklen_t)sz))
		return;
	if (sa && sa->sa_family == AF_INET6 &&
	    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
		      buf, (socklen_t)sz))
		return;
	snprintf(buf, sz, "local");
}

bool api_sa_loopback(const struct sockaddr *sa)
{
	if (!sa)
		return false;
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a =
			&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return false;
}

/* ---- listeners ---- */

int api_unix_listen(struct api *a, const char *path)
{
	struct sockaddr_un sun;
	struct stat stt;
	int fd, err;

	if (strlen(path) >= sizeof(sun.sun_path) ||
	    strlen(path) >= sizeof(a->sock_path))
		return ENAMETOOLONG;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	if (lstat(path, &stt) == 0) {
		if (!S_ISSOCK(stt.st_mode)) {
			err = EEXIST;
			goto out;
		}
		/* A live daemon answers; a stale socket refuses. */
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			err = EADDRINUSE;
			goto out;
		}
		close(fd);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return errno;
		unlink(path);
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) ||
	    chmod(path, 0600) || listen(fd, 64)) {
		err = errno;
		unlink(path);
		goto out;
	}
	memcpy(a->sock_path, path, strlen(path) + 1);
	a->unix_fd = fd;
	return 0;
out:
	close(fd);
	return err;
}

int api_parse_addr(const char *text, struct sockaddr_storage *ss,
		   bool *v6)
{
	char host[64];
	const char *colon;
	unsigned long port;
	char *end;
	size_t hl;

	if (text[0] == '[') {
		const char *rb = strchr(text, ']');

		if (!rb || rb[1] != ':')
			return EINVAL;
		hl = (size_t)(rb - text - 1);
		if (hl >= sizeof(host))
			return EINVAL;
		memcpy(host, text + 1, hl);
		colon = rb + 1;
	} else {
		colon = strrchr(text, ':');
		if (!colon)
			return EINVAL;
		hl = (size_t)(colon - text);
		if (hl >= sizeof(host))
			return EINVAL;
		memcpy(host, text, hl);
	}
	host[hl] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || port == 0 || port > 65535 || colon[1] == '\0')
		return EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		*v6 = false;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*v6 = true;
		return 0;
	}
	return EINVAL;
}

bool api_is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	return IN6_IS_ADDR_LOOPBACK(
		&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

int api_auth_once(struct api *a)
{
	int err;

	if (a->auth)
		return 0;
	err = api_auth_alloc(&a->auth, a->d && a->d->data_dir ?
			     a->d->data_dir : ".");
	if (!err && !a->gadmin)
		err = guard_admin_alloc(&a->gadmin, NULL, NULL);
	if (!err)
		api_web_bind(a->auth, a->gadmin, a->d);
	return err;
}

static bool gate_credited(void *arg, const struct sockaddr *sa)
{
	struct api *a = arg;

	return guard_admin_credited(a->gadmin, sa);
}

int api_gate_once(struct api *a, struct api_gate **gp, const char *name)
{
	const struct api_gate_conf gc = {
		.name = name, .limit = CONN_LIMIT, .reserve = CONN_RESERVE,
		.per_source = PER_IP_LIMIT, .per_source_new = PER_IP_NEW,
		.deadline_ms = REQ_DEADLINE_MS, .credited = gate_credited,
		.arg = a,
	};

	return *gp ? 0 : api_gate_alloc(gp, &gc);
}

#define MHD_OPT(opt, val, ptr) \
	((struct MHD_OptionItem){ (opt), (intptr_t)(val), (ptr) })

/* The one libmicrohttpd start block: a thread per connection, our
 * logger and completion hook, the global connection cap; then the
 * socket or address, the per-address cap and the gate for TCP, the
 * certificate for HTTPS. NULL when MHD refuses (it logged why). */
struct MHD_Daemon *api_mhd_start(struct listener *l,
				 const struct mhd_spec *sp)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
			 MHD_USE_ERROR_LOG;
	struct MHD_OptionItem o[12];
	size_t n = 0;

	o[n++] = MHD_OPT(MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL);
	if (sp->fd >= 0) {
		o[n++] = MHD_OPT(MHD_OPTION_LISTEN_SOCKET, sp->fd, NULL);
	}
	else {
		o[n++] = MHD_OPT(MHD_OPTION_SOCK_ADDR, 0,
				 (struct sockaddr *)sp->ss);
		o[n++] = MHD_OPT(MHD_OPTION_PER_IP_CONNECTION_LIMIT,
				 PER_IP_LIMIT, NULL);
	}
	o[n++] = MHD_OPT(MHD_OPTION_CONNECTION_LIMIT, CONN_LIMIT, NULL);
	o[n++] = MHD_OPT(MHD_OPTION_CONNECTION_TIMEOUT, sp->idle_s, NULL);
	o[n++] = MHD_OPT(MHD_OPTION_NOTIFY_COMPLETED, api_on_completed, NULL);
	if (sp->gate)
		o[n++] = MHD_OPT(MHD_OPTION_NOTIFY_CONNECTION,
				 api_gate_notify, sp->gate);
	if (sp->tls_key) {
		flags |= MHD_USE_TLS;
		o[n++] = MHD_OPT(MHD_OPTION_HTTPS_MEM_KEY, 0,
				 (void *)sp->tls_key);
		o[n++] = MHD_OPT(MHD_OPTION_HTTPS_MEM_CERT, 0,
				 (void *)sp->tls_cert);
		o[n++] = MHD_OPT(MHD_OPTION_HTTPS_PRIORITIES, 0,
				 (void *)TLS_PRIORITIES);
	}
	o[n++] = MHD_OPT(MHD_OPTION_END, 0, NULL);
	if (sp->v6)
		flags |= MHD_USE_IPv6;
	return MHD_start_daemon(flags, 0, sp->gate ? api_gate_accept : NULL,
				sp->gate, api_on_request, l,
				MHD_OPTION_ARRAY, o, MHD_OPTION_END);
}

void api_tls_pem_free(struct api *a)
{
	if (a->tls_key) {
		sodium_memzero(a->tls_key, strlen(a->tls_key));
		free(a->tls_key);
		a->tls_key = NULL;
	}
	free(a->tls_cert);
	a->tls_cert = NULL;
}

int api_https_start(struct api *a, const char *https_addr, char *why,
		    size_t whysz)
{
	struct sockaddr_storage ss;
	bool v6 = false;
	int err;

	if (why && whysz)
		why[0] = '\0';
	if (!a || !https_addr)
		return EINVAL;
	if (a->tls_mhd) {
		snprintf(why, whysz, "HTTPS is already being served");
		return EALREADY;
	}
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		snprintf(why, whysz, "this libmicrohttpd was built without "
			 "TLS (GnuTLS) support: use a build with it, or "
			 "--http on a loopback address behind a TLS proxy");
		return ENOTSUP;
	}
	err = api_parse_addr(https_addr, &ss, &v6);
	if (err) {
		snprintf(why, whysz, "'%.80s' is not IPV4:PORT or [IPV6]:PORT",
			 https_addr);
		return err;
	}
	err = api_auth_once(a);
	if (!err)
		err = api_gate_once(a, &a->tls_gate, "https");
	if (err) {
		snprintf(why, whysz, "admin credential: %s", strerror(err));
		return err;
	}
	err = api_tls_load(a->d && a->d->data_dir ? a->d->data_dir : ".",
			   &a->tls_cert, &a->tls_key, NULL, why, whysz);
	if (err)
		return err;
	a->tls_mhd = api_mhd_start(&a->tls_l, &(struct mhd_spec){
		.fd = -1, .ss = &ss, .v6 = v6, .idle_s = TCP_IDLE_S,
		.gate = a->tls_gate, .tls_key = a->tls_key,
		.tls_cert = a->tls_cert });
	if (!a->tls_mhd) {
		api_tls_pem_free(a);
		snprintf(why, whysz, "cannot serve HTTPS on %.80s (address "
			 "in use or not on this host, or the TLS setup failed: "
			 "see the 'http:' lines above)", https_addr);
		return EADDRNOTAVAIL;
	}
	return 0;
}

