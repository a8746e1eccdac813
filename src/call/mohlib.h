/*
 * mohlib — the music on hold library: which WAV files each class plays,
 * in order. Class "default" is Debian's asterisk-moh-opsound-wav
 * (/usr/share/asterisk/moh, MOHLIB_DEFAULT_DIR); class <name> is
 * DATA/moh/<name>/ (its .wav files). The directories are read by a thread of the
 * library's own (at start and every rescan_s seconds), never by the SIP
 * loop, which only copies a path out of the last scan.
 *
 * Bounds: MOHLIB_MAX_CLASSES classes, MOHLIB_MAX_FILES files per class
 * (the first in name order), names of up to MOHLIB_NAME_MAX octets;
 * anything beyond is left out (and logged once per scan).
 */
#ifndef BULWARK_CALL_MOHLIB_H
#define BULWARK_CALL_MOHLIB_H

#include <stdbool.h>
#include <stddef.h>

#define MOHLIB_DEFAULT_DIR  "/usr/share/asterisk/moh"
#define MOHLIB_MAX_CLASSES  64
#define MOHLIB_MAX_FILES    64
#define MOHLIB_NAME_MAX     64     /* a file or class name, with NUL */

/* One class: its directory and its files, sorted by name. */
struct mohlib_class {
	char name[MOHLIB_NAME_MAX];
	char dir[512];
	unsigned n;
	char files[MOHLIB_MAX_FILES][MOHLIB_NAME_MAX];
};

/* Lists dir's regular files whose names end in ".wav" (no other
 * character check but no '/' and no leading '.'), sorted, at most
 * MOHLIB_MAX_FILES into c (c->dir = dir). Returns 0, ENOENT (no such
 * directory), ENAMETOOLONG, or an errno of opendir. *more: files were
 * left out. */
int mohlib_scan_dir(const char *dir, struct mohlib_class *c, bool *more);

/* Whether a class name is of the form a class directory may have:
 * 1..32 of [A-Za-z0-9_-]. */
bool mohlib_class_ok(const char *name);

struct mohlib;

/* data_dir: DATA/moh; default_dir: NULL = MOHLIB_DEFAULT_DIR; rescan_s
 * 0 = 30. Starts the scanner (the first scan is done before it
 * returns). 0, EINVAL, ENOMEM or an errno of pthread_create. */
int mohlib_alloc(struct mohlib **lp, const char *data_dir,
		 const char *default_dir, unsigned rescan_s);
struct mohlib *mohlib_free(struct mohlib *l);

/* The path of file i (modulo the count) of class cls ("" = default)
 * into path; a class that has no file falls back to "default"
 * (*fellback set). Returns 0, or ENOENT when not even default has a
 * file. Any thread; never touches the disk. */
int mohlib_path(struct mohlib *l, const char *cls, unsigned i, char *path,
		size_t sz, bool *fellback);

#endif
