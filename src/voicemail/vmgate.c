/*
 * vmgate — the gates an extension puts before its phone (issue 13), as
 * flows of the voicemail application's session engine (vmapp.c: the
 * endpoint, prompts, digits, worker): the call password (the caller
 * types it, the store checks it on the worker, three tries, then
 * goodbye; wrong ones are security events and count per source toward
 * a ban) and the personal IVR (the owner's recording or a stock menu;
 * a key picks the extension, its mailbox, or the configured
 * destination). Both end by handing the caller on (call_svc_connect) or
 * by hanging up. What callers hear and press: docs/admin/calls.md.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "voicemail/vm_int.h"
#include "voicemail/gate_rules.h"
#include "common/log.h"
#include "store/store.h"

#define MOD "gate"
#define PW_QUIET   5000
#define MENU_QUIET 6000

/* ---- handing on ------------------------------------------------------- */

static void connect_to(struct vmsess *s, const char *number)
{
	int err = call_svc_connect(s->app->conf.calls, s->handle, number);

	if (!err)
		return;   /* the call layer closed this session */
	log_info(MOD, "call of %s to %s: %s cannot take it (%s): goodbye",
		 s->caller, s->callee, number, err == ENOENT ?
		 "not an extension" : err == EACCES ? "refused" :
		 strerror(err));
	vm_q_clear(s);
	vm_q_prompt(s, "im-sorry");
	vm_goodbye(s, true);
}

static void to_callee(struct vmsess *s)
{
	connect_to(s, s->callee);
}

static void to_dest(struct vmsess *s)
{
	connect_to(s, s->dest);
}

/* ---- the call password -------------------------------------------------- */

struct pw_job {
	struct vmsess *s;
	struct vmapp *a;
	char number[VM_NUM_MAX];
	char pw[GATE_PW_MAX + 1];
	bool good;
	int err;
};

static void pw_job_destroy(void *arg)
{
	struct pw_job *j = arg;

	memset(j->pw, 0, sizeof(j->pw));
}

static void ask_pw(struct vmsess *s);

static void pw_wrong(struct vmsess *s)
{
	struct vmapp *a = s->app;
	unsigned n;

	memset(s->pin, 0, sizeof(s->pin));
	a->st.pin_failures++;
	if (a->conf.event)
		a->conf.event("call_password_failed", json_pack(
			"{s:s,s:s,s:s}", "extension", s->callee, "caller",
			s->caller, "src", s->src_ip), a->conf.arg);
	n = gate_src_fail(&a->gate_src, s->src_ip, (uint64_t)call_unix_ms());
	if (n >= GATE_SRC_FAILS && a->conf.ban) {
		log_warn(MOD, "source %s typed %u wrong call passwords: "
			 "banned", s->src_ip, n);
		a->conf.ban(s->src_ip, a->conf.arg);
	}
	vm_q_clear(s);
	if (++s->tries >= GATE_TRIES) {
		log_warn(MOD, "call of %s to %s: %u wrong call passwords "
			 "(from %s): hung up", s->caller, s->callee, s->tries,
			 s->src_ip);
		vm_q_prompt(s, "vm-invalid-password");
		vm_goodbye(s, true);
		return;
	}
	/* "Password incorrect. Please enter your password followed by
	 * the pound key." */
	vm_q_prompt(s, "auth-incorrect");
	ask_pw(s);
}

static void pw_right(struct vmsess *s)
{
	memset(s->pin, 0, sizeof(s->pin));
	log_info(MOD, "call of %s to %s: call password right (from %s)",
		 s->caller, s->callee, s->src_ip);
	vm_q_clear(s);
	vm_q_prompt(s, "auth-thankyou");
	vm_q_prompt(s, "pls-hold-while-try");
	vm_play(s, false, to_callee);
}

static void pw_work(void *arg)
{
	struct pw_job *j = arg;

	j->err = store_call_pw_check(j->a->conf.store, j->number, j->pw,
				     &j->good);
	if (j->err)
		j->good = false;
	memset(j->pw, 0, sizeof(j->pw));
}

static void pw_done(void *arg)
{
	struct pw_job *j = arg;
	struct vmsess *s = j->s;
	bool live = !s->closed;

	if (j->err && j->err != ENOENT)
		log_warn(MOD, "call password of %s: not checked: %s",
			 j->number, strerror(j->err));
	if (live) {
		if (j->good)
			pw_right(s);
		else
			pw_wrong(s);
	}
	vm_release(s);   /* the job's hold */
	mem_deref(j);
}

static void got_pw(struct vmsess *s, const char *in)
{
	struct pw_job *j;

	if (!gate_pw_wellformed(in)) {
		pw_wrong(s);
		return;
	}
	j = mem_zalloc(sizeof(*j), pw_job_destroy);
	if (!j) {
		vm_goodbye(s, false);
		return;
	}
	j->s = s;
	j->a = s->app;
	snprintf(j->number, sizeof(j->number), "%s", s->callee);
	snprintf(j->pw, sizeof(j->pw), "%s", in);
	if (!vm_job(s, pw_work, pw_done, j)) {
		mem_deref(j);
		log_warn(MOD, "call of %s to %s: worker queue full",
			 s->caller, s->callee);
		vm_goodbye(s, false);
	}
}

static void pw_collect(struct vmsess *s)
{
	vm_collect(s, GATE_PW_MAX, PW_QUIET, got_pw);
}

static void ask_pw(struct vmsess *s)
{
	/* the prompt said it already when it is the retry's; that one is
	 * not skipped by typing ahead: each wrong password costs its few
	 * seconds (the loop is never blocked for it) */
	if (!s->tries)
		vm_q_prompt(s, "agent-pass");
	vm_play(s, !s->tries, pw_collect);
}

/* ---- the personal IVR ------------------------------------------------------- */

static void menu(struct vmsess *s);

static void menu_again(struct vmsess *s, const char *why)
{
	vm_q_clear(s);
	if (++s->tries >= GATE_TRIES) {
		/* no good key after three menus: the default */
		vm_q_prompt(s, "pls-hold-while-try");
		vm_play(s, false, to_callee);
		return;
	}
	vm_q_prompt(s, why);
	menu(s);
}

static void got_key(struct vmsess *s, const char *in)
{
	switch (gate_pivr_pick(in[0])) {
	case GATE_PIVR_RING:
		vm_q_clear(s);
		vm_q_prompt(s, "pls-hold-while-try");
		vm_play(s, false, to_callee);
		return;
	case GATE_PIVR_VOICEMAIL:
		if (!s->box.exists) {
			menu_again(s, "pm-invalid-option");
			return;
		}
		log_info(MOD, "call of %s to %s: personal IVR -> voicemail",
			 s->caller, s->callee);
		/* the same session leaves the message */
		s->svc = ROUTE_SVC_DEPOSIT;
		s->greet = ROUTE_GREET_UNAVAIL;
		snprintf(s->mailbox, sizeof(s->mailbox), "%s", s->callee);
		vm_load(s, s->mailbox, vm_deposit_start);
		return;
	case GATE_PIVR_DEST:
		log_info(MOD, "call of %s to %s: personal IVR -> %s",
			 s->caller, s->callee, s->dest);
		vm_q_clear(s);
		vm_q_prompt(s, "pls-hold-while-try");
		vm_play(s, false, to_dest);
		return;
	default:
		menu_again(s, "pm-invalid-option");
		return;
	}
}

static void key_collect(struct vmsess *s)
{
	vm_collect(s, 1, MENU_QUIET, got_key);
}

static void menu(struct vmsess *s)
{
	const struct vm_box *b = &s->box;

	if (b->greet[VM_G_PIVR]) {
		/* the owner's own recording says the options */
		vm_q_file(s, b->gpath[VM_G_PIVR]);
	}
	else {
		/* "Press 1 for extension 201. Press 2 to leave a message.
		 * Press 3 for extension 202." */
		vm_q_prompt(s, "vm-press");
		vm_q_prompt(s, "digits/1");
		vm_q_prompt(s, "vm-for");
		vm_q_prompt(s, "extension");
		vm_q_digits(s, s->callee);
		if (b->exists) {
			vm_q_prompt(s, "vm-press");
			vm_q_prompt(s, "digits/2");
			vm_q_prompt(s, "vm-leavemsg");
		}
		vm_q_prompt(s, "vm-press");
		vm_q_prompt(s, "digits/3");
		vm_q_prompt(s, "vm-for");
		vm_q_prompt(s, "extension");
		vm_q_digits(s, s->dest);
	}
	vm_play(s, true, key_collect);
}

/* ---- entry points (vmapp.c) ---------------------------------------------------- */

void vm_gate_open(struct vmsess *s, const struct call_svc_info *info)
{
	snprintf(s->callee, sizeof(s->callee), "%s",
		 info->callee ? info->callee : "");
	snprintf(s->dest, sizeof(s->dest), "%s",
		 info->pivr_dest ? info->pivr_dest : "");
	/* the personal IVR offers the callee's mailbox: its settings and
	 * recordings are loaded first */
	if (s->svc == ROUTE_SVC_PIVR)
		snprintf(s->mailbox, sizeof(s->mailbox), "%s", s->callee);
}

void vm_gate_start(struct vmsess *s)
{
	vm_q_clear(s);
	s->tries = 0;
	if (s->svc == ROUTE_SVC_CALLPW) {
		ask_pw(s);
		return;
	}
	log_info(MOD, "call of %s to %s: personal IVR", s->caller,
		 s->callee);
	menu(s);
}
