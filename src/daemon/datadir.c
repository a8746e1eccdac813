/*
 * datadir — create and check the data directory (see DESIGN.md,
 * "Storage": bulwark.db, secret.key, control.sock, ...).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon/datadir.h"

int datadir_path(char *buf, size_t sz, const char *dir, const char *name)
{
	int n = snprintf(buf, sz, "%s/%s", dir, name);

	return (n < 0 || (size_t)n >= sz) ? ENAMETOOLONG : 0;
}

/* mkdir -p for the parents of path, mode 0755. */
static int make_parents(const char *path)
{
	char buf[4096];
	size_t len = strlen(path);
	char *p;

	if (len >= sizeof(buf))
		return ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return errno;
		*p = '/';
	}
	return 0;
}

int datadir_prepare(const char *dir, const char **what)
{
	struct stat st;
	int err;

	*what = "stat";
	if (!dir || !*dir)
		return EINVAL;
	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return ENOTDIR;
		if (st.st_mode & 077) {
			*what = "chmod";
			if (chmod(dir, 0700))
				return errno;
		}
		return 0;
	}
	if (errno != ENOENT)
		return errno;
	*what = "mkdir";
	err = make_parents(dir);
	if (err)
		return err;
	if (mkdir(dir, 0700) && errno != EEXIST)
		return errno;
	/* mkdir honours the umask; make the mode exact. */
	if (chmod(dir, 0700))
		return errno;
	return 0;
}
