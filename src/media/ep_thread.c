/*
 * ep_thread — an endpoint thread: one epoll loop over the command ring,
 * a 20 ms periodic timer (CLOCK_MONOTONIC, so sending never drifts) and
 * the RTP/RTCP sockets of its endpoints. Owns every struct eps on it.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>

#include <rem_dtmf.h>
#include <re_mem.h>
#include <sodium.h>

#include "media/ep_int.h"
#include "media/prompt.h"

/* epoll data: kind in the low 2 bits, slot above */
enum { K_CMD = 0, K_TICK = 1, K_RTP = 2, K_RTCP = 3 };

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void ep_emit(struct ep_thread *t, struct eps *s,
	     const struct endpoint_event *ev)
{
	struct endpoint_event e = *ev;
	bool droppable = e.type == ENDPOINT_EV_DIGIT ||
			 e.type == ENDPOINT_EV_LATCHED ||
			 e.type == ENDPOINT_EV_STRICT_DROP;

	e.id = s->id;
	e.tag = s->tag;
	if (ring_push(t->conf.events, &e,
		      droppable ? t->conf.ev_reserve : 0))
		atomic_fetch_add(t->conf.events_lost, 1);
}

static void on_dtmf_inband(char digit, void *arg)
{
	struct eps *s = arg;
	/* a leg that sends RFC 4733 events sends the tones in its audio
	 * too: only the events count then */
	if (!s->te_seen && s->md.inband)
		ep_digit(s->thr, s, digit, true);
}

static void set_media(struct ep_thread *t, struct eps *s,
		      const struct endpoint_media *md)
{
	s->md = *md;
	s->md.rtp.len = md->rtp.u.sa.sa_family == AF_INET6
			? sizeof(md->rtp.u.in6) : sizeof(md->rtp.u.in);
	if (md->rtp.u.sa.sa_family) {
		/* a latched nat leg keeps what it learnt unless it moves
		 * inside the window opened here */
		if (!(md->nat && s->latched)) {
			s->peer = s->md.rtp;
			s->peer_ok = true;
		}
	}
	s->latch_until = md->nat ? t->now + t->conf.latch_ms : 0;
}

/* The 20 ms clock runs only while the thread has endpoints: an idle
 * thread does not wake up 50 times a second. */
static void clock_set(struct ep_thread *t, bool on)
{
	struct itimerspec its;

	memset(&its, 0, sizeof(its));
	if (on) {
		its.it_interval.tv_nsec = EP_TICK_NS;
		its.it_value.tv_nsec = EP_TICK_NS;
	}
	(void)timerfd_settime(t->tfd, 0, &its, NULL);
}

static int add_fd(struct ep_thread *t, int fd, uint64_t data)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = data};

	return epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? errno : 0;
}

static void sess_free(struct ep_thread *t, struct eps *s)
{
	struct endpoint_event ev;
	unsigned slot = s->id & 0xffffu;
	int i;

	if (s->pl != PL_NONE)
		ep_play_end(t, s, ENDPOINT_END_STOPPED, 0);
	if (s->rec)
		ep_record_end(t, s, ENDPOINT_END_HANGUP, 0);
	for (i = 0; i < 2; i++) {
		if (s->fd[i] >= 0) {
			(void)epoll_ctl(t->epfd, EPOLL_CTL_DEL, s->fd[i], NULL);
			close(s->fd[i]);
		}
	}
	memset(&ev, 0, sizeof(ev));
	ev.type = ENDPOINT_EV_DESTROYED;
	ev.stats = s->st;
	ep_emit(t, s, &ev);
	mem_deref(s->dec);
	t->slot[slot] = NULL;
	if (--t->live == 0)
		clock_set(t, false);
	free(s);
}

static void create(struct ep_thread *t, const struct ep_cmd *c)
{
	unsigned slot = c->id & 0xffffu;
	struct eps *s;

	if (slot >= t->conf.max_endpoints || t->slot[slot] ||
	    !(s = calloc(1, sizeof(*s)))) {
		close(c->fds[0]);
		close(c->fds[1]);
		return;
	}
	s->id = c->id;
	s->tag = c->tag;
	s->fd[0] = c->fds[0];
	s->fd[1] = c->fds[1];
	s->ssrc = randombytes_random();
	s->seq = (uint16_t)randombytes_random();
	s->ts = randombytes_random();
	s->marker = true;
	s->thr = t;
	t->slot[slot] = s;
	if (t->live++ == 0)
		clock_set(t, true);
	set_media(t, s, &c->md);
	/* in-band detection fails soft: without a detector RFC 4733 still
	 * works */
	if (dtmf_dec_alloc(&s->dec, 8000, 1, on_dtmf_inband, s))
		s->dec = NULL;
	if (add_fd(t, s->fd[0], (uint64_t)slot << 2 | K_RTP) ||
	    add_fd(t, s->fd[1], (uint64_t)slot << 2 | K_RTCP))
		s->st.send_errors++;  /* cannot receive: counted, kept */
}

static void command(struct ep_thread *t, const struct ep_cmd *c)
{
	unsigned slot = c->id & 0xffffu;
	struct eps *s;
	char path[ENDPOINT_PATH_MAX];
	int err;

	if (c->type == EPC_CREATE) {
		create(t, c);
		return;
	}
	s = slot < t->conf.max_endpoints ? t->slot[slot] : NULL;
	if (!s || s->id != c->id)
		return;
	switch (c->type) {
	case EPC_MEDIA:
		set_media(t, s, &c->md);
		break;
	case EPC_LANG:
		/* a valid tag fits (PROMPT_LANG_MAX); anything else: "" */
		s->lang[0] = '\0';
		if (prompt_lang_ok(c->path))
			memcpy(s->lang, c->path, strlen(c->path) + 1);
		if (prompt_lang_set(s->lang_set, sizeof(s->lang_set),
				    t->conf.prompt_dir, s->lang))
			s->lang_set[0] = '\0';
		break;
	case EPC_PLAY_PROMPT:
		err = prompt_path_lang(path, sizeof(path),
				       t->conf.prompt_override,
				       t->conf.prompt_dir, s->lang,
				       s->lang_set, c->path);
		if (err) {
			if (s->pl != PL_NONE)
				ep_play_end(t, s, ENDPOINT_END_REPLACED, 0);
			s->pl = PL_FILE;
			ep_play_end(t, s, ENDPOINT_END_ERROR, err);
			break;
		}
		ep_play_start_file(t, s, path, c->flag);
		break;
	case EPC_PLAY_FILE:
		ep_play_start_file(t, s, c->path, c->flag);
		break;
	case EPC_PLAY_TONE:
		ep_play_start_tone(t, s, c);
		break;
	case EPC_PLAY_STOP:
		if (s->pl != PL_NONE)
			ep_play_end(t, s, ENDPOINT_END_STOPPED, 0);
		break;
	case EPC_RECORD:
		ep_record_start(t, s, c);
		break;
	case EPC_RECORD_STOP:
		if (s->rec)
			ep_record_end(t, s, c->flag ? ENDPOINT_END_STOPPED
						    : ENDPOINT_END_DISCARDED, 0);
		break;
	case EPC_DESTROY:
		sess_free(t, s);
		break;
	default:
		break;
	}
}

/* Returns false on EPC_QUIT. */
static bool drain_cmds(struct ep_thread *t)
{
	struct ep_cmd c[8];
	unsigned n, i;
	bool go = true;

	while ((n = ring_pop(t->cmds, c, 8)) > 0) {
		for (i = 0; i < n; i++) {
			if (c[i].type == EPC_QUIT)
				go = false;
			else
				command(t, &c[i]);
		}
	}
	return go;
}

static void tick(struct ep_thread *t)
{
	uint64_t missed = 0;
	unsigned i, burst;

	if (read(t->tfd, &missed, sizeof(missed)) != sizeof(missed) ||
	    !missed)
		return;
	/* A thread that was not scheduled for a while sends the frames it
	 * owes in a short burst (a phone's jitter buffer absorbs a few);
	 * beyond EP_CATCHUP they are given up. */
	burst = missed > EP_CATCHUP ? EP_CATCHUP : (unsigned)missed;
	for (i = 0; i < t->conf.max_endpoints; i++) {
		struct eps *s = t->slot[i];
		unsigned k;

		if (!s)
			continue;
		for (k = 0; k < burst; k++)
			ep_play_tick(t, s, k ? 0 : missed - burst);
		if (s->rec)
			ep_record_tick(t, s, missed);
	}
}

static void *run(void *arg)
{
	struct ep_thread *t = arg;
	struct epoll_event evs[64];
	sigset_t all;
	bool go = true;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	while (go) {
		int n = epoll_wait(t->epfd, evs, 64, -1), i;

		t->now = now_ms();
		for (i = 0; i < n && go; i++) {
			unsigned kind = evs[i].data.u64 & 3;
			unsigned slot = (unsigned)(evs[i].data.u64 >> 2);
			struct eps *s;

			if (kind == K_CMD) {
				go = drain_cmds(t);
				continue;
			}
			if (kind == K_TICK) {
				tick(t);
				continue;
			}
			s = slot < t->conf.max_endpoints ? t->slot[slot]
							 : NULL;
			if (!s)
				continue;
			if (kind == K_RTP)
				ep_rx_rtp(t, s);
			else
				ep_rx_rtcp(t, s);
		}
	}
	return NULL;
}

int ep_thread_start(struct ep_thread **tp, const struct ep_thread_conf *c,
		    struct ring *cmds)
{
	struct ep_thread *t;
	int err;

	t = calloc(1, sizeof(*t));
	if (!t)
		return ENOMEM;
	t->conf = *c;
	t->cmds = cmds;
	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	t->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	t->slot = calloc(c->max_endpoints, sizeof(*t->slot));
	if (t->epfd < 0 || t->tfd < 0 || !t->slot) {
		err = t->slot ? errno : ENOMEM;
		goto out;
	}
	t->now = now_ms();
	err = add_fd(t, cmds->efd, K_CMD);
	if (!err)
		err = add_fd(t, t->tfd, K_TICK);
	if (!err)
		err = pthread_create(&t->th, NULL, run, t);
	if (err)
		goto out;
	pthread_setname_np(t->th, "bw-endpoint");	/* for top, perf, benches */
	*tp = t;
	return 0;
 out:
	if (t->epfd >= 0)
		close(t->epfd);
	if (t->tfd >= 0)
		close(t->tfd);
	free(t->slot);
	free(t);
	return err;
}

void ep_thread_stop(struct ep_thread *t)
{
	struct ep_cmd c;
	unsigned i;

	if (!t)
		return;
	memset(&c, 0, sizeof(c));
	c.type = EPC_QUIT;
	/* QUIT may use the last place: retry while the thread drains */
	while (ring_push(t->cmds, &c, 0) == EAGAIN)
		usleep(1000);
	pthread_join(t->th, NULL);
	for (i = 0; i < t->conf.max_endpoints; i++) {
		if (t->slot[i])
			sess_free(t, t->slot[i]);
	}
	close(t->epfd);
	close(t->tfd);
	free(t->slot);
	free(t);
}
