/*
 * snapshot — the immutable view of the running configuration for the data
 * plane, built from running rows with plain malloc and deep copies.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"
#include "store/snapshot.h"

static bool obj_bool(const json_t *o, const char *k)
{
	return json_is_true(json_object_get(o, k));
}

static const char *const codec_name[SNAP_CODEC__COUNT] = {
	NULL, "ulaw", "alaw", "g722", "g729", "gsm", "opus", "ilbc", "speex",
};
static const char *const codec_sdp[SNAP_CODEC__COUNT] = {
	NULL, "PCMU/8000", "PCMA/8000", "G722/8000", "G729/8000", "GSM/8000",
	"opus/48000/2", "iLBC/8000", "speex/8000",
};

const char *snap_codec_sdp(uint8_t codec)
{
	return codec < SNAP_CODEC__COUNT ? codec_sdp[codec] : NULL;
}

/* A boolean field of extension type t: its value, else the model's
 * default when the type has the field (a row that predates it), else
 * false. */
static bool obj_bool_def(const json_t *o, const char *k, enum model_type t)
{
	const json_t *v = json_object_get(o, k);
	const struct model_field *f;

	if (json_is_boolean(v))
		return json_is_true(v);
	f = model_field_find(k);
	return f && model_type_has(t, f) && f->def && !strcmp(f->def, "true");
}

static uint16_t obj_u16(const json_t *o, const char *k, uint16_t def)
{
	const json_t *v = json_object_get(o, k);

	if (!json_is_integer(v))
		return def;
	if (json_integer_value(v) < 0)
		return 0;
	return json_integer_value(v) > UINT16_MAX ? UINT16_MAX :
		(uint16_t)json_integer_value(v);
}

/* What the call layer reads: name, call limits, codecs (the model's
 * defaults when a row predates the field). */
static void fill_call(struct snap_ext *e, const json_t *o)
{
	const json_t *v = json_object_get(o, "name"), *c;
	size_t i;

	snprintf(e->name, sizeof(e->name), "%s",
		 json_is_string(v) ? json_string_value(v) : "");
	e->limit_in = obj_u16(o, "phone.call_limit_in", 8);
	e->limit_out = obj_u16(o, "phone.call_limit_out", 8);
	v = json_object_get(o, "phone.codecs");
	if (!json_is_array(v)) {
		e->codecs[0] = SNAP_CODEC_ULAW;
		e->codecs[1] = SNAP_CODEC_ALAW;
		e->codecs[2] = SNAP_CODEC_G722;
		e->n_codecs = 3;
		return;
	}
	json_array_foreach(v, i, c) {
		const char *n = json_string_value(c);

		for (uint8_t k = 1; n && k < SNAP_CODEC__COUNT; k++)
			if (!strcmp(n, codec_name[k]) &&
			    e->n_codecs < SNAP_MAX_CODECS)
				e->codecs[e->n_codecs++] = k;
	}
}

const struct snap_feat *snap_feat_ref(const struct snap_feat *f)
{
	if (f)
		atomic_fetch_add_explicit(&((struct snap_feat *)f)->refs, 1,
					  memory_order_relaxed);
	return f;
}

void snap_feat_deref(const struct snap_feat *f)
{
	if (f && atomic_fetch_sub_explicit(&((struct snap_feat *)f)->refs, 1,
					   memory_order_acq_rel) <= 1)
		free((void *)f);
}

static const char *const fwd_name[SNAP_FWD__COUNT] = {
	"immediate", "busy", "no_answer", "unavailable",
};
static const char *const strategy_name[] = {
	"ringall", "hunt", "memoryhunt", "random",
};

static size_t list_len(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);

	return json_is_array(v) ? json_array_size(v) : 0;
}

/* Copy list k of o into dst (each item a number that fits). */
static uint16_t list_copy(const json_t *o, const char *k,
			  char (*dst)[SNAP_NUM], size_t max)
{
	const json_t *v = json_object_get(o, k), *it;
	uint16_t n = 0;
	size_t i;

	json_array_foreach(v, i, it) {
		const char *str = json_string_value(it);

		if (!str || strlen(str) >= SNAP_NUM || n >= max)
			continue;
		memcpy(dst[n++], str, strlen(str) + 1);
	}
	return n;
}

/* The routing features of o, or NULL when it has none (the common
 * case). */
static struct snap_feat *feat_build(const json_t *o, enum model_type t)
{
	const char *members = t == MODEL_RING_GROUP ? "ring_group.members" :
		t == MODEL_SHARED ? "shared.members" :
		t == MODEL_VIRTUAL ? "virtual.destinations" : NULL;
	const char *cos = json_string_value(json_object_get(o,
						"class_of_service"));
	const char *strat = json_string_value(json_object_get(o,
						"ring_group.strategy"));
	size_t nf = 0, nm = 0, nb = list_len(o, "security.blacklist");
	bool fm = obj_bool(o, "user.follow_me.enabled"), any = false;
	char fwd[SNAP_FWD__COUNT][SNAP_NUM];
	struct snap_feat *f;
	char (*tail)[SNAP_NUM];

	for (int i = 0; i < SNAP_FWD__COUNT; i++) {
		char k[48];
		const char *d;

		fwd[i][0] = '\0';
		snprintf(k, sizeof(k), "user.forward.%s.enabled", fwd_name[i]);
		if (!obj_bool(o, k))
			continue;
		snprintf(k, sizeof(k), "user.forward.%s.destination",
			 fwd_name[i]);
		d = json_string_value(json_object_get(o, k));
		if (d && *d && strlen(d) < SNAP_NUM) {
			memcpy(fwd[i], d, strlen(d) + 1);
			any = true;
		}
	}
	if (fm)
		nf = list_len(o, "user.follow_me.list");
	if (members)
		nm = list_len(o, members);
	if (cos && !strcmp(cos, "default"))
		cos = NULL;
	if (!any && !nf && !nm && !nb && !cos && !members)
		return NULL;
	if (nf > 64) nf = 64;
	if (nm > 64) nm = 64;
	if (nb > 128) nb = 128;
	f = calloc(1, sizeof(*f) + (nf + nm + nb) * SNAP_NUM);
	if (!f)
		return NULL;   /* routing sees no feature: logged by none */
	atomic_init(&f->refs, 1);
	memcpy(f->fwd, fwd, sizeof(fwd));
	if (cos && strlen(cos) < sizeof(f->cos))
		memcpy(f->cos, cos, strlen(cos) + 1);
	for (uint8_t i = 0; strat && i < 4; i++)
		if (!strcmp(strat, strategy_name[i]))
			f->strategy = i;
	tail = (char (*)[SNAP_NUM])(f + 1);
	f->fm = tail;
	f->n_fm = nf ? list_copy(o, "user.follow_me.list", tail, nf) : 0;
	f->follow_me = f->n_fm > 0;
	strat = json_string_value(json_object_get(o,
						  "user.follow_me.strategy"));
	f->fm_together = strat && !strcmp(strat, "together");
	tail += nf;
	f->members = tail;
	f->n_members = nm ? list_copy(o, members, tail, nm) : 0;
	tail += nm;
	f->black = tail;
	f->n_black = nb ? list_copy(o, "security.blacklist", tail, nb) : 0;
	return f;
}

const struct snap_cid *snap_cid_ref(const struct snap_cid *c)
{
	if (c)
		atomic_fetch_add_explicit(&((struct snap_cid *)c)->refs, 1,
					  memory_order_relaxed);
	return c;
}

void snap_cid_deref(const struct snap_cid *c)
{
	if (c && atomic_fetch_sub_explicit(&((struct snap_cid *)c)->refs, 1,
					   memory_order_acq_rel) <= 1)
		free((void *)c);
}

/* caller ID: the flags, and the custom values when there are any (the
 * defaults are resolved by call/callerid.c from the name and number). */
static void fill_cid(struct snap_ext *e, const json_t *o, enum model_type t)
{
	static const char *const kind[SNAP_CID__COUNT] = {
		"internal", "external", "emergency",
	};
	const json_t *v = json_object_get(o, "phone.alert_info");
	struct snap_cid c, *p;
	bool any = false;
	char k[48];

	e->cid_override = obj_bool(o, "callerid.allow_override");
	e->send_pai = obj_bool_def(o, "phone.send_pai", t);
	e->send_rpid = !e->send_pai && obj_bool(o, "phone.send_rpid");
	memset(&c, 0, sizeof(c));
	if (json_is_string(v) && json_string_length(v) &&
	    json_string_length(v) < sizeof(c.alert_info)) {
		memcpy(c.alert_info, json_string_value(v),
		       json_string_length(v) + 1);
		any = true;
	}
	for (int i = 0; i < SNAP_CID__COUNT; i++) {
		struct snap_cid_one *one = &c.k[i];
		const json_t *n;

		snprintf(k, sizeof(k), "callerid.%s.use_default", kind[i]);
		if (obj_bool_def(o, k, t) || !model_type_has(t,
		    model_field_find(k)))
			continue;
		snprintf(k, sizeof(k), "callerid.%s.number", kind[i]);
		v = json_object_get(o, k);
		snprintf(k, sizeof(k), "callerid.%s.name", kind[i]);
		n = json_object_get(o, k);
		if (!json_is_string(v) || !json_string_length(v) ||
		    json_string_length(v) >= sizeof(one->number) ||
		    (json_is_string(n) &&
		     json_string_length(n) >= sizeof(one->name)))
			continue;   /* the model refuses these: the default */
		one->custom = any = true;
		memcpy(one->number, json_string_value(v),
		       json_string_length(v) + 1);
		if (json_is_string(n))
			memcpy(one->name, json_string_value(n),
			       json_string_length(n) + 1);
	}
	if (!any)
		return;
	p = malloc(sizeof(*p));
	if (!p)
		return;   /* the defaults: logged by none, like feat */
	memcpy(p, &c, sizeof(c));
	atomic_init(&p->refs, 1);
	e->cid = p;
}

static void fill_ext(struct snap_ext *e, struct ext_row *row)
{
	const json_t *o = ext_row_obj(row);
	const json_t *v;
	size_t i, na = 0;

	snprintf(e->number, sizeof(e->number), "%s", row->number);
	e->type = (uint8_t)row->type;
	e->auth = row->ha1_md5[0] != '\0';
	memcpy(e->ha1_md5, row->ha1_md5, sizeof(e->ha1_md5));
	memcpy(e->ha1_sha256, row->ha1_sha256, sizeof(e->ha1_sha256));
	e->has_prev = row->prev_md5[0] != '\0';
	memcpy(e->prev_ha1_md5, row->prev_md5, sizeof(e->prev_ha1_md5));
	memcpy(e->prev_ha1_sha256, row->prev_sha256,
	       sizeof(e->prev_ha1_sha256));
	e->prev_until = row->prev_until;

	v = json_object_get(o, "auth.algorithms");
	if (json_is_array(v)) {
		json_array_foreach(v, i, o) {
			const char *a = json_string_value(o);
			uint8_t bit = 0;

			if (!a || na >= sizeof(e->algs_pref))
				continue;
			if (!strcmp(a, "md5"))
				bit = SNAP_ALG_MD5;
			else if (!strcmp(a, "sha-256"))
				bit = SNAP_ALG_SHA256;
			if (bit && (na == 0 || e->algs_pref[0] != bit))
				e->algs_pref[na++] = bit;
		}
	} else if (e->auth) {
		e->algs_pref[0] = SNAP_ALG_SHA256;
		e->algs_pref[1] = SNAP_ALG_MD5;
	}
	o = ext_row_obj(row);
	v = json_object_get(o, "phone.max_contacts");
	e->max_contacts = json_is_integer(v) && json_integer_value(v) > 0 &&
		json_integer_value(v) <= UINT16_MAX ?
		(uint16_t)json_integer_value(v) : 1;
	e->nat = obj_bool(o, "phone.nat");
	e->qualify = obj_bool(o, "phone.qualify");
	e->srtp = obj_bool(o, "phone.srtp");          /* srtp (issue 15) */
	v = json_object_get(o, "phone.transports");
	if (json_is_array(v)) {
		const json_t *t;

		json_array_foreach(v, i, t) {
			const char *n = json_string_value(t);

			if (!n)
				continue;
			if (!strcmp(n, "udp"))
				e->transports |= SNAP_TP_UDP;
			else if (!strcmp(n, "tcp"))
				e->transports |= SNAP_TP_TCP;
			else if (!strcmp(n, "tls"))
				e->transports |= SNAP_TP_TLS;
		}
	}
	fill_call(e, o);
	e->ring_time = obj_u16(o, "user.ring_time", 20);
	v = json_object_get(o, "user.language");
	snprintf(e->language, sizeof(e->language), "%s",
		 json_is_string(v) ? json_string_value(v) : "");
	e->camp_on = obj_bool(o, "user.camp_on");   /* camp-on */
	e->vm = obj_bool_def(o, "voicemail.enabled", row->type);
	e->mwi = e->vm && obj_bool_def(o, "voicemail.mwi", row->type);
	e->feat = feat_build(o, row->type);
	/* ring group's voicemail (issue 13) */
	v = json_object_get(o, "ring_group.vm_copies");
	if (row->type == MODEL_RING_GROUP && json_is_array(v) &&
	    json_is_string(json_array_get(v, 0)) &&
	    json_string_length(json_array_get(v, 0)) < SNAP_NUM)
		memcpy(e->rg_vm, json_string_value(json_array_get(v, 0)),
		       json_string_length(json_array_get(v, 0)) + 1);
	/* gates (issue 13) */
	e->call_pw = row->sec[SEC_CALL_PW].p && row->sec[SEC_CALL_PW].len;
	v = json_object_get(o, "user.personal_ivr.destination");
	if (obj_bool(o, "user.personal_ivr.enabled") && json_is_string(v) &&
	    json_string_length(v) && json_string_length(v) < SNAP_NUM) {
		e->pivr = true;
		memcpy(e->pivr_dest, json_string_value(v),
		       json_string_length(v) + 1);
	}
	fill_cid(e, o, row->type);
	/* call recording and music on hold (issue 13, media) */
	v = json_object_get(o, "user.recording");
	e->recording = !json_is_string(v) ? SNAP_REC_NEVER :
		!strcmp(json_string_value(v), "always") ? SNAP_REC_ALWAYS :
		!strcmp(json_string_value(v), "on_demand") ?
		SNAP_REC_ON_DEMAND : SNAP_REC_NEVER;
	v = json_object_get(o, "user.moh_class");
	snprintf(e->moh_class, sizeof(e->moh_class), "%s",
		 json_is_string(v) ? json_string_value(v) : "");
	v = json_object_get(o, "phone.host_mode");
	e->static_host = json_is_string(v) &&
		!strcmp(json_string_value(v), "static");
	if (e->static_host) {
		v = json_object_get(o, "phone.host_ip");
		snprintf(e->host_ip, sizeof(e->host_ip), "%s",
			 json_is_string(v) ? json_string_value(v) : "");
	}
}

struct snap_acc {
	struct snap_ext **ext;
	size_t *n, *cap;
};

static int snap_row(struct ext_row *row, void *arg)
{
	struct snap_acc *a = arg;

	if (*a->n == *a->cap) {
		size_t nc = *a->cap ? *a->cap * 2 : 256;
		struct snap_ext *p = realloc(*a->ext, nc * sizeof(*p));

		if (!p)
			return ENOMEM;
		*a->ext = p;
		*a->cap = nc;
	}
	memset(&(*a->ext)[*a->n], 0, sizeof(**a->ext));
	fill_ext(&(*a->ext)[(*a->n)++], row);
	return 0;
}

/* Each registered section with a decoder, decoded once, here. */
static int typed_build(struct snapshot *sn, const json_t *sections)
{
	size_t n = store_section_count();

	for (size_t i = 0; i < n; i++) {
		const struct store_section *sec = store_section_at(i);
		void *p;

		if (!sec || !sec->decode || !sec->typed_size)
			continue;
		if (sn->n_typed >= sizeof(sn->typed_sec) /
		    sizeof(sn->typed_sec[0]))
			return ENOSPC;
		p = calloc(1, sec->typed_size);
		if (!p)
			return ENOMEM;
		sec->decode(json_object_get(sections, sec->name), p);
		sn->typed_sec[sn->n_typed++] = (struct snap_typed){ sec->name,
								    p };
	}
	return 0;
}

int store_snapshot_build(struct ext_row *rows, size_t n, bool cache,
			 const json_t *sections, uint64_t version,
			 struct snapshot **snapp)
{
	struct snapshot *sn = calloc(1, sizeof(*sn));
	int err;

	if (!sn)
		return ENOMEM;
	atomic_init(&sn->refs, 1);
	sn->version = version;
	store_realm_from(sections, sn->realm, sizeof(sn->realm));
	store_policy_from(json_object_get(sections, "policy"), &sn->policy);
	sip_settings_decode(json_object_get(sections, "sip"), &sn->sip);
	sn->typed = true;
	err = typed_build(sn, sections);
	if (err) {
		snapshot_free(sn);
		return err;
	}
	sn->sections = json_deep_copy(sections);
	store_sections_mask(sn->sections);   /* decoders had them opened */
	sn->ext = calloc(n + 1, sizeof(*sn->ext));
	if (!sn->sections || !sn->ext) {
		snapshot_free(sn);
		return ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct ext_row *row = &rows[i];

		if (row->snap) {
			sn->ext[i] = *row->snap;
			snap_feat_ref(sn->ext[i].feat);
			snap_cid_ref(sn->ext[i].cid);
			continue;
		}
		fill_ext(&sn->ext[i], row);
		if (cache) {
			row->snap = malloc(sizeof(*row->snap));
			if (row->snap) {
				*row->snap = sn->ext[i];
				snap_feat_ref(row->snap->feat);
				snap_cid_ref(row->snap->cid);
			}
		}
	}
	sn->n_ext = n;
	*snapp = sn;
	return 0;
}

/* The running configuration's commit number (0: nothing committed yet):
 * what a snapshot of it is versioned by. Here, not in commit.c, so that
 * commit.c uses snapshot.c and not the other way round. */
uint64_t store_version(struct store *s)
{
	sqlite3_stmt *st = NULL;
	uint64_t v = 0;

	if (store_prep(s, "SELECT value FROM meta WHERE key = "
		       "'commit_version'", &st))
		return 0;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = (uint64_t)sqlite3_column_int64(st, 0);
	store_unprep(st);
	return v;
}

/* At start: one running row at a time (read, parse, fill, free), so the
 * extension table is never held in memory — only the snapshot. */
int store_snapshot(struct store *s, struct snapshot **snap)
{
	struct snap_ext *ext = NULL;
	size_t n = 0, cap = 0;
	json_t *secs = NULL;
	struct snapshot *sn = NULL;
	uint64_t version;
	int err = 0;

	if (!s || !snap)
		return EINVAL;
	pthread_mutex_lock(&s->lock);
	err = store_sections_load(s, STORE_RUNNING, &secs);
	if (!err)
		err = store_rows_each(s, STORE_RUNNING, snap_row, &(struct
				      snap_acc){&ext, &n, &cap});
	version = store_version(s);
	pthread_mutex_unlock(&s->lock);
	if (!err) {
		json_t *open = store_sections_open(s, secs);

		err = open ? store_snapshot_build(NULL, 0, false, open,
						  version, &sn) : ENOMEM;
		store_sections_wipe(open);
	}
	if (!err) {
		free(sn->ext);
		sn->ext = ext ? ext : calloc(1, sizeof(*sn->ext));
		ext = NULL;
		sn->n_ext = n;
		if (!sn->ext)
			err = ENOMEM;
	}
	if (err) {
		snapshot_free(sn);
		sn = NULL;
	} else {
		*snap = sn;
	}
	for (size_t i = 0; ext && i < n; i++)
		snap_feat_deref(ext[i].feat);
	for (size_t i = 0; ext && i < n; i++)
		snap_cid_deref(ext[i].cid);
	free(ext);
	json_decref(secs);
	store_trim();
	return err;
}

const struct snap_ext *snapshot_find(const struct snapshot *s,
				     const char *num, size_t len)
{
	size_t lo = 0, hi;

	if (!s || !num || len >= sizeof(s->ext[0].number))
		return NULL;
	hi = s->n_ext;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *m = s->ext[mid].number;
		int c = strncmp(m, num, len);

		if (c == 0 && m[len] != '\0')
			c = 1;   /* m is longer, so it sorts after */
		if (c == 0)
			return &s->ext[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct sip_settings *snapshot_sip(const struct snapshot *s)
{
	return s && s->typed ? &s->sip : sip_settings_default();
}

const void *snapshot_typed(const struct snapshot *s, const char *section)
{
	for (size_t i = 0; s && section && i < s->n_typed; i++)
		if (!strcmp(s->typed_sec[i].name, section))
			return s->typed_sec[i].data;
	return NULL;
}

static json_t *empty_obj;
static pthread_once_t empty_once = PTHREAD_ONCE_INIT;

static void empty_init(void)
{
	empty_obj = json_object();
}

const json_t *snapshot_section(const struct snapshot *s, const char *name)
{
	const json_t *v = s ? json_object_get(s->sections, name) : NULL;

	if (v)
		return v;
	/* one shared, never-modified empty object */
	pthread_once(&empty_once, empty_init);
	return empty_obj;
}

struct snapshot *snapshot_ref(struct snapshot *s)
{
	if (s)
		atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	return s;
}

struct snapshot *snapshot_deref(struct snapshot *s)
{
	/* A snapshot built by hand (tests, fuzz: calloc) starts at 0 refs:
	 * it is freed by its first deref, like one at 1. acq_rel: every
	 * holder's reads happen before the free. */
	if (!s || atomic_fetch_sub_explicit(&s->refs, 1,
					    memory_order_acq_rel) > 1)
		return NULL;
	for (size_t i = 0; i < s->n_typed; i++)
		free(s->typed_sec[i].data);
	json_decref(s->sections);
	for (size_t i = 0; s->ext && i < s->n_ext; i++)
		snap_feat_deref(s->ext[i].feat);
	for (size_t i = 0; s->ext && i < s->n_ext; i++)
		snap_cid_deref(s->ext[i].cid);
	free(s->ext);
	free(s);
	return NULL;
}

void snapshot_free(struct snapshot *s)
{
	(void)snapshot_deref(s);
}
