/*
 * services — the network services manager: one table of Bulwark's
 * services (STYLE.md: dispatch table), each with "start at boot" (the
 * "services" section, key "<name>.boot"), running state, the sections it
 * reads (so a commit marks what must be restarted), and how to start,
 * stop and restart it. Control plane; the SIP transports are switched on
 * the loop thread (loop_call / loop_post).
 */
#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/settings.h"
#include "daemon/daemon.h"
#include "daemon/services.h"
#include "firewall/firewall.h"
#include "sip/sipd.h"
#include "store/store.h"

struct services;
struct svc_def;

typedef int (svc_op_h)(struct services *s, const struct svc_def *def,
		       struct report *r);

enum svc_state { SVC_STOPPED = 0, SVC_RUNNING, SVC_UNAVAILABLE, SVC_FAILED };

static const char *const state_names[] = {
	[SVC_STOPPED] = "stopped", [SVC_RUNNING] = "running",
	[SVC_UNAVAILABLE] = "unavailable", [SVC_FAILED] = "failed",
};

struct svc_def {
	const char *name;
	const char *description;
	const char *sections[3];   /* configuration it reads (NULL-ended) */
	bool mandatory;            /* can neither stop nor be disabled */
	bool boot_default;
	bool reloads;              /* takes a commit in place (snapshot) */
	const char *arg;           /* SIP transport name */
	svc_op_h *start;           /* NULL: cannot be started at run time */
	svc_op_h *stop;
	svc_op_h *restart;         /* NULL: stop + start */
	const char *fixed_why;     /* why start/stop are not offered */
};

struct services {
	struct daemon *d;
	pthread_mutex_t mu;
	char http_addr[80];
	char https_addr[80];
	enum svc_state *state;
	bool *restart_required;
};

/* ---- SIP transports, on the loop ---- */

struct tp_call {
	struct sipd *sd;
	const char *tp;
	bool on;
	int err;
};

static void tp_on_loop(void *arg)
{
	struct tp_call *c = arg;

	c->err = c->sd ? sipd_transport_set(c->sd, c->tp, c->on) : ENODEV;
}

static void tp_post_on_loop(void *arg)
{
	struct tp_call *c = arg;

	tp_on_loop(c);
	if (c->err)
		log_warn("services", "SIP %s: %s at start: %s", c->tp,
			 c->on ? "start" : "stop", strerror(c->err));
	free(c);
}

static int sip_set(struct services *s, const struct svc_def *def, bool on,
		   struct report *r)
{
	struct tp_call c = { .sd = s->d ? s->d->sipd : NULL, .tp = def->arg,
			     .on = on };
	int err;

	if (!c.sd) {
		report_add(r, "", def->name, "services.unavailable",
			   "%s: SIP is not running in this daemon", def->name);
		return ENODEV;
	}
	err = loop_call(tp_on_loop, &c);
	if (!err)
		err = c.err;
	if (err == ENOTSUP)
		/* tls: ENOTSUP is "no certificate" (DATA/tls/sip.crt) */
		report_add(r, "", def->name, "services.unavailable",
			   "%s: not available: %s", def->name,
			   !strcmp(def->arg, "tls") ? "no usable certificate "
			   "(DATA/tls/sip.crt and sip.key; the daemon log at "
			   "start says why)" : "not in this build");
	else if (err)
		report_add(r, "", def->name, "services.failed",
			   "%s: %s failed: %s", def->name, on ? "start" : "stop",
			   strerror(err));
	return err;
}

static int sip_start(struct services *s, const struct svc_def *def,
		     struct report *r)
{
	return sip_set(s, def, true, r);
}

static int sip_stop(struct services *s, const struct svc_def *def,
		    struct report *r)
{
	return sip_set(s, def, false, r);
}

/* ---- firewall ---- */

static int fw_start(struct services *s, const struct svc_def *def,
		    struct report *r)
{
	return firewall_start(s->d ? s->d->firewall : NULL, r);
}

static int fw_stop(struct services *s, const struct svc_def *def,
		   struct report *r)
{
	return firewall_stop(s->d ? s->d->firewall : NULL, r);
}

/* A new firewall configuration is only ever installed "commit confirmed":
 * restart = apply with the rollback timer. */
static int fw_restart(struct services *s, const struct svc_def *def,
		      struct report *r)
{
	json_t *res = NULL;
	int err = firewall_apply(s->d ? s->d->firewall : NULL, 0, r, &res);

	json_decref(res);
	return err;
}

static const struct svc_def defs[] = {
	{ "sip-udp", "SIP over UDP", { "sip", NULL }, false, true, false,
	  "udp", sip_start, sip_stop, NULL, NULL },
	{ "sip-tcp", "SIP over TCP", { "sip", NULL }, false, true, false,
	  "tcp", sip_start, sip_stop, NULL, NULL },
	{ "sip-tls", "SIP over TLS", { "sip", NULL }, false, false, false,
	  "tls", sip_start, sip_stop, NULL, NULL },
	{ "admin-api", "Admin API on the control socket (bulwark CLI)",
	  { NULL }, true, true, false, NULL, NULL, NULL, NULL,
	  "it is how an administrator gets back in" },
	{ "admin-http", "Admin API and web GUI over HTTP (--http)",
	  { NULL }, false, true, false, NULL, NULL, NULL, NULL,
	  "it listens where bulwarkd --http says, from start to exit" },
	{ "admin-https", "Admin API and web GUI over HTTPS (--https)",
	  { NULL }, false, true, false, NULL, NULL, NULL, NULL,
	  "it listens where bulwarkd --https says, from start to exit: "
	  "restart bulwarkd with --https ADDR:PORT" },
	{ "guard", "Brute-force, enumeration and flood protection",
	  { "guard", NULL }, false, true, true, NULL, NULL, NULL, NULL,
	  "it protects SIP whenever SIP runs and reloads at each commit" },
	{ "firewall", "Firewall (nftables table inet bulwark)",
	  { "firewall", "sip", NULL }, false, true, false, NULL, fw_start,
	  fw_stop, fw_restart, NULL },
};
#define N_DEFS (sizeof(defs) / sizeof(defs[0]))

static const struct svc_def *def_find(const char *name, size_t *idx)
{
	size_t i;

	for (i = 0; name && i < N_DEFS; i++) {
		if (!strcmp(defs[i].name, name)) {
			if (idx)
				*idx = i;
			return &defs[i];
		}
	}
	return NULL;
}

/* ---- the "services" section ---- */

/* The section's table (common/settings.h), built once from defs so that
 * the list of services is written in one place: one boolean key
 * "<name>.boot" per service. The typed form is one bool per service. */
struct boot_keys {
	bool boot[N_DEFS];
};

static char key_name[N_DEFS][48];
static char key_msg[N_DEFS][128];
static char key_help[N_DEFS][160];
static struct setting_def boot_defs[N_DEFS];
static struct settings_table boot_table = {
	.section = "services", .defs = boot_defs,
	.struct_size = sizeof(struct boot_keys),
};
static pthread_once_t boot_once = PTHREAD_ONCE_INIT;

static void boot_init(void)
{
	for (size_t i = 0; i < N_DEFS; i++) {
		snprintf(key_name[i], sizeof(key_name[i]), "%.40s.boot",
			 defs[i].name);
		snprintf(key_msg[i], sizeof(key_msg[i]),
			 "services.%.47s: write true or false", key_name[i]);
		snprintf(key_help[i], sizeof(key_help[i]),
			 "start at boot: %.100s%s", defs[i].description,
			 defs[i].mandatory ? " (always on)" : "");
		boot_defs[i] = (struct setting_def){
			.name = key_name[i], .type = SETTING_BOOL,
			.def = defs[i].boot_default, .max = 1,
			.rule = "services.bad_bool", .msg = key_msg[i],
			.module = "services",
			.off = offsetof(struct boot_keys, boot) +
				i * sizeof(bool),
			.size = sizeof(bool), .help = key_help[i],
		};
	}
	boot_table.n = N_DEFS;   /* complete: visible from here on */
}

static const struct settings_table *boot_keys(void)
{
	pthread_once(&boot_once, boot_init);
	return &boot_table;
}

static json_t *section_defaults(void)
{
	return settings_defaults(boot_keys());
}

static int section_set(json_t *obj, const char *key, const char *value,
		       struct report *r)
{
	char field[96], name[64];
	const struct svc_def *def;
	const char *dot = key ? strrchr(key, '.') : NULL;
	json_t *v = NULL;
	int err;

	snprintf(field, sizeof(field), "services.%s", key ? key : "");
	if (!dot || strcmp(dot, ".boot") || (size_t)(dot - key) >= sizeof(name)) {
		report_add(r, "", field, "services.unknown_key",
			   "%.80s: settings are NAME.boot (see 'bulwark "
			   "services')", field);
		return ENOENT;
	}
	snprintf(name, sizeof(name), "%.*s", (int)(dot - key), key);
	def = def_find(name, NULL);
	if (!def) {
		report_add(r, "", field, "services.unknown_service",
			   "%.80s: no service '%.40s' (see 'bulwark "
			   "services')", field, name);
		return ENOENT;
	}
	err = settings_parse(boot_keys(), key, value, &v, r);
	if (err)
		return err;
	if (def->mandatory && json_is_false(v)) {
		report_add(r, "", field, "services.mandatory",
			   "%.80s: %s cannot be disabled: %s", field,
			   def->name, def->fixed_why);
		json_decref(v);
		return EINVAL;
	}
	return json_object_set_new(obj, key, v) ? ENOMEM : 0;
}

static int section_validate(const json_t *obj, struct report *r)
{
	size_t i;
	int err = settings_check(boot_keys(), obj, r);

	for (i = 0; i < N_DEFS; i++) {
		char key[64];
		const json_t *v;

		if (!defs[i].mandatory)
			continue;
		snprintf(key, sizeof(key), "%s.boot", defs[i].name);
		v = json_object_get(obj, key);
		if (v && json_is_false(v)) {
			report_add(r, "", key, "services.mandatory",
				   "services.%s: %s cannot be disabled: %s",
				   key, defs[i].name, defs[i].fixed_why);
			err = EINVAL;
		}
	}
	return err;
}

const struct store_section services_section = {
	.name = "services",
	.defaults = section_defaults,
	.set = section_set,
	.validate = section_validate,
	.table = &boot_table,
};

/* ---- registry ---- */

static bool boot_of(const json_t *sec, size_t i)
{
	char key[64];
	const json_t *v;

	snprintf(key, sizeof(key), "%s.boot", defs[i].name);
	v = json_object_get(sec, key);
	if (defs[i].mandatory)
		return true;
	return v ? json_is_true(v) : defs[i].boot_default;
}

int services_alloc(struct services **sp, struct daemon *d)
{
	struct services *s;
	json_t *sec = NULL;
	size_t i;

	if (!sp)
		return EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return ENOMEM;
	s->state = calloc(N_DEFS, sizeof(*s->state));
	s->restart_required = calloc(N_DEFS, sizeof(*s->restart_required));
	if (!s->state || !s->restart_required) {
		free(s->state);
		free(s->restart_required);
		free(s);
		return ENOMEM;
	}
	s->d = d;
	pthread_mutex_init(&s->mu, NULL);
	if (d && d->store)
		store_section_get(d->store, "services", STORE_RUNNING, &sec);

	for (i = 0; i < N_DEFS; i++) {
		const struct svc_def *def = &defs[i];
		bool boot = boot_of(sec, i);
		struct report r;

		report_init(&r);
		if (def->arg) {
			/* sipd started UDP and TCP already; align with
			 * "start at boot" without waiting: we may be on the
			 * loop thread before it runs */
			bool running = d && d->sipd &&
				(!strcmp(def->arg, "udp") ||
				 !strcmp(def->arg, "tcp") ||
				 sipd_transport_on(d->sipd, def->arg));
			/* tls: --sip-tls listens from start, whatever boot
			 * says (as --https does) */
			bool forced = running && !strcmp(def->arg, "tls");
			struct tp_call *c;

			s->state[i] = !d || !d->sipd ? SVC_UNAVAILABLE :
				      running ? SVC_RUNNING : SVC_STOPPED;
			if (d && d->sipd && boot != running && !forced) {
				c = calloc(1, sizeof(*c));
				if (c) {
					c->sd = d->sipd;
					c->tp = def->arg;
					c->on = boot;
					if (loop_post(tp_post_on_loop, c))
						free(c);
					else
						s->state[i] = boot ?
							SVC_RUNNING :
							SVC_STOPPED;
				}
			}
		} else if (!strcmp(def->name, "admin-api")) {
			s->state[i] = SVC_RUNNING;
		} else if (!strcmp(def->name, "admin-http")) {
			s->state[i] = SVC_STOPPED;   /* see set_listen */
		} else if (!strcmp(def->name, "admin-https")) {
			s->state[i] = SVC_STOPPED;   /* see set_listen_https */
		} else if (!strcmp(def->name, "guard")) {
			s->state[i] = d && d->guard ? SVC_RUNNING :
				      SVC_UNAVAILABLE;
		} else if (def->start) {
			if (!boot) {
				s->state[i] = SVC_STOPPED;
			} else if (def->start(s, def, &r)) {
				s->state[i] = SVC_FAILED;
				log_warn("services", "%s: not started: %s",
					 def->name, r.n ? r.item[0].msg :
					 "error");
			} else {
				s->state[i] = SVC_RUNNING;
			}
		}
		report_reset(&r);
	}
	json_decref(sec);
	*sp = s;
	return 0;
}

void services_set_listen(struct services *s, const char *sip_listen,
			 const char *http_addr)
{
	size_t i;

	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	snprintf(s->http_addr, sizeof(s->http_addr), "%s",
		 http_addr ? http_addr : "");
	if (def_find("admin-http", &i))
		s->state[i] = http_addr && *http_addr ? SVC_RUNNING :
			      SVC_STOPPED;
	pthread_mutex_unlock(&s->mu);
	if (s->d)
		firewall_set_listen(s->d->firewall, sip_listen, http_addr);
}

void services_set_listen_https(struct services *s, const char *https_addr)
{
	size_t i;

	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	snprintf(s->https_addr, sizeof(s->https_addr), "%s",
		 https_addr ? https_addr : "");
	if (def_find("admin-https", &i))
		s->state[i] = https_addr && *https_addr ? SVC_RUNNING :
			      SVC_STOPPED;
	pthread_mutex_unlock(&s->mu);
	if (s->d)
		firewall_set_listen_https(s->d->firewall, https_addr);
}

void services_committed(struct services *s, const json_t *changed)
{
	size_t i, j, k;
	const json_t *it;

	if (!s || !json_is_array(changed))
		return;
	pthread_mutex_lock(&s->mu);
	for (i = 0; i < N_DEFS; i++) {
		if (defs[i].reloads)
			continue;   /* took the new snapshot in place */
		for (j = 0; defs[i].sections[j]; j++) {
			json_array_foreach(changed, k, it) {
				if (json_is_string(it) &&
				    !strcmp(json_string_value(it),
					    defs[i].sections[j]))
					s->restart_required[i] = true;
			}
		}
	}
	pthread_mutex_unlock(&s->mu);
}

void services_applied(struct services *s, const char *name)
{
	size_t i;

	if (!s || !def_find(name, &i))
		return;
	pthread_mutex_lock(&s->mu);
	s->restart_required[i] = false;
	s->state[i] = SVC_RUNNING;
	pthread_mutex_unlock(&s->mu);
}

json_t *services_list(struct services *s)
{
	json_t *a = json_array(), *run = NULL, *stg = NULL;
	size_t i, j;

	if (!s || !a)
		return a;
	if (s->d && s->d->store) {
		store_section_get(s->d->store, "services", STORE_RUNNING, &run);
		store_section_get(s->d->store, "services", STORE_STAGED, &stg);
	}
	pthread_mutex_lock(&s->mu);
	for (i = 0; i < N_DEFS; i++) {
		json_t *secs = json_array(), *o;
		bool boot = boot_of(run, i), staged = boot_of(stg, i);

		for (j = 0; defs[i].sections[j]; j++)
			json_array_append_new(secs,
					      json_string(defs[i].sections[j]));
		o = json_pack("{s:s, s:s, s:b, s:s, s:b, s:o, s:b, s:b}",
			      "name", defs[i].name, "description",
			      defs[i].description, "boot", boot, "state",
			      state_names[s->state[i]], "restart_required",
			      s->restart_required[i], "sections", secs,
			      "mandatory", defs[i].mandatory, "reloads",
			      defs[i].reloads);
		if (o && staged != boot)
			json_object_set_new(o, "boot_staged",
					    json_boolean(staged));
		json_array_append_new(a, o);
	}
	pthread_mutex_unlock(&s->mu);
	json_decref(run);
	json_decref(stg);
	return a;
}

/* ---- actions (dispatch table) ---- */

static const char *verb_done(const char *action)
{
	return !strcmp(action, "stop") ? "stopped" :
	       !strcmp(action, "start") ? "started" : "restarted";
}

static int do_fixed(struct services *s, const struct svc_def *def,
		    const char *action, struct report *r)
{
	if (def->mandatory && strcmp(action, "start")) {
		report_add(r, "", def->name, "services.mandatory",
			   "%s cannot be %s: %s", def->name,
			   verb_done(action), def->fixed_why);
		return EPERM;
	}
	report_add(r, "", def->name, "services.fixed",
		   "%s cannot be %s at run time: %s", def->name,
		   verb_done(action),
		   def->fixed_why ? def->fixed_why : "not supported");
	return ENOTSUP;
}

static int act_start(struct services *s, size_t i, struct report *r)
{
	int err;

	if (!defs[i].start)
		return do_fixed(s, &defs[i], "start", r);
	err = defs[i].start(s, &defs[i], r);
	pthread_mutex_lock(&s->mu);
	if (!err) {
		s->state[i] = SVC_RUNNING;
		s->restart_required[i] = false;
	} else if (err == ENOTSUP) {
		s->state[i] = SVC_UNAVAILABLE;
	}
	pthread_mutex_unlock(&s->mu);
	return err;
}

static int act_stop(struct services *s, size_t i, struct report *r)
{
	int err;

	if (!defs[i].stop)
		return do_fixed(s, &defs[i], "stop", r);
	err = defs[i].stop(s, &defs[i], r);
	if (!err) {
		pthread_mutex_lock(&s->mu);
		s->state[i] = SVC_STOPPED;
		pthread_mutex_unlock(&s->mu);
	}
	return err;
}

static int act_restart(struct services *s, size_t i, struct report *r)
{
	int err;

	if (!defs[i].start)
		return do_fixed(s, &defs[i], "restart", r);
	if (defs[i].restart) {
		err = defs[i].restart(s, &defs[i], r);
		if (!err) {
			pthread_mutex_lock(&s->mu);
			s->state[i] = SVC_RUNNING;
			s->restart_required[i] = false;
			pthread_mutex_unlock(&s->mu);
		}
		return err;
	}
	err = act_stop(s, i, r);
	if (err && err != ENOTSUP)
		return err;
	report_reset(r);
	return act_start(s, i, r);
}

static int set_boot(struct services *s, size_t i, bool on, struct report *r)
{
	char key[64];

	if (defs[i].mandatory && !on) {
		report_add(r, "", defs[i].name, "services.mandatory",
			   "%s cannot be disabled: %s", defs[i].name,
			   defs[i].fixed_why);
		return EPERM;
	}
	if (!s->d || !s->d->store)
		return ENODEV;
	snprintf(key, sizeof(key), "%s.boot", defs[i].name);
	return store_section_set(s->d->store, "services", key,
				 on ? "true" : "false", r);
}

static int act_enable(struct services *s, size_t i, struct report *r)
{
	return set_boot(s, i, true, r);
}

static int act_disable(struct services *s, size_t i, struct report *r)
{
	return set_boot(s, i, false, r);
}

static const struct {
	const char *action;
	int (*run)(struct services *s, size_t i, struct report *r);
} actions[] = {
	{ "start", act_start },
	{ "stop", act_stop },
	{ "restart", act_restart },
	{ "enable", act_enable },
	{ "disable", act_disable },
};

int services_action(struct services *s, const char *name, const char *action,
		    struct report *r)
{
	size_t i, a;

	if (!s || !action)
		return EINVAL;
	if (!def_find(name, &i)) {
		report_add(r, "", "name", "services.unknown_service",
			   "no service '%.40s' (see 'bulwark services')",
			   name ? name : "");
		return ENOENT;
	}
	for (a = 0; a < sizeof(actions) / sizeof(actions[0]); a++)
		if (!strcmp(actions[a].action, action))
			return actions[a].run(s, i, r);
	report_add(r, "", "action", "services.unknown_action",
		   "'%.40s' is not an action: start, stop, restart, enable or "
		   "disable", action);
	return EINVAL;
}

void services_close(struct services *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->mu);
	free(s->state);
	free(s->restart_required);
	free(s);
}
