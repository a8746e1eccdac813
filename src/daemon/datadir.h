/*
 * datadir — the data directory of bulwarkd (internal to the daemon).
 */
#ifndef BULWARK_DAEMON_DATADIR_H
#define BULWARK_DAEMON_DATADIR_H

#include <stddef.h>

/* Create dir (mode 0700; missing parents 0755) or check the existing one
 * is a directory, and tighten its mode to 0700 if group or others have
 * access. Returns 0 or an errno code; *what names the failed step. */
int datadir_prepare(const char *dir, const char **what);

/* Join dir and name into buf. Returns 0 or ENAMETOOLONG. */
int datadir_path(char *buf, size_t sz, const char *dir, const char *name);

#endif
