/*
 * endpoint — owner side: port pairs, ids, commands to the endpoint
 * threads, events back (see endpoint.h). Owner thread only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "media/ep_int.h"
#include "media/prompt.h"

#define CMD_CAP 1024u

struct eslot {
	uint32_t id;               /* 0 = free */
	unsigned thr;
	unsigned handle;           /* port pair */
};

struct endpoints {
	struct endpoint_conf conf;
	struct ports ports;        /* own pool (conf.src.take was NULL) */
	bool own_pool;
	struct eslot *slots;
	uint16_t *free_slots;
	unsigned nfree;
	uint16_t *gen;
	unsigned nthreads, next_thr, live;
	struct ring cmds[ENDPOINT_MAX_THREADS];
	struct ep_thread *thr[ENDPOINT_MAX_THREADS];
	struct ring events;
	atomic_uint_fast64_t events_lost;
	struct ep_fin *fin;
};

void endpoint_conf_default(struct endpoint_conf *conf)
{
	memset(conf, 0, sizeof(*conf));
	conf->local.u.in.sin_family = AF_INET;
	conf->local.len = sizeof(conf->local.u.in);
	conf->port_min = 30000;
	conf->port_max = 30999;
	conf->threads = 1;
	conf->max_endpoints = 256;
	snprintf(conf->prompt_dir, sizeof(conf->prompt_dir), "%s",
		 PROMPT_DIR_DEFAULT);
	conf->latch_ms = 2000;
	conf->notify_ms = 5000;
	conf->digits_per_s = 10;
	conf->tos = 0xb8;
}

/* ---- the port source --------------------------------------------------- */

static int own_take(struct endpoints *e, int fds[2], uint16_t *port,
		    unsigned *handle)
{
	return e->conf.src.take(e->conf.src.arg, fds, port, handle);
}

static void own_give(struct endpoints *e, unsigned handle)
{
	e->conf.src.give(e->conf.src.arg, handle);
}

/* ---- lifetime ---------------------------------------------------------- */

int endpoint_alloc(struct endpoints **ep, const struct endpoint_conf *conf)
{
	struct endpoints *e;
	unsigned i;
	int err;

	if (!ep || !conf || conf->threads < 1 ||
	    conf->threads > ENDPOINT_MAX_THREADS || !conf->max_endpoints ||
	    conf->max_endpoints > 0xffffu || !conf->digits_per_s ||
	    !memchr(conf->prompt_dir, 0, sizeof(conf->prompt_dir)) ||
	    !memchr(conf->prompt_override, 0, sizeof(conf->prompt_override)))
		return EINVAL;
	if (conf->src.take && !conf->src.give)
		return EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return ENOMEM;
	e->conf = *conf;
	if (!e->conf.local.u.sa.sa_family) {
		e->conf.local.u.in.sin_family = AF_INET;
	}
	e->conf.local.len = e->conf.local.u.sa.sa_family == AF_INET
			    ? sizeof(e->conf.local.u.in)
			    : sizeof(e->conf.local.u.in6);
	atomic_init(&e->events_lost, 0);
	if (!conf->src.take) {
		err = ports_init(&e->ports, &e->conf.local, conf->port_min,
				 conf->port_max, conf->tos);
		if (err) {
			free(e);
			return err;
		}
		e->own_pool = true;
		e->conf.src.take = ports_src_take;
		e->conf.src.give = ports_src_give;
		e->conf.src.arg = &e->ports;
	}
	e->slots = calloc(conf->max_endpoints, sizeof(*e->slots));
	e->free_slots = calloc(conf->max_endpoints, sizeof(*e->free_slots));
	e->gen = calloc(conf->max_endpoints, sizeof(*e->gen));
	if (!e->slots || !e->free_slots || !e->gen) {
		err = ENOMEM;
		goto out;
	}
	for (i = 0; i < conf->max_endpoints; i++)
		e->free_slots[i] = (uint16_t)(conf->max_endpoints - 1 - i);
	e->nfree = conf->max_endpoints;
	/* per endpoint: a PLAY_DONE, a RECORD_DONE and a DESTROYED may be
	 * outstanding; digits and notices share the rest */
	err = ring_init(&e->events, sizeof(struct endpoint_event),
			4 * conf->max_endpoints + 1024);
	if (err)
		goto out;
	err = ep_fin_start(&e->fin, conf->max_endpoints + 16, &e->events,
			   &e->events_lost);
	if (err)
		goto out;
	for (i = 0; i < conf->threads; i++) {
		struct ep_thread_conf tc = {
			.max_endpoints = conf->max_endpoints,
			.latch_ms = conf->latch_ms,
			.notify_ms = conf->notify_ms,
			.digits_per_s = conf->digits_per_s,
			.prompt_dir = e->conf.prompt_dir,
			.prompt_override = e->conf.prompt_override,
			.events = &e->events,
			.events_lost = &e->events_lost,
			.ev_reserve = 3 * conf->max_endpoints,
			.fin = e->fin,
		};

		err = ring_init(&e->cmds[i], sizeof(struct ep_cmd),
				CMD_CAP + conf->max_endpoints);
		if (err)
			goto out;
		err = ep_thread_start(&e->thr[i], &tc, &e->cmds[i]);
		if (err) {
			ring_fini(&e->cmds[i]);
			goto out;
		}
		e->nthreads++;
	}
	*ep = e;
	return 0;
 out:
	endpoint_free(e);
	return err;
}

struct endpoints *endpoint_free(struct endpoints *e)
{
	unsigned i;

	if (!e)
		return NULL;
	for (i = 0; i < e->nthreads; i++) {
		ep_thread_stop(e->thr[i]);   /* destroys what is live */
		ring_fini(&e->cmds[i]);
	}
	/* after the threads, which post to it */
	ep_fin_stop(e->fin);
	for (i = 0; i < e->conf.max_endpoints && e->slots; i++) {
		if (e->slots[i].id)
			own_give(e, e->slots[i].handle);
	}
	ring_fini(&e->events);
	if (e->own_pool)
		ports_fini(&e->ports);
	free(e->slots);
	free(e->free_slots);
	free(e->gen);
	free(e);
	return NULL;
}

/* ---- endpoints --------------------------------------------------------- */

static struct eslot *lookup(struct endpoints *e, uint32_t id)
{
	unsigned slot = id & 0xffffu;

	if (!e || !id || slot >= e->conf.max_endpoints ||
	    e->slots[slot].id != id)
		return NULL;
	return &e->slots[slot];
}

static bool media_ok(const struct endpoints *e,
		     const struct endpoint_media *md)
{
	if (!md || (md->law != G711_ULAW && md->law != G711_ALAW))
		return false;
	if (md->te_pt != -1 && (md->te_pt < 96 || md->te_pt > 127))
		return false;
	if (md->rtp.u.sa.sa_family &&
	    md->rtp.u.sa.sa_family != e->conf.local.u.sa.sa_family)
		return false;
	return true;
}

/* Commands other than DESTROY leave max_endpoints places free, so that
 * a destroy always finds one. */
static int post(struct endpoints *e, const struct eslot *sl,
		const struct ep_cmd *c)
{
	return ring_push(&e->cmds[sl->thr], c,
			 c->type == EPC_DESTROY ? 0 : e->conf.max_endpoints);
}

int endpoint_create(struct endpoints *e, uint64_t tag,
		    const struct endpoint_media *md, uint32_t *idp,
		    uint16_t *rtp_port)
{
	struct ep_cmd c;
	unsigned slot, handle;
	uint16_t port;
	int fds[2], err;

	if (!e || !idp || !rtp_port || !media_ok(e, md))
		return EINVAL;
	if (!e->nfree)
		return ENOSPC;
	err = own_take(e, fds, &port, &handle);
	if (err)
		return err;
	slot = e->free_slots[e->nfree - 1];
	memset(&c, 0, sizeof(c));
	c.type = EPC_CREATE;
	/* generation 0 is never used: id 0 means "no endpoint" */
	e->gen[slot]++;
	if (!e->gen[slot])
		e->gen[slot] = 1;
	c.id = (uint32_t)e->gen[slot] << 16 | slot;
	c.tag = tag;
	c.fds[0] = fds[0];
	c.fds[1] = fds[1];
	c.md = *md;
	err = ring_push(&e->cmds[e->next_thr], &c, e->conf.max_endpoints);
	if (err) {
		close(fds[0]);
		close(fds[1]);
		own_give(e, handle);
		return err;
	}
	e->nfree--;
	e->slots[slot].id = c.id;
	e->slots[slot].thr = e->next_thr;
	e->slots[slot].handle = handle;
	e->next_thr = (e->next_thr + 1) % e->nthreads;
	e->live++;
	*idp = c.id;
	*rtp_port = port;
	return 0;
}

int endpoint_media_set(struct endpoints *e, uint32_t id,
		       const struct endpoint_media *md)
{
	struct eslot *sl = lookup(e, id);
	struct ep_cmd c;

	if (!sl)
		return ENOENT;
	if (!media_ok(e, md))
		return EINVAL;
	memset(&c, 0, sizeof(c));
	c.type = EPC_MEDIA;
	c.id = id;
	c.md = *md;
	return post(e, sl, &c);
}

int endpoint_destroy(struct endpoints *e, uint32_t id)
{
	struct eslot *sl = lookup(e, id);
	struct ep_cmd c;
	unsigned slot;

	if (!sl)
		return ENOENT;
	memset(&c, 0, sizeof(c));
	c.type = EPC_DESTROY;
	c.id = id;
	/* the reserve of max_endpoints places makes this succeed */
	(void)post(e, sl, &c);
	own_give(e, sl->handle);
	slot = id & 0xffffu;
	sl->id = 0;
	e->free_slots[e->nfree++] = (uint16_t)slot;
	e->live--;
	return 0;
}

static int post_path(struct endpoints *e, uint32_t id, enum ep_cmd_type type,
		     const char *path, bool flag)
{
	struct eslot *sl = lookup(e, id);
	struct ep_cmd c;

	if (!sl)
		return ENOENT;
	if (!path || !path[0])
		return EINVAL;
	if (strlen(path) >= sizeof(c.path))
		return ENAMETOOLONG;
	memset(&c, 0, sizeof(c));
	c.type = type;
	c.id = id;
	snprintf(c.path, sizeof(c.path), "%s", path);
	c.flag = flag;
	return post(e, sl, &c);
}

int endpoint_play_prompt(struct endpoints *e, uint32_t id, const char *name,
			 bool barge_in)
{
	if (lookup(e, id) && !prompt_name_ok(name))
		return EINVAL;
	return post_path(e, id, EPC_PLAY_PROMPT, name, barge_in);
}

int endpoint_set_language(struct endpoints *e, uint32_t id, const char *lang)
{
	if (lookup(e, id) && lang && lang[0] && !prompt_lang_ok(lang))
		return EINVAL;
	/* "" goes as a name of its own: post_path refuses an empty path */
	return post_path(e, id, EPC_LANG, lang && lang[0] ? lang : "-", false);
}

int endpoint_play_file(struct endpoints *e, uint32_t id, const char *path,
		       bool barge_in)
{
	return post_path(e, id, EPC_PLAY_FILE, path, barge_in);
}

int endpoint_play_tone(struct endpoints *e, uint32_t id, unsigned freq,
		       unsigned ms, int amplitude, bool barge_in)
{
	struct eslot *sl = lookup(e, id);
	struct ep_cmd c;

	if (!sl)
		return ENOENT;
	if (freq < 1 || freq > 3999 || ms < 1 || ms > 60000 ||
	    amplitude < 0 || amplitude > 32767)
		return EINVAL;
	memset(&c, 0, sizeof(c));
	c.type = EPC_PLAY_TONE;
	c.id = id;
	c.freq = freq;
	c.ms = ms;
	c.amp = amplitude;
	c.flag = barge_in;
	return post(e, sl, &c);
}

int endpoint_play_stop(struct endpoints *e, uint32_t id)
{
	struct eslot *sl = lookup(e, id);
	struct ep_cmd c;

	if (!sl)
		return ENOENT;
	memset(&c, 0, sizeof(c));
	c.type = EPC_PLAY_STOP;
	c.id = id;
	return post(e, sl, &c);
}

int endpoint_record(struct endpoints *e, uint32_t id,
		    const struct endpoint_rec *rec)
{
	struct eslot *sl = lookup(e, id);
	struct ep_cmd c;

	if (!sl)
		return ENOENT;
	if (!rec || !rec->path || !rec->path[0] || rec->max_ms < 1 ||
	    rec->max_ms > 3600000 || rec->silence_ms > 3600000)
		return EINVAL;
	/* the temporary name adds ".XXXXXX.tmp" */
	if (strlen(rec->path) + 12 >= sizeof(c.path))
		return ENAMETOOLONG;
	memset(&c, 0, sizeof(c));
	c.type = EPC_RECORD;
	c.id = id;
	snprintf(c.path, sizeof(c.path), "%s", rec->path);
	c.max_ms = rec->max_ms;
	c.silence_ms = rec->silence_ms;
	c.silence_level = rec->silence_level ? rec->silence_level : 300;
	c.flag = rec->stop_on_digit;
	return post(e, sl, &c);
}

int endpoint_record_stop(struct endpoints *e, uint32_t id, bool keep)
{
	struct eslot *sl = lookup(e, id);
	struct ep_cmd c;

	if (!sl)
		return ENOENT;
	memset(&c, 0, sizeof(c));
	c.type = EPC_RECORD_STOP;
	c.id = id;
	c.flag = keep;
	return post(e, sl, &c);
}

/* ---- events ------------------------------------------------------------ */

int endpoint_event_fd(const struct endpoints *e)
{
	return e->events.efd;
}

size_t endpoint_events_poll(struct endpoints *e, endpoint_event_h *h,
			    void *arg, size_t max)
{
	struct endpoint_event ev[32];
	size_t done = 0;

	while (done < max) {
		unsigned want = max - done > 32 ? 32 : (unsigned)(max - done);
		unsigned n = ring_pop(&e->events, ev, want), i;

		for (i = 0; i < n; i++)
			h(&ev[i], arg);
		done += n;
		if (n < want)
			break;
	}
	return done;
}

uint64_t endpoint_events_lost(const struct endpoints *e)
{
	return atomic_load(&e->events_lost);
}

unsigned endpoint_count(const struct endpoints *e)
{
	return e ? e->live : 0;
}
