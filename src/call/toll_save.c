/*
 * toll_save — DATA/toll.json written off the loop thread (toll_save.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "call/toll.h"
#include "call/toll_save.h"
#include "common/atomicfile.h"
#include "common/log.h"

#define MOD "toll"

struct toll_save {
	pthread_mutex_t mtx;
	pthread_cond_t cond;
	pthread_t thr;
	bool started, stop;
	char *pending;      /* the latest text not written yet */
	char *path;
};

static void *writer(void *arg)
{
	struct toll_save *s = arg;
	bool failed = false;

	pthread_mutex_lock(&s->mtx);
	for (;;) {
		char *text;
		int err;

		while (!s->pending && !s->stop)
			pthread_cond_wait(&s->cond, &s->mtx);
		if (!s->pending)
			break;
		text = s->pending;
		s->pending = NULL;
		pthread_mutex_unlock(&s->mtx);
		err = atomicfile_write(s->path, text, strlen(text), 0600);
		free(text);
		if (err && !failed)
			log_err(MOD, "cannot save the toll counts to %s: %s "
				"(a restart would forget them)", s->path,
				strerror(err));
		else if (!err && failed)
			log_info(MOD, "toll counts saved again");
		failed = err != 0;
		pthread_mutex_lock(&s->mtx);
	}
	pthread_mutex_unlock(&s->mtx);
	return NULL;
}

int toll_save_open(struct toll_save **sp, const char *path)
{
	struct toll_save *s;

	if (!sp || !path || !*path)
		return EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return ENOMEM;
	s->path = strdup(path);
	if (!s->path) {
		free(s);
		return ENOMEM;
	}
	pthread_mutex_init(&s->mtx, NULL);
	pthread_cond_init(&s->cond, NULL);
	*sp = s;
	return 0;
}

int toll_save_load(const char *path, struct toll *t, int64_t now_s)
{
	json_error_t je;
	json_t *o;
	FILE *f;
	int err;

	if (!path || !t)
		return EINVAL;
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? ENOENT : EINVAL;
	o = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
	fclose(f);
	if (!o)
		return EINVAL;
	err = toll_restore(t, o, now_s);
	json_decref(o);
	return err;
}

void toll_save_put(struct toll_save *s, char *text)
{
	if (!s || !text) {
		free(text);
		return;
	}
	pthread_mutex_lock(&s->mtx);
	if (!s->started && !s->stop) {
		if (pthread_create(&s->thr, NULL, writer, s)) {
			pthread_mutex_unlock(&s->mtx);
			log_err(MOD, "cannot start the toll writer: the toll "
				"counts are not saved");
			free(text);
			return;
		}
		s->started = true;
	}
	free(s->pending);
	s->pending = text;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->mtx);
}

void toll_save_close(struct toll_save *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mtx);
	s->stop = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->mtx);
	if (s->started)
		pthread_join(s->thr, NULL);
	free(s->pending);
	pthread_mutex_destroy(&s->mtx);
	pthread_cond_destroy(&s->cond);
	free(s->path);
	free(s);
}
