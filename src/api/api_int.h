/*
 * api_int — what the admin API server's rooms share: api.c (start, stop,
 * the request entry and dispatch), api_routes.c (route tables, matching,
 * the API's own /admin/access routes), api_send.c (answers: JSON, errors,
 * 401 and 429, their headers) and api_listen.c (sockets, libmicrohttpd
 * daemons, HTTPS, connection and log limits, client addresses). Nothing
 * outside src/api includes this: modules see api.h and routes.h;
 * everything not declared here stays static in its room.
 */
#ifndef BULWARK_API_INT_H
#define BULWARK_API_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "api/api.h"

#define CONN_TIMEOUT_S  60    /* idle, control.sock */
#define TCP_IDLE_S      15    /* idle, TCP and HTTPS (renewed by a byte) */

struct api_auth;
struct api_gate;
struct guard_admin;

struct listener {
	struct api *api;
	bool need_auth;
	bool plain;              /* TCP without TLS: secrets only to loopback */
	const char *name;        /* "unix", "tcp" or "https", for the log */
};

struct api {
	struct daemon *d;
	struct MHD_Daemon *unix_mhd;
	struct MHD_Daemon *tcp_mhd;
	struct MHD_Daemon *tls_mhd;
	char *tls_cert, *tls_key;  /* PEM, kept while tls_mhd runs */
	int unix_fd;
	bool fd_owned_by_mhd;
	char sock_path[256];
	struct api_auth *auth;
	struct guard_admin *gadmin;     /* failed logins, admin scope */
	struct api_gate *tcp_gate, *tls_gate;
	struct listener unix_l, tcp_l, tls_l;
};

/* ---- api.c ---- */

/* The running API, for its own status routes (one per process). */
extern struct api *api_running;

/* libmicrohttpd's request and completion hooks; cls is the listener. */
enum MHD_Result api_on_request(void *cls, struct MHD_Connection *conn,
			       const char *url, const char *method,
			       const char *version, const char *upload,
			       size_t *upload_size, void **con_cls);
void api_on_completed(void *cls, struct MHD_Connection *conn,
		      void **con_cls, enum MHD_RequestTerminationCode toe);

/* ---- api_routes.c ---- */

/* The API's own routes (/admin/access), registered by api_start. */
extern const struct api_route api_routes_access[];
extern const size_t api_routes_access_n;

/* Query string value by name (api_req.query). */
const char *api_query_get(const struct api_req *req, const char *name);

/* Find req's route in the registered tables and run its handler; 404
 * or 405 into resp when there is none. */
void api_route(struct api *a, struct api_req *req, struct api_resp *resp);

/* ---- api_send.c ---- */

/* Queue resp on conn (JSON, or resp->raw with its content type) with the
 * API's headers, and log the request line. */
enum MHD_Result api_send_resp(struct MHD_Connection *conn,
			      struct listener *l, const char *method,
			      const char *url, struct api_resp *resp);
/* An error answer: status and a sentence (api_error). */
enum MHD_Result api_send_error(struct MHD_Connection *conn,
			       struct listener *l, const char *method,
			       const char *url, int status, const char *msg);
/* 401 after a delay, then close; why goes into the log line. */
enum MHD_Result api_send_unauthorized(struct MHD_Connection *conn,
				      struct listener *l,
				      const char *method, const char *url,
				      const char *why);
/* 429 to an address the admin scope blocked, then close. */
enum MHD_Result api_send_blocked(struct MHD_Connection *conn,
				 struct listener *l, const char *method,
				 const char *url, unsigned retry_s);
/* A wrong credential: counted, logged, reported, answered 401. */
enum MHD_Result api_auth_failed(struct MHD_Connection *conn,
				struct listener *l, const char *method,
				const char *url);

/* ---- api_listen.c ---- */

/* Lines that strangers can cause (libmicrohttpd's one line per refused
 * or broken connection, 401 and 429 lines) must not turn a flood into a
 * flood of log lines: at most burst per MHD_LOG_WINDOW_S; the rest are
 * counted and the count is said with the next line let through. */
struct loglimit {
	pthread_mutex_t lock;
	time_t window;
	unsigned n, dropped;
};

/* True if a line may be written now; *dropped: lines held back before. */
bool api_log_allowed(struct loglimit *ll, unsigned burst,
		     unsigned *dropped);

/* The client's address, or NULL (control.sock). */
const struct sockaddr *api_client_sa(struct MHD_Connection *conn);
/* The client's address as text ("192.0.2.7", "2001:db8::1"; "local" for
 * control.sock). */
void api_client_str(struct MHD_Connection *conn, char *buf, size_t sz);
bool api_sa_loopback(const struct sockaddr *sa);

/* Bind and listen on the control socket at path (0600); a stale socket
 * is replaced, a live one is EADDRINUSE. Sets a->unix_fd. */
int api_unix_listen(struct api *a, const char *path);
/* "IPV4:PORT" or "[IPV6]:PORT"; 0 or EINVAL. */
int api_parse_addr(const char *text, struct sockaddr_storage *ss,
		   bool *v6);
bool api_is_loopback(const struct sockaddr_storage *ss);
/* The admin credential and the admin scope, made on first use. */
int api_auth_once(struct api *a);
/* The gate of one TCP listener, made on first use. */
int api_gate_once(struct api *a, struct api_gate **gp, const char *name);

/* How one listener differs from the others; everything else about an
 * MHD daemon is the same for all three and set in api_mhd_start. */
struct mhd_spec {
	int fd;                               /* a bound socket, or -1 */
	const struct sockaddr_storage *ss;    /* else the address to bind */
	bool v6;
	unsigned idle_s;                      /* idle connection timeout */
	struct api_gate *gate;                /* TCP/HTTPS: the gate, or NULL */
	const char *tls_key, *tls_cert;       /* HTTPS: the PEM pair */
};

/* Start l's libmicrohttpd daemon; NULL when MHD refuses (it logged why). */
struct MHD_Daemon *api_mhd_start(struct listener *l,
				 const struct mhd_spec *sp);
/* Wipe and free the HTTPS PEM pair (NULL-safe fields). */
void api_tls_pem_free(struct api *a);

#endif
