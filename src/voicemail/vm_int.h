/*
 * vm_int — the voicemail application's internals, shared by vmapp.c (the
 * sessions: endpoint, recordings, jobs; prompts and digits on the shared
 * engine media/voicesess.h), vmjobs.c (worker
 * jobs), vmdeposit.c and vmaccess.c (the two flows). Loop thread only,
 * except the job bodies in vmjobs.c.
 */
#ifndef BULWARK_VM_INT_H
#define BULWARK_VM_INT_H

#include <stdbool.h>
#include <stdint.h>

/* libre in parts (re.h clashes with jansson; no include guards):
 * registrar.h brings re_types, re_fmt, re_mem, re_list, re_sa, re_tmr
 * and jansson */
#include "registrar/registrar.h"
#include <re_main.h>

#include "call/svc.h"
#include "media/endpoint.h"
#include "media/voicesess.h"
#include "voicemail/vmapp.h"
#include "voicemail/gate_rules.h"
#include "store/vmstore.h"

#define VM_PIN_MAX   16
#define VM_TRIES     3     /* wrong PINs (or unknown mailboxes) a call */
#define VM_MSGS_MAX  512   /* messages a session lists */
#define VM_SRC_MAX   64    /* sources remembered for unknown mailboxes */

struct vmsess;
typedef void (vm_step_h)(struct vmsess *s);
typedef void (vm_input_h)(struct vmsess *s, const char *in);

/* What an extension's settings say for its mailbox (read on the worker;
 * defaults of src/model/fields.c when a key is absent). */
struct vm_box {
	bool exists;               /* a running extension with a mailbox */
	char name[64];
	bool force_name, force_greeting;
	bool say_callerid;
	unsigned max_messages, max_message_secs, max_minutes;
	uint32_t left_ms;          /* deposit: what max_minutes leaves */
	char email[256];
	bool email_attach, email_delete;
	char copies[32][VM_NUM_MAX];
	unsigned n_copies;
	struct vm_boxstate st;
	bool greet[VM_G__COUNT];   /* which recordings exist */
	char gpath[VM_G__COUNT][ENDPOINT_PATH_MAX];
};

struct vm_entry {
	struct vm_msg m;
	char path[ENDPOINT_PATH_MAX];
	bool deleted;
};

struct vmapp {
	struct vmapp_conf conf;
	struct endpoints *eps;
	struct vmwork *work;
	struct list sessions;
	uint64_t next_tag;
	struct vmapp_stats st;
	char (*boxes)[VM_NUM_MAX]; /* the last snapshot's extensions */
	size_t n_boxes;
	bool seen_snap;
	struct {                   /* failures on mailboxes that are none */
		char ip[64];
		unsigned n;
		uint64_t first_ms;
	} src[VM_SRC_MAX];
	struct gate_src gate_src;  /* issue 13: wrong call passwords */
};

struct vmsess {
	struct le le;
	struct vmapp *app;
	uint64_t tag;              /* endpoint events name it */
	uint64_t handle;           /* the call layer's */
	unsigned refs;             /* the call, the endpoint, each job */
	bool closed;               /* the call ended */
	bool ep_live;              /* endpoint not destroyed yet */
	uint32_t ep;
	bool answered, loaded;

	enum route_svc svc;
	enum route_greet greet;
	char mailbox[VM_NUM_MAX];  /* "" until *98 asked it */
	char copies_of[VM_NUM_MAX]; /* a ring group whose vm_copies get the
				     * message too ("" none) */
	char caller[32], caller_name[64], src_ip[64];
	bool own;                  /* *97 on the caller's own mailbox */

	/* prompts and digits (media/voicesess.h); the flow's steps */
	struct voicesess vs;
	vm_step_h *after;          /* the queue ended (or a digit broke it) */
	vm_input_h *input;

	/* recording */
	bool recording, rec_keep_on_hangup;
	bool rec_holds;            /* DESTROYED came first: release at
				    * RECORD_DONE */
	char rec_path[ENDPOINT_PATH_MAX];
	void (*rec_done)(struct vmsess *s, enum endpoint_end end,
			 uint32_t ms);

	/* the mailbox */
	struct vm_box box;
	char msg_id[VM_ID_MAX];    /* deposit: the message being left */
	char msg_path[ENDPOINT_PATH_MAX];
	bool full;
	int64_t start_ms;
	uint32_t rec_ms;

	/* access */
	unsigned tries, timeouts;
	char pin[VM_PIN_MAX + 1], pin2[VM_PIN_MAX + 1];
	bool first;                /* in the first login */
	bool pend[VM_G__COUNT];    /* first login: recorded, not kept yet */
	enum vm_greeting rec_g;    /* what is being recorded */
	struct vm_entry *msgs;
	unsigned n_msgs, cur;
	unsigned n_new, n_saved;
	char refusal[128];

	/* the gates (vmgate.c, issue 13) */
	char callee[VM_NUM_MAX];   /* the extension gated */
	char dest[VM_NUM_MAX];     /* personal IVR: key 3's destination */
};

/* vmapp.c: the engine */
void vm_hold(struct vmsess *s);
void vm_release(struct vmsess *s);
void vm_q_clear(struct vmsess *s);
void vm_q_prompt(struct vmsess *s, const char *name);
void vm_q_file(struct vmsess *s, const char *path);
void vm_q_digits(struct vmsess *s, const char *digits);
void vm_q_number(struct vmsess *s, unsigned n);
void vm_q_beep(struct vmsess *s);
/* Play the queue (barge: a digit stops it), then `after`. */
void vm_play(struct vmsess *s, bool barge, vm_step_h *after);
/* Take input: want == 1 one key, else digits up to '#', want of them,
 * or timeout_ms of quiet; type-ahead first. */
void vm_collect(struct vmsess *s, unsigned want, unsigned timeout_ms,
		vm_input_h *input);
/* Digits typed ahead and not taken yet; forget them. */
bool vm_typed(const struct vmsess *s);
void vm_typed_clear(struct vmsess *s);
int vm_record(struct vmsess *s, const char *path, unsigned max_ms,
	      bool keep_on_hangup,
	      void (*done)(struct vmsess *s, enum endpoint_end end,
			   uint32_t ms));
/* Play what is queued, "goodbye" after it when asked, and hang up. */
void vm_goodbye(struct vmsess *s, bool say);
void vm_hangup(struct vmsess *s);
/* Queue a worker job for s (held until done); false: the queue was full
 * (the caller is told and hung up). */
bool vm_job(struct vmsess *s, void (*work)(void *), void (*done)(void *),
	    void *job);
void vm_src_fail(struct vmapp *a, const char *ip, unsigned boxes);

/* vmjobs.c: worker jobs (the done side runs on the loop) */
void vm_load(struct vmsess *s, const char *number, vm_step_h *then);
void vm_save(struct vmsess *s);
void vm_pin_check(struct vmsess *s, vm_step_h *ok, vm_step_h *bad);
void vm_list(struct vmsess *s, vm_step_h *then);
void vm_msg_set(struct vmsess *s, unsigned i, int folder, bool del);
void vm_pin_change(struct vmsess *s, vm_step_h *ok, vm_step_h *bad);
void vm_greeting_keep(struct vmsess *s, enum vm_greeting g, bool keep,
		      vm_step_h *then);
void vm_temp_remove(struct vmsess *s, vm_step_h *then);
void vm_first_done(struct vmsess *s, vm_step_h *then);
void vm_pending_drop(struct vmsess *s);
void vm_boxes_remove(struct vmapp *a, const char (*num)[VM_NUM_MAX],
		     size_t n);

/* vmgate.c (issue 13): the call password and the personal IVR */
void vm_gate_open(struct vmsess *s, const struct call_svc_info *info);
void vm_gate_start(struct vmsess *s);

/* vmdeposit.c, vmaccess.c */
void vm_deposit_start(struct vmsess *s);
void vm_access_start(struct vmsess *s);
void vm_access_box(struct vmsess *s);
const char *vm_greeting_name(enum vm_greeting g);

#endif
