/*
 * store — open and close: the key, the database (migrated), the
 * dictionary, the mirror's janitor.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/store_int.h"

/* ---- open / close ---- */

static int load_file(const char *path, char **bufp, size_t *lenp)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	long sz;
	int err = 0;

	if (!f)
		return errno;
	if (fseek(f, 0, SEEK_END) || (sz = ftell(f)) < 0 ||
	    sz > 64L * 1024 * 1024 || fseek(f, 0, SEEK_SET)) {
		err = EIO;
		goto out;
	}
	buf = malloc((size_t)sz + 1);
	if (!buf) {
		err = ENOMEM;
		goto out;
	}
	if (fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
		err = EIO;
		goto out;
	}
	buf[sz] = '\0';
	*bufp = buf;
	*lenp = (size_t)sz;
	buf = NULL;
 out:
	free(buf);
	fclose(f);
	return err;
}

/* Both lists are needed for the dictionary rule to mean what the policy
 * page says; a missing one does not stop the daemon (phones must keep
 * working) but is recorded, so that status shows it for as long as it
 * lasts and the daemon can say so loudly (store_dict_status). */
static int dict_load(struct store *s, const char *share_dir)
{
	char path[4096];
	const char *paths[2] = {STORE_SYSTEM_WORDS, path};
	json_t *lists;
	bool degraded = false;
	int err;

	err = policy_dict_alloc(&s->dict);
	if (err)
		return err;
	lists = json_array();
	if (!lists)
		return ENOMEM;
	snprintf(path, sizeof(path), "%s/common-passwords.txt",
		 share_dir ? share_dir : ".");
	for (size_t i = 0; i < 2; i++) {
		size_t before = policy_dict_size(s->dict);
		char *buf = NULL;
		size_t len = 0;
		bool ok = !load_file(paths[i], &buf, &len);

		if (ok) {
			err = policy_dict_add(s->dict, buf, len);
			free(buf);
			if (err) {
				json_decref(lists);
				return err;
			}
		}
		degraded = degraded || !ok;
		json_array_append_new(lists, json_pack("{s:s,s:b,s:I}",
			"path", paths[i], "loaded", ok, "words",
			(json_int_t)(policy_dict_size(s->dict) - before)));
	}
	s->dict_status = json_pack("{s:I,s:b,s:o}", "words",
				   (json_int_t)policy_dict_size(s->dict),
				   "degraded", degraded, "lists", lists);
	return s->dict_status ? 0 : ENOMEM;
}

json_t *store_dict_status(const struct store *s)
{
	return s && s->dict_status ? json_deep_copy(s->dict_status) : NULL;
}

const struct policy_dict *store_dict(const struct store *s)
{
	return s ? s->dict : NULL;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	store_janitor_stop(s);
	for (size_t i = 0; i < s->nstc; i++) {
		sqlite3_finalize(s->stc[i].st);
		free(s->stc[i].sql);
	}
	if (s->db)
		sqlite3_close_v2(s->db);
	policy_dict_free(s->dict);
	json_decref(s->dict_status);
	store_mirror_free(s);
	free(s->db_path);
	sodium_memzero(s->key, sizeof(s->key));
	sodium_memzero(s->fpkey, sizeof(s->fpkey));
	pthread_mutex_destroy(&s->lock);
	free(s);
}

int store_open(struct store **sp, const char *data_dir, const char *share_dir)
{
	struct store *s;
	char path[4096];
	int err;

	if (!sp || !data_dir)
		return EINVAL;
	if (sodium_init() < 0)
		return EIO;
	store_sections_builtin();
	s = calloc(1, sizeof(*s));
	if (!s)
		return ENOMEM;
	pthread_mutex_init(&s->lock, NULL);

	err = store_key_load(data_dir, s->key);
	if (err)
		goto out;
	store_fp_key(s);
	if (snprintf(path, sizeof(path), "%s/bulwark.db", data_dir)
	    >= (int)sizeof(path)) {
		err = ENAMETOOLONG;
		goto out;
	}
	s->db_path = strdup(path);
	if (!s->db_path) {
		err = ENOMEM;
		goto out;
	}
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
			    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL)
	    != SQLITE_OK) {
		err = EIO;
		goto out;
	}
	chmod(path, 0600);
	sqlite3_busy_timeout(s->db, 5000);
	if (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL;"
			 "PRAGMA synchronous=FULL;"
			 "PRAGMA cache_size=-2048;"
			 "PRAGMA foreign_keys=ON;", NULL, NULL, NULL)
	    != SQLITE_OK) {
		err = EIO;
		goto out;
	}
	err = store_migrate(s->db);
	if (!err)
		err = store_fp_backfill(s);
	if (err)
		goto out;
	err = dict_load(s, share_dir);
	if (!err)
		err = store_janitor_start(s);
 out:
	if (err) {
		store_close(s);
		return err;
	}
	*sp = s;
	return 0;
}

const char *store_db_path(const struct store *s)
{
	return s ? s->db_path : NULL;
}
