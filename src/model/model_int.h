/*
 * model internals shared by model.c (one extension) and model_set.c (the
 * whole configuration). Not for other modules: model.h is the interface.
 */
#ifndef BULWARK_MODEL_INT_H
#define BULWARK_MODEL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "model/model.h"

#define MODEL_FIELDS_MAX 256   /* fields.c asserts the table fits */

/* The index of a field in model_fields (-1: none). */
static inline long model_idx(const char *name)
{
	const struct model_field *f = model_field_find(name);

	return f ? f - model_fields : -1;
}

/* One extension's checks (model_validate); fills vals[] (by field index)
 * with each field's value when it is of the type and passed its own
 * checks. Returns the type, or -1 when there is none. */
int model_validate_one(const json_t *ext, struct report *r,
		       const json_t **vals);

/* The extension's type (enum model_type), -1 when missing or unknown. */
int model_ext_type(const json_t *ext);
/* 2 to 8 digits: an extension number. */
bool model_is_ext_number(const char *s);
/* A form whose values name other extensions (checked across the set). */
bool model_is_ref_form(enum model_form form);
/* s made fit to quote in a message (cut, control characters replaced),
 * in buf; returns buf. */
const char *model_shown(char *buf, size_t sz, const char *s);

#endif
