/*
 * vmstore — mailboxes at rest: message files under DATA/voicemail/EXT/,
 * their metadata rows and each mailbox's state (initialised, PIN
 * failures, lock) in DATA/bulwark.db (migration 9, owner "voicemail").
 *
 * Synchronous and thread-safe (one SQLite connection of its own behind a
 * mutex): called from the voicemail worker (src/voicemail/vmwork.c, never
 * the SIP loop) and from the control plane (API, CLI through the API).
 * Every change of a mailbox's counts is reported to a callback
 * (vmstore_on_change) that the daemon turns into an MWI update.
 *
 * Layout of DATA/voicemail/EXT/ (directories 0700, files 0600):
 *   m-<id>.wav           a message (16-bit PCM, 8 kHz, mono)
 *   name.wav, unavail.wav, busy.wav, temp.wav   the owner's recordings
 * Message ids: [0-9a-z-]{1,39}, time-ordered (unix ms in hex, '-', 8 hex
 * random), never a path.
 */
#ifndef BULWARK_VMSTORE_H
#define BULWARK_VMSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vmstore;

#define VM_ID_MAX 40      /* with the NUL */
#define VM_NUM_MAX 24

enum vm_folder { VM_NEW = 0, VM_SAVED = 1, VM_ANY = -1 };

enum vm_greeting {
	VM_G_NAME = 0, VM_G_UNAVAIL, VM_G_BUSY, VM_G_TEMP,
	VM_G_PIVR,    /* issue 13: the personal IVR's menu, "ivr" */
	VM_G__COUNT
};

struct vm_msg {
	char id[VM_ID_MAX];
	char number[VM_NUM_MAX];   /* the mailbox */
	int  folder;               /* enum vm_folder */
	char caller[32];           /* caller's number ("" unknown) */
	char caller_name[64];
	int64_t time_ms;           /* unix ms: the deposit started */
	uint32_t duration_ms;
	uint64_t bytes;            /* the file's size */
	char copy_of[VM_NUM_MAX];  /* a copy for a group member: the mailbox
				    * it was left in; "" = original */
};

/* Opens DATA/bulwark.db (its migrations already applied by the store)
 * and creates DATA/voicemail. 0 or errno. */
int vmstore_open(struct vmstore **vp, const char *data_dir,
		 const char *db_path);
void vmstore_close(struct vmstore *v);    /* NULL-safe */

/* Paths (0 or ENAMETOOLONG/EINVAL for a bad number or id). The mailbox
 * directory is created (0700) by vmstore_box_dir. */
int vmstore_box_dir(struct vmstore *v, const char *number, char *buf,
		    size_t sz);
int vmstore_msg_path(struct vmstore *v, const char *number, const char *id,
		     char *buf, size_t sz);
int vmstore_greeting_path(struct vmstore *v, const char *number,
			  enum vm_greeting g, char *buf, size_t sz);
bool vmstore_greeting_exists(struct vmstore *v, const char *number,
			     enum vm_greeting g);

/* ---- the owner's recordings (vmstore_greet.c) ------------------------ */

/* "name", "unavail", "busy", "temp" (NULL for another value), and back:
 * 0 or EINVAL. */
const char *vmstore_greeting_name(enum vm_greeting g);
int vmstore_greeting_parse(const char *name, enum vm_greeting *g);
/* Size and modification time of a greeting's file: 0, ENOENT (none, or
 * not a regular file), EINVAL. */
int vmstore_greeting_stat(struct vmstore *v, const char *number,
			  enum vm_greeting g, uint64_t *bytes,
			  int64_t *mtime_ms);
/* Its audio: *buf malloc'ed (free()). 0, EINVAL, ENOENT, EFBIG (over
 * max octets), EIO, ENOMEM. */
int vmstore_greeting_read(struct vmstore *v, const char *number,
			  enum vm_greeting g, size_t max, char **buf,
			  size_t *len);
/* Replaces it with hdr then data (a WAV the caller checked): a
 * temporary file (0600) in the mailbox directory (created), synced,
 * renamed into place, so a reader sees the old file or the new one
 * whole. 0 or an errno (the temporary file is removed then). */
int vmstore_greeting_write(struct vmstore *v, const char *number,
			   enum vm_greeting g, const void *hdr, size_t hlen,
			   const void *data, size_t dlen);
/* Removes it: 0, ENOENT, EINVAL, EIO. */
int vmstore_greeting_delete(struct vmstore *v, const char *number,
			    enum vm_greeting g);

/* A new message id and the final path to record into (the directory
 * created). ENOSPC when the mailbox holds max_messages already (the
 * caller passes the extension's voicemail.max_messages; 0 = no bound). */
int vmstore_msg_new(struct vmstore *v, const char *number,
		    unsigned max_messages, char id[VM_ID_MAX], char *path,
		    size_t sz);
/* Records a message whose file is in place (bytes read from it): the row
 * in folder VM_NEW; the mailbox is marked changed. 0, ENOENT (no file),
 * EEXIST, EIO. */
int vmstore_msg_add(struct vmstore *v, const struct vm_msg *m);
/* Copies message id of mailbox `from` into mailbox `to` (a hard link or a
 * copy of the file, a row with copy_of = from). */
int vmstore_msg_copy(struct vmstore *v, const char *from, const char *id,
		     const char *to);
/* Messages of a mailbox in a folder (VM_ANY: both), oldest first; *out
 * malloc'ed (free()), *n set. */
int vmstore_msg_list(struct vmstore *v, const char *number, int folder,
		     struct vm_msg **out, size_t *n);
int vmstore_msg_get(struct vmstore *v, const char *number, const char *id,
		    struct vm_msg *m);
/* The audio of a message that has its row: *buf malloc'ed (free()), *len
 * its size. 0, EINVAL (bad number or id), ENOENT (no such message),
 * EFBIG (file over max bytes), EIO. */
int vmstore_msg_read(struct vmstore *v, const char *number, const char *id,
		     size_t max, char **buf, size_t *len);
/* Moves to a folder (listened: VM_SAVED). 0 or ENOENT. */
int vmstore_msg_move(struct vmstore *v, const char *number, const char *id,
		     int folder);
/* Removes row and file. 0 or ENOENT. */
int vmstore_msg_delete(struct vmstore *v, const char *number, const char *id);
int vmstore_counts(struct vmstore *v, const char *number, unsigned *n_new,
		   unsigned *n_saved);
/* Removes a whole mailbox (the extension was deleted): rows, files. */
int vmstore_box_remove(struct vmstore *v, const char *number);

/* ---- mailbox state -------------------------------------------------- */

struct vm_boxstate {
	bool initialised;       /* the first login was completed */
	unsigned fails;         /* consecutive PIN failures */
	unsigned lock_level;    /* locks so far (escalation), reset by a
				 * correct PIN or an unlock */
	int64_t locked_until;   /* unix ms, 0 = not locked */
};

/* A mailbox never seen has every field zero. */
int vmstore_box_get(struct vmstore *v, const char *number,
		    struct vm_boxstate *st);
int vmstore_box_set_initialised(struct vmstore *v, const char *number,
				bool on);

/* The PIN rules (docs/internals/voicemail.md): after VM_PIN_FAILS
 * failures in a row the mailbox locks for 60 s << lock_level (capped at
 * 24 h) and lock_level grows; a source that failed on VM_SRC_BOXES
 * different mailboxes within VM_SRC_WINDOW_MS is reported for a ban. */
#define VM_PIN_FAILS       3
#define VM_SRC_BOXES       3
#define VM_SRC_WINDOW_MS   (3600 * 1000)

struct vm_failres {
	bool locked;            /* this failure locked the mailbox */
	int64_t locked_until;
	unsigned fails;
	unsigned src_boxes;     /* distinct mailboxes this source failed on
				 * within the window */
};

/* A wrong PIN for `number` from source address src_ip (text). */
int vmstore_pin_fail(struct vmstore *v, const char *number,
		     const char *src_ip, int64_t now_ms,
		     struct vm_failres *res);
/* A right PIN: fails and lock_level reset. */
int vmstore_pin_ok(struct vmstore *v, const char *number);
/* The admin's unlock (CLI/API): fails, lock, lock_level reset. */
int vmstore_unlock(struct vmstore *v, const char *number);

/* ---- changes for MWI ------------------------------------------------ */

/* Called after every committed change of a mailbox's counts (a message
 * added, copied, moved, deleted; a mailbox removed), on the thread that
 * made it, with the counts after the change. The daemon posts them to
 * the loop (loop_post) for mwi_set. Set once at start-up (NULL: none).
 * h runs under vmstore's lock (so that the changes of one mailbox are
 * reported in the order they were made): it must not call vmstore and
 * must not block. */
typedef void (vmstore_change_h)(const char *number, unsigned n_new,
				unsigned n_saved, void *arg);
void vmstore_on_change(struct vmstore *v, vmstore_change_h *h, void *arg);
/* Calls h for every mailbox that has messages (at start-up, for MWI). */
int vmstore_counts_all(struct vmstore *v, vmstore_change_h *h, void *arg);

#endif
