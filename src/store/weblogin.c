/*
 * weblogin — the user portal's login against the running configuration
 * (weblogin.h). The store keeps web passwords as argon2id strings only,
 * so this is the one place that verifies them.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "store/store_int.h"
#include "store/weblogin.h"

/* A hash to verify against when the user is unknown, so that a wrong
 * user name takes as long as a wrong password (no enumeration by
 * timing). Made once, of a random password nobody knows. */
static char dummy[crypto_pwhash_STRBYTES];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t verify_lock = PTHREAD_MUTEX_INITIALIZER;

static void dummy_make(void)
{
	char pw[33];
	unsigned char b[16];

	randombytes_buf(b, sizeof(b));
	sodium_bin2hex(pw, sizeof(pw), b, sizeof(b));
	if (crypto_pwhash_str(dummy, pw, strlen(pw),
			      crypto_pwhash_OPSLIMIT_INTERACTIVE,
			      crypto_pwhash_MEMLIMIT_INTERACTIVE))
		dummy[0] = '\0';
	sodium_memzero(pw, sizeof(pw));
}

int store_web_login(struct store *s, const char *user, const char *pass,
		    char *number, size_t sz)
{
	static const char sql[] =
		"SELECT number, web_hash FROM ext_running"
		" WHERE json_extract(doc, '$.\"web.username\"') = ?1"
		" AND json_extract(doc, '$.\"web.enabled\"') = 1"
		" AND web_hash IS NOT NULL LIMIT 1";
	char hash[crypto_pwhash_STRBYTES] = "", num[24] = "";
	sqlite3_stmt *st = NULL;
	bool found = false, ok;
	int rc, err = 0;

	if (!s || !user || !pass || !number || sz < sizeof(num))
		return EINVAL;
	pthread_once(&dummy_once, dummy_make);
	pthread_mutex_lock(&s->lock);
	if (store_prep(s, sql, &st)) {
		err = EIO;
	} else {
		sqlite3_bind_text(st, 1, user, -1, SQLITE_TRANSIENT);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			const char *n = (const char *)sqlite3_column_text(st, 0);
			const char *h = (const char *)sqlite3_column_text(st, 1);

			if (n && h && strlen(n) < sizeof(num) &&
			    strlen(h) < sizeof(hash)) {
				snprintf(num, sizeof(num), "%s", n);
				snprintf(hash, sizeof(hash), "%s", h);
				found = true;
			}
		} else if (rc != SQLITE_DONE) {
			err = EIO;
		}
		store_unprep(st);
	}
	pthread_mutex_unlock(&s->lock);
	if (err)
		return err;
	/* outside the store's lock: argon2id takes a tenth of a second */
	pthread_mutex_lock(&verify_lock);
	ok = crypto_pwhash_str_verify(found ? hash : dummy, pass,
				      strlen(pass)) == 0;
	pthread_mutex_unlock(&verify_lock);
	sodium_memzero(hash, sizeof(hash));
	if (!found || !ok)
		return EACCES;
	snprintf(number, sz, "%s", num);
	return 0;
}
