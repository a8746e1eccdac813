/*
 * section_secrets — keys of a settings section that are secrets (struct
 * store_section.secrets): sealed at rest with DATA/secret.key like the
 * extensions' secrets, masked on every read the API sees ("set" or ""),
 * opened only for the snapshot's typed decoders.
 *
 * At rest the value is "sealed:" + base64(nonce || MAC || ciphertext).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

#define SEALED "sealed:"

bool store_section_is_secret(const struct store_section *sec,
			     const char *key)
{
	for (size_t i = 0; sec && sec->secrets && sec->secrets[i]; i++) {
		const char *k = sec->secrets[i];
		size_t kl = strlen(k), l = strlen(key);

		if (!strcmp(k, key))
			return true;
		/* trunk (issue 15): "*.password" is every "<x>.password" */
		if (k[0] == '*' && l > kl - 1 &&
		    !strcmp(key + l - (kl - 1), k + 1))
			return true;
	}
	return false;
}

/* The clear text of a sealed value (malloc'd), or NULL. */
static char *open_text(const struct store *s, const char *v)
{
	size_t n, bl = 0;
	struct blob b;
	char *out = NULL;

	if (!v || strncmp(v, SEALED, strlen(SEALED)))
		return NULL;
	v += strlen(SEALED);
	n = strlen(v);
	b.p = malloc(n + 1);
	if (!b.p)
		return NULL;
	if (sodium_base642bin(b.p, n + 1, v, n, NULL, &bl, NULL,
			      sodium_base64_VARIANT_ORIGINAL) == 0) {
		b.len = bl;
		if (store_open_blob(s, &b, &out))
			out = NULL;
	}
	blob_free(&b);
	return out;
}

bool store_section_sealed_ok(const struct store *s, const char *v)
{
	char *p = open_text(s, v);

	store_wipe(p);
	return p != NULL;
}

int store_section_seal(const struct store *s, json_t *obj, const char *key)
{
	const char *v = json_string_value(json_object_get(obj, key));
	struct blob b = { 0 };
	char *txt;
	size_t tl;
	int err;

	if (!v || !*v || store_section_sealed_ok(s, v))
		return 0;
	err = store_seal(s, v, &b);
	if (err)
		return err;
	tl = strlen(SEALED) + sodium_base64_ENCODED_LEN(b.len,
			sodium_base64_VARIANT_ORIGINAL);
	txt = malloc(tl);
	if (!txt) {
		blob_free(&b);
		return ENOMEM;
	}
	memcpy(txt, SEALED, strlen(SEALED));
	sodium_bin2base64(txt + strlen(SEALED), tl - strlen(SEALED), b.p,
			  b.len, sodium_base64_VARIANT_ORIGINAL);
	blob_free(&b);
	/* the clear text goes: wipe it in place before jansson frees it */
	sodium_memzero((char *)v, strlen(v));
	err = json_object_set_new(obj, key, json_string(txt)) ? ENOMEM : 0;
	free(txt);
	return err;
}

void store_section_mask(const struct store_section *sec, json_t *obj)
{
	const char *key;
	json_t *val;

	/* every key of obj, so that a suffix rule covers per-trunk keys */
	json_object_foreach(obj, key, val) {
		const char *v = json_string_value(val);

		if (v && store_section_is_secret(sec, key))
			json_object_set_new(obj, key,
					    json_string(*v ? "set" : ""));
	}
}

void store_sections_mask(json_t *all)
{
	const char *name;
	json_t *obj;

	json_object_foreach(all, name, obj)
		store_section_mask(store_section_lookup(name), obj);
}

json_t *store_sections_open(const struct store *s, const json_t *all)
{
	json_t *c = json_deep_copy(all), *obj;
	const char *name;

	if (!c)
		return NULL;
	json_object_foreach(c, name, obj) {
		const struct store_section *sec = store_section_lookup(name);
		const char *k;
		json_t *val;

		json_object_foreach(obj, k, val) {
			char *p;

			if (!json_string_value(val) ||
			    !store_section_is_secret(sec, k))
				continue;
			p = open_text(s, json_string_value(val));
			json_object_set_new(obj, k, json_string(p ? p : ""));
			store_wipe(p);
		}
	}
	return c;
}

void store_sections_wipe(json_t *opened)
{
	const char *name;
	json_t *obj;

	json_object_foreach(opened, name, obj) {
		const struct store_section *sec = store_section_lookup(name);
		const char *k;
		json_t *val;

		json_object_foreach(obj, k, val) {
			const char *v = json_string_value(val);

			if (v && store_section_is_secret(sec, k))
				sodium_memzero((char *)v, strlen(v));
		}
	}
	json_decref(opened);
}
