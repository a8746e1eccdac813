/*
 * routes_gui — what the web GUI reads to draw its forms and lists:
 *
 *   GET /schema/fields    the extension field table (model/fields.c):
 *                         name, tab, kind, which types have it, default,
 *                         bounds, choices, label, help — "Add a New
 *                         Phone" is drawn from it, no rule restated
 *   GET /schema/sections  every settings section: its keys, their kind,
 *                         what its settings table declares (default,
 *                         bounds, choices, module, help; store_section
 *                         .table), their current staged values
 *   GET /ext/search       ?q=&offset=&limit=&staged=1: one page of the
 *                         extension list, filtered on the server, so a
 *                         browser never holds 10,000 rows
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/routes.h"
#include "api/web.h"
#include "common/settings.h"
#include "daemon/daemon.h"
#include "model/model.h"
#include "store/extpage.h"
#include "store/store.h"

#define PAGE_DEFAULT 50
#define PAGE_MAX     500

static const char *const kind_names[] = {
	[MODEL_BOOL] = "bool", [MODEL_INT] = "int", [MODEL_STRING] = "string",
	[MODEL_ENUM] = "enum", [MODEL_LIST] = "list",
	[MODEL_SECRET] = "secret",
};

static const char *const form_names[] = {
	[MODEL_FORM_NONE] = "", [MODEL_FORM_NUMBER] = "number",
	[MODEL_FORM_EXT_REF] = "ext_ref",
	[MODEL_FORM_MAILBOX_REF] = "mailbox_ref",
	[MODEL_FORM_DEST] = "destination", [MODEL_FORM_PHONENUM] = "phone",
	[MODEL_FORM_NAME] = "full_name", [MODEL_FORM_CIDNAME] = "cid_name",
	[MODEL_FORM_EMAIL] = "email", [MODEL_FORM_IP] = "ip",
	[MODEL_FORM_DIGITS] = "digits", [MODEL_FORM_WEBUSER] = "web_user",
	[MODEL_FORM_TOKEN] = "token", [MODEL_FORM_TEXT] = "text",
	[MODEL_FORM_HEADER] = "sip_header",
};

static json_t *types_of(unsigned mask)
{
	json_t *a = json_array();
	int t;

	for (t = 0; t < MODEL_TYPE_COUNT; t++)
		if (mask & MODEL_T(t))
			json_array_append_new(a, json_string(
				model_type_name((enum model_type)t)));
	return a;
}

/* One row of the field table as JSON (also used by the portal). */
json_t *api_gui_field_json(const struct model_field *f);
json_t *api_gui_field_json(const struct model_field *f)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:o,s:b,s:s,s:s}",
		"name", f->name, "tab", model_tab_name(f->tab),
		"kind", (unsigned)f->kind < sizeof(kind_names) /
			sizeof(kind_names[0]) ? kind_names[f->kind] : "",
		"types", types_of(f->types), "required", f->required,
		"label", f->label ? f->label : f->name,
		"help", f->help ? f->help : "");
	size_t i;

	if (!o)
		return NULL;
	if (f->def)
		json_object_set_new(o, "default", json_string(f->def));
	if (f->kind == MODEL_INT || f->min || f->max) {
		json_object_set_new(o, "min", json_integer(f->min));
		json_object_set_new(o, "max", json_integer(f->max));
	}
	if (f->choices) {
		json_t *c = json_array();

		for (i = 0; f->choices[i]; i++)
			json_array_append_new(c, json_string(f->choices[i]));
		json_object_set_new(o, "choices", c);
	}
	if ((unsigned)f->form < sizeof(form_names) / sizeof(form_names[0]) &&
	    f->form != MODEL_FORM_NONE)
		json_object_set_new(o, "form", json_string(form_names[f->form]));
	if (f->ref_types)
		json_object_set_new(o, "ref_types", types_of(f->ref_types));
	return o;
}

static void fields_get(struct daemon *d, const struct api_req *req,
		       struct api_resp *resp)
{
	json_t *fields = json_array(), *tabs = json_array();
	size_t i;

	(void)d;
	(void)req;
	for (i = 0; i < model_field_count; i++)
		json_array_append_new(fields,
				      api_gui_field_json(&model_fields[i]));
	for (i = 0; i < MODEL_TAB_COUNT; i++)
		json_array_append_new(tabs, json_string(
			model_tab_name((enum model_tab)i)));
	api_ok(resp, json_pack("{s:o,s:o,s:o}", "types",
			       types_of(MODEL_ALL_TYPES), "tabs", tabs,
			       "fields", fields));
}

static const char *json_kind(const json_t *v)
{
	if (json_is_boolean(v))
		return "bool";
	if (json_is_integer(v))
		return "int";
	if (json_is_array(v))
		return "list";
	return "string";
}

/* Default, bounds, choices, help and the applying module of key, from
 * its section's schema (settings_schema; may be NULL), into row. */
static void table_row(json_t *row, const json_t *schema, const char *key)
{
	json_t *k;
	size_t i;

	json_array_foreach(json_object_get(schema, "keys"), i, k) {
		const char *f;
		json_t *v;

		if (strcmp(json_string_value(json_object_get(k, "name")), key))
			continue;
		json_object_foreach(k, f, v)
			if (strcmp(f, "name") && strcmp(f, "type"))
				json_object_set(row, f, v);
		break;
	}
}

static void sections_get(struct daemon *d, const struct api_req *req,
			 struct api_resp *resp)
{
	json_t *names = store_section_names(), *out = json_array(), *n;
	size_t i;

	(void)req;
	json_array_foreach(names, i, n) {
		const char *name = json_string_value(n);
		json_t *obj = NULL, *keys = json_array(), *v, *schema;
		const char *key;

		if (!name || store_section_get(d->store, name, STORE_STAGED,
					       &obj)) {
			json_decref(keys);
			continue;
		}
		schema = store_section_table(name) ?
			settings_schema(store_section_table(name)) : NULL;
		json_object_foreach(obj, key, v) {
			json_t *row = json_pack("{s:s,s:s,s:O}", "key", key,
						"kind", json_kind(v),
						"value", v);

			/* what the section's table declares */
			table_row(row, schema, key);
			json_array_append_new(keys, row);
		}
		json_array_append_new(out, json_pack("{s:s,s:o}", "name", name,
						     "keys", keys));
		json_decref(obj);
		json_decref(schema);
	}
	json_decref(names);
	api_ok(resp, json_pack("{s:o}", "sections", out));
}

static unsigned long query_ul(const struct api_req *req, const char *name,
			      unsigned long def, unsigned long max)
{
	const char *v = req->query ? req->query(req, name) : NULL;
	unsigned long n;
	char *end;

	if (!v || !*v)
		return def;
	n = strtoul(v, &end, 10);
	if (*end)
		return def;
	return n > max ? max : n;
}

static void ext_search(struct daemon *d, const struct api_req *req,
		       struct api_resp *resp)
{
	const char *q = req->query ? req->query(req, "q") : NULL;
	unsigned long off = query_ul(req, "offset", 0, 1000000000ul);
	unsigned long lim = query_ul(req, "limit", PAGE_DEFAULT, PAGE_MAX);
	json_t *out = NULL;
	int err;

	/* filtered and counted in SQL: 10,000 rows are never loaded to
	 * show 50 */
	err = store_ext_page(d->store, api_query_flag(req, "staged") ?
			     STORE_STAGED : STORE_RUNNING, q, off, lim, &out);
	if (err) {
		api_error(resp, 500, "Listing extensions failed.", NULL);
		return;
	}
	json_object_set_new(out, "offset", json_integer((json_int_t)off));
	json_object_set_new(out, "limit", json_integer((json_int_t)lim));
	api_ok(resp, out);
}

const struct api_route api_routes_gui[] = {
	{ "GET", "/schema/fields",   fields_get },
	{ "GET", "/schema/sections", sections_get },
	{ "GET", "/ext/search",      ext_search },
};
const size_t api_routes_gui_n = API_ROUTES_N(api_routes_gui);
