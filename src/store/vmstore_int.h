/*
 * vmstore_int — what the files of the mailbox store share
 * (vmstore.c: connection, paths, messages; vmstore_state.c: mailbox state
 * and PIN failures). Not for other modules.
 */
#ifndef BULWARK_VMSTORE_INT_H
#define BULWARK_VMSTORE_INT_H

#include <pthread.h>
#include <sqlite3.h>

#include "store/vmstore.h"

struct vmstore {
	pthread_mutex_t mtx;      /* guards db, last_ms and the callback */
	sqlite3 *db;
	char root[512];           /* DATA/voicemail */
	int64_t last_ms;          /* the time part of the last id given */
	vmstore_change_h *ch;
	void *charg;
};

/* [0-9]{1,VM_NUM_MAX-1} */
bool vmstore_number_ok(const char *number);
/* [0-9a-z-]{1,VM_ID_MAX-1} */
bool vmstore_id_ok(const char *id);
int64_t vmstore_now_ms(void);
/* mkdir 0700 unless there; then it must be a real directory (ENOTDIR) */
int vmstore_dir_make(const char *path);
/* The whole file at path, at most max bytes, into *buf (malloc'd, one
 * byte spare) and *len. Never follows a symbolic link. ENOENT when it is
 * missing; a link or a file that is not regular gives odd (ENOENT: "not
 * there", or EIO: "damaged"); EFBIG over max; ENOMEM. */
int vmstore_file_read(const char *path, size_t max, int odd, char **buf,
		      size_t *len);
/* snprintf into buf: 0, EINVAL or ENAMETOOLONG */
int vmstore_fmt_path(char *buf, size_t sz, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A prepared statement with its binds (fmt as vmstore_exec), or NULL. */
sqlite3_stmt *vmstore_query(struct vmstore *v, const char *sql,
			    const char *fmt, ...);
/* Counts of a mailbox; under v->mtx. */
int vmstore_counts_locked(struct vmstore *v, const char *number,
			  unsigned *n_new, unsigned *n_saved);
/* Report number's counts to the change callback; under v->mtx, so that
 * two changes of one mailbox are reported in the order they were made. */
void vmstore_changed(struct vmstore *v, const char *number);

/* One statement run to completion with text/int binds: fmt holds 's'
 * (const char *) or 'i' (int64_t) per '?'. 0 or EIO. Under v->mtx. */
int vmstore_exec(struct vmstore *v, const char *sql, const char *fmt, ...);

int vmstore_begin(struct vmstore *v);
int vmstore_commit(struct vmstore *v);
void vmstore_rollback(struct vmstore *v);

#endif
