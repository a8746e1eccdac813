/*
 * prompt — where a prompt's WAV file is: the admin's directory first
 * (DATA/prompts/), then the system's (Debian's asterisk-core-sounds-en-wav
 * by default). A prompt name is one or two segments of [A-Za-z0-9_-]
 * ("vm-intro", "digits/7"), without extension: nothing else reaches the
 * file system.
 */
#ifndef BULWARK_MEDIA_PROMPT_H
#define BULWARK_MEDIA_PROMPT_H

#include <stdbool.h>
#include <stddef.h>

/* Where asterisk-core-sounds-en-wav 1.6.1 (Debian 12) installs. */
#define PROMPT_DIR_DEFAULT "/usr/share/asterisk/sounds/en_US_f_Allison"
#define PROMPT_NAME_MAX    64

/* True when name is a valid prompt name. */
bool prompt_name_ok(const char *name);

/* Writes the path of prompt name into out: override/name.wav when that
 * file exists (override may be NULL or ""), else dir/name.wav when that
 * one exists. Returns 0, EINVAL (bad name), ENOENT (in neither) or
 * ENAMETOOLONG. */
int prompt_path(char *out, size_t cap, const char *override,
		const char *dir, const char *name);

#endif
