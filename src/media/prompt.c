/*
 * prompt — prompt name check and lookup (see prompt.h).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* ---- language ---------------------------------------------------------- */

bool prompt_lang_ok(const char *lang)
{
	size_t i = 0, n;

	if (!lang || strlen(lang) > PROMPT_LANG_MAX)
		return false;
	while (isalpha((unsigned char)lang[i]))
		i++;
	if (i < 2 || i > 3)
		return false;
	if (!lang[i])
		return true;
	if (lang[i] != '_' && lang[i] != '-')
		return false;
	for (n = 0, i++; lang[i]; i++, n++)
		if (!isalnum((unsigned char)lang[i]))
			return false;
	return n >= 2 && n <= 8;
}

/* lang as "ll" and "ll_CC" (CC "" when none): lower and upper case. */
static void lang_split(const char *lang, char ll[4], char llcc[PROMPT_LANG_MAX + 1])
{
	size_t i;

	for (i = 0; isalpha((unsigned char)lang[i]) && i < 3; i++)
		ll[i] = (char)tolower((unsigned char)lang[i]);
	ll[i] = '\0';
	llcc[0] = '\0';
	if (lang[i] == '_' || lang[i] == '-') {
		size_t n = i + 1;

		memcpy(llcc, ll, i);
		llcc[i] = '_';
		for (; lang[n] && n < PROMPT_LANG_MAX; n++)
			llcc[n] = (char)toupper((unsigned char)lang[n]);
		llcc[n] = '\0';
	}
}

/* 1: d is "p" or starts "p_"; 0 otherwise. */
static bool names_set(const char *d, const char *p)
{
	size_t n = strlen(p);

	return n && !strncmp(d, p, n) && (d[n] == '\0' || d[n] == '_');
}

static bool same_dir(const char *a, const char *b)
{
	char ra[PATH_MAX], rb[PATH_MAX];

	return realpath(a, ra) && realpath(b, rb) && !strcmp(ra, rb);
}

int prompt_lang_set(char *out, size_t cap, const char *dir, const char *lang)
{
	char ll[4], llcc[PROMPT_LANG_MAX + 1], parent[PATH_MAX];
	char best[256] = "";
	int best_rank = 3, n;
	bool best_is_dir = false;
	const char *slash;
	struct dirent *de;
	DIR *d;

	if (!cap)
		return ENAMETOOLONG;
	out[0] = '\0';
	if (!dir || !dir[0] || !prompt_lang_ok(lang))
		return 0;
	lang_split(lang, ll, llcc);
	slash = strrchr(dir, '/');
	if (!slash || (size_t)(slash - dir) >= sizeof(parent))
		return 0;
	memcpy(parent, dir, (size_t)(slash - dir));
	parent[slash - dir] = '\0';
	if (!parent[0])
		snprintf(parent, sizeof(parent), "/");
	d = opendir(parent);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char path[PATH_MAX];
		struct stat st;
		int rank = names_set(de->d_name, llcc) ? 1 :
			names_set(de->d_name, ll) ? 2 : 3;
		bool is_dir;

		if (rank == 3 || rank > best_rank || de->d_name[0] == '.' ||
		    strlen(de->d_name) >= sizeof(best))
			continue;
		n = snprintf(path, sizeof(path), "%s/%s", parent, de->d_name);
		if (n < 0 || (size_t)n >= sizeof(path) || stat(path, &st) ||
		    !S_ISDIR(st.st_mode))
			continue;
		is_dir = !strcmp(de->d_name, slash + 1);
		/* at one rank: the default set itself, else the first name */
		if (rank == best_rank && (best_is_dir || (!is_dir &&
		    strcmp(de->d_name, best) > 0)))
			continue;
		best_rank = rank;
		best_is_dir = is_dir;
		snprintf(best, sizeof(best), "%s", de->d_name);
	}
	closedir(d);
	if (best_rank > 2 || best_is_dir)
		return 0;
	n = snprintf(out, cap, "%s/%s", parent, best);
	if (n < 0 || (size_t)n >= cap) {
		out[0] = '\0';
		return ENAMETOOLONG;
	}
	if (same_dir(out, dir))   /* "en" -> en_US_f_Allison (a link) */
		out[0] = '\0';
	return 0;
}

/* override/sub/name.wav */
static int try_sub(char *out, size_t cap, const char *override,
		   const char *sub, const char *name)
{
	char d[PATH_MAX];
	int n;

	if (!override || !override[0] || !sub[0])
		return ENOENT;
	n = snprintf(d, sizeof(d), "%s/%s", override, sub);
	if (n < 0 || (size_t)n >= sizeof(d))
		return ENAMETOOLONG;
	return try_dir(out, cap, d, name);
}

int prompt_path_lang(char *out, size_t cap, const char *override,
		     const char *dir, const char *lang, const char *set,
		     const char *name)
{
	char ll[4], llcc[PROMPT_LANG_MAX + 1];
	int err;

	if (!prompt_name_ok(name))
		return EINVAL;
	if (prompt_lang_ok(lang)) {
		lang_split(lang, ll, llcc);
		err = try_sub(out, cap, override, lang, name);
		if (err == ENOENT && strcmp(lang, ll))
			err = try_sub(out, cap, override, ll, name);
		if (err == ENOENT)
			err = try_dir(out, cap, set, name);
		if (err != ENOENT)
			return err;
	}
	return prompt_path(out, cap, override, dir, name);
}
