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

/* ---- language (prompt sets) ------------------------------------------
 * A language (user.language: "fr", "fr_FR", "pt-BR") selects a prompt
 * set: Debian's asterisk-core-sounds-<ll>-wav packages install one
 * directory each beside the default one (/usr/share/asterisk/sounds/
 * fr_CA_f_June, ...), and the admin may put DATA/prompts/<lang>/. A
 * prompt missing from the language's set, and an unknown language, fall
 * back to the default set (English). */
#define PROMPT_LANG_MAX 16

/* True when lang is a language tag we look up: 2 or 3 letters, then
 * optionally '_' or '-' and 2..8 letters or digits ("fr", "fr_FR",
 * "es-419"). "" is not one (the default set needs none). */
bool prompt_lang_ok(const char *lang);

/* The installed set of language lang beside dir (a directory of dir's
 * parent): the one named lang's "ll_CC" or starting "ll_CC_" first,
 * else "ll" or starting "ll_" (the first by name; dir itself when it
 * is among them). Writes its path into out, or "" when lang has none,
 * is not a language, or its set is dir itself (the default). Returns 0
 * or ENAMETOOLONG. Reads the file system: not for the SIP loop. */
int prompt_lang_set(char *out, size_t cap, const char *dir, const char *lang);

/* prompt_path for a language: override/<lang>/name.wav, then
 * override/<ll>/name.wav, then set/name.wav (prompt_lang_set's, "" or
 * NULL: none), then as prompt_path (override/name.wav, dir/name.wav).
 * lang "" or NULL: exactly prompt_path. Same returns. */
int prompt_path_lang(char *out, size_t cap, const char *override,
		     const char *dir, const char *lang, const char *set,
		     const char *name);

#endif
