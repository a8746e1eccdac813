/*
 * greet — the work of the greeting routes, shared by the user portal's
 * (routes_greet.c: the session's own extension) and the administrator's
 * (routes_greet_admin.c: any extension). number has been checked by the
 * caller (the portal session's, or an existing extension's); which is
 * the route's :which, refused here with 404 unless name, unavail, busy or
 * temp. Each answers in resp, and refuses what the store cannot take
 * with the field and rule (greeting.which, greeting.format, ...).
 */
#ifndef BULWARK_API_GREET_H
#define BULWARK_API_GREET_H

#include "api/api.h"

struct daemon;

/* {number, greetings: [{which, exists, bytes, time_ms}]} */
void api_greet_list(struct daemon *d, const char *number,
		    struct api_resp *resp);
/* the recording as audio/wav */
void api_greet_get(struct daemon *d, const char *number, const char *which,
		   struct api_resp *resp);
/* req's body (audio/wav: 8 kHz 16-bit mono PCM, media/wavcheck.h) stored
 * as that greeting; by names who did it in the log ("its owner") */
void api_greet_put(struct daemon *d, const char *number, const char *which,
		   const struct api_req *req, const char *by,
		   struct api_resp *resp);
void api_greet_delete(struct daemon *d, const char *number,
		      const char *which, const char *by,
		      struct api_resp *resp);

#endif
