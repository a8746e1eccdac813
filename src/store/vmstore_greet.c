/*
 * vmstore_greet — the owner's recordings (name, unavailable, busy,
 * temporary) as files: read, replaced whole, removed (store/vmstore.h).
 * The voicemail application records them by phone (vmjobs.c); the user
 * portal reads, uploads and deletes them (api/routes_greet.c).
 *
 * A greeting has no row: its file is the truth. Paths come from
 * vmstore_greeting_path only (a number of digits, one of four names).
 * A new greeting is written to a temporary file (0600) in the mailbox
 * directory, synced, and renamed over the old one, so a caller never
 * hears half of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/vmstore_int.h"

static const char *const greeting_name[VM_G__COUNT] = {
	[VM_G_NAME] = "name", [VM_G_UNAVAIL] = "unavail",
	[VM_G_BUSY] = "busy", [VM_G_TEMP] = "temp",
	[VM_G_PIVR] = "ivr",
};

const char *vmstore_greeting_name(enum vm_greeting g)
{
	return (int)g >= 0 && g < VM_G__COUNT ? greeting_name[g] : NULL;
}

int vmstore_greeting_parse(const char *name, enum vm_greeting *g)
{
	int i;

	for (i = 0; name && i < VM_G__COUNT; i++)
		if (!strcmp(name, greeting_name[i])) {
			*g = (enum vm_greeting)i;
			return 0;
		}
	return EINVAL;
}

int vmstore_greeting_stat(struct vmstore *v, const char *number,
			  enum vm_greeting g, uint64_t *bytes,
			  int64_t *mtime_ms)
{
	char path[600];
	struct stat st;
	int err = vmstore_greeting_path(v, number, g, path, sizeof(path));

	if (err)
		return err;
	if (lstat(path, &st))
		return errno == ENOENT ? ENOENT : EIO;
	if (!S_ISREG(st.st_mode))
		return ENOENT;
	*bytes = (uint64_t)st.st_size;
	*mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 +
		    st.st_mtim.tv_nsec / 1000000;
	return 0;
}

int vmstore_greeting_read(struct vmstore *v, const char *number,
			  enum vm_greeting g, size_t max, char **buf,
			  size_t *len)
{
	char path[600];
	int err;

	if (!buf || !len)
		return EINVAL;
	err = vmstore_greeting_path(v, number, g, path, sizeof(path));
	if (err)
		return err;
	/* a planted link or a directory is no greeting */
	return vmstore_file_read(path, max, ENOENT, buf, len);
}

static int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		ssize_t r = write(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno;
		if (r == 0)
			return EIO;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int vmstore_greeting_write(struct vmstore *v, const char *number,
			   enum vm_greeting g, const void *hdr, size_t hlen,
			   const void *data, size_t dlen)
{
	char dir[600], path[600], tmp[620];
	int fd, err;

	err = vmstore_greeting_path(v, number, g, path, sizeof(path));
	if (!err)
		err = vmstore_box_dir(v, number, dir, sizeof(dir));
	if (!err)
		err = vmstore_fmt_path(tmp, sizeof(tmp), "%s.XXXXXX.tmp",
				       path);
	if (err)
		return err;
	fd = mkostemps(tmp, 4, O_CLOEXEC);
	if (fd < 0)
		return errno;
	err = fchmod(fd, 0600) ? errno : 0;
	if (!err)
		err = write_all(fd, hdr, hlen);
	if (!err)
		err = write_all(fd, data, dlen);
	if (!err && fsync(fd))
		err = errno;
	if (close(fd) && !err)
		err = errno;
	if (!err && rename(tmp, path))
		err = errno;
	if (err)
		(void)unlink(tmp);
	return err;
}

int vmstore_greeting_delete(struct vmstore *v, const char *number,
			    enum vm_greeting g)
{
	char path[600];
	struct stat st;
	int err = vmstore_greeting_path(v, number, g, path, sizeof(path));

	if (err)
		return err;
	if (lstat(path, &st) || !S_ISREG(st.st_mode))
		return ENOENT;
	if (unlink(path))
		return errno == ENOENT ? ENOENT : EIO;
	return 0;
}
