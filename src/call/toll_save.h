/*
 * toll_save — the toll-fraud hourly counts kept across restarts (issue
 * 15): the call layer hands a toll_dump's text over after every call it
 * counts; a writer thread replaces DATA/toll.json with the latest one
 * atomically (common/atomicfile.h), so the loop never waits on the disk
 * and a restart does not give an attacker a fresh hourly budget. At
 * start the file is read back (toll_restore).
 * docs/admin/trunks-outbound.md, "Toll-fraud limits".
 */
#ifndef BULWARK_CALL_TOLL_SAVE_H
#define BULWARK_CALL_TOLL_SAVE_H

#include <stdint.h>

struct toll;
struct toll_save;

/* A writer for path (copied; the thread starts with the first put).
 * 0, EINVAL or ENOMEM. */
int toll_save_open(struct toll_save **sp, const char *path);

/* Add the counts saved in path into t (at start, any thread). 0, ENOENT
 * (nothing saved yet), EINVAL (unreadable or not a dump: ignored by the
 * caller, logged) or toll_restore's error. */
int toll_save_load(const char *path, struct toll *t, int64_t now_s);

/* Queue text (a toll_dump, malloc'd: taken over, freed by the writer)
 * to be written; a text still waiting is replaced. NULL-safe. */
void toll_save_put(struct toll_save *s, char *text);

/* Write what is waiting, stop the thread, free. NULL-safe. */
void toll_save_close(struct toll_save *s);

#endif
