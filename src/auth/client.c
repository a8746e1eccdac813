/*
 * auth client — parse a digest challenge (WWW-Authenticate /
 * Proxy-Authenticate) from a trunk and build the Authorization value
 * answering it (RFC 2617 §3.2.1-3.2.2, RFC 7616 §3.3-3.4, RFC 3261
 * §22.4). The hashing is the verifier's (digest.c), so both sides agree.
 *
 * The challenge is untrusted: every parameter is copied into a fixed
 * field or refused (EMSGSIZE); quoted values with a quote, a backslash
 * or a control character are refused rather than escaped, since we
 * write them back into our own header.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "auth/auth.h"
#include "auth/client.h"

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_tok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c && strchr("-.!%*_+`'~", c));
}

/* A value we can copy into a quoted-string of our own. */
static bool plain(const char *p, size_t l)
{
	for (size_t i = 0; i < l; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
			return false;
	}
	return true;
}

static int copy(char *dst, size_t sz, const char *p, size_t l)
{
	if (l >= sz)
		return EMSGSIZE;
	if (!plain(p, l))
		return EINVAL;
	memcpy(dst, p, l);
	dst[l] = '\0';
	return 0;
}

static bool name_is(const char *p, size_t l, const char *name)
{
	return strlen(name) == l && !strncasecmp(p, name, l);
}

/* qop="auth,auth-int": does the list hold "auth"? */
static bool qop_has_auth(const char *p, size_t l)
{
	size_t i = 0;

	while (i < l) {
		size_t s, e;

		while (i < l && (is_ws(p[i]) || p[i] == ','))
			i++;
		s = i;
		while (i < l && p[i] != ',' && !is_ws(p[i]))
			i++;
		e = i;
		if (e > s && name_is(p + s, e - s, "auth"))
			return true;
	}
	return false;
}

static int set_param(struct auth_chal *c, const char *n, size_t nl,
		     const char *v, size_t vl, bool *seen_alg, bool *seen_qop)
{
	if (name_is(n, nl, "realm"))
		return copy(c->realm, sizeof(c->realm), v, vl);
	if (name_is(n, nl, "nonce"))
		return copy(c->nonce, sizeof(c->nonce), v, vl);
	if (name_is(n, nl, "opaque"))
		return copy(c->opaque, sizeof(c->opaque), v, vl);
	if (name_is(n, nl, "stale")) {
		c->stale = name_is(v, vl, "true");
		return 0;
	}
	if (name_is(n, nl, "algorithm")) {
		*seen_alg = true;
		if (name_is(v, vl, "MD5"))
			c->alg = AUTH_CHAL_MD5;
		else if (name_is(v, vl, "SHA-256"))
			c->alg = AUTH_CHAL_SHA256;
		else
			c->alg = 0;
		return 0;
	}
	if (name_is(n, nl, "qop")) {
		*seen_qop = true;
		c->qop_auth = qop_has_auth(v, vl);
	}
	return 0;   /* domain, charset, userhash, unknown: ignored */
}

int auth_chal_parse(const char *s, size_t len, struct auth_chal *c)
{
	bool seen_alg = false, seen_qop = false;
	size_t i = 0;
	int err;

	if (!s || !c)
		return EINVAL;
	memset(c, 0, sizeof(*c));
	while (i < len && is_ws(s[i]))
		i++;
	if (len - i < 6 || strncasecmp(s + i, "Digest", 6) ||
	    (len - i > 6 && !is_ws(s[i + 6])))
		return EINVAL;
	i += 6;
	for (;;) {
		const char *n, *v;
		size_t nl, vl;

		while (i < len && (is_ws(s[i]) || s[i] == ','))
			i++;
		if (i >= len)
			break;
		n = s + i;
		while (i < len && is_tok(s[i]))
			i++;
		nl = (size_t)(s + i - n);
		while (i < len && is_ws(s[i]))
			i++;
		if (!nl || i >= len || s[i] != '=')
			return EINVAL;
		i++;
		while (i < len && is_ws(s[i]))
			i++;
		if (i < len && s[i] == '"') {
			v = s + ++i;
			while (i < len && s[i] != '"') {
				if (s[i] == '\\')
					i++;   /* escaped: plain() refuses it */
				i++;
			}
			if (i >= len)
				return EINVAL;   /* unterminated */
			vl = (size_t)(s + i - v);
			i++;
		} else {
			v = s + i;
			while (i < len && is_tok(s[i]))
				i++;
			vl = (size_t)(s + i - v);
			if (!vl)
				return EINVAL;
		}
		while (i < len && is_ws(s[i]))
			i++;
		if (i < len && s[i] != ',')
			return EINVAL;
		err = set_param(c, n, nl, v, vl, &seen_alg, &seen_qop);
		if (err)
			return err;
	}
	if (!c->realm[0] && !c->nonce[0])
		return EINVAL;
	if (!c->nonce[0])
		return EINVAL;
	if (!seen_alg)
		c->alg = AUTH_CHAL_MD5;
	if (!c->alg || (seen_qop && !c->qop_auth))
		return ENOTSUP;
	return 0;
}

static unsigned alg_of(uint8_t a)
{
	return a == AUTH_CHAL_SHA256 ? AUTH_ALG_SHA256 : AUTH_ALG_MD5;
}

static bool cnonce_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '+' ||
		      s[i] == '/' || s[i] == '='))
			return false;
	return true;
}

int auth_client_answer(const char *challenge, size_t clen,
		       const char *method, const char *uri,
		       const char *user, const char *pass,
		       uint32_t nc, const char *cnonce,
		       char *buf, size_t sz)
{
	struct auth_chal c;
	struct auth_cred cr;
	char ha1[65], resp[65], ncs[9], cn[65], opq[300] = "";
	unsigned alg;
	int err, n;

	if (!challenge || !method || !uri || !user || !pass || !buf || !sz ||
	    !plain(uri, strlen(uri)) || !plain(user, strlen(user)) ||
	    !*method || !plain(method, strlen(method)) ||
	    (cnonce && !cnonce_ok(cnonce)))
		return EINVAL;
	err = auth_chal_parse(challenge, clen, &c);
	if (err)
		return err;
	alg = alg_of(c.alg);
	if (cnonce) {
		snprintf(cn, sizeof(cn), "%s", cnonce);
	} else {
		unsigned char r[8];

		randombytes_buf(r, sizeof(r));
		sodium_bin2hex(cn, sizeof(cn), r, sizeof(r));
	}
	snprintf(ncs, sizeof(ncs), "%08x", nc ? nc : 1);
	err = auth_digest_ha1(alg, user, c.realm, pass, ha1, sizeof(ha1));
	if (err)
		goto out;
	memset(&cr, 0, sizeof(cr));
	cr.uri = (struct auth_str){ uri, strlen(uri) };
	cr.nonce = (struct auth_str){ c.nonce, strlen(c.nonce) };
	if (c.qop_auth) {
		cr.qop = (struct auth_str){ "auth", 4 };
		cr.nc = (struct auth_str){ ncs, 8 };
		cr.cnonce = (struct auth_str){ cn, strlen(cn) };
	}
	err = auth_digest_response(alg, ha1, method, &cr, resp, sizeof(resp));
	if (err)
		goto out;
	if (c.opaque[0])
		snprintf(opq, sizeof(opq), ", opaque=\"%s\"", c.opaque);
	if (c.qop_auth)
		n = snprintf(buf, sz, "Digest username=\"%s\", realm=\"%s\", "
			     "nonce=\"%s\", uri=\"%s\", response=\"%s\", "
			     "algorithm=%s, cnonce=\"%s\", qop=auth, nc=%s%s",
			     user, c.realm, c.nonce, uri, resp,
			     auth_alg_name(alg), cn, ncs, opq);
	else
		n = snprintf(buf, sz, "Digest username=\"%s\", realm=\"%s\", "
			     "nonce=\"%s\", uri=\"%s\", response=\"%s\", "
			     "algorithm=%s%s", user, c.realm, c.nonce, uri,
			     resp, auth_alg_name(alg), opq);
	if (n < 0 || (size_t)n >= sz) {
		buf[0] = '\0';
		err = ENOSPC;
	}
 out:
	sodium_memzero(ha1, sizeof(ha1));
	return err;
}
