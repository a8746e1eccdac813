/*
 * weblogin — the user portal's credential: an extension's "Enable User
 * Web GUI" username and password (Web Authentication tab), checked
 * against the running configuration.
 */
#ifndef BULWARK_STORE_WEBLOGIN_H
#define BULWARK_STORE_WEBLOGIN_H

#include <stddef.h>

struct store;

/* Whether user/pass is the web login of a running extension with
 * web.enabled: 0 and the extension's number in number (sz >= 24), or
 * EACCES (unknown user, disabled, wrong password — indistinguishable,
 * and as slow: an unknown user costs the same argon2id verification),
 * EINVAL, EIO. At most one argon2id verification at a time (64 MiB
 * each). */
int store_web_login(struct store *s, const char *user, const char *pass,
		    char *number, size_t sz);

#endif
