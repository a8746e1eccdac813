/*
 * vmdeposit — leaving a message (docs/admin/voicemail-menus.md): the
 * greeting, the tone, the recording, the message stored by the worker.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "voicemail/vm_int.h"
#include "common/log.h"

#define MOD "voicemail"
#define MIN_MSG_MS 1000

static void recorded(struct vmsess *s, enum endpoint_end end, uint32_t ms)
{
	if (end == ENDPOINT_END_ERROR || end == ENDPOINT_END_DISCARDED ||
	    ms < MIN_MSG_MS) {
		if (end == ENDPOINT_END_ERROR)
			log_warn(MOD, "mailbox %s: recording failed",
				 s->mailbox);
		/* nothing (or too little) to keep: no file stays */
		if (end != ENDPOINT_END_ERROR && end != ENDPOINT_END_DISCARDED)
			(void)unlink(s->msg_path);
		s->msg_path[0] = '\0';
		if (!s->closed)
			vm_goodbye(s, true);
		return;
	}
	s->rec_ms = ms;
	vm_save(s);
	if (s->closed)
		return;
	vm_q_clear(s);
	vm_q_prompt(s, "vm-msgsaved");
	vm_goodbye(s, true);
}

static void record(struct vmsess *s)
{
	unsigned max = s->box.max_message_secs ? s->box.max_message_secs : 180;
	unsigned max_ms = max * 1000;

	/* a mailbox bounded in minutes: at most what is left */
	if (s->box.left_ms && s->box.left_ms < max_ms)
		max_ms = s->box.left_ms;
	if (vm_record(s, s->msg_path, max_ms, true, recorded)) {
		log_warn(MOD, "mailbox %s: cannot record", s->mailbox);
		vm_goodbye(s, false);
	}
}

static void beep(struct vmsess *s)
{
	/* '*' during the greeting: the owner logs in to this mailbox */
	if (vs_typed(&s->vs)[0] == '*') {
		vm_typed_clear(s);
		s->svc = ROUTE_SVC_ACCESS;
		vm_access_box(s);
		return;
	}
	/* any other key only skipped the greeting */
	vm_typed_clear(s);
	vm_q_clear(s);
	vm_q_beep(s);
	vm_play(s, false, record);
}

void vm_deposit_start(struct vmsess *s)
{
	const struct vm_box *b = &s->box;

	vm_q_clear(s);
	if (!b->exists) {
		/* the mailbox went away between routing and now */
		vm_q_prompt(s, "vm-nobox");
		vm_goodbye(s, true);
		return;
	}
	if (s->full || !s->msg_path[0]) {
		vm_q_prompt(s, "vm-mailboxfull");
		vm_goodbye(s, true);
		return;
	}
	if (b->greet[VM_G_TEMP])
		vm_q_file(s, b->gpath[VM_G_TEMP]);
	else if (s->greet == ROUTE_GREET_BUSY && b->greet[VM_G_BUSY])
		vm_q_file(s, b->gpath[VM_G_BUSY]);
	else if (s->greet != ROUTE_GREET_BUSY && b->greet[VM_G_UNAVAIL])
		vm_q_file(s, b->gpath[VM_G_UNAVAIL]);
	else {
		vm_q_prompt(s, "vm-theperson");
		if (b->greet[VM_G_NAME])
			vm_q_file(s, b->gpath[VM_G_NAME]);
		else
			vm_q_digits(s, s->mailbox);
		vm_q_prompt(s, s->greet == ROUTE_GREET_BUSY ? "vm-isonphone" :
			    "vm-isunavail");
	}
	vm_q_prompt(s, "vm-intro");
	vm_play(s, true, beep);
}
