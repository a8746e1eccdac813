/*
 * client — HTTP to the admin API with libcurl: over DATA/control.sock
 * (CURLOPT_UNIX_SOCKET_PATH) or, with --url, over TCP or TLS with HTTP
 * Basic. TLS always verifies the server: against --cacert FILE only, by
 * the exact public key of --fingerprint, or else against the system's
 * CAs (an administrator's own certificate). Never silently unverified.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cli/cli.h"

#define REPLY_MAX (512u << 20)   /* bound on what we buffer */

struct buf {
	char *p;
	size_t len, cap;
	bool too_big;
};

static size_t on_data(char *data, size_t size, size_t nmemb, void *arg)
{
	struct buf *b = arg;
	size_t n = size * nmemb;

	if (b->len + n + 1 > REPLY_MAX) {
		b->too_big = true;
		return 0;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 8192;
		char *q;

		while (cap < b->len + n + 1)
			cap *= 2;
		q = realloc(b->p, cap);
		if (!q)
			return 0;
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return n;
}

char *cli_escape(const char *s)
{
	CURL *h = curl_easy_init();
	char *e, *out = NULL;

	if (!h)
		return NULL;
	e = curl_easy_escape(h, s, 0);
	if (e) {
		out = strdup(e);
		curl_free(e);
	}
	curl_easy_cleanup(h);
	return out;
}

void cli_print_error(const json_t *err)
{
	const char *msg = json_string_value(json_object_get(err, "error"));
	const json_t *items = json_object_get(err, "errors");
	const json_t *it;
	size_t i;

	fprintf(stderr, "bulwark: %s\n", msg ? msg : "the daemon refused");
	json_array_foreach(items, i, it) {
		const char *where = json_string_value(json_object_get(it, "where"));
		const char *field = json_string_value(json_object_get(it, "field"));
		const char *rule = json_string_value(json_object_get(it, "rule"));
		const char *m = json_string_value(json_object_get(it, "message"));

		/* messages that start with the field name do not repeat it */
		bool named = field && *field && m &&
			     !strncmp(m, field, strlen(field));

		fprintf(stderr, "  - %s%s%s%s%s [%s]\n",
			where && *where ? where : "",
			where && *where ? ": " : "",
			field && *field && !named ? field : "",
			field && *field && !named ? ": " : "",
			m ? m : "", rule ? rule : "?");
	}
}

/* Perform one request. Returns CLI_OK with *status and the reply, or
 * CLI_USAGE after saying why the daemon could not be reached. */
static int perform(struct cli *c, const char *method, const char *path,
		   const char *ctype, const char *body, size_t len,
		   long *status, struct buf *reply, char **ctype_out)
{
	char url[2048], sock[4096], errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL;
	CURL *h;
	CURLcode rc;
	int n, ret = CLI_USAGE;

	if (c->url)
		n = snprintf(url, sizeof(url), "%s/api/v1%s", c->url, path);
	else
		n = snprintf(url, sizeof(url), "http://localhost/api/v1%s", path);
	if (n < 0 || (size_t)n >= sizeof(url)) {
		fprintf(stderr, "bulwark: request path too long\n");
		return CLI_USAGE;
	}
	n = snprintf(sock, sizeof(sock), "%s/control.sock", c->data_dir);
	if (n < 0 || (size_t)n >= sizeof(sock) - 1 || strlen(sock) >= 108) {
		fprintf(stderr, "bulwark: data directory path too long for a "
			"control socket: %s\n", c->data_dir);
		return CLI_USAGE;
	}
	h = curl_easy_init();
	if (!h) {
		fprintf(stderr, "bulwark: cannot initialise libcurl\n");
		return CLI_USAGE;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	if (!c->url)
		curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, sock);
	if (c->user) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERPWD, c->user);
	}
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 300L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, reply);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_SSLVERSION,
			 (long)CURL_SSLVERSION_TLSv1_2);
	if (c->cacert) {
		/* this file only, not the system's CAs as well */
		curl_easy_setopt(h, CURLOPT_CAINFO, c->cacert);
		curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
	}
	if (c->pin) {
		/* The exact key is the identity: checked in the handshake,
		 * before a byte of the request (or the password) is sent. A
		 * self-signed certificate cannot chain to a CA, so the chain
		 * and the name are checked only when --cacert is also given. */
		curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, c->pin);
		if (!c->cacert) {
			curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
			curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
		}
	}
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (body) {
		char ct[128];

		snprintf(ct, sizeof(ct), "Content-Type: %s",
			 ctype ? ctype : "application/json");
		hdrs = curl_slist_append(hdrs, ct);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)len);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);

	rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		if (reply->too_big)
			fprintf(stderr, "bulwark: reply larger than %u MiB\n",
				REPLY_MAX >> 20);
		else if (c->url)
			fprintf(stderr, "bulwark: cannot reach bulwarkd at %s: "
				"%s\n%s", c->url, *errbuf ? errbuf :
				curl_easy_strerror(rc),
				(rc == CURLE_PEER_FAILED_VERIFICATION ||
				 rc == CURLE_SSL_CACERT_BADFILE) &&
				!c->cacert && !c->pin ?
				"  The server's certificate is not signed by a "
				"CA this system trusts: give --cacert with a "
				"copy of DATA/tls/admin.crt, or --fingerprint "
				"with the public key bulwarkd printed.\n" :
				rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH ?
				"  The server's key is not the one given with "
				"--fingerprint: do not send it the password.\n"
				: "");
		else
			fprintf(stderr, "bulwark: cannot reach bulwarkd on %s: "
				"%s\n  Is the daemon running on this data "
				"directory? (bulwarkd --data %s; or pass "
				"--data DIR / set BULWARK_DATA)\n", sock,
				curl_easy_strerror(rc), c->data_dir);
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	if (ctype_out) {
		char *ct = NULL;

		curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
		*ctype_out = ct ? strdup(ct) : NULL;
	}
	ret = CLI_OK;
out:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	return ret;
}

/* A 4xx/5xx reply: print it; CLI_REFUSED. */
static int refused(struct cli *c, long status, const struct buf *reply)
{
	json_t *err = reply->p ? json_loadb(reply->p, reply->len, 0, NULL)
			       : NULL;

	if (c->json && err)
		cli_print_json(err);
	if (err)
		cli_print_error(err);
	else
		fprintf(stderr, "bulwark: the daemon answered HTTP %ld\n",
			status);
	json_decref(err);
	return CLI_REFUSED;
}

int cli_call(struct cli *c, const char *method, const char *path,
	     const json_t *body, json_t **out)
{
	struct buf reply = { 0 };
	char *text = NULL;
	long status = 0;
	int ret;

	if (out)
		*out = NULL;
	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		if (!text) {
			fprintf(stderr, "bulwark: out of memory\n");
			return CLI_USAGE;
		}
	}
	ret = perform(c, method, path, "application/json", text,
		      text ? strlen(text) : 0, &status, &reply, NULL);
	free(text);
	if (ret != CLI_OK)
		goto out;
	if (status >= 400) {
		ret = refused(c, status, &reply);
		goto out;
	}
	if (out && reply.len) {
		json_error_t jerr;

		*out = json_loadb(reply.p, reply.len, 0, &jerr);
		if (!*out) {
			fprintf(stderr, "bulwark: unreadable reply from the "
				"daemon: %s\n", jerr.text);
			ret = CLI_USAGE;
		}
	}
out:
	free(reply.p);
	return ret;
}

int cli_call_raw(struct cli *c, const char *method, const char *path,
		 const char *ctype, const char *body, size_t len,
		 char **out, size_t *out_len)
{
	struct buf reply = { 0 };
	long status = 0;
	int ret;

	*out = NULL;
	*out_len = 0;
	ret = perform(c, method, path, ctype, body, len, &status, &reply,
		      NULL);
	if (ret != CLI_OK)
		goto out;
	if (status >= 400) {
		ret = refused(c, status, &reply);
		goto out;
	}
	if (!reply.p) {
		reply.p = calloc(1, 1);
		if (!reply.p)
			goto out;
	}
	*out = reply.p;
	*out_len = reply.len;
	reply.p = NULL;
out:
	free(reply.p);
	return ret;
}
