/*
 * digest — HTTP digest for SIP (RFC 2617, RFC 7616 / RFC 8760 SHA-256):
 * parsing the Authorization header and computing responses. We offer only
 * qop=auth, so qop-less (RFC 2069) answers are refused.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "auth/auth.h"

static EVP_MD *md_md5, *md_sha256;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void md_init(void)
{
	/* Fetch once: implicit fetching on every digest is slow in OpenSSL 3 */
	md_md5 = EVP_MD_fetch(NULL, "MD5", NULL);
	md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *md_get(unsigned alg)
{
	pthread_once(&md_once, md_init);
	switch (alg) {
	case AUTH_ALG_MD5:    return md_md5;
	case AUTH_ALG_SHA256: return md_sha256;
	default:             return NULL;
	}
}

const char *auth_alg_name(unsigned alg)
{
	switch (alg) {
	case AUTH_ALG_MD5:    return "MD5";
	case AUTH_ALG_SHA256: return "SHA-256";
	default:             return NULL;
	}
}

size_t auth_hexlen(unsigned alg)
{
	switch (alg) {
	case AUTH_ALG_MD5:    return 32;
	case AUTH_ALG_SHA256: return 64;
	default:             return 0;
	}
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_tok(char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c && strchr("-.!%*_+`'~", c) != NULL;
}

static bool name_is(const char *p, size_t l, const char *name)
{
	return strlen(name) == l && !strncasecmp(p, name, l);
}

static int set_param(struct auth_cred *c, const char *n, size_t nl,
		     struct auth_str v)
{
	static const struct {
		const char *name;
		size_t off;
	} tab[] = {
		{"username",  offsetof(struct auth_cred, username)},
		{"realm",     offsetof(struct auth_cred, realm)},
		{"nonce",     offsetof(struct auth_cred, nonce)},
		{"uri",       offsetof(struct auth_cred, uri)},
		{"response",  offsetof(struct auth_cred, response)},
		{"algorithm", offsetof(struct auth_cred, algorithm)},
		{"cnonce",    offsetof(struct auth_cred, cnonce)},
		{"nc",        offsetof(struct auth_cred, nc)},
		{"qop",       offsetof(struct auth_cred, qop)},
		{"opaque",    offsetof(struct auth_cred, opaque)},
	};

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		struct auth_str *s;

		if (!name_is(n, nl, tab[i].name))
			continue;
		s = (struct auth_str *)(void *)((char *)c + tab[i].off);
		if (s->p)
			return EBADMSG;   /* duplicate parameter */
		*s = v;
		return 0;
	}
	return 0;   /* unknown parameters are ignored (auth-param) */
}

int auth_digest_parse(struct auth_cred *c, const char *val, size_t len)
{
	const char *p = val, *e = val + len;

	if (!c || !val)
		return EINVAL;
	memset(c, 0, sizeof(*c));
	while (p < e && is_ws(*p))
		p++;
	if ((size_t)(e - p) < 6 || strncasecmp(p, "Digest", 6) ||
	    (p + 6 < e && !is_ws(p[6])))
		return ENOTSUP;
	p += 6;
	for (;;) {
		const char *n;
		size_t nl;
		struct auth_str v;

		while (p < e && is_ws(*p))
			p++;
		if (p >= e)
			break;
		n = p;
		while (p < e && is_tok(*p))
			p++;
		nl = (size_t)(p - n);
		if (!nl)
			return EBADMSG;
		while (p < e && is_ws(*p))
			p++;
		if (p >= e || *p != '=')
			return EBADMSG;
		p++;
		while (p < e && is_ws(*p))
			p++;
		if (p < e && *p == '"') {
			v.p = ++p;
			while (p < e && *p != '"') {
				if (*p == '\\')
					p++;   /* skip the escaped char */
				p++;
			}
			if (p >= e)
				return EBADMSG;
			v.l = (size_t)(p - v.p);
			p++;
		}
		else {
			v.p = p;
			while (p < e && !is_ws(*p) && *p != ',')
				p++;
			v.l = (size_t)(p - v.p);
			if (!v.l)
				return EBADMSG;
		}
		if (set_param(c, n, nl, v))
			return EBADMSG;
		while (p < e && is_ws(*p))
			p++;
		if (p >= e)
			break;
		if (*p != ',')
			return EBADMSG;
		p++;
	}
	if (!c->username.p || !c->realm.p || !c->nonce.p || !c->uri.p ||
	    !c->response.p)
		return EBADMSG;
	if (!c->algorithm.p || name_is(c->algorithm.p, c->algorithm.l, "MD5"))
		c->alg = AUTH_ALG_MD5;
	else if (name_is(c->algorithm.p, c->algorithm.l, "SHA-256"))
		c->alg = AUTH_ALG_SHA256;
	else
		return EBADMSG;
	if (c->qop.p) {
		char *end;
		char buf[9];

		if (!name_is(c->qop.p, c->qop.l, "auth") || !c->nc.p ||
		    !c->cnonce.p || c->nc.l != 8)
			return EBADMSG;
		memcpy(buf, c->nc.p, 8);
		buf[8] = '\0';
		for (int i = 0; i < 8; i++)
			if (!strchr("0123456789abcdefABCDEF", buf[i]))
				return EBADMSG;
		c->ncv = (uint32_t)strtoul(buf, &end, 16);
	}
	return 0;
}

static void to_hex(const unsigned char *in, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[in[i] >> 4];
		out[2 * i + 1] = hx[in[i] & 15];
	}
	out[2 * n] = '\0';
}

/* H(p1 ":" p2 ":" ... ) of n parts into hex. */
static int hash_parts(unsigned alg, const struct auth_str *parts, size_t n,
		      char *out, size_t outsz)
{
	const EVP_MD *md = md_get(alg);
	unsigned char bin[EVP_MAX_MD_SIZE];
	unsigned int bl = 0;
	EVP_MD_CTX *ctx;
	int err = 0;

	if (!md || outsz < auth_hexlen(alg) + 1)
		return EINVAL;
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return ENOMEM;
	if (!EVP_DigestInit_ex(ctx, md, NULL)) {
		err = EINVAL;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (i)
			EVP_DigestUpdate(ctx, ":", 1);
		if (parts[i].l)
			EVP_DigestUpdate(ctx, parts[i].p, parts[i].l);
	}
	if (!EVP_DigestFinal_ex(ctx, bin, &bl)) {
		err = EINVAL;
		goto out;
	}
	to_hex(bin, bl, out);
 out:
	EVP_MD_CTX_free(ctx);
	return err;
}

static struct auth_str S(const char *s)
{
	struct auth_str r = {s, s ? strlen(s) : 0};

	return r;
}

int auth_digest_ha1(unsigned alg, const char *user, const char *realm,
		    const char *password, char *out, size_t outsz)
{
	struct auth_str parts[3] = {S(user), S(realm), S(password)};

	if (!user || !realm || !password || !out)
		return EINVAL;
	return hash_parts(alg, parts, 3, out, outsz);
}

int auth_digest_response(unsigned alg, const char *ha1, const char *method,
			 const struct auth_cred *c, char *out, size_t outsz)
{
	char ha2[65];
	struct auth_str p2[2];
	struct auth_str p6[6];
	int err;

	if (!ha1 || !method || !c || !out)
		return EINVAL;
	p2[0] = S(method);
	p2[1] = c->uri;
	err = hash_parts(alg, p2, 2, ha2, sizeof(ha2));
	if (err)
		return err;
	p6[0].p = ha1;
	p6[0].l = auth_hexlen(alg);
	p6[1] = c->nonce;
	if (c->qop.p) {
		p6[2] = c->nc;
		p6[3] = c->cnonce;
		p6[4] = c->qop;
		p6[5] = S(ha2);
		return hash_parts(alg, p6, 6, out, outsz);
	}
	p6[2] = S(ha2);
	return hash_parts(alg, p6, 3, out, outsz);
}

bool auth_digest_equal(const struct auth_str *given, const char *expected)
{
	size_t n = strlen(expected);
	char low[64];

	if (!given || given->l != n || n > sizeof(low))
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = given->p[i];

		low[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
	}
	return CRYPTO_memcmp(low, expected, n) == 0;
}
