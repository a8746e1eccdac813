/*
 * vmaccess — the owner's side of a mailbox (docs/admin/voicemail-menus.md):
 * *97 and *98 login, the first login (name, greeting, then the new PIN: only
 * then is anything kept), the main menu, the messages, the options.
 * PINs live in the session only while typed and checked; digits are never
 * logged.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "voicemail/vm_int.h"
#include "common/log.h"

#define MOD "voicemail"
#define MIN_REC_MS   1000
#define GREET_MAX_MS 60000
#define BOX_QUIET    3000
#define PIN_QUIET    5000
#define KEY_QUIET    10000

static void ask_box(struct vmsess *s);
static void ask_pin(struct vmsess *s);
static void main_menu(struct vmsess *s);
static void menu_prompt(struct vmsess *s);
static void options(struct vmsess *s);
static void new_pin(struct vmsess *s);
static void play_msg(struct vmsess *s, unsigned i);

/* One prompt (a digit stops it), then `then`. */
static void say(struct vmsess *s, const char *prompt, vm_step_h *then)
{
	vm_q_clear(s);
	vm_q_prompt(s, prompt);
	vm_play(s, true, then);
}

static void wipe(struct vmsess *s)
{
	sodium_memzero(s->pin, sizeof(s->pin));
	sodium_memzero(s->pin2, sizeof(s->pin2));
}

static bool digits_only(const char *in)
{
	if (!*in)
		return false;
	for (; *in; in++)
		if (*in < '0' || *in > '9')
			return false;
	return true;
}

/* ---- login ------------------------------------------------------------------ */

static void got_box(struct vmsess *s, const char *in)
{
	if (!digits_only(in) || strlen(in) >= sizeof(s->mailbox)) {
		/* nothing typed, or not a number: ask again (bounded) */
		if (++s->timeouts >= VM_TRIES) {
			vm_goodbye(s, true);
			return;
		}
		ask_box(s);
		return;
	}
	snprintf(s->mailbox, sizeof(s->mailbox), "%s", in);
	ask_pin(s);
}

static void box_collect(struct vmsess *s)
{
	vm_collect(s, VM_NUM_MAX - 1, BOX_QUIET, got_box);
}

static void ask_box(struct vmsess *s)
{
	vm_q_prompt(s, "vm-login");
	vm_play(s, true, box_collect);
}

static void pin_bad(struct vmsess *s)
{
	wipe(s);
	vm_q_clear(s);
	vm_q_prompt(s, "vm-incorrect");
	if (++s->tries >= VM_TRIES) {
		vm_q_prompt(s, "vm-goodbye");
		vm_goodbye(s, false);
		return;
	}
	/* *98 asks the mailbox again: its failures sound the same as a
	 * wrong PIN (no list of mailboxes by probing) */
	if (s->own)
		ask_pin(s);
	else {
		s->mailbox[0] = '\0';
		ask_box(s);
	}
}

static void first_login(struct vmsess *s);

static void pin_ok(struct vmsess *s)
{
	const struct vm_box *b = &s->box;
	bool pin_is_number = !strcmp(s->pin, s->mailbox);

	wipe(s);
	s->tries = 0;
	s->timeouts = 0;
	log_info(MOD, "mailbox %s: owner logged in (from %s)", s->mailbox,
		 s->src_ip);
	if (pin_is_number ||
	    (!b->st.initialised && (b->force_name || b->force_greeting))) {
		first_login(s);
		return;
	}
	main_menu(s);
}

static void got_pin(struct vmsess *s, const char *in)
{
	snprintf(s->pin, sizeof(s->pin), "%s", in);
	if (!digits_only(s->pin)) {
		pin_bad(s);
		return;
	}
	vm_pin_check(s, pin_ok, pin_bad);
}

static void pin_collect(struct vmsess *s)
{
	vm_collect(s, VM_PIN_MAX, PIN_QUIET, got_pin);
}

static void ask_pin(struct vmsess *s)
{
	vm_q_prompt(s, "vm-password");
	vm_play(s, true, pin_collect);
}

void vm_access_start(struct vmsess *s)
{
	vm_q_clear(s);
	if (s->own)
		ask_pin(s);
	else
		ask_box(s);
}

void vm_access_box(struct vmsess *s)
{
	s->own = true;   /* the mailbox is known: only the PIN is asked */
	vm_q_clear(s);
	ask_pin(s);
}

/* ---- recordings of the owner -------------------------------------------------- */


static void rec_path(const struct vmsess *s, enum vm_greeting g, char *out,
		     size_t sz)
{
	snprintf(out, sz, "%s.new", s->box.gpath[g]);
}

static void greeting_recorded(struct vmsess *s, enum endpoint_end end,
			      uint32_t ms);

static void rec_start(struct vmsess *s)
{
	char path[ENDPOINT_PATH_MAX + 8];

	rec_path(s, s->rec_g, path, sizeof(path));
	if (vm_record(s, path, GREET_MAX_MS, false, greeting_recorded)) {
		log_warn(MOD, "mailbox %s: cannot record", s->mailbox);
		vm_goodbye(s, false);
	}
}

static void rec_beep(struct vmsess *s)
{
	vm_typed_clear(s);
	vm_q_clear(s);
	vm_q_beep(s);
	vm_play(s, false, rec_start);
}

static void record_greeting(struct vmsess *s, enum vm_greeting g,
			    const char *prompt)
{
	s->rec_g = g;
	say(s, prompt, rec_beep);
}

static const char *const rec_prompt[VM_G__COUNT] = {
	[VM_G_NAME] = "vm-rec-name", [VM_G_UNAVAIL] = "vm-rec-unv",
	[VM_G_BUSY] = "vm-rec-busy", [VM_G_TEMP] = "vm-rec-temp",
};

/* ---- the first login ------------------------------------------------------------ */

static void fl_step(struct vmsess *s);

static void fl_finished(struct vmsess *s)
{
	s->first = false;
	log_info(MOD, "mailbox %s: first login completed", s->mailbox);
	say(s, "vm-passchanged", main_menu);
}

/* The next thing the first login needs: name, greeting, then the PIN. */
static void fl_step(struct vmsess *s)
{
	if (s->box.force_name && !s->pend[VM_G_NAME]) {
		record_greeting(s, VM_G_NAME, rec_prompt[VM_G_NAME]);
		return;
	}
	if (s->box.force_greeting && !s->pend[VM_G_UNAVAIL]) {
		record_greeting(s, VM_G_UNAVAIL, rec_prompt[VM_G_UNAVAIL]);
		return;
	}
	s->tries = 0;
	new_pin(s);
}

static void first_login(struct vmsess *s)
{
	s->first = true;
	memset(s->pend, 0, sizeof(s->pend));
	say(s, "vm-newuser", fl_step);
}

static void too_short_then(struct vmsess *s, vm_step_h *then)
{
	say(s, "vm-tooshort", then);
}

static void opt_saved(struct vmsess *s)
{
	say(s, "vm-msgsaved", options);
}

static void opt_short(struct vmsess *s)
{
	too_short_then(s, options);
}

static void greeting_recorded(struct vmsess *s, enum endpoint_end end,
			      uint32_t ms)
{
	bool ok = end != ENDPOINT_END_ERROR && end != ENDPOINT_END_DISCARDED
		&& ms >= MIN_REC_MS;

	if (s->closed)
		return;   /* vm_pending_drop / the discard took care */
	if (end == ENDPOINT_END_ERROR) {
		log_warn(MOD, "mailbox %s: recording failed", s->mailbox);
		vm_goodbye(s, false);
		return;
	}
	if (s->first) {
		if (ok) {
			s->pend[s->rec_g] = true;
			s->timeouts = 0;
			fl_step(s);
			return;
		}
		if (++s->timeouts >= VM_TRIES) {
			vm_pending_drop(s);
			vm_goodbye(s, true);
			return;
		}
		too_short_then(s, fl_step);
		return;
	}
	vm_greeting_keep(s, s->rec_g, ok, ok ? opt_saved : opt_short);
}

/* ---- the PIN change ---------------------------------------------------------------- */

static void pin_changed(struct vmsess *s)
{
	wipe(s);
	if (s->first) {
		vm_first_done(s, fl_finished);
		return;
	}
	say(s, "vm-passchanged", options);
}

static void pin_again(struct vmsess *s, const char *why)
{
	wipe(s);
	vm_q_clear(s);
	vm_q_prompt(s, why);
	if (++s->tries >= VM_TRIES) {
		if (s->first)
			vm_pending_drop(s);
		vm_q_prompt(s, "vm-goodbye");
		vm_goodbye(s, false);
		return;
	}
	vm_play(s, true, new_pin);
}

static void pin_refused(struct vmsess *s)
{
	pin_again(s, "vm-invalid-password");
}

static void got_new2(struct vmsess *s, const char *in)
{
	if (!digits_only(in) || strlen(in) != strlen(s->pin2) ||
	    sodium_memcmp(in, s->pin2, strlen(in))) {
		pin_again(s, "vm-mismatch");
		return;
	}
	snprintf(s->pin, sizeof(s->pin), "%s", in);
	vm_pin_change(s, pin_changed, pin_refused);
}

static void new2_collect(struct vmsess *s)
{
	vm_collect(s, VM_PIN_MAX, PIN_QUIET, got_new2);
}

static void got_new1(struct vmsess *s, const char *in)
{
	if (!digits_only(in)) {
		pin_again(s, "vm-invalid-password");
		return;
	}
	snprintf(s->pin2, sizeof(s->pin2), "%s", in);
	vm_q_clear(s);
	vm_q_prompt(s, "vm-reenterpassword");
	vm_play(s, true, new2_collect);
}

static void new1_collect(struct vmsess *s)
{
	vm_collect(s, VM_PIN_MAX, PIN_QUIET, got_new1);
}

static void new_pin(struct vmsess *s)
{
	vm_q_clear(s);
	vm_q_prompt(s, "vm-newpassword");
	vm_play(s, true, new1_collect);
}

/* ---- the main menu ------------------------------------------------------------------- */

static void announce(struct vmsess *s)
{
	vm_q_clear(s);
	vm_q_prompt(s, "vm-youhave");
	if (s->n_new) {
		vm_q_number(s, s->n_new);
		vm_q_prompt(s, "vm-INBOX");
		vm_q_prompt(s, s->n_new == 1 ? "vm-message" : "vm-messages");
	}
	if (s->n_saved) {
		if (s->n_new)
			vm_q_prompt(s, "vm-and");
		vm_q_number(s, s->n_saved);
		vm_q_prompt(s, "vm-Old");
		vm_q_prompt(s, s->n_saved == 1 ? "vm-message" :
			    "vm-messages");
	}
	if (!s->n_new && !s->n_saved) {
		vm_q_prompt(s, "vm-no");
		vm_q_prompt(s, "vm-messages");
	}
	vm_play(s, true, menu_prompt);
}

static void main_menu(struct vmsess *s)
{
	s->timeouts = 0;
	vm_list(s, announce);
}

static void menu_key(struct vmsess *s, const char *in)
{
	switch (in[0]) {
	case '1':
		s->timeouts = 0;
		if (s->n_msgs) {
			play_msg(s, 0);
			return;
		}
		say(s, "vm-nomore", menu_prompt);
		return;
	case '0':
		s->timeouts = 0;
		options(s);
		return;
	case '#':
		vm_goodbye(s, true);
		return;
	case '\0':
		if (++s->timeouts >= VM_TRIES) {
			vm_goodbye(s, true);
			return;
		}
		/* fall through */
	default:
		menu_prompt(s);
		return;
	}
}

static void menu_collect(struct vmsess *s)
{
	vm_collect(s, 1, KEY_QUIET, menu_key);
}

static void menu_prompt(struct vmsess *s)
{
	vm_q_clear(s);
	vm_q_prompt(s, "vm-onefor");
	vm_q_prompt(s, s->n_new || !s->n_saved ? "vm-INBOX" : "vm-Old");
	vm_q_prompt(s, "vm-messages");
	vm_q_prompt(s, "vm-opts");
	vm_q_prompt(s, "vm-helpexit");
	vm_play(s, true, menu_collect);
}

/* ---- messages ------------------------------------------------------------------------- */

static void msg_instruct(struct vmsess *s);

static void mark_seen(struct vmsess *s)
{
	struct vm_entry *e = &s->msgs[s->cur];

	if (e->m.folder == VM_NEW && !e->deleted) {
		vm_msg_set(s, s->cur, VM_SAVED, false);
		e->m.folder = VM_SAVED;
	}
}

static void next_msg(struct vmsess *s)
{
	for (unsigned i = s->cur + 1; i < s->n_msgs; i++)
		if (!s->msgs[i].deleted) {
			play_msg(s, i);
			return;
		}
	say(s, "vm-nomore", main_menu);
}

static void prev_msg(struct vmsess *s)
{
	for (unsigned i = s->cur; i-- > 0;)
		if (!s->msgs[i].deleted) {
			play_msg(s, i);
			return;
		}
	say(s, "vm-first", msg_instruct);
}

static void msg_key(struct vmsess *s, const char *in)
{
	if (in[0])
		s->timeouts = 0;
	switch (in[0]) {
	case '4':
		prev_msg(s);
		return;
	case '5':
		play_msg(s, s->cur);
		return;
	case '6':
		mark_seen(s);
		next_msg(s);
		return;
	case '7':
		vm_msg_set(s, s->cur, 0, true);
		s->msgs[s->cur].deleted = true;
		say(s, "vm-deleted", next_msg);
		return;
	case '9':
		mark_seen(s);
		say(s, "vm-saved", next_msg);
		return;
	case '#':
		main_menu(s);
		return;
	case '\0':
		if (++s->timeouts >= 2) {
			main_menu(s);
			return;
		}
		/* fall through */
	default:
		msg_instruct(s);
		return;
	}
}

static void msg_collect(struct vmsess *s)
{
	vm_collect(s, 1, KEY_QUIET, msg_key);
}

static void msg_instruct(struct vmsess *s)
{
	say(s, "vm-msginstruct", msg_collect);
}

static void msg_heard(struct vmsess *s)
{
	if (vm_typed(s)) {
		/* a key during the message: it acts at once */
		msg_collect(s);
		return;
	}
	/* heard to its end: no longer new */
	mark_seen(s);
	msg_instruct(s);
}

static void play_msg(struct vmsess *s, unsigned i)
{
	s->cur = i;
	vm_q_clear(s);
	vm_q_prompt(s, i == 0 ? "vm-first" : "vm-message");
	if (i)
		vm_q_number(s, i + 1);
	if (s->box.say_callerid) {
		/* "from" and the caller's number, digit by digit */
		vm_q_prompt(s, "vm-from");
		if (s->msgs[i].m.caller[0])
			vm_q_digits(s, s->msgs[i].m.caller);
		else
			vm_q_prompt(s, "vm-unknown-caller");
	}
	vm_q_file(s, s->msgs[i].path);
	vm_play(s, true, msg_heard);
}

/* ---- options ------------------------------------------------------------------------------ */

static void temp_removed(struct vmsess *s)
{
	say(s, "vm-tempremoved", options);
}

static void opt_key(struct vmsess *s, const char *in)
{
	if (in[0])
		s->timeouts = 0;
	switch (in[0]) {
	case '1':
		record_greeting(s, VM_G_UNAVAIL, rec_prompt[VM_G_UNAVAIL]);
		return;
	case '2':
		record_greeting(s, VM_G_BUSY, rec_prompt[VM_G_BUSY]);
		return;
	case '3':
		record_greeting(s, VM_G_NAME, rec_prompt[VM_G_NAME]);
		return;
	case '4':
		record_greeting(s, VM_G_TEMP, rec_prompt[VM_G_TEMP]);
		return;
	case '5':
		s->tries = 0;
		new_pin(s);
		return;
	case '6':
		vm_temp_remove(s, temp_removed);
		return;
	case '*':
	case '#':
		main_menu(s);
		return;
	case '\0':
		if (++s->timeouts >= 2) {
			main_menu(s);
			return;
		}
		/* fall through */
	default:
		options(s);
		return;
	}
}

static void opt_collect(struct vmsess *s)
{
	vm_collect(s, 1, KEY_QUIET, opt_key);
}

static void options(struct vmsess *s)
{
	say(s, "vm-options", opt_collect);
}
