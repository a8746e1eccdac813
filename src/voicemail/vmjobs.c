/*
 * vmjobs — the voicemail application's worker jobs. Each job copies what
 * it needs into its own structure on the loop, works on the worker
 * (vmstore, the store's PIN functions, the e-mail queue) touching only
 * that structure, and hands the result back on the loop in its done(),
 * which then continues the session's flow (unless the call ended).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "voicemail/vm_int.h"
#include "common/log.h"
#include "model/model.h"
#include "common/report.h"
#include "store/store.h"
#include "voicemail/vmmail.h"
#include "voicemail/vmwork.h"

#define MOD "voicemail"

struct job {
	struct vmsess *s;          /* loop side only */
	struct vmapp *a;
	vm_step_h *ok, *bad;
	char number[VM_NUM_MAX];
	char copies_of[VM_NUM_MAX]; /* load (deposit): a ring group */
	char src_ip[64];
	char pin[VM_PIN_MAX + 1];
	bool deposit, good;
	int err;
	struct vm_box box;         /* load */
	char id[VM_ID_MAX];        /* load (deposit), save, set */
	char path[ENDPOINT_PATH_MAX];
	bool full;
	struct vm_msg msg;         /* save */
	struct vmmail_msg mail;    /* save */
	bool mail_on;
	struct vm_failres fr;      /* pin */
	bool locked;
	struct vm_entry *msgs;     /* list */
	unsigned n_msgs, n_new, n_saved;
	int folder;                /* set */
	bool del;
	bool pend[VM_G__COUNT];    /* first login, greeting keep */
	enum vm_greeting g;
	bool keep;
	char refusal[128];
};

static void job_destroy(void *arg)
{
	struct job *j = arg;

	memset(j->pin, 0, sizeof(j->pin));
	mem_deref(j->msgs);
}

static struct job *job_new(struct vmsess *s)
{
	struct job *j = mem_zalloc(sizeof(*j), job_destroy);

	if (!j)
		return NULL;
	j->s = s;
	j->a = s->app;
	snprintf(j->number, sizeof(j->number), "%s", s->mailbox);
	snprintf(j->copies_of, sizeof(j->copies_of), "%s", s->copies_of);
	snprintf(j->src_ip, sizeof(j->src_ip), "%s", s->src_ip);
	return j;
}

static void go(struct vmsess *s, void (*work)(void *), void (*done)(void *),
	       struct job *j)
{
	if (!j || !vm_job(s, work, done, j)) {
		mem_deref(j);
		log_warn(MOD, "mailbox %s: worker queue full", s->mailbox);
		vm_goodbye(s, false);
	}
}

/* Ends a job on the loop: false when the session is gone (the call
 * ended): then nothing more is done for it. */
static bool back(struct job *j)
{
	struct vmsess *s = j->s;
	bool live = !s->closed;

	vm_release(s);
	return live;
}

/* ---- a mailbox's settings and state ------------------------------------- */

static bool bool_def(const json_t *o, const char *k, enum model_type t)
{
	const json_t *v = json_object_get(o, k);
	const struct model_field *f;

	if (json_is_boolean(v))
		return json_is_true(v);
	f = model_field_find(k);
	return f && model_type_has(t, f) && f->def && !strcmp(f->def, "true");
}

static unsigned int_def(const json_t *o, const char *k, unsigned def)
{
	const json_t *v = json_object_get(o, k);

	return json_is_integer(v) && json_integer_value(v) > 0 ?
		(unsigned)json_integer_value(v) : def;
}

static void str_of(const json_t *o, const char *k, char *out, size_t sz)
{
	const char *v = json_string_value(json_object_get(o, k));

	snprintf(out, sz, "%s", v ? v : "");
}

/* The mailboxes of list c (JSON strings) get copies of number's
 * messages: added to b, once each, never number itself. */
static void copies_add(struct vm_box *b, const json_t *c, const char *number)
{
	const json_t *it;
	size_t i;

	json_array_foreach(c, i, it) {
		const char *n = json_string_value(it);
		bool dup = !n || !strcmp(n, number);

		for (unsigned k = 0; !dup && k < b->n_copies; k++)
			dup = !strcmp(b->copies[k], n);
		if (dup)
			continue;
		if (b->n_copies >= sizeof(b->copies) / sizeof(b->copies[0]))
			break;
		snprintf(b->copies[b->n_copies++], VM_NUM_MAX, "%s", n);
	}
}

/* A ring group's message (issue 13): the group's ring_group.vm_copies
 * get it too. */
static void group_copies(struct vmapp *a, const char *group,
			 const char *number, struct vm_box *b)
{
	json_t *o = NULL;

	if (!group[0] || store_ext_get(a->conf.store, group, STORE_RUNNING,
				       false, &o))
		return;
	copies_add(b, json_object_get(o, "ring_group.vm_copies"), number);
	json_decref(o);
}

static void box_read(struct vmapp *a, const char *number, struct vm_box *b)
{
	enum model_type t;
	json_t *o = NULL;

	memset(b, 0, sizeof(*b));
	if (!number[0] || store_ext_get(a->conf.store, number, STORE_RUNNING,
					false, &o))
		return;
	if (model_type_parse(json_string_value(json_object_get(o, "type")),
			     &t) ||
	    !bool_def(o, "voicemail.enabled", t))
		goto out;
	b->exists = true;
	str_of(o, "name", b->name, sizeof(b->name));
	b->force_name = bool_def(o, "voicemail.force_name", t);
	b->force_greeting = bool_def(o, "voicemail.force_greeting", t);
	b->say_callerid = bool_def(o, "voicemail.say_callerid", t);
	b->max_messages = int_def(o, "voicemail.max_messages", 100);
	b->max_message_secs = int_def(o, "voicemail.max_message_secs", 180);
	b->max_minutes = int_def(o, "voicemail.max_minutes", 0);
	str_of(o, "voicemail.email", b->email, sizeof(b->email));
	b->email_attach = bool_def(o, "voicemail.email_attach", t);
	b->email_delete = bool_def(o, "voicemail.email_delete", t);
	copies_add(b, json_object_get(o, "virtual.vm_copies"), number);
	(void)vmstore_box_get(a->conf.vs, number, &b->st);
	/* the directory the owner's recordings go to, made on first use */
	if (vmstore_box_dir(a->conf.vs, number, b->gpath[0],
			    sizeof(b->gpath[0])))
		log_warn(MOD, "mailbox %s: no directory", number);
	for (int g = 0; g < VM_G__COUNT; g++) {
		if (vmstore_greeting_path(a->conf.vs, number, g, b->gpath[g],
					  sizeof(b->gpath[g])))
			continue;
		b->greet[g] = !access(b->gpath[g], R_OK);
	}
 out:
	json_decref(o);
	if (!b->exists)
		memset(b, 0, sizeof(*b));
}

static void load_work(void *arg)
{
	struct job *j = arg;

	box_read(j->a, j->number, &j->box);
	if (!j->box.exists || !j->deposit)
		return;
	group_copies(j->a, j->copies_of, j->number, &j->box);
	if (j->box.max_minutes) {
		/* the minutes the messages kept already take */
		uint64_t cap = (uint64_t)j->box.max_minutes * 60000, used = 0;
		struct vm_msg *all = NULL;
		size_t n = 0;

		if (!vmstore_msg_list(j->a->conf.vs, j->number, VM_ANY, &all,
				      &n))
			for (size_t i = 0; i < n; i++)
				used += all[i].duration_ms;
		free(all);
		if (used + 1000 >= cap) {
			j->full = true;
			j->err = ENOSPC;
			return;
		}
		j->box.left_ms = (uint32_t)(cap - used);
	}
	j->err = vmstore_msg_new(j->a->conf.vs, j->number,
				 j->box.max_messages, j->id, j->path,
				 sizeof(j->path));
	j->full = j->err == ENOSPC;
}

static void load_done(void *arg)
{
	struct job *j = arg;
	struct vmsess *s = j->s;

	if (back(j)) {
		s->box = j->box;
		snprintf(s->msg_id, sizeof(s->msg_id), "%s",
			 j->err ? "" : j->id);
		snprintf(s->msg_path, sizeof(s->msg_path), "%s",
			 j->err ? "" : j->path);
		s->full = j->full;
		if (j->ok)
			j->ok(s);
	}
	mem_deref(j);
}

void vm_load(struct vmsess *s, const char *number, vm_step_h *then)
{
	struct job *j = job_new(s);

	if (j) {
		snprintf(j->number, sizeof(j->number), "%s", number);
		j->deposit = s->svc == ROUTE_SVC_DEPOSIT;
		j->ok = then;
	}
	go(s, load_work, load_done, j);
}

/* ---- a message left ---------------------------------------------------- */

static void save_work(void *arg)
{
	struct job *j = arg;
	struct vmapp *a = j->a;

	j->err = vmstore_msg_add(a->conf.vs, &j->msg);
	if (j->err) {
		(void)unlink(j->path);
		return;
	}
	for (unsigned i = 0; i < j->box.n_copies; i++) {
		struct vm_box cb;

		/* a copy only to a mailbox that is one */
		box_read(a, j->box.copies[i], &cb);
		if (cb.exists &&
		    vmstore_msg_copy(a->conf.vs, j->number, j->msg.id,
				     j->box.copies[i]))
			log_warn(MOD, "mailbox %s: copy to %s failed",
				 j->number, j->box.copies[i]);
	}
	if (j->mail_on && a->conf.mail) {
		int err = vmmail_send(a->conf.mail, &j->mail);

		if (err)
			log_warn(MOD, "mailbox %s: e-mail not queued: %s",
				 j->number, strerror(err));
	}
}

static void save_done(void *arg)
{
	struct job *j = arg;
	struct vmsess *s = j->s;

	if (j->err)
		log_warn(MOD, "mailbox %s: message not stored: %s", j->number,
			 strerror(j->err));
	else {
		s->app->st.deposits++;
		log_info(MOD, "mailbox %s: message %s from %s, %u ms",
			 j->number, j->msg.id, j->msg.caller,
			 j->msg.duration_ms);
	}
	(void)back(j);
	mem_deref(j);
}

void vm_save(struct vmsess *s)
{
	struct job *j = job_new(s);

	if (!j) {
		go(s, save_work, save_done, j);
		return;
	}
	j->box = s->box;
	snprintf(j->path, sizeof(j->path), "%s", s->msg_path);
	snprintf(j->msg.id, sizeof(j->msg.id), "%s", s->msg_id);
	snprintf(j->msg.number, sizeof(j->msg.number), "%s", s->mailbox);
	j->msg.folder = VM_NEW;
	snprintf(j->msg.caller, sizeof(j->msg.caller), "%s", s->caller);
	snprintf(j->msg.caller_name, sizeof(j->msg.caller_name), "%s",
		 s->caller_name);
	j->msg.time_ms = s->start_ms;
	j->msg.duration_ms = s->rec_ms;
	if (s->box.email[0]) {
		struct vmmail_msg *m = &j->mail;

		j->mail_on = true;
		snprintf(m->to, sizeof(m->to), "%s", s->box.email);
		snprintf(m->mailbox, sizeof(m->mailbox), "%s", s->mailbox);
		snprintf(m->caller, sizeof(m->caller), "%s", s->caller);
		snprintf(m->caller_name, sizeof(m->caller_name), "%s",
			 s->caller_name);
		m->time_ms = s->start_ms;
		m->duration_ms = s->rec_ms;
		m->attach = s->box.email_attach;
		if (m->attach)
			snprintf(m->wav_path, sizeof(m->wav_path), "%s",
				 s->msg_path);
		m->delete_after = s->box.email_delete && m->attach;
		snprintf(m->msg_id, sizeof(m->msg_id), "%s", s->msg_id);
	}
	/* a save outlives the call: vm_job holds the session */
	if (!vm_job(s, save_work, save_done, j)) {
		log_warn(MOD, "mailbox %s: worker queue full, message %s "
			 "dropped", s->mailbox, s->msg_id);
		unlink(s->msg_path);
		mem_deref(j);
	}
}

/* ---- the PIN ------------------------------------------------------------------ */

static void pin_work(void *arg)
{
	struct job *j = arg;
	struct vmapp *a = j->a;
	int64_t now = call_unix_ms();
	int err;

	box_read(a, j->number, &j->box);
	if (!j->box.exists)
		return;            /* counted per source on the loop */
	if (j->box.st.locked_until > now) {
		j->locked = true;
		return;            /* not even compared while locked */
	}
	err = store_vm_pin_check(a->conf.store, j->number, j->pin, &j->good);
	if (err)
		j->good = false;
	if (j->good)
		(void)vmstore_pin_ok(a->conf.vs, j->number);
	else
		(void)vmstore_pin_fail(a->conf.vs, j->number, j->src_ip, now,
				       &j->fr);
}

static void report(struct vmapp *a, const char *type, const char *number,
		   const char *src, int64_t until)
{
	json_t *f;

	if (!a->conf.event)
		return;
	f = json_pack("{s:s, s:s}", "mailbox", number, "src", src);
	if (f && until)
		json_object_set_new(f, "locked_until", json_integer(until));
	a->conf.event(type, f, a->conf.arg);
}

static void pin_done(void *arg)
{
	struct job *j = arg;
	struct vmsess *s = j->s;
	struct vmapp *a = j->a;

	if (!j->good) {
		a->st.pin_failures++;
		if (!j->box.exists)
			vm_src_fail(a, j->src_ip, 0);
		else if (!j->locked) {
			report(a, j->fr.locked ? "vm_locked" : "vm_pin_failed",
			       j->number, j->src_ip,
			       j->fr.locked ? j->fr.locked_until : 0);
			if (j->fr.locked)
				log_warn(MOD, "mailbox %s locked after %u "
					 "wrong PINs (from %s)", j->number,
					 j->fr.fails, j->src_ip);
			if (j->fr.src_boxes)
				vm_src_fail(a, j->src_ip, j->fr.src_boxes);
		}
	} else {
		a->st.logins++;
	}
	if (back(j)) {
		s->box = j->box;
		if (j->good && j->ok)
			j->ok(s);
		else if (!j->good && j->bad)
			j->bad(s);
	}
	mem_deref(j);
}

void vm_pin_check(struct vmsess *s, vm_step_h *ok, vm_step_h *bad)
{
	struct job *j = job_new(s);

	if (j) {
		snprintf(j->pin, sizeof(j->pin), "%s", s->pin);
		j->ok = ok;
		j->bad = bad;
	}
	go(s, pin_work, pin_done, j);
}

static void change_work(void *arg)
{
	struct job *j = arg;
	struct report r;
	int err;

	report_init(&r);
	err = store_vm_pin_change(j->a->conf.store, j->number, j->pin, &r);
	j->good = !err;
	if (err && r.n)
		snprintf(j->refusal, sizeof(j->refusal), "%s", r.item[0].rule);
	report_reset(&r);
}

static void change_done(void *arg)
{
	struct job *j = arg;
	struct vmsess *s = j->s;

	if (j->good)
		log_info(MOD, "mailbox %s: PIN changed by its owner",
			 j->number);
	else
		log_info(MOD, "mailbox %s: new PIN refused (%s)", j->number,
			 j->refusal[0] ? j->refusal : "error");
	if (back(j)) {
		snprintf(s->refusal, sizeof(s->refusal), "%s", j->refusal);
		if (j->good && j->ok)
			j->ok(s);
		else if (!j->good && j->bad)
			j->bad(s);
	}
	mem_deref(j);
}

void vm_pin_change(struct vmsess *s, vm_step_h *ok, vm_step_h *bad)
{
	struct job *j = job_new(s);

	if (j) {
		snprintf(j->pin, sizeof(j->pin), "%s", s->pin);
		j->ok = ok;
		j->bad = bad;
	}
	go(s, change_work, change_done, j);
}

/* ---- messages ---------------------------------------------------------------- */

static void list_work(void *arg)
{
	struct job *j = arg;
	struct vm_msg *nw = NULL, *sv = NULL;
	size_t n_nw = 0, n_sv = 0, k = 0;

	if (vmstore_msg_list(j->a->conf.vs, j->number, VM_NEW, &nw, &n_nw))
		n_nw = 0;
	if (vmstore_msg_list(j->a->conf.vs, j->number, VM_SAVED, &sv, &n_sv))
		n_sv = 0;
	if (n_nw > VM_MSGS_MAX)
		n_nw = VM_MSGS_MAX;
	if (n_nw + n_sv > VM_MSGS_MAX)
		n_sv = VM_MSGS_MAX - n_nw;
	j->n_new = (unsigned)n_nw;
	j->n_saved = (unsigned)n_sv;
	if (n_nw + n_sv)
		j->msgs = mem_zalloc((n_nw + n_sv) * sizeof(*j->msgs), NULL);
	for (size_t i = 0; j->msgs && i < n_nw + n_sv; i++) {
		struct vm_entry *e = &j->msgs[k];

		e->m = i < n_nw ? nw[i] : sv[i - n_nw];
		if (!vmstore_msg_path(j->a->conf.vs, j->number, e->m.id,
				      e->path, sizeof(e->path)))
			k++;
	}
	j->n_msgs = (unsigned)k;
	free(nw);
	free(sv);
}

static void list_done(void *arg)
{
	struct job *j = arg;
	struct vmsess *s = j->s;

	if (back(j)) {
		mem_deref(s->msgs);
		s->msgs = j->msgs;
		j->msgs = NULL;
		s->n_msgs = j->n_msgs;
		s->n_new = j->n_new;
		s->n_saved = j->n_saved;
		s->cur = 0;
		if (j->ok)
			j->ok(s);
	}
	mem_deref(j);
}

void vm_list(struct vmsess *s, vm_step_h *then)
{
	struct job *j = job_new(s);

	if (j)
		j->ok = then;
	go(s, list_work, list_done, j);
}

static void set_work(void *arg)
{
	struct job *j = arg;

	if (j->del)
		j->err = vmstore_msg_delete(j->a->conf.vs, j->number, j->id);
	else
		j->err = vmstore_msg_move(j->a->conf.vs, j->number, j->id,
					  j->folder);
}

static void set_done(void *arg)
{
	struct job *j = arg;

	(void)back(j);
	mem_deref(j);
}

/* Fire and forget: the menu goes on at once (MWI follows the store). */
void vm_msg_set(struct vmsess *s, unsigned i, int folder, bool del)
{
	struct job *j;

	if (i >= s->n_msgs)
		return;
	j = job_new(s);
	if (!j)
		return;
	snprintf(j->id, sizeof(j->id), "%s", s->msgs[i].m.id);
	j->folder = folder;
	j->del = del;
	if (!vm_job(s, set_work, set_done, j))
		mem_deref(j);
}

/* ---- the owner's recordings ------------------------------------------------ */

/* Recordings are made to "<final>.new" and moved into place here. */
static void keep_work(void *arg)
{
	struct job *j = arg;
	char fin[ENDPOINT_PATH_MAX], tmp[ENDPOINT_PATH_MAX + 8];

	for (int g = 0; g < VM_G__COUNT; g++) {
		if (!j->pend[g] ||
		    vmstore_greeting_path(j->a->conf.vs, j->number, g, fin,
					  sizeof(fin)))
			continue;
		snprintf(tmp, sizeof(tmp), "%s.new", fin);
		if (!j->keep)
			(void)unlink(tmp);
		else if (rename(tmp, fin))
			j->err = errno;
	}
	if (j->keep && j->deposit && !j->err)
		/* the first login: initialised once the PIN changed */
		j->err = vmstore_box_set_initialised(j->a->conf.vs, j->number,
						     true);
	if (j->keep && j->g == VM_G_TEMP && !j->pend[VM_G_TEMP] &&
	    !vmstore_greeting_path(j->a->conf.vs, j->number, VM_G_TEMP, fin,
				   sizeof(fin)))
		/* "remove the temporary greeting" */
		(void)unlink(fin);
}

static void keep_done(void *arg)
{
	struct job *j = arg;
	struct vmsess *s = j->s;

	if (j->err)
		log_warn(MOD, "mailbox %s: recording not kept: %s", j->number,
			 strerror(j->err));
	if (back(j) && j->ok)
		j->ok(s);
	mem_deref(j);
}

static void keep(struct vmsess *s, const bool *pend, bool keep_it,
		 bool first, enum vm_greeting g, vm_step_h *then)
{
	struct job *j = job_new(s);

	if (j) {
		memcpy(j->pend, pend, sizeof(j->pend));
		j->keep = keep_it;
		j->deposit = first;
		j->g = g;
		j->ok = then;
	}
	if (!then) {
		/* the session may be ending: no flow to continue */
		if (!j || !vm_job(s, keep_work, keep_done, j))
			mem_deref(j);
		return;
	}
	go(s, keep_work, keep_done, j);
}

void vm_greeting_keep(struct vmsess *s, enum vm_greeting g, bool keep_it,
		      vm_step_h *then)
{
	bool pend[VM_G__COUNT] = { false };

	pend[g] = true;
	keep(s, pend, keep_it, false, g, then);
}

void vm_temp_remove(struct vmsess *s, vm_step_h *then)
{
	bool pend[VM_G__COUNT] = { false };

	keep(s, pend, true, false, VM_G_TEMP, then);
}

void vm_first_done(struct vmsess *s, vm_step_h *then)
{
	keep(s, s->pend, true, true, VM_G__COUNT, then);
	memset(s->pend, 0, sizeof(s->pend));
}

void vm_pending_drop(struct vmsess *s)
{
	bool any = false;

	for (int g = 0; g < VM_G__COUNT; g++)
		any |= s->pend[g];
	if (any)
		keep(s, s->pend, false, false, VM_G__COUNT, NULL);
	memset(s->pend, 0, sizeof(s->pend));
}

/* ---- mailboxes of deleted extensions -------------------------------------- */

struct gone {
	struct vmapp *a;
	size_t n;
	char num[][VM_NUM_MAX];
};

static void gone_work(void *arg)
{
	struct gone *g = arg;

	for (size_t i = 0; i < g->n; i++) {
		int err = vmstore_box_remove(g->a->conf.vs, g->num[i]);

		if (err && err != ENOENT)
			log_warn(MOD, "mailbox %s of a deleted extension: %s",
				 g->num[i], strerror(err));
		else
			log_info(MOD, "mailbox %s removed with its extension",
				 g->num[i]);
	}
}

static void gone_done(void *arg)
{
	mem_deref(arg);
}

void vm_boxes_remove(struct vmapp *a, const char (*num)[VM_NUM_MAX],
		     size_t n)
{
	struct gone *g;

	if (!n)
		return;
	g = mem_zalloc(sizeof(*g) + n * VM_NUM_MAX, NULL);
	if (!g)
		return;
	g->a = a;
	g->n = n;
	memcpy(g->num, num, n * VM_NUM_MAX);
	if (vmwork_put(a->work, gone_work, gone_done, g)) {
		log_warn(MOD, "worker queue full: %zu mailboxes of deleted "
			 "extensions kept", n);
		mem_deref(g);
	}
}
