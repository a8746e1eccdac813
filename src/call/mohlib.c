/*
 * mohlib — the music on hold library (mohlib.h).
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include "call/mohlib.h"
#include "common/log.h"

#define MOD "moh"

bool mohlib_class_ok(const char *name)
{
	size_t n = strlen(name);

	if (!n || n > 32)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
			return false;
	}
	return true;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

static bool is_wav(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && name[0] != '.' && !strchr(name, '/') &&
		!strcasecmp(name + n - 4, ".wav");
}

int mohlib_scan_dir(const char *dir, struct mohlib_class *c, bool *more)
{
	struct dirent *de;
	DIR *d;

	c->n = 0;
	*more = false;
	if ((size_t)snprintf(c->dir, sizeof(c->dir), "%s", dir) >=
	    sizeof(c->dir))
		return ENAMETOOLONG;
	d = opendir(dir);
	if (!d)
		return errno;
	while ((de = readdir(d))) {
		char p[1024];
		struct stat sb;

		if (!is_wav(de->d_name) ||
		    strlen(de->d_name) >= MOHLIB_NAME_MAX)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (stat(p, &sb) || !S_ISREG(sb.st_mode))
			continue;
		if (c->n == MOHLIB_MAX_FILES) {
			/* keep the first names in order: replace the
			 * largest when this one sorts before it */
			unsigned hi = 0;

			*more = true;
			for (unsigned i = 1; i < c->n; i++)
				if (strcmp(c->files[i], c->files[hi]) > 0)
					hi = i;
			if (strcmp(de->d_name, c->files[hi]) < 0)
				memcpy(c->files[hi], de->d_name,
				       strlen(de->d_name) + 1);
			continue;
		}
		memcpy(c->files[c->n++], de->d_name, strlen(de->d_name) + 1);
	}
	closedir(d);
	qsort(c->files, c->n, sizeof(c->files[0]), by_name);
	return 0;
}

/* ---- the library ------------------------------------------------------- */

struct scan {
	unsigned n;
	struct mohlib_class cls[MOHLIB_MAX_CLASSES];   /* [0]: default */
};

struct mohlib {
	char data_dir[400];
	char default_dir[400];
	unsigned rescan_s;
	pthread_t tid;
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	bool stop;
	struct scan *cur;      /* under mtx; replaced whole by a scan */
};

static struct scan *scan_all(struct mohlib *l)
{
	struct scan *s = calloc(1, sizeof(*s));
	struct dirent *de;
	bool more;
	DIR *d;

	if (!s)
		return NULL;
	snprintf(s->cls[0].name, sizeof(s->cls[0].name), "default");
	(void)mohlib_scan_dir(l->default_dir, &s->cls[0], &more);
	s->n = 1;
	d = opendir(l->data_dir);
	if (!d)
		return s;          /* no DATA/moh: default only */
	while ((de = readdir(d))) {
		char p[1024];
		struct mohlib_class *c;

		if (!mohlib_class_ok(de->d_name))
			continue;
		if (s->n == MOHLIB_MAX_CLASSES)
			break;
		c = &s->cls[s->n];
		snprintf(p, sizeof(p), "%s/%s", l->data_dir, de->d_name);
		if (mohlib_scan_dir(p, c, &more) || !c->n)
			continue;
		memcpy(c->name, de->d_name, strlen(de->d_name) + 1);
		/* a DATA/moh/default replaces Debian's */
		if (!strcmp(c->name, "default")) {
			s->cls[0] = *c;
			continue;
		}
		s->n++;
	}
	closedir(d);
	return s;
}

static void rescan(struct mohlib *l)
{
	struct scan *s = scan_all(l), *old;

	if (!s)
		return;
	pthread_mutex_lock(&l->mtx);
	old = l->cur;
	l->cur = s;
	pthread_mutex_unlock(&l->mtx);
	free(old);
}

static void *scanner(void *arg)
{
	struct mohlib *l = arg;

	pthread_mutex_lock(&l->mtx);
	while (!l->stop) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += l->rescan_s;
		(void)pthread_cond_timedwait(&l->cv, &l->mtx, &ts);
		if (l->stop)
			break;
		pthread_mutex_unlock(&l->mtx);
		rescan(l);
		pthread_mutex_lock(&l->mtx);
	}
	pthread_mutex_unlock(&l->mtx);
	return NULL;
}

int mohlib_alloc(struct mohlib **lp, const char *data_dir,
		 const char *default_dir, unsigned rescan_s)
{
	struct mohlib *l;
	sigset_t all, old;
	int err;

	if (!lp || !data_dir)
		return EINVAL;
	if (!default_dir)
		default_dir = MOHLIB_DEFAULT_DIR;
	l = calloc(1, sizeof(*l));
	if (!l)
		return ENOMEM;
	if ((size_t)snprintf(l->data_dir, sizeof(l->data_dir), "%s",
			     data_dir) >= sizeof(l->data_dir) ||
	    (size_t)snprintf(l->default_dir, sizeof(l->default_dir), "%s",
			     default_dir) >= sizeof(l->default_dir)) {
		free(l);
		return EINVAL;
	}
	l->rescan_s = rescan_s ? rescan_s : 30;
	pthread_mutex_init(&l->mtx, NULL);
	pthread_cond_init(&l->cv, NULL);
	rescan(l);
	if (!l->cur || !l->cur->cls[0].n)
		log_warn(MOD, "no music on hold in %s (package "
			 "asterisk-moh-opsound-wav): a held call hears "
			 "nothing unless its class has files", l->default_dir);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&l->tid, NULL, scanner, l);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		free(l->cur);
		pthread_cond_destroy(&l->cv);
		pthread_mutex_destroy(&l->mtx);
		free(l);
		return err;
	}
	pthread_setname_np(l->tid, "bw-moh-scan");
	*lp = l;
	return 0;
}

struct mohlib *mohlib_free(struct mohlib *l)
{
	if (!l)
		return NULL;
	pthread_mutex_lock(&l->mtx);
	l->stop = true;
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mtx);
	pthread_join(l->tid, NULL);
	free(l->cur);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mtx);
	free(l);
	return NULL;
}

int mohlib_path(struct mohlib *l, const char *cls, unsigned i, char *path,
		size_t sz, bool *fellback)
{
	const struct mohlib_class *c = NULL;
	int err = ENOENT;

	*fellback = false;
	if (!cls || !*cls)
		cls = "default";
	pthread_mutex_lock(&l->mtx);
	if (l->cur) {
		for (unsigned k = 0; k < l->cur->n; k++)
			if (!strcmp(l->cur->cls[k].name, cls) &&
			    l->cur->cls[k].n) {
				c = &l->cur->cls[k];
				break;
			}
		if (!c) {
			*fellback = strcmp(cls, "default") != 0;
			if (l->cur->cls[0].n)
				c = &l->cur->cls[0];
		}
		if (c)
			err = (size_t)snprintf(path, sz, "%s/%s", c->dir,
					       c->files[i % c->n]) < sz ?
				0 : ENAMETOOLONG;
	}
	pthread_mutex_unlock(&l->mtx);
	return err;
}
