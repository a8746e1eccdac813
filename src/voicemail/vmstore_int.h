/*
 * vmstore_int — what the files of the mailbox store share
 * (vmstore.c: connection, paths, messages; vmstore_state.c: mailbox state
 * and PIN failures). Not for other modules.
 */
#ifndef BULWARK_VMSTORE_INT_H
#define BULWARK_VMSTORE_INT_H

#include <pthread.h>
#include <sqlite3.h>

#include "voicemail/vmstore.h"

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

/* One statement run to completion with text/int binds: fmt holds 's'
 * (const char *) or 'i' (int64_t) per '?'. 0 or EIO. Under v->mtx. */
int vmstore_exec(struct vmstore *v, const char *sql, const char *fmt, ...);

int vmstore_begin(struct vmstore *v);
int vmstore_commit(struct vmstore *v);
void vmstore_rollback(struct vmstore *v);

#endif
