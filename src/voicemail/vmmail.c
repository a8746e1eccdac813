/*
 * vmmail — the e-mail queue and its sending thread (vmmail.h).
 *
 * One mutex guards the queue, the relay settings and the counters; the
 * thread sleeps on a condition until the earliest entry is due, sends it
 * with libcurl outside the lock, and books the outcome. The password is
 * handed to libcurl only; it never reaches an event, the status or the
 * error text (scrubbed if a server were to echo it).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include <sodium.h>

#include "voicemail/vmmail_int.h"

#define DELAYS_MAX 8

struct entry {
	struct vmmail_msg msg;
	unsigned tries;
	int64_t due;             /* monotonic ms */
	bool busy;               /* being sent */
};

struct vmmail {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool stop;
	struct vmmail_conf conf;
	unsigned conf_gen;
	struct entry q[VMMAIL_QUEUE_MAX];
	size_t n;
	uint64_t sent, failed, given_up, refused;
	char last_error[256];
	int64_t last_error_at;
	uint32_t delays[DELAYS_MAX];
	size_t n_delays;
	vmmail_done_h *done;
	vmmail_event_h *ev;
	void *arg;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- one send ---- */

struct reader {
	const char *p;
	size_t len, off;
	const volatile bool *stop;
};

static size_t read_cb(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct reader *r = arg;
	size_t n = size * nmemb;

	if (n > r->len - r->off)
		n = r->len - r->off;
	memcpy(buf, r->p + r->off, n);
	r->off += n;
	return n;
}

static int progress_cb(void *arg, curl_off_t a, curl_off_t b, curl_off_t c,
		       curl_off_t d)
{
	struct vmmail *m = arg;
	bool stop;

	pthread_mutex_lock(&m->lock);
	stop = m->stop;
	pthread_mutex_unlock(&m->lock);
	return stop ? 1 : 0;
}

static int read_wav(const char *path, uint8_t **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	long sz;
	uint8_t *p;
	int err = 0;

	if (!f)
		return errno;
	if (fseek(f, 0, SEEK_END) || (sz = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET)) {
		err = EIO;
		goto out;
	}
	if ((size_t)sz > VMMAIL_ATTACH_MAX) {
		err = EFBIG;
		goto out;
	}
	p = malloc(sz ? (size_t)sz : 1);
	if (!p) {
		err = ENOMEM;
		goto out;
	}
	if (fread(p, 1, (size_t)sz, f) != (size_t)sz) {
		free(p);
		err = EIO;
		goto out;
	}
	*out = p;
	*len = (size_t)sz;
 out:
	fclose(f);
	return err;
}

/* Send msg through conf. 0, or an error with err (no password in it). */
static int send_one(struct vmmail *m, const struct vmmail_conf *c,
		    struct vmmail_msg *msg, char *err, size_t esz)
{
	char url[640], from[300], env_from[310], to[300], host[256] = "localhost",
	     cerr[CURL_ERROR_SIZE] = "", hostport[300];
	const char *sender = c->from;
	uint8_t *wav = NULL;
	size_t wav_len = 0;
	char *mime = NULL;
	size_t mime_len = 0;
	struct curl_slist *rcpt = NULL;
	CURL *h = NULL;
	CURLcode cc;
	int rc;

	gethostname(host, sizeof(host) - 1);
	if (!*sender) {
		snprintf(from, sizeof(from), "voicemail@%s", host);
		sender = from;
	}
	if (msg->attach && *msg->wav_path) {
		rc = read_wav(msg->wav_path, &wav, &wav_len);
		if (rc == EFBIG) {
			msg->attach = false;       /* kept in the mailbox */
			msg->delete_after = false;
		} else if (rc) {
			snprintf(err, esz, "attachment: %s", strerror(rc));
			return rc;
		}
	}
	rc = vmmail_mime_build(msg, sender, host, wall_ms(), wav, wav_len,
			       &mime, &mime_len);
	free(wav);
	if (rc) {
		snprintf(err, esz, "message: %s", strerror(rc));
		return rc;
	}
	snprintf(hostport, sizeof(hostport), strchr(c->host, ':') ?
		 "[%s]" : "%s", c->host);
	snprintf(url, sizeof(url), "%s://%s:%u/%s",
		 strcmp(c->security, "smtps") ? "smtp" : "smtps", hostport,
		 (unsigned)c->port, host);
	snprintf(env_from, sizeof(env_from), "<%s>", sender);
	snprintf(to, sizeof(to), "<%s>", msg->to);
	struct reader rd = { .p = mime, .len = mime_len };

	h = curl_easy_init();
	rcpt = curl_slist_append(NULL, to);
	if (!h || !rcpt) {
		snprintf(err, esz, "out of memory");
		rc = ENOMEM;
		goto out;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, env_from);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(h, CURLOPT_READDATA, &rd);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)mime_len);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress_cb);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, m);
	if (!strcmp(c->security, "starttls"))
		curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, c->verify_peer ? 1L : 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, c->verify_peer ? 2L : 0L);
	if (*c->user) {
		curl_easy_setopt(h, CURLOPT_USERNAME, c->user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, c->password);
	}
	cc = curl_easy_perform(h);
	if (cc != CURLE_OK) {
		snprintf(err, esz, "%s", *cerr ? cerr : curl_easy_strerror(cc));
		/* never let a server's echo carry the password out */
		if (*c->password && strstr(err, c->password))
			snprintf(err, esz, "%s", curl_easy_strerror(cc));
		rc = EIO;
	}
 out:
	/* the curl handle kept a copy of the password */
	curl_easy_cleanup(h);
	curl_slist_free_all(rcpt);
	free(mime);
	return rc;
}

/* ---- the thread ---- */

static int64_t delay_of(const struct vmmail *m, unsigned tries)
{
	size_t i = tries ? tries - 1 : 0;

	if (i >= m->n_delays)
		i = m->n_delays - 1;
	return m->delays[i];
}

/* Index of the earliest entry not being sent, or -1; *due its time. */
static long next_entry(const struct vmmail *m, int64_t *due)
{
	long best = -1;

	for (size_t i = 0; i < m->n; i++) {
		if (m->q[i].busy)
			continue;
		if (best < 0 || m->q[i].due < m->q[best].due)
			best = (long)i;
	}
	if (best >= 0)
		*due = m->q[best].due;
	return best;
}

static void remove_at(struct vmmail *m, size_t i)
{
	memmove(&m->q[i], &m->q[i + 1], (m->n - i - 1) * sizeof(m->q[0]));
	m->n--;
}

static size_t find_busy(const struct vmmail *m)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->q[i].busy)
			return i;
	return m->n;
}

static void *mail_thread(void *arg)
{
	struct vmmail *m = arg;

	pthread_mutex_lock(&m->lock);
	while (!m->stop) {
		struct vmmail_conf c;
		struct vmmail_msg msg;
		char err[256] = "";
		int64_t due = 0, now = mono_ms();
		long i = *m->conf.host ? next_entry(m, &due) : -1;
		unsigned tries;
		bool ok, final;
		int rc;

		if (i < 0 || due > now) {
			struct timespec ts;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			if (i < 0) {
				ts.tv_sec += 3600;
			} else {
				int64_t t = (int64_t)ts.tv_sec * 1000 +
					ts.tv_nsec / 1000000 + (due - now);

				ts.tv_sec = t / 1000;
				ts.tv_nsec = (t % 1000) * 1000000;
			}
			pthread_cond_timedwait(&m->cond, &m->lock, &ts);
			continue;
		}
		m->q[i].busy = true;
		msg = m->q[i].msg;
		c = m->conf;
		pthread_mutex_unlock(&m->lock);

		rc = send_one(m, &c, &msg, err, sizeof(err));
		sodium_memzero(c.password, sizeof(c.password));

		pthread_mutex_lock(&m->lock);
		i = (long)find_busy(m);
		m->q[i].busy = false;
		ok = !rc;
		tries = ++m->q[i].tries;
		final = ok || tries >= VMMAIL_MAX_TRIES;
		if (ok) {
			m->sent++;
		} else {
			m->failed++;
			snprintf(m->last_error, sizeof(m->last_error), "%s",
				 err);
			m->last_error_at = wall_ms();
			if (final)
				m->given_up++;
			else
				m->q[i].due = mono_ms() + delay_of(m, tries);
		}
		if (final)
			remove_at(m, (size_t)i);
		pthread_mutex_unlock(&m->lock);

		if (!ok && m->ev) {
			json_t *f = json_pack("{s:s,s:s,s:s,s:i,s:b}",
					      "host", c.host, "error", err,
					      "mailbox", msg.mailbox,
					      "tries", (int)tries,
					      "given_up", final);

			if (f)
				m->ev("vm_mail_failed", f, m->arg);
			json_decref(f);
		}
		if (final && m->done)
			m->done(&msg, ok, m->arg);
		pthread_mutex_lock(&m->lock);
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

/* ---- API ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

int vmmail_alloc(struct vmmail **mp, vmmail_done_h *done,
		 vmmail_event_h *ev, void *arg)
{
	static const uint32_t dflt[] = { 60000, 300000, 1800000, 7200000 };
	struct vmmail *m;
	pthread_condattr_t ca;
	int err;

	if (!mp)
		return EINVAL;
	pthread_once(&curl_once, curl_init_once);
	m = calloc(1, sizeof(*m));
	if (!m)
		return ENOMEM;
	memcpy(m->delays, dflt, sizeof(dflt));
	m->n_delays = 4;
	m->done = done;
	m->ev = ev;
	m->arg = arg;
	pthread_mutex_init(&m->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->cond, &ca);
	pthread_condattr_destroy(&ca);
	err = pthread_create(&m->thread, NULL, mail_thread, m);
	if (err) {
		pthread_cond_destroy(&m->cond);
		pthread_mutex_destroy(&m->lock);
		free(m);
		return err;
	}
	pthread_setname_np(m->thread, "bw-vmmail");	/* for top, perf, benches */
	*mp = m;
	return 0;
}

void vmmail_free(struct vmmail *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->stop = true;
	pthread_cond_signal(&m->cond);
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->thread, NULL);
	pthread_cond_destroy(&m->cond);
	pthread_mutex_destroy(&m->lock);
	sodium_memzero(&m->conf, sizeof(m->conf));
	free(m);
}

void vmmail_configure(struct vmmail *m, const struct vmmail_conf *conf)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	sodium_memzero(&m->conf, sizeof(m->conf));
	if (conf)
		m->conf = *conf;
	m->conf_gen++;
	/* a new relay: what waits for a retry goes now */
	for (size_t i = 0; i < m->n; i++)
		m->q[i].due = 0;
	pthread_cond_signal(&m->cond);
	pthread_mutex_unlock(&m->lock);
}

int vmmail_set_delays(struct vmmail *m, const uint32_t *ms, size_t n)
{
	if (!m || !ms || !n || n > DELAYS_MAX)
		return EINVAL;
	pthread_mutex_lock(&m->lock);
	memcpy(m->delays, ms, n * sizeof(*ms));
	m->n_delays = n;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

int vmmail_send(struct vmmail *m, const struct vmmail_msg *msg)
{
	int err = 0;

	if (!m || !msg || vmmail_addr_ok(msg->to) ||
	    vmmail_hdr_ok(msg->mailbox) || !*msg->mailbox ||
	    vmmail_hdr_ok(msg->msg_id) || vmmail_hdr_ok(msg->wav_path) ||
	    !memchr(msg->to, '\0', sizeof(msg->to)))
		return EINVAL;
	pthread_mutex_lock(&m->lock);
	if (!*m->conf.host) {
		err = ENOTCONN;
		m->refused++;
	} else if (m->n >= VMMAIL_QUEUE_MAX) {
		err = ENOSPC;
		m->refused++;
	} else {
		m->q[m->n++] = (struct entry){ .msg = *msg, .due = 0 };
		pthread_cond_signal(&m->cond);
	}
	pthread_mutex_unlock(&m->lock);
	return err;
}

json_t *vmmail_status(struct vmmail *m)
{
	json_t *o;

	if (!m)
		return NULL;
	pthread_mutex_lock(&m->lock);
	o = json_pack("{s:b,s:I,s:I,s:I,s:I,s:I}",
		      "configured", *m->conf.host != '\0',
		      "queued", (json_int_t)m->n, "sent", (json_int_t)m->sent,
		      "failed", (json_int_t)m->failed,
		      "given_up", (json_int_t)m->given_up,
		      "refused", (json_int_t)m->refused);
	if (o) {
		json_object_set_new(o, "last_error", *m->last_error ?
				    json_string(m->last_error) : json_null());
		json_object_set_new(o, "last_error_at", m->last_error_at ?
				    json_integer(m->last_error_at) :
				    json_null());
	}
	pthread_mutex_unlock(&m->lock);
	return o;
}
