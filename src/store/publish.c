/*
 * publish — the subscriber table and the hop to the loop thread.
 */
#include <errno.h>
#include <stddef.h>

#include "common/log.h"
#include "store/publish.h"
#include "store/snapshot.h"

struct sub {
	const char *name;
	store_apply_h *apply;
	void *arg;
};

static struct sub subs[STORE_SUBSCRIBERS_MAX];
static size_t n_subs;
static store_post_h *poster;

void store_publish_init(store_post_h *post)
{
	poster = post;
}

int store_subscribe(const char *name, store_apply_h *apply, void *arg)
{
	if (!name || !apply)
		return EINVAL;
	if (n_subs >= STORE_SUBSCRIBERS_MAX)
		return ENOSPC;
	subs[n_subs++] = (struct sub){ name, apply, arg };
	return 0;
}

void store_publish_reset(void)
{
	n_subs = 0;
	poster = NULL;
}

void store_publish_apply(struct snapshot *snap)
{
	if (!snap)
		return;
	for (size_t i = 0; i < n_subs; i++)
		subs[i].apply(subs[i].arg, snap);
}

static void on_loop(void *arg)
{
	struct snapshot *snap = arg;
	unsigned long long version = snap->version;

	store_publish_apply(snap);
	snapshot_free(snap);
	log_info("daemon", "configuration version %llu applied", version);
}

int store_publish(struct snapshot *snap)
{
	int err;

	if (!snap)
		return EINVAL;
	err = poster ? poster(on_loop, snap) : ENODEV;
	if (err)
		snapshot_free(snap);
	return err;
}
