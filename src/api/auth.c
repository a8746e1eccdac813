/*
 * auth — admin credential for the TCP admin API (see auth.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "api/auth.h"
#include "common/atomicfile.h"

#define CACHE_SLOTS 8
#define CACHE_TTL_S 60

struct cache_slot {
	unsigned char key[crypto_generichash_BYTES];
	time_t until;          /* monotonic seconds; 0 = empty */
};

struct api_auth {
	char path[4096];
	pthread_mutex_t lock;          /* hash, file identity, cache */
	pthread_mutex_t verify_lock;   /* one argon2id at a time */
	char hash[crypto_pwhash_STRBYTES];
	bool have_hash;
	struct stat id;                /* identity of the file read */
	unsigned char cache_key[crypto_generichash_KEYBYTES];
	struct cache_slot cache[CACHE_SLOTS];
};

static const char pw_alphabet[] =
	"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";

static int hash_path(char *buf, size_t sz, const char *dir)
{
	int n = snprintf(buf, sz, "%s/admin.hash", dir);

	return (n < 0 || (size_t)n >= sz) ? ENAMETOOLONG : 0;
}

int api_auth_pw_path(char *buf, size_t sz, const char *data_dir)
{
	int n = snprintf(buf, sz, "%s/" API_AUTH_PW_FILE, data_dir);

	return (n < 0 || (size_t)n >= sz) ? ENAMETOOLONG : 0;
}

/* Write text and a newline to path atomically, mode 0600. The copy is
 * wiped: text may be the generated password. */
static int write_line(const char *path, const char *text)
{
	char buf[crypto_pwhash_STRBYTES + 1];
	size_t len = strlen(text);
	int err;

	if (len >= sizeof(buf))
		return EOVERFLOW;
	memcpy(buf, text, len);
	buf[len] = '\n';
	err = atomicfile_write(path, buf, len + 1, 0600);
	sodium_memzero(buf, sizeof(buf));
	return err;
}

int api_auth_ensure(const char *data_dir, bool reset, char *pw, size_t sz,
		    bool *created)
{
	char path[4096], pwpath[4096];
	char hash[crypto_pwhash_STRBYTES];
	int err;
	size_t i;

	*created = false;
	if (sz <= API_AUTH_PW_LEN)
		return ENOSPC;
	if (sodium_init() < 0)
		return EIO;
	err = hash_path(path, sizeof(path), data_dir);
	if (err)
		return err;
	if (!reset && access(path, F_OK) == 0)
		return 0;

	for (i = 0; i < API_AUTH_PW_LEN; i++)
		pw[i] = pw_alphabet[randombytes_uniform(sizeof(pw_alphabet) - 1)];
	pw[API_AUTH_PW_LEN] = '\0';

	if (crypto_pwhash_str_alg(hash, pw, API_AUTH_PW_LEN,
				  crypto_pwhash_OPSLIMIT_INTERACTIVE,
				  crypto_pwhash_MEMLIMIT_INTERACTIVE,
				  crypto_pwhash_ALG_ARGON2ID13)) {
		err = ENOMEM;
		goto out;
	}
	/* The password goes to a file only the daemon's user and root can
	 * read, never to stdout: under systemd stdout is the journal, which
	 * more people read and which is kept. Written before the hash, so
	 * that a hash never exists whose password was not kept. */
	err = api_auth_pw_path(pwpath, sizeof(pwpath), data_dir);
	if (!err)
		err = write_line(pwpath, pw);
	if (err)
		goto out;
	err = write_line(path, hash);
	if (err)
		unlink(pwpath);
	else
		*created = true;
out:
	if (err)
		sodium_memzero(pw, sz);
	return err;
}

/* Re-read the hash if the file changed. Called with a->lock held. */
static void reload(struct api_auth *a)
{
	struct stat st;
	char buf[crypto_pwhash_STRBYTES + 2];
	ssize_t n;
	int fd;

	if (stat(a->path, &st)) {
		a->have_hash = false;
		memset(&a->id, 0, sizeof(a->id));
		memset(a->cache, 0, sizeof(a->cache));
		return;
	}
	if (a->have_hash && st.st_ino == a->id.st_ino &&
	    st.st_dev == a->id.st_dev && st.st_size == a->id.st_size &&
	    st.st_mtim.tv_sec == a->id.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == a->id.st_mtim.tv_nsec)
		return;

	a->have_hash = false;
	memset(a->cache, 0, sizeof(a->cache));
	fd = open(a->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (strlen(buf) >= sizeof(a->hash))
		return;
	memcpy(a->hash, buf, strlen(buf) + 1);
	a->have_hash = true;
	a->id = st;
}

int api_auth_alloc(struct api_auth **ap, const char *data_dir)
{
	struct api_auth *a;
	int err;

	if (sodium_init() < 0)
		return EIO;
	a = calloc(1, sizeof(*a));
	if (!a)
		return ENOMEM;
	err = hash_path(a->path, sizeof(a->path), data_dir);
	if (err) {
		free(a);
		return err;
	}
	pthread_mutex_init(&a->lock, NULL);
	pthread_mutex_init(&a->verify_lock, NULL);
	randombytes_buf(a->cache_key, sizeof(a->cache_key));
	*ap = a;
	return 0;
}

static time_t mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

bool api_auth_check(struct api_auth *a, const char *user, const char *pass)
{
	unsigned char key[crypto_generichash_BYTES];
	unsigned char uh[crypto_generichash_BYTES], ah[crypto_generichash_BYTES];
	crypto_generichash_state st;
	char hash[crypto_pwhash_STRBYTES];
	bool user_ok, hit = false, ok = false, have;
	size_t i, oldest = 0;
	time_t now = mono_now();

	if (!a || !user || !pass)
		return false;

	/* Compare user names through keyed hashes: constant time in the
	 * length of what the client sent. */
	crypto_generichash(uh, sizeof(uh), (const unsigned char *)user,
			   strlen(user), a->cache_key, sizeof(a->cache_key));
	crypto_generichash(ah, sizeof(ah), (const unsigned char *)API_AUTH_USER,
			   strlen(API_AUTH_USER), a->cache_key,
			   sizeof(a->cache_key));
	user_ok = sodium_memcmp(uh, ah, sizeof(uh)) == 0;

	crypto_generichash_init(&st, a->cache_key, sizeof(a->cache_key),
				sizeof(key));
	crypto_generichash_update(&st, (const unsigned char *)user,
				  strlen(user) + 1);
	crypto_generichash_update(&st, (const unsigned char *)pass,
				  strlen(pass));
	crypto_generichash_final(&st, key, sizeof(key));

	pthread_mutex_lock(&a->lock);
	reload(a);
	have = a->have_hash;
	memcpy(hash, a->hash, sizeof(hash));
	for (i = 0; i < CACHE_SLOTS; i++) {
		/* No early exit: every slot is compared. */
		if (a->cache[i].until > now &&
		    sodium_memcmp(a->cache[i].key, key, sizeof(key)) == 0)
			hit = true;
		if (a->cache[i].until < a->cache[oldest].until)
			oldest = i;
	}
	pthread_mutex_unlock(&a->lock);

	if (hit && user_ok && have) {
		ok = true;
		goto out;
	}
	if (!have)
		goto out;

	pthread_mutex_lock(&a->verify_lock);
	ok = crypto_pwhash_str_verify(hash, pass, strlen(pass)) == 0;
	pthread_mutex_unlock(&a->verify_lock);
	ok = ok && user_ok;
	if (ok) {
		pthread_mutex_lock(&a->lock);
		memcpy(a->cache[oldest].key, key, sizeof(key));
		a->cache[oldest].until = now + CACHE_TTL_S;
		pthread_mutex_unlock(&a->lock);
	}
out:
	sodium_memzero(key, sizeof(key));
	sodium_memzero(hash, sizeof(hash));
	return ok;
}

void api_auth_free(struct api_auth *a)
{
	if (!a)
		return;
	pthread_mutex_destroy(&a->lock);
	pthread_mutex_destroy(&a->verify_lock);
	sodium_memzero(a, sizeof(*a));
	free(a);
}
