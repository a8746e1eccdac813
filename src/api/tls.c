/*
 * tls — the admin API's certificate pair (see tls.h): generate a
 * self-signed ECDSA P-256 certificate with OpenSSL 3 when none exists,
 * read and check the pair, and compute what an administrator pins.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "api/tls.h"
#include "common/atomicfile.h"

#define PATH_SZ 4096

struct tls_paths {
	char dir[PATH_SZ];
	char crt[PATH_SZ];
	char key[PATH_SZ];
};

__attribute__((format(printf, 4, 5)))
static int say(char *why, size_t sz, int err, const char *fmt, ...)
{
	va_list ap;

	if (why && sz) {
		va_start(ap, fmt);
		vsnprintf(why, sz, fmt, ap);
		va_end(ap);
	}
	return err;
}

/* name: the pair's file name without extension ("admin", "sip") */
static int paths_of(struct tls_paths *p, const char *data_dir,
		    const char *name)
{
	int a = snprintf(p->dir, sizeof(p->dir), "%s/" API_TLS_DIR, data_dir);
	int b = snprintf(p->crt, sizeof(p->crt), "%s/%s.crt", p->dir, name);
	int c = snprintf(p->key, sizeof(p->key), "%s/%s.key", p->dir, name);

	if (a < 0 || b < 0 || c < 0 || (size_t)a >= sizeof(p->dir) ||
	    (size_t)b >= sizeof(p->crt) || (size_t)c >= sizeof(p->key))
		return ENAMETOOLONG;
	return 0;
}

/* ---- subjectAltName ---- */

/* The host of "ADDR:PORT" / "[V6]:PORT" when it is a specific IP literal
 * (not the unspecified address), in canonical text form. */
static bool addr_ip(const char *addr, char *ip, size_t sz)
{
	char host[64];
	unsigned char bin[16];
	const char *end;
	size_t hl;
	int af;

	if (!addr || !*addr)
		return false;
	if (addr[0] == '[') {
		end = strchr(addr, ']');
		if (!end)
			return false;
		addr++;
	} else {
		end = strrchr(addr, ':');
		if (!end)
			return false;
	}
	hl = (size_t)(end - addr);
	if (hl == 0 || hl >= sizeof(host))
		return false;
	memcpy(host, addr, hl);
	host[hl] = '\0';
	af = strchr(host, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(af, host, bin) != 1)
		return false;
	{
		static const unsigned char zero[16];

		if (!memcmp(bin, zero, af == AF_INET ? 4 : 16))
			return false;
	}
	return inet_ntop(af, bin, ip, (socklen_t)sz) != NULL;
}

/* This machine's host name if it is a plausible DNS name (letters, digits,
 * '-', '.'): it goes into an OpenSSL configuration string. */
static bool host_name(char *buf, size_t sz)
{
	size_t i;

	if (gethostname(buf, sz))
		return false;
	buf[sz - 1] = '\0';
	if (!*buf || strlen(buf) > 253)
		return false;
	for (i = 0; buf[i]; i++) {
		char ch = buf[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '.'))
			return false;
	}
	return true;
}

static int san_text(char *buf, size_t sz, const char *https_addr,
		    const char *host)
{
	char ip[INET6_ADDRSTRLEN];
	int n = snprintf(buf, sz, "DNS:localhost,IP:127.0.0.1,IP:::1");

	if (n < 0 || (size_t)n >= sz)
		return ENAMETOOLONG;
	if (host && *host && strcmp(host, "localhost")) {
		int m = snprintf(buf + n, sz - (size_t)n, ",DNS:%s", host);

		if (m < 0 || (size_t)m >= sz - (size_t)n)
			return ENAMETOOLONG;
		n += m;
	}
	if (addr_ip(https_addr, ip, sizeof(ip)) && strcmp(ip, "127.0.0.1") &&
	    strcmp(ip, "::1")) {
		int m = snprintf(buf + n, sz - (size_t)n, ",IP:%s", ip);

		if (m < 0 || (size_t)m >= sz - (size_t)n)
			return ENAMETOOLONG;
	}
	return 0;
}

/* ---- files ---- */

/* Read a whole (small) file; *out malloc'd and NUL-terminated. */
static int read_file(const char *path, char **out, struct stat *st)
{
	char *buf;
	size_t len = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = 0;

	/* errno is set by a failing call, but never return 0 with *st
	 * unset (the caller reads st_mode) */
	if (fd < 0) {
		err = errno;
		return err ? err : EIO;
	}
	if (fstat(fd, st)) {
		err = errno;
		if (!err)
			err = EIO;
		goto out;
	}
	if (!S_ISREG(st->st_mode) || st->st_size > (off_t)API_TLS_MAX_PEM) {
		err = EFBIG;
		goto out;
	}
	buf = malloc(API_TLS_MAX_PEM + 1);
	if (!buf) {
		err = ENOMEM;
		goto out;
	}
	while (len < API_TLS_MAX_PEM &&
	       (n = read(fd, buf + len, API_TLS_MAX_PEM - len)) > 0)
		len += (size_t)n;
	if (n < 0) {
		err = errno;
		if (!err)
			err = EIO;
		free(buf);
		goto out;
	}
	buf[len] = '\0';
	*out = buf;
out:
	close(fd);
	return err;
}

static char *bio_text(BIO *b)
{
	char *p = NULL, *out;
	long n = BIO_get_mem_data(b, &p);

	if (n <= 0 || !p)
		return NULL;
	out = malloc((size_t)n + 1);
	if (!out)
		return NULL;
	memcpy(out, p, (size_t)n);
	out[n] = '\0';
	return out;
}

static void free_secret(char *s)
{
	if (!s)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

/* ---- generation ---- */

static int add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return EINVAL;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : EINVAL;
}

static int generate(const struct tls_paths *p, const char *https_addr,
		    char *why, size_t whysz)
{
	EVP_PKEY *pk = NULL;
	X509 *x = NULL;
	BIGNUM *bn = NULL;
	BIO *kb = NULL, *cb = NULL;
	char *key = NULL, *crt = NULL;
	char host[256], san[600];
	const char *cn = "localhost";
	unsigned char serial[16];
	X509_NAME *name;
	bool have_host = host_name(host, sizeof(host));
	int err;

	if (have_host && strlen(host) <= 64)
		cn = host;
	err = san_text(san, sizeof(san), https_addr, have_host ? host : NULL);
	if (err)
		return say(why, whysz, err, "subjectAltName too long");

	pk = EVP_EC_gen("P-256");
	x = X509_new();
	if (!pk || !x || RAND_bytes(serial, sizeof(serial)) != 1)
		goto fail;
	serial[0] = (unsigned char)((serial[0] & 0x3f) | 0x40); /* > 0 */
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) ||
	    !X509_set_version(x, X509_VERSION_3) ||
	    /* an hour back: clients whose clock runs a little behind */
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), API_TLS_DAYS, 0, NULL) ||
	    !X509_set_pubkey(x, pk))
		goto fail;
	name = X509_get_subject_name(x);
	if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
					(const unsigned char *)"Bulwark", -1,
					-1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
					(const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_issuer_name(x, name))
		goto fail;
	/* An end-entity certificate (browsers refuse a CA certificate as a
	 * server's) that trusts itself: pin it, or give it as the CA file. */
	if (add_ext(x, NID_basic_constraints, "critical,CA:FALSE") ||
	    add_ext(x, NID_key_usage, "critical,digitalSignature") ||
	    add_ext(x, NID_ext_key_usage, "serverAuth") ||
	    add_ext(x, NID_subject_key_identifier, "hash") ||
	    add_ext(x, NID_authority_key_identifier, "keyid:always") ||
	    add_ext(x, NID_subject_alt_name, san))
		goto fail;
	if (X509_sign(x, pk, EVP_sha256()) <= 0)
		goto fail;

	kb = BIO_new(BIO_s_secmem());   /* wiped when freed */
	cb = BIO_new(BIO_s_mem());
	if (!kb || !cb ||
	    !PEM_write_bio_PrivateKey(kb, pk, NULL, NULL, 0, NULL, NULL) ||
	    !PEM_write_bio_X509(cb, x))
		goto fail;
	key = bio_text(kb);
	crt = bio_text(cb);
	if (!key || !crt)
		goto fail;

	/* key first: a certificate never appears without its key */
	err = atomicfile_write(p->key, key, strlen(key), 0600);
	if (err) {
		say(why, whysz, err, "cannot write %s: %s", p->key,
		    strerror(err));
		goto out;
	}
	err = atomicfile_write(p->crt, crt, strlen(crt), 0644);
	if (err) {
		unlink(p->key);
		say(why, whysz, err, "cannot write %s: %s", p->crt,
		    strerror(err));
	}
	goto out;
fail:
	err = EIO;
	say(why, whysz, err, "cannot generate the self-signed certificate "
	    "(OpenSSL failed to make the key, the certificate or its "
	    "signature)");
out:
	ERR_clear_error();
	free_secret(key);
	free(crt);
	BIO_free_all(kb);
	BIO_free_all(cb);
	BN_free(bn);
	X509_free(x);
	EVP_PKEY_free(pk);
	OPENSSL_cleanse(serial, sizeof(serial));
	return err;
}

/* ---- check and info ---- */

static void fill_info(X509 *x, struct api_tls_info *info)
{
	unsigned char md[EVP_MAX_MD_SIZE], *der = NULL;
	unsigned int mdlen = 0, i;
	const ASN1_TIME *na = X509_get0_notAfter(x);
	struct tm tm;
	int len, day = 0, sec = 0;
	size_t o = 0;

	memset(info, 0, sizeof(*info));
	if (X509_digest(x, EVP_sha256(), md, &mdlen)) {
		for (i = 0; i < mdlen && o + 4 <= sizeof(info->fingerprint);
		     i++)
			o += (size_t)snprintf(info->fingerprint + o,
					      sizeof(info->fingerprint) - o,
					      "%s%02X", i ? ":" : "", md[i]);
	}
	len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
	if (len > 0 && EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(),
				  NULL)) {
		unsigned char b64[64];

		EVP_EncodeBlock(b64, md, (int)mdlen);
		snprintf(info->pin, sizeof(info->pin), "sha256//%s", b64);
	}
	OPENSSL_free(der);
	if (na && ASN1_TIME_to_tm(na, &tm))
		strftime(info->not_after, sizeof(info->not_after),
			 "%Y-%m-%d", &tm);
	if (na && ASN1_TIME_diff(&day, &sec, NULL, na))
		info->days_left = day;
}

/* An encrypted key is not supported: never prompt on a terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

int api_tls_load(const char *data_dir, char **cert, char **key,
		 struct api_tls_info *info, char *why, size_t whysz)
{
	return api_tls_load_pair(data_dir, API_TLS_NAME, cert, key, info,
				 why, whysz);
}

int api_tls_load_pair(const char *data_dir, const char *name, char **cert,
		      char **key, struct api_tls_info *info, char *why,
		      size_t whysz)
{
	struct tls_paths p;
	struct stat st;
	char *c = NULL, *k = NULL;
	BIO *b = NULL;
	X509 *x = NULL;
	EVP_PKEY *pk = NULL;
	int err;

	if (!data_dir || !name || !cert || !key)
		return EINVAL;
	err = paths_of(&p, data_dir, name);
	if (err)
		return say(why, whysz, err, "data directory path too long");
	err = read_file(p.crt, &c, &st);
	if (err) {
		say(why, whysz, err, "cannot read %s: %s", p.crt,
		    err == EFBIG ? "not a regular file of at most 64 KiB" :
		    strerror(err));
		goto out;
	}
	err = read_file(p.key, &k, &st);
	if (err) {
		say(why, whysz, err, "cannot read %s: %s", p.key,
		    err == EFBIG ? "not a regular file of at most 64 KiB" :
		    strerror(err));
		goto out;
	}
	if (st.st_mode & 077) {
		err = EPERM;
		say(why, whysz, err, "%s is readable by group or others "
		    "(mode %04o): chmod 600 it", p.key,
		    (unsigned)(st.st_mode & 07777));
		goto out;
	}
	b = BIO_new_mem_buf(c, -1);
	x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	if (!x) {
		err = EINVAL;
		say(why, whysz, err, "%s is not a PEM certificate", p.crt);
		goto out;
	}
	b = BIO_new_mem_buf(k, -1);
	pk = b ? PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL) : NULL;
	BIO_free(b);
	if (!pk) {
		err = EINVAL;
		say(why, whysz, err, "%s is not an unencrypted PEM private key",
		    p.key);
		goto out;
	}
	if (X509_check_private_key(x, pk) != 1) {
		err = EINVAL;
		say(why, whysz, err, "%s is not the key of %s", p.key, p.crt);
		goto out;
	}
	if (info)
		fill_info(x, info);
	*cert = c;
	*key = k;
	c = k = NULL;
out:
	ERR_clear_error();
	EVP_PKEY_free(pk);
	X509_free(x);
	free(c);
	free_secret(k);
	return err;
}

int api_tls_ensure(const char *data_dir, const char *https_addr,
		   bool *created, struct api_tls_info *info, char *why,
		   size_t whysz)
{
	return api_tls_ensure_pair(data_dir, API_TLS_NAME, https_addr,
				   created, info, why, whysz);
}

int api_tls_ensure_pair(const char *data_dir, const char *name,
			const char *addr, bool *created,
			struct api_tls_info *info, char *why, size_t whysz)
{
	struct tls_paths p;
	struct stat st;
	char *c = NULL, *k = NULL;
	bool have_crt, have_key;
	int err;

	if (!data_dir || !name || !created)
		return EINVAL;
	*created = false;
	err = paths_of(&p, data_dir, name);
	if (err)
		return say(why, whysz, err, "data directory path too long");
	if (mkdir(p.dir, 0700) && errno != EEXIST)
		return say(why, whysz, errno, "cannot create %s: %s", p.dir,
			   strerror(errno));
	if (stat(p.dir, &st) || !S_ISDIR(st.st_mode))
		return say(why, whysz, ENOTDIR, "%s is not a directory", p.dir);
	/* mkdir honours the umask; the mode must be exact */
	if ((st.st_mode & 07777) != 0700 && chmod(p.dir, 0700))
		return say(why, whysz, errno, "cannot chmod 700 %s: %s", p.dir,
			   strerror(errno));
	have_crt = access(p.crt, F_OK) == 0;
	have_key = access(p.key, F_OK) == 0;
	if (have_crt != have_key)
		return say(why, whysz, ENOENT, "%s exists without %s: put "
			   "back the pair, or remove both to get a new "
			   "self-signed certificate",
			   have_crt ? p.crt : p.key, have_crt ? p.key : p.crt);
	if (!have_crt) {
		err = generate(&p, addr, why, whysz);
		if (err)
			return err;
		*created = true;
	}
	err = api_tls_load_pair(data_dir, name, &c, &k, info, why, whysz);
	free(c);
	free_secret(k);
	return err;
}
