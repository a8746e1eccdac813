/*
 * secrets — the data directory's key, secrets at rest, digest HA1s.
 *
 * Reversible secrets (SIP passwords, PINs, call passwords) are sealed with
 * crypto_secretbox under DATA/secret.key, a fresh random nonce per value:
 * blob = nonce || MAC || ciphertext. Web passwords are one-way argon2id
 * strings (crypto_pwhash_str, interactive limits).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "store/store_int.h"

const struct store_secdef store_secdefs[SEC_N] = {
	[SEC_SIP_PW]      = {"auth.password",          "sip_pw",      false},
	[SEC_VM_PIN]      = {"voicemail.pin",          "vm_pin",      false},
	[SEC_CALL_PW]     = {"security.call_password", "call_pw",     false},
	[SEC_HOTDESK_PIN] = {"hotdesk.pin",            "hotdesk_pin", false},
	[SEC_WEB_HASH]    = {"web.password",           "web_hash",    true},
};

int store_sec_index(const char *field)
{
	for (int i = 0; i < SEC_N; i++) {
		if (!strcmp(store_secdefs[i].field, field))
			return i;
	}
	return -1;
}

static int read_full(int fd, unsigned char *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = read(fd, buf + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return EIO;
		off += (size_t)n;
	}
	return 0;
}

static int key_create(const char *path, unsigned char key[STORE_KEY_LEN])
{
	size_t off = 0;
	int fd, err = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0)
		return errno;
	randombytes_buf(key, STORE_KEY_LEN);
	if (fchmod(fd, 0600) < 0) {
		err = errno;
		goto out;
	}
	while (off < STORE_KEY_LEN) {
		ssize_t n = write(fd, key + off, STORE_KEY_LEN - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = EIO;
			goto out;
		}
		off += (size_t)n;
	}
	if (fsync(fd) < 0)
		err = errno;
 out:
	close(fd);
	if (err) {
		unlink(path);
		sodium_memzero(key, STORE_KEY_LEN);
	}
	return err;
}

/* Load DATA/secret.key, creating it if absent. Refuses (EACCES) a key that
 * group or others may read or that is not a regular file, and (EINVAL) one
 * of the wrong size: never silently replace a key that encrypts data. */
int store_key_load(const char *data_dir, unsigned char key[STORE_KEY_LEN])
{
	char path[PATH_MAX];
	struct stat st;
	int fd, err;

	if (snprintf(path, sizeof(path), "%s/secret.key", data_dir)
	    >= (int)sizeof(path))
		return ENAMETOOLONG;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			return errno == ELOOP ? EACCES : errno;
		err = key_create(path, key);
		if (err != EEXIST)
			return err;
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return errno;
	}
	if (fstat(fd, &st) < 0) {
		err = errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077)) {
		err = EACCES;
		goto out;
	}
	if (st.st_size != STORE_KEY_LEN) {
		err = EINVAL;
		goto out;
	}
	err = read_full(fd, key, STORE_KEY_LEN);
 out:
	close(fd);
	return err;
}

void blob_free(struct blob *b)
{
	if (!b)
		return;
	if (b->p)
		sodium_memzero(b->p, b->len);
	free(b->p);
	b->p = NULL;
	b->len = 0;
}

int blob_copy(struct blob *dst, const struct blob *src)
{
	dst->p = NULL;
	dst->len = 0;
	if (!src->p)
		return 0;
	dst->p = malloc(src->len ? src->len : 1);
	if (!dst->p)
		return ENOMEM;
	memcpy(dst->p, src->p, src->len);
	dst->len = src->len;
	return 0;
}

bool blob_eq(const struct blob *a, const struct blob *b)
{
	if (!a->p || !b->p)
		return !a->p && !b->p;
	return a->len == b->len && !memcmp(a->p, b->p, a->len);
}

int store_seal(const struct store *s, const char *plain, struct blob *out)
{
	size_t len = strlen(plain);
	size_t tot = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES
		+ len;
	unsigned char *p = malloc(tot);

	if (!p)
		return ENOMEM;
	randombytes_buf(p, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(p + crypto_secretbox_NONCEBYTES,
			      (const unsigned char *)plain, len, p, s->key);
	out->p = p;
	out->len = tot;
	return 0;
}

int store_open_blob(const struct store *s, const struct blob *b, char **out)
{
	size_t hdr = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES;
	char *p;

	if (!b->p || b->len < hdr)
		return EINVAL;
	p = malloc(b->len - hdr + 1);
	if (!p)
		return ENOMEM;
	if (crypto_secretbox_open_easy((unsigned char *)p,
				       b->p + crypto_secretbox_NONCEBYTES,
				       b->len - crypto_secretbox_NONCEBYTES,
				       b->p, s->key) != 0) {
		free(p);
		return EBADMSG;
	}
	p[b->len - hdr] = '\0';
	*out = p;
	return 0;
}

void store_wipe(char *p)
{
	if (!p)
		return;
	sodium_memzero(p, strlen(p));
	free(p);
}

int store_hash_web(const char *plain, struct blob *out)
{
	char *h = malloc(crypto_pwhash_STRBYTES);

	if (!h)
		return ENOMEM;
	if (crypto_pwhash_str(h, plain, strlen(plain),
			      crypto_pwhash_OPSLIMIT_INTERACTIVE,
			      crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
		free(h);
		return ENOMEM;
	}
	out->p = (unsigned char *)h;
	out->len = strlen(h);
	return 0;
}

/* The fingerprint subkey: crypto_kdf from DATA/secret.key, its own
 * context, so a fingerprint never equals anything else keyed by it. */
void store_fp_key(struct store *s)
{
	crypto_kdf_derive_from_key(s->fpkey, sizeof(s->fpkey), 1, "bwsipfp1",
				   s->key);
}

/* Keyed BLAKE2b of a SIP password: equal passwords give equal
 * fingerprints; without DATA/secret.key nothing about the password can be
 * learnt from one (docs/internals/store.md). */
void store_sip_fp(const struct store *s, const char *pw,
		  unsigned char fp[STORE_FP_LEN])
{
	crypto_generichash(fp, STORE_FP_LEN, (const unsigned char *)pw,
			   strlen(pw), s->fpkey, sizeof(s->fpkey));
}

/* The digests, fetched once: EVP_md5() and EVP_sha256() make OpenSSL 3
 * look the algorithm up again on every init, which dominated HA1. */
static EVP_MD *md_md5, *md_sha256;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void md_fetch(void)
{
	md_md5 = EVP_MD_fetch(NULL, "MD5", NULL);
	md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static void digest_hex(EVP_MD_CTX *c, const EVP_MD *md, const char *user,
		       const char *realm, const char *pw, char *hex,
		       size_t hexsz)
{
	static const char xd[] = "0123456789abcdef";
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dl = 0;

	hex[0] = '\0';
	if (md && EVP_DigestInit_ex(c, md, NULL) == 1 &&
	    EVP_DigestUpdate(c, user, strlen(user)) == 1 &&
	    EVP_DigestUpdate(c, ":", 1) == 1 &&
	    EVP_DigestUpdate(c, realm, strlen(realm)) == 1 &&
	    EVP_DigestUpdate(c, ":", 1) == 1 &&
	    EVP_DigestUpdate(c, pw, strlen(pw)) == 1 &&
	    EVP_DigestFinal_ex(c, d, &dl) == 1 && dl * 2 < hexsz) {
		for (unsigned i = 0; i < dl; i++) {
			hex[2 * i] = xd[d[i] >> 4];
			hex[2 * i + 1] = xd[d[i] & 15];
		}
		hex[2 * dl] = '\0';
	}
	sodium_memzero(d, sizeof(d));
}

/* RFC 2617 / RFC 8760 HA1 = H(username ":" realm ":" password), hex. */
void store_ha1(const char *user, const char *realm, const char *pw,
	       char md5[33], char sha256[65])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	md5[0] = sha256[0] = '\0';
	if (!c)
		return;
	pthread_once(&md_once, md_fetch);
	digest_hex(c, md_md5, user, realm, pw, md5, 33);
	digest_hex(c, md_sha256, user, realm, pw, sha256, 65);
	EVP_MD_CTX_free(c);
}
