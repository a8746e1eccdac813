/*
 * session — the web GUI's login sessions (internal to src/api).
 *
 * A session is what a browser holds instead of HTTP Basic: a random id in
 * an HttpOnly, SameSite=Strict cookie (web.c sets it), a CSRF token the
 * page sends back in X-CSRF-Token on every state change, a kind (admin or
 * portal user) and, for a user, the one extension it may reach.
 *
 * Why a fixed table: logins are untrusted input; the table never grows
 * (API_SESSION_MAX slots, of which at most API_SESSION_USER_MAX for portal
 * users, so users logging in cannot push the administrator out). Only a
 * keyed hash of each id is kept: a memory dump does not give a cookie.
 * Sessions end API_SESSION_IDLE_S after their last use and
 * API_SESSION_ABS_S after the login, whatever the use. Thread-safe.
 */
#ifndef BULWARK_API_SESSION_H
#define BULWARK_API_SESSION_H

#include <stddef.h>
#include <stdint.h>

#define API_SESSION_MAX      256
#define API_SESSION_USER_MAX 192
#define API_SESSION_IDLE_S   900      /* 15 min without a request */
#define API_SESSION_ABS_S    28800    /* 8 h after the login */
#define API_SESSION_TOKEN_SZ 48       /* 32 random bytes, base64url + NUL */

enum api_session_kind { API_SESSION_ADMIN = 1, API_SESSION_USER = 2 };

struct api_session_info {
	enum api_session_kind kind;
	char number[24];                  /* the user's extension; "" admin */
	char csrf[API_SESSION_TOKEN_SZ];
	uint64_t idle_left_s, abs_left_s;
};

/* Open a session; id (API_SESSION_TOKEN_SZ) receives the cookie value,
 * info the CSRF token. A full table drops the least recently used
 * session of the same kind. 0, EINVAL or ENOSPC (no slot of this kind). */
int api_session_open(enum api_session_kind kind, const char *number,
		     char *id, struct api_session_info *info);

/* Look up a cookie value of kind; a live one counts as used now. 0 with
 * info filled, or ENOENT (unknown, expired: the slot is freed). */
int api_session_find(enum api_session_kind kind, const char *id,
		     struct api_session_info *info);

/* Log out. 0 or ENOENT. */
int api_session_close(enum api_session_kind kind, const char *id);

/* Live sessions of kind (0: all), for the status. */
size_t api_session_count(enum api_session_kind kind);

/* Tests: a clock in seconds (NULL: CLOCK_MONOTONIC) and drop every
 * session. */
void api_session_test_clock(uint64_t (*clock_s)(void));
void api_session_reset(void);

#endif
