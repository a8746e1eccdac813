/*
 * fuzz_call_svc — the call harness's fake service (fuzz_call.h): what
 * voicemail registers on the call layer's hook (call/svc.h), with no
 * endpoint behind it. It checks what the call layer hands it and keeps
 * every session it opened in a table, so that the end of an input can
 * say that each one ended exactly once: closed() by the call layer, or
 * hung up by the service itself (call_svc_hangup, after which the call
 * layer must never name the session again).
 *
 * A session is a heap object freed at its end: a callback the call layer
 * makes with it afterwards reads freed memory (ASan).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call/call_int.h"
#include "model/model.h"
#include "store/snapshot.h"
#include "fuzz_call.h"

#define SVC_MAX 64          /* sessions opened by one input */
#define SVC_PORT 40000      /* the fake endpoint's RTP port */
#define SVC_MAGIC 0x5e55104u

enum fs_state { FS_NONE = 0, FS_OPEN, FS_CLOSED, FS_HUNGUP };

struct fsess {
	uint32_t magic;
	unsigned idx;
	uint64_t handle;
	bool answered;
	unsigned digits;
};

static struct {
	struct call_app *app;
	uint16_t rtp_min, rtp_max;
	unsigned n;                       /* sessions opened this input */
	enum fs_state st[SVC_MAX];
	struct fsess *s[SVC_MAX];
	bool fail_next;                   /* "----F" */
	bool hangup_answered;             /* "----h" */
	bool off;                         /* "----N": not registered */
	struct fc_svc_count cnt;
} f;

/* What open() leaves in *sess when it fails: never to be seen again. */
static int refused_sess;

static void die(const char *what)
{
	fprintf(stderr, "fuzz_call: service: %s\n", what);
	abort();
}

/* The session of a callback: one of ours, open. */
static struct fsess *sess_of(void *p, const char *cb)
{
	struct fsess *s = p;

	if (!s || p == &refused_sess)
		die(cb);
	/* a freed session: ASan stops here */
	if (s->magic != SVC_MAGIC || s->idx >= f.n || f.s[s->idx] != s)
		die(cb);
	if (f.st[s->idx] != FS_OPEN)
		die(cb);
	return s;
}

/* The service hangs up: the session ends here, the call layer is told. */
static void hang_up(struct fsess *s)
{
	uint64_t h = s->handle;

	/* from here a callback naming s dies: not ours any more */
	f.st[s->idx] = FS_HUNGUP;
	f.s[s->idx] = NULL;
	f.cnt.hungup++;
	call_svc_hangup(f.app, h);
	/* the call has ended: its handle names nothing any more */
	call_svc_hangup(f.app, h);
	s->magic = 0;
	free(s);
}

static bool is_mailbox(const char *num)
{
	const struct snap_ext *x = snapshot_find(sipd_snapshot(f.app->sd), num,
						 strlen(num));

	/* an extension with voicemail, or a mailbox alone (type voicemail) */
	return x && (x->vm || x->type == MODEL_VOICEMAIL);
}

static void check_open(const struct call_svc_info *info,
		       const struct call_svc_media *md)
{
	const struct snap_ext *caller;

	if (!info->call_id || !info->caller || !info->caller_name ||
	    !info->mailbox || !info->src_ip || !info->call_id[0])
		die("open: a string of the call is missing");
	caller = snapshot_find(sipd_snapshot(f.app->sd), info->caller,
			       strlen(info->caller));
	if (!caller)
		die("open: the caller is no extension");
	if (info->svc == ROUTE_SVC_DEPOSIT) {
		if (!is_mailbox(info->mailbox))
			die("open: a deposit into no mailbox");
		if (info->greet != ROUTE_GREET_UNAVAIL &&
		    info->greet != ROUTE_GREET_BUSY)
			die("open: an unknown greeting");
	}
	else if (info->svc == ROUTE_SVC_ACCESS) {
		/* *97: the caller's own; *98 (or no mailbox): ask */
		if (info->mailbox[0] && (strcmp(info->mailbox, info->caller) ||
					 !is_mailbox(info->mailbox)))
			die("open: access to a mailbox not the caller's");
	}
	else {
		die("open: no service named");
	}
	for (unsigned i = 0; i < f.n; i++)
		if (f.st[i] == FS_OPEN && f.s[i]->handle == info->handle)
			die("open: the handle of a live session again");
	if (md->pt != 0 && md->pt != 8)
		die("open: a payload type not G.711");
	if (md->te_pt != -1 && (md->te_pt < 96 || md->te_pt > 127))
		die("open: a telephone-event type not dynamic");
	if (sa_port(&md->rtp) < f.rtp_min || sa_port(&md->rtp) > f.rtp_max ||
	    !sa_cmp(&md->rtp, &md->bind, SA_ADDR))
		die("open: the relay's port is not the relay's");
}

static int fs_open(const struct call_svc_info *info,
		    const struct call_svc_media *md, uint16_t *rtp_port,
		    void **sess, void *arg)
{
	struct fsess *s;

	(void)arg;
	check_open(info, md);
	if (!call_svc_relay(f.app))
		die("open: no relay for the endpoint's ports");
	f.cnt.opens++;
	/* refused: "----F" asked for it, every fourth, or the table is
	 * full; what is left in *sess must be ignored */
	if (f.fail_next || f.cnt.opens % 4 == 0 || f.n >= SVC_MAX) {
		f.fail_next = false;
		f.cnt.refused++;
		*sess = &refused_sess;
		*rtp_port = 1;
		return EBUSY;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		abort();
	s->magic = SVC_MAGIC;
	s->idx = f.n++;
	s->handle = info->handle;
	f.s[s->idx] = s;
	f.st[s->idx] = FS_OPEN;
	*rtp_port = SVC_PORT;
	*sess = s;
	return 0;
}

static void fs_answered(void *sess, void *arg)
{
	struct fsess *s = sess_of(sess, "answered() of no open session");

	(void)arg;
	if (s->answered)
		die("answered() twice");
	s->answered = true;
	f.cnt.answered++;
	if (f.hangup_answered) {
		f.hangup_answered = false;
		hang_up(s);
	}
}

static void fs_digit(void *sess, char d, void *arg)
{
	struct fsess *s = sess_of(sess, "digit() of no open session");

	(void)arg;
	if (!d || !strchr("0123456789*#ABCD", d))
		die("digit() with no DTMF character");
	s->digits++;
	f.cnt.digits++;
	/* '#': the service is done (a deposit ends, a menu hangs up) */
	if (d == '#')
		hang_up(s);
}

static void fs_closed(void *sess, void *arg)
{
	struct fsess *s = sess_of(sess, "closed() of no open session "
				  "(twice, after the service's hangup, or "
				  "refused)");

	(void)arg;
	f.st[s->idx] = FS_CLOSED;
	f.s[s->idx] = NULL;
	f.cnt.closed++;
	s->magic = 0;
	free(s);
}

static const struct call_svc_ops ops = {
	.open = fs_open,
	.answered = fs_answered,
	.digit = fs_digit,
	.closed = fs_closed,
};

void fc_svc_up(struct call_app *app, uint16_t rtp_min, uint16_t rtp_max)
{
	memset(&f, 0, sizeof(f));
	f.app = app;
	f.rtp_min = rtp_min;
	f.rtp_max = rtp_max;
	call_set_service(app, ROUTE_SVC_DEPOSIT, &ops, NULL);
	call_set_service(app, ROUTE_SVC_ACCESS, &ops, NULL);
}

void fc_svc_command(char what)
{
	if (what == 'N') {
		/* the service goes away (480 "no voicemail") or comes back;
		 * only with no session open: the call layer would not tell it
		 * of their end */
		for (unsigned i = 0; i < f.n; i++)
			if (f.st[i] == FS_OPEN)
				return;
		f.off = !f.off;
		call_set_service(f.app, ROUTE_SVC_DEPOSIT,
				 f.off ? NULL : &ops, NULL);
		call_set_service(f.app, ROUTE_SVC_ACCESS,
				 f.off ? NULL : &ops, NULL);
	}
	else if (what == 'F') {
		f.fail_next = true;
	}
	else if (what == 'h') {
		f.hangup_answered = true;
	}
	else if (what == 'H') {
		for (unsigned i = 0; i < f.n; i++)
			if (f.st[i] == FS_OPEN)
				hang_up(f.s[i]);
		/* a handle the call layer never gave */
		call_svc_hangup(f.app, UINT64_MAX);
	}
}

void fc_svc_down(struct fc_svc_count *cnt)
{
	for (unsigned i = 0; i < f.n; i++)
		if (f.st[i] != FS_CLOSED && f.st[i] != FS_HUNGUP)
			die("a session outlived its call (closed() never "
			    "came)");
	if (f.cnt.closed + f.cnt.hungup != f.n ||
	    f.cnt.refused + f.n != f.cnt.opens)
		die("sessions opened and ended do not add up");
	if (cnt)
		*cnt = f.cnt;
	memset(&f, 0, sizeof(f));
}
