/*
 * test_prompt_lang — a language selects the prompt set (media/prompt.h):
 * language tags, finding the installed set beside the default one, the
 * admin's DATA/prompts/<lang>/, and the fall-backs to the default set.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <ftw.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "media/prompt.h"

static char root[64];

static int rm_one(const char *p, const struct stat *st, int flag,
		  struct FTW *f)
{
	(void)st; (void)flag; (void)f;
	return remove(p);
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/bw-plang-XXXXXX");
	return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void mk(const char *rel)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	assert_int_equal(mkdir(p, 0700), 0);
}

static void touch(const char *rel)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	f = fopen(p, "w");
	assert_non_null(f);
	fclose(f);
}

/* out ends with rel (root/rel) */
static void is(const char *out, const char *rel)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	assert_string_equal(out, p);
}

static void test_lang_ok(void **state)
{
	(void)state;
	assert_true(prompt_lang_ok("en"));
	assert_true(prompt_lang_ok("fr"));
	assert_true(prompt_lang_ok("fr_FR"));
	assert_true(prompt_lang_ok("pt-BR"));
	assert_true(prompt_lang_ok("es-419"));
	assert_true(prompt_lang_ok("ast"));
	assert_false(prompt_lang_ok(""));
	assert_false(prompt_lang_ok(NULL));
	assert_false(prompt_lang_ok("f"));
	assert_false(prompt_lang_ok("fren"));
	assert_false(prompt_lang_ok("fr_"));
	assert_false(prompt_lang_ok("fr_F"));
	assert_false(prompt_lang_ok("../x"));
	assert_false(prompt_lang_ok("fr/FR"));
	assert_false(prompt_lang_ok("fr_FR_x"));
	assert_false(prompt_lang_ok("en_US_f_Allison"));
}

static void test_lang_set(void **state)
{
	char dflt[128], out[256], p[256];

	(void)state;
	mk("sounds");
	mk("sounds/en_US_f_Allison");
	mk("sounds/fr_CA_f_June");
	mk("sounds/fr_FR_m_Paul");
	mk("sounds/es_MX_f_Sofia");
	touch("sounds/it_IT_note");     /* a file, not a set */
	snprintf(dflt, sizeof(dflt), "%s/sounds/en_US_f_Allison", root);
	/* "fr": the first fr_ set by name; fr_FR: its own */
	assert_int_equal(prompt_lang_set(out, sizeof(out), dflt, "fr"), 0);
	is(out, "sounds/fr_CA_f_June");
	assert_int_equal(prompt_lang_set(out, sizeof(out), dflt, "fr_FR"), 0);
	is(out, "sounds/fr_FR_m_Paul");
	assert_int_equal(prompt_lang_set(out, sizeof(out), dflt, "FR-fr"), 0);
	is(out, "sounds/fr_FR_m_Paul");
	/* a country without a set of its own: the language's */
	assert_int_equal(prompt_lang_set(out, sizeof(out), dflt, "fr_BE"), 0);
	is(out, "sounds/fr_CA_f_June");
	assert_int_equal(prompt_lang_set(out, sizeof(out), dflt, "es"), 0);
	is(out, "sounds/es_MX_f_Sofia");
	/* none: unknown, a file, the default itself, not a language */
	assert_int_equal(prompt_lang_set(out, sizeof(out), dflt, "de"), 0);
	assert_string_equal(out, "");
	assert_int_equal(prompt_lang_set(out, sizeof(out), dflt, "it"), 0);
	assert_string_equal(out, "");
	assert_int_equal(prompt_lang_set(out, sizeof(out), dflt, "en"), 0);
	assert_string_equal(out, "");
	assert_int_equal(prompt_lang_set(out, sizeof(out), dflt, ""), 0);
	assert_string_equal(out, "");
	assert_int_equal(prompt_lang_set(out, sizeof(out), dflt, ".."), 0);
	assert_string_equal(out, "");
	/* another en set beside it: "en" stays the default one */
	mk("sounds/en_AU_m_Bruce");
	assert_int_equal(prompt_lang_set(out, sizeof(out), dflt, "en"), 0);
	assert_string_equal(out, "");
	assert_int_equal(prompt_lang_set(out, sizeof(out), dflt, "en_AU"), 0);
	is(out, "sounds/en_AU_m_Bruce");
	/* Debian's alternatives link "en" -> the default: still the
	 * default (an "fr" link to a set is that set) */
	snprintf(p, sizeof(p), "%s/sounds/en", root);
	assert_int_equal(symlink("en_US_f_Allison", p), 0);
	assert_int_equal(prompt_lang_set(out, sizeof(out), dflt, "en"), 0);
	assert_string_equal(out, "");
	snprintf(p, sizeof(p), "%s/sounds/fr", root);
	assert_int_equal(symlink("fr_CA_f_June", p), 0);
	assert_int_equal(prompt_lang_set(out, sizeof(out), dflt, "fr"), 0);
	is(out, "sounds/fr");
	/* too small an output */
	assert_int_equal(prompt_lang_set(out, 8, dflt, "es"), ENAMETOOLONG);
	assert_string_equal(out, "");
}

static void test_path_lang(void **state)
{
	char dflt[128], fr[128], adm[128], out[256];

	(void)state;
	mk("s");
	mk("s/en_US_f_Allison");
	mk("s/en_US_f_Allison/digits");
	mk("s/fr_CA_f_June");
	mk("adm");
	mk("adm/fr");
	mk("adm/fr_FR");
	touch("s/en_US_f_Allison/vm-intro.wav");
	touch("s/en_US_f_Allison/vm-goodbye.wav");
	touch("s/en_US_f_Allison/beep.wav");
	touch("s/en_US_f_Allison/vm-login.wav");
	touch("s/en_US_f_Allison/digits/7.wav");
	touch("s/fr_CA_f_June/vm-intro.wav");
	touch("s/fr_CA_f_June/vm-login.wav");
	touch("adm/vm-goodbye.wav");
	touch("adm/vm-login.wav");
	touch("adm/fr/vm-login.wav");
	touch("adm/fr_FR/beep.wav");
	snprintf(dflt, sizeof(dflt), "%s/s/en_US_f_Allison", root);
	snprintf(fr, sizeof(fr), "%s/s/fr_CA_f_June", root);
	snprintf(adm, sizeof(adm), "%s/adm", root);

	/* French: the set's prompt */
	assert_int_equal(prompt_path_lang(out, sizeof(out), adm, dflt, "fr",
					  fr, "vm-intro"), 0);
	is(out, "s/fr_CA_f_June/vm-intro.wav");
	/* the admin's French copy beats the installed French one */
	assert_int_equal(prompt_path_lang(out, sizeof(out), adm, dflt, "fr",
					  fr, "vm-login"), 0);
	is(out, "adm/fr/vm-login.wav");
	/* fr_FR: its own directory, then fr's */
	assert_int_equal(prompt_path_lang(out, sizeof(out), adm, dflt,
					  "fr_FR", fr, "beep"), 0);
	is(out, "adm/fr_FR/beep.wav");
	assert_int_equal(prompt_path_lang(out, sizeof(out), adm, dflt,
					  "fr_FR", fr, "vm-login"), 0);
	is(out, "adm/fr/vm-login.wav");
	/* missing in French: the admin's generic one, then English */
	assert_int_equal(prompt_path_lang(out, sizeof(out), adm, dflt, "fr",
					  fr, "vm-goodbye"), 0);
	is(out, "adm/vm-goodbye.wav");
	assert_int_equal(prompt_path_lang(out, sizeof(out), adm, dflt, "fr",
					  fr, "digits/7"), 0);
	is(out, "s/en_US_f_Allison/digits/7.wav");
	assert_int_equal(prompt_path_lang(out, sizeof(out), adm, dflt, "fr",
					  fr, "beep"), 0);
	is(out, "s/en_US_f_Allison/beep.wav");
	/* unknown language (no set): the default set, the admin's first */
	assert_int_equal(prompt_path_lang(out, sizeof(out), adm, dflt, "de",
					  "", "vm-login"), 0);
	is(out, "adm/vm-login.wav");
	assert_int_equal(prompt_path_lang(out, sizeof(out), adm, dflt, "de",
					  NULL, "vm-intro"), 0);
	is(out, "s/en_US_f_Allison/vm-intro.wav");
	/* no language: exactly prompt_path */
	assert_int_equal(prompt_path_lang(out, sizeof(out), adm, dflt, "",
					  fr, "vm-intro"), 0);
	is(out, "s/en_US_f_Allison/vm-intro.wav");
	/* a bad tag is no language: never a path (adm/../x) */
	assert_int_equal(prompt_path_lang(out, sizeof(out), adm, dflt, "..",
					  fr, "vm-intro"), 0);
	is(out, "s/en_US_f_Allison/vm-intro.wav");
	assert_int_equal(prompt_path_lang(out, sizeof(out), adm, dflt, "fr",
					  fr, "nope"), ENOENT);
	assert_int_equal(prompt_path_lang(out, sizeof(out), adm, dflt, "fr",
					  fr, "../x"), EINVAL);
	assert_int_equal(prompt_path_lang(out, 12, adm, dflt, "fr", fr,
					  "vm-intro"), ENAMETOOLONG);
}

/* Debian's French set (asterisk-core-sounds-fr-wav, scripts/deps.sh)
 * is found beside the default English one. Skipped where absent. */
static void test_debian_fr(void **state)
{
	char set[256], out[256];

	(void)state;
	if (prompt_lang_set(set, sizeof(set), PROMPT_DIR_DEFAULT, "fr") ||
	    !set[0]) {
		skip();
		return;
	}
	assert_int_equal(prompt_path_lang(out, sizeof(out), NULL,
					  PROMPT_DIR_DEFAULT, "fr_FR", set,
					  "vm-intro"), 0);
	assert_int_equal(strncmp(out, set, strlen(set)), 0);
	assert_null(strstr(out, "en_US"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lang_ok),
		cmocka_unit_test_setup_teardown(test_lang_set, setup, teardown),
		cmocka_unit_test_setup_teardown(test_path_lang, setup,
						teardown),
		cmocka_unit_test(test_debian_fr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
