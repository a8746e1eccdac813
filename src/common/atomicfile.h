/*
 * atomicfile — replace a small file all at once.
 *
 * A reader (or a restart after a crash) sees the old content or the new
 * one, never a half-written file: the data goes to PATH.tmp, is synced
 * to disk, and is renamed over PATH. Used for the admin password hash,
 * the TLS pair and the firewall's rules files.
 */
#ifndef BULWARK_ATOMICFILE_H
#define BULWARK_ATOMICFILE_H

#include <stddef.h>
#include <sys/types.h>

/* Write len octets of data to path atomically, the file's permissions
 * set to mode whatever the umask. A stale PATH.tmp (an earlier crash) is
 * removed first; the new one is created exclusively, so it never
 * follows a link planted there. Returns 0 or an errno code
 * (ENAMETOOLONG when PATH.tmp does not fit PATH_MAX); on error path is
 * unchanged and no PATH.tmp is left. Does not log. */
int atomicfile_write(const char *path, const void *data, size_t len,
		     mode_t mode);

#endif
