/*
 * prompt — prompt name check and lookup (see prompt.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "media/prompt.h"

bool prompt_name_ok(const char *name)
{
	size_t i, seg = 0;
	unsigned slashes = 0;

	if (!name || !name[0] || strlen(name) > PROMPT_NAME_MAX)
		return false;
	for (i = 0; name[i]; i++) {
		char c = name[i];

		if (c == '/') {
			if (!seg || ++slashes > 1)
				return false;
			seg = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
		seg++;
	}
	return seg > 0;
}

static int try_dir(char *out, size_t cap, const char *dir, const char *name)
{
	int n;

	if (!dir || !dir[0])
		return ENOENT;
	n = snprintf(out, cap, "%s/%s.wav", dir, name);
	if (n < 0 || (size_t)n >= cap)
		return ENAMETOOLONG;
	return access(out, R_OK) == 0 ? 0 : ENOENT;
}

int prompt_path(char *out, size_t cap, const char *override,
		const char *dir, const char *name)
{
	int err;

	if (!prompt_name_ok(name))
		return EINVAL;
	err = try_dir(out, cap, override, name);
	if (err != ENOENT)
		return err;
	return try_dir(out, cap, dir, name);
}
