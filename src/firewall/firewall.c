/*
 * firewall — the "firewall" settings section, and apply with "commit
 * confirmed": install, then restore the previous rules of the firewall's
 * chains when the timer runs out unless confirm arrives.
 *
 * Files in the data directory:
 *   firewall.rules     the last confirmed script (installed at start)
 *   firewall.rollback  the restore script while an apply is unconfirmed
 *                      (a crash in that window is rolled back at start)
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/atomicfile.h"
#include "common/log.h"
#include "common/settings.h"
#include "firewall/firewall.h"
#include "firewall/fw.h"

struct firewall {
	struct store *st;
	char *data_dir;
	char sip_listen[80];
	char http_addr[80];
	char https_addr[80];

	pthread_mutex_t mu;
	pthread_cond_t cond;
	pthread_t timer;
	bool timer_started;
	bool closing;

	bool active;              /* our chains hold rules we installed */
	bool pending;             /* applied, not confirmed */
	struct timespec deadline; /* CLOCK_MONOTONIC */
	char *restore;            /* rollback script while pending */
	char *applied;            /* script installed, waiting for confirm */
	bool fwd_by_apply;        /* the pending apply turned IPv4
				   * forwarding on: a rollback turns it off */
};

/* ---- the settings section ---- */

/* Where the daemon listens, for the section's commit check (which has no
 * struct firewall at hand): a copy set with firewall_set_listen*. Its own
 * lock, never held while taking another, so a commit (holding the store's
 * lock) never waits on the firewall's. */
static struct {
	pthread_mutex_t mu;
	char sip[80], http[80], https[80];
} listen_now = { .mu = PTHREAD_MUTEX_INITIALIZER };

static json_t *section_defaults(void)
{
	/* the scalar keys from their table (model.c), then the rest */
	json_t *o = settings_defaults(&firewall_settings_table);
	size_t i;

	if (!o)
		return NULL;
	json_object_set_new(o, "type", json_string("none"));
	json_object_set_new(o, "lan", json_string(""));
	for (i = 0; i < firewall_catalogue_n; i++) {
		char key[64];

		snprintf(key, sizeof(key), "permit.%s",
			 firewall_catalogue[i].name);
		json_object_set_new(o, key,
			json_string(firewall_catalogue[i].recommended));
	}
	return o;
}

/* Canonical text of a permit: "off", "any" or "net,net". */
static int permit_text(const struct fw_permit *p, char *buf, size_t sz)
{
	size_t i, len = 0;

	if (!p->on) {
		snprintf(buf, sz, "off");
		return 0;
	}
	if (p->any) {
		snprintf(buf, sz, "any");
		return 0;
	}
	buf[0] = '\0';
	for (i = 0; i < p->n_src; i++) {
		char t[64];
		int n;

		firewall_cidr_text(&p->src[i], t, sizeof(t));
		n = snprintf(buf + len, sz - len, "%s%s", i ? "," : "", t);
		if (n < 0 || (size_t)n >= sz - len)
			return E2BIG;
		len += (size_t)n;
	}
	return 0;
}

/* At staging: every LAN name must be an interface of this system now
 * (the commit checks again; an interface may vanish in between). When
 * discovery itself fails, the commit decides. */
static int lan_exist(const struct fw_conf *c, struct report *r)
{
	struct fw_iface *ifs;
	size_t n = 0;
	int rc = 0;

	if (!c->n_lan)
		return 0;
	ifs = calloc(FW_MAX_IFACES, sizeof(*ifs));
	if (!ifs)
		return ENOMEM;
	if (firewall_ifaces_hook(ifs, FW_MAX_IFACES, &n))
		goto out;
	for (size_t i = 0; i < c->n_lan; i++) {
		size_t j;

		for (j = 0; j < n && strcmp(ifs[j].name, c->lan[i]); j++)
			;
		if (j < n)
			continue;
		report_add(r, "", "firewall.lan", "firewall.unknown_interface",
			   "firewall.lan: no interface '%s' on this system",
			   c->lan[i]);
		rc = EINVAL;
	}
out:
	free(ifs);
	return rc;
}

static int section_set(json_t *obj, const char *key, const char *value,
		       struct report *r)
{
	char field[96];
	size_t i;

	snprintf(field, sizeof(field), "firewall.%s", key ? key : "");
	if (!key || !value) {
		report_add(r, "", field, "firewall.missing",
			   "%s: a value is required", field);
		return EINVAL;
	}
	if (!strcmp(key, "type")) {
		enum fw_type t;

		if (firewall_type_parse(value, &t)) {
			report_add(r, "", field, "firewall.bad_type",
				   "firewall.type: '%.40s' is not a server "
				   "type (none, single or gateway)", value);
			return EINVAL;
		}
		json_object_set_new(obj, key, json_string(value));
		return 0;
	}
	if (!strcmp(key, "lan")) {
		json_t *tmp = json_object();
		struct fw_conf c;
		char out[FW_MAX_IFACES * FW_IFNAMSIZ + FW_MAX_IFACES] = "";
		size_t len = 0;
		int rc;

		if (!tmp)
			return ENOMEM;
		json_object_set_new(tmp, "lan", json_string(value));
		rc = firewall_conf_parse(tmp, &c, r);
		json_decref(tmp);
		if (rc)
			return rc;
		rc = lan_exist(&c, r);
		if (rc) {
			firewall_conf_free(&c);
			return rc;
		}
		for (i = 0; i < c.n_lan; i++) {
			int n = snprintf(out + len, sizeof(out) - len, "%s%s",
					 i ? "," : "", c.lan[i]);

			if (n > 0 && (size_t)n < sizeof(out) - len)
				len += (size_t)n;
		}
		firewall_conf_free(&c);
		json_object_set_new(obj, key, json_string(out));
		return 0;
	}
	if (settings_find(&firewall_settings_table, key))
		return settings_set(&firewall_settings_table, obj, key, value,
				    r);
	if (!strncmp(key, "permit.", 7)) {
		struct fw_permit p;
		char text[FW_MAX_SRC * 48];

		if (firewall_service_find(key + 7) < 0) {
			report_add(r, "", field, "firewall.unknown_service",
				   "%.80s: no inbound service '%.40s' (see "
				   "'bulwark firewall services')", field,
				   key + 7);
			return ENOENT;
		}
		if (firewall_permit_parse(value, &p, field, r))
			return EINVAL;
		if (permit_text(&p, text, sizeof(text)))
			return E2BIG;
		json_object_set_new(obj, key, json_string(text));
		return 0;
	}
	report_add(r, "", field, "firewall.unknown_key",
		   "%.80s: no such firewall setting", field);
	return ENOENT;
}

/* At commit (and dry run): the firewall's own keys, the interfaces of
 * this system, and every port as apply would resolve it — the SIP
 * services' from the staged "sip" section and the daemon's --sip,
 * --http and --https — so that a port conflict is refused here, not
 * first at apply. */
static int section_validate(const json_t *obj, const json_t *all,
			    struct report *r)
{
	struct fw_conf c;
	struct fw_iface *ifs = NULL;
	struct fw_ports p;
	size_t n = 0;
	int rc;

	rc = firewall_conf_parse(obj, &c, r);
	if (rc)
		return rc;
	if (c.type == FW_TYPE_NONE && c.n_lan == 0)
		goto out;
	ifs = calloc(FW_MAX_IFACES, sizeof(*ifs));
	if (!ifs) {
		rc = ENOMEM;
		goto out;
	}
	rc = firewall_ifaces_hook(ifs, FW_MAX_IFACES, &n);
	if (rc)
		goto out;
	pthread_mutex_lock(&listen_now.mu);
	firewall_ports_resolve(json_object_get(all, "sip"), obj,
			       listen_now.sip, listen_now.http, &p);
	firewall_ports_https(&p, listen_now.https);
	pthread_mutex_unlock(&listen_now.mu);
	firewall_assign_roles(&c, ifs, n);
	rc = firewall_check(&c, ifs, n, &p, r);
out:
	free(ifs);
	firewall_conf_free(&c);
	return rc;
}

const struct store_section firewall_section = {
	.name = "firewall",
	.defaults = section_defaults,
	.set = section_set,
	.validate_all = section_validate,
	.table = &firewall_settings_table,
};

/* ---- files ---- */

static int path_of(const struct firewall *f, const char *name, char *buf,
		   size_t sz)
{
	int n = snprintf(buf, sz, "%s/%s", f->data_dir, name);

	return n < 0 || (size_t)n >= sz ? ENAMETOOLONG : 0;
}

/* The rules files: whole or not at all (a crash while writing must
 * not leave a truncated script to install at the next start). */
static int file_write(const struct firewall *f, const char *name,
		      const char *text)
{
	char path[4096];

	if (path_of(f, name, path, sizeof(path)))
		return ENAMETOOLONG;
	return atomicfile_write(path, text, strlen(text), 0600);
}

static int file_read(const struct firewall *f, const char *name,
		     char **text)
{
	char path[4096], *buf;
	struct stat sb;
	ssize_t got;
	int fd, rc = 0;

	if (path_of(f, name, path, sizeof(path)))
		return ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	if (fstat(fd, &sb) || sb.st_size < 0 ||
	    (size_t)sb.st_size > FW_RULESET_MAX) {
		close(fd);
		return EFBIG;
	}
	buf = malloc((size_t)sb.st_size + 1);
	if (!buf) {
		close(fd);
		return ENOMEM;
	}
	got = read(fd, buf, (size_t)sb.st_size);
	if (got != sb.st_size)
		rc = EIO;
	close(fd);
	if (rc) {
		free(buf);
		return rc;
	}
	buf[got] = '\0';
	*text = buf;
	return 0;
}

static void file_remove(const struct firewall *f, const char *name)
{
	char path[4096];

	if (!path_of(f, name, path, sizeof(path)))
		unlink(path);
}

static bool file_exists(const struct firewall *f, const char *name)
{
	char path[4096];

	return !path_of(f, name, path, sizeof(path)) && !access(path, F_OK);
}

/* ---- life cycle ---- */

int firewall_alloc(struct firewall **fp, struct store *st,
		   const char *data_dir)
{
	struct firewall *f;
	pthread_condattr_t ca;

	if (!fp || !data_dir)
		return EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return ENOMEM;
	f->data_dir = strdup(data_dir);
	if (!f->data_dir) {
		free(f);
		return ENOMEM;
	}
	f->st = st;
	pthread_mutex_init(&f->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&f->cond, &ca);
	pthread_condattr_destroy(&ca);
	*fp = f;
	return 0;
}

void firewall_set_listen(struct firewall *f, const char *sip_listen,
			 const char *http_addr)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->mu);
	snprintf(f->sip_listen, sizeof(f->sip_listen), "%s",
		 sip_listen ? sip_listen : "");
	snprintf(f->http_addr, sizeof(f->http_addr), "%s",
		 http_addr ? http_addr : "");
	pthread_mutex_unlock(&f->mu);
	pthread_mutex_lock(&listen_now.mu);
	snprintf(listen_now.sip, sizeof(listen_now.sip), "%s",
		 sip_listen ? sip_listen : "");
	snprintf(listen_now.http, sizeof(listen_now.http), "%s",
		 http_addr ? http_addr : "");
	pthread_mutex_unlock(&listen_now.mu);
}

void firewall_set_listen_https(struct firewall *f, const char *https_addr)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->mu);
	snprintf(f->https_addr, sizeof(f->https_addr), "%s",
		 https_addr ? https_addr : "");
	pthread_mutex_unlock(&f->mu);
	pthread_mutex_lock(&listen_now.mu);
	snprintf(listen_now.https, sizeof(listen_now.https), "%s",
		 https_addr ? https_addr : "");
	pthread_mutex_unlock(&listen_now.mu);
}

void firewall_https_of(struct firewall *f, char *buf, size_t sz)
{
	pthread_mutex_lock(&f->mu);
	snprintf(buf, sz, "%s", f->https_addr);
	pthread_mutex_unlock(&f->mu);
}

struct store *firewall_store_of(struct firewall *f)
{
	return f ? f->st : NULL;
}

void firewall_listen_of(struct firewall *f, char *sip, size_t sipsz,
			char *http, size_t httpsz)
{
	pthread_mutex_lock(&f->mu);
	snprintf(sip, sipsz, "%s", f->sip_listen);
	snprintf(http, httpsz, "%s", f->http_addr);
	pthread_mutex_unlock(&f->mu);
}

/* Restore the previous rules (caller holds mu, pending is true). */
/* Write '1' or '0' to net.ipv4.ip_forward (this network namespace). Fails
 * without the rights or under systemd's ProtectKernelTunables. */
static int ip_forward_set(char c)
{
	int fd = open("/proc/sys/net/ipv4/ip_forward", O_WRONLY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return errno;
	if (write(fd, &c, 1) != 1)
		rc = errno ? errno : EIO;
	close(fd);
	return rc;
}

static bool ip_forward_off(void)
{
	char c = '1';
	int fd = open("/proc/sys/net/ipv4/ip_forward", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	if (read(fd, &c, 1) != 1)
		c = '1';
	close(fd);
	return c == '0';
}

static int do_rollback(struct firewall *f, struct report *r)
{
	char err[256];
	int rc;

	rc = firewall_nft_run(f->restore, err, sizeof(err));
	if (!rc && f->fwd_by_apply) {
		f->fwd_by_apply = false;
		if (ip_forward_set('0'))
			log_warn("firewall", "rollback: could not turn IPv4 "
				 "forwarding off again");
	}
	if (rc) {
		log_err("firewall", "rollback failed: %s", err);
		report_add(r, "", "firewall", "firewall.nft",
			   "rollback failed: %s", err);
		return rc;
	}
	log_warn("firewall", "apply not confirmed in time: previous rules "
		 "restored");
	f->pending = false;
	free(f->restore);
	free(f->applied);
	f->restore = f->applied = NULL;
	file_remove(f, "firewall.rollback");
	f->active = file_exists(f, "firewall.rules");
	return 0;
}

static void *timer_main(void *arg)
{
	struct firewall *f = arg;

	pthread_mutex_lock(&f->mu);
	while (!f->closing) {
		struct timespec now;

		if (!f->pending) {
			pthread_cond_wait(&f->cond, &f->mu);
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > f->deadline.tv_sec ||
		    (now.tv_sec == f->deadline.tv_sec &&
		     now.tv_nsec >= f->deadline.tv_nsec)) {
			if (do_rollback(f, NULL)) {
				/* try again in a second rather than spin */
				f->deadline = now;
				f->deadline.tv_sec += 1;
			}
			continue;
		}
		pthread_cond_timedwait(&f->cond, &f->mu, &f->deadline);
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

void firewall_close(struct firewall *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->mu);
	/* Nobody can confirm any more: an unconfirmed apply goes back now
	 * (the rules otherwise stay in the kernel: never flushed). */
	if (f->pending)
		do_rollback(f, NULL);
	f->closing = true;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->mu);
	if (f->timer_started)
		pthread_join(f->timer, NULL);
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->mu);
	free(f->restore);
	free(f->applied);
	free(f->data_dir);
	free(f);
}

/* ---- model from the store ---- */

struct model {
	struct fw_conf conf;
	struct fw_iface ifs[FW_MAX_IFACES];
	size_t n_if;
	struct fw_ports ports;
	json_t *sec;
};

static void model_free(struct model *m)
{
	if (!m)
		return;
	firewall_conf_free(&m->conf);
	json_decref(m->sec);
	free(m);
}

/* Load, discover, resolve, check (caller holds mu). */
static int model_load(struct firewall *f, bool staged, struct model **mp,
		      struct report *r)
{
	enum store_view v = staged ? STORE_STAGED : STORE_RUNNING;
	struct model *m = calloc(1, sizeof(*m));
	json_t *sip = NULL;
	int rc;

	if (!m)
		return ENOMEM;
	if (!f->st) {
		rc = ENOENT;
		goto out;
	}
	rc = store_section_get(f->st, "firewall", v, &m->sec);
	if (rc) {
		report_add(r, "", "firewall", "firewall.store",
			   "cannot read the firewall section");
		goto out;
	}
	if (store_section_get(f->st, "sip", v, &sip))
		sip = NULL;
	rc = firewall_conf_parse(m->sec, &m->conf, r);
	if (rc)
		goto out;
	rc = firewall_ifaces_discover(m->ifs, FW_MAX_IFACES, &m->n_if);
	if (rc) {
		report_add(r, "", "firewall", "firewall.interfaces",
			   "cannot list the network interfaces: %s",
			   strerror(rc));
		goto out;
	}
	firewall_assign_roles(&m->conf, m->ifs, m->n_if);
	firewall_ports_resolve(sip, m->sec, f->sip_listen, f->http_addr,
			       &m->ports);
	firewall_ports_https(&m->ports, f->https_addr);
	rc = firewall_check(&m->conf, m->ifs, m->n_if, &m->ports, r);
out:
	json_decref(sip);
	if (rc) {
		model_free(m);
		return rc;
	}
	*mp = m;
	return 0;
}

int firewall_preview(struct firewall *f, bool staged, char **text,
		     struct report *r)
{
	struct model *m = NULL;
	int rc;

	if (!f || !text)
		return EINVAL;
	pthread_mutex_lock(&f->mu);
	rc = model_load(f, staged, &m, r);
	if (!rc)
		rc = firewall_render(&m->conf, m->ifs, m->n_if, &m->ports,
				     text);
	pthread_mutex_unlock(&f->mu);
	model_free(m);
	return rc;
}

int firewall_apply(struct firewall *f, unsigned rollback_s,
		   struct report *r, json_t **result)
{
	struct model *m = NULL;
	char *text = NULL, *restore = NULL, err[256];
	json_t *res = NULL, *warn;
	bool took = false;
	int rc;

	if (!f)
		return EINVAL;
	pthread_mutex_lock(&f->mu);
	rc = model_load(f, false, &m, r);
	if (rc)
		goto out;
	if (rollback_s == 0)
		rollback_s = m->conf.rollback_s;
	if (rollback_s > FW_ROLLBACK_MAX) {
		report_add(r, "", "rollback", "firewall.bad_rollback",
			   "rollback: must be 1..%u seconds",
			   FW_ROLLBACK_MAX);
		rc = EINVAL;
		goto out;
	}
	rc = firewall_render(&m->conf, m->ifs, m->n_if, &m->ports, &text);
	if (rc)
		goto out;
	if (!firewall_has_net_admin()) {
		report_add(r, "", "firewall", "firewall.no_cap_net_admin",
			   "the firewall needs CAP_NET_ADMIN: run bulwarkd "
			   "as root or with the systemd unit "
			   "(AmbientCapabilities=CAP_NET_ADMIN); nothing "
			   "applied");
		rc = EPERM;
		goto out;
	}
	/* While an apply is pending, a second apply keeps the original
	 * restore point: the rollback returns to the last good state. */
	if (!f->pending) {
		rc = firewall_nft_snapshot(&restore);
		if (rc) {
			report_add(r, "", "firewall", "firewall.nft",
				   "cannot read the current rules: %s",
				   strerror(rc));
			goto out;
		}
		rc = file_write(f, "firewall.rollback", restore);
		if (rc) {
			report_add(r, "", "firewall", "firewall.io",
				   "cannot save the rollback point: %s",
				   strerror(rc));
			goto out;
		}
		took = true;
	}
	rc = firewall_nft_run(text, err, sizeof(err));
	if (rc) {
		report_add(r, "", "firewall", rc == EPERM ?
			   "firewall.no_cap_net_admin" : "firewall.nft",
			   "nothing applied: %s", err);
		if (took)
			file_remove(f, "firewall.rollback");
		goto out;
	}
	if (took) {
		f->restore = restore;
		restore = NULL;
	}
	free(f->applied);
	f->applied = text;
	text = NULL;
	/* "Gateway/Firewall will enable outgoing NAT": masquerade is useless
	 * while the kernel does not forward, so a gateway turns it on (and
	 * a rollback of this apply turns it off again). */
	if (m->conf.type == FW_TYPE_GATEWAY && ip_forward_off()) {
		int ferr = ip_forward_set('1');

		if (!ferr) {
			f->fwd_by_apply = true;
			log_info("firewall", "gateway: IPv4 forwarding enabled");
		} else {
			log_warn("firewall", "gateway: cannot enable IPv4 "
				 "forwarding: %s", strerror(ferr));
		}
	}
	f->pending = true;
	f->active = true;
	clock_gettime(CLOCK_MONOTONIC, &f->deadline);
	f->deadline.tv_sec += rollback_s;
	if (!f->timer_started) {
		if (pthread_create(&f->timer, NULL, timer_main, f) == 0)
			f->timer_started = true;
	}
	pthread_cond_broadcast(&f->cond);
	log_info("firewall", "applied server type %s; rollback in %u s "
		 "unless confirmed", firewall_type_name(m->conf.type),
		 rollback_s);
	if (result) {
		res = json_pack("{s:b, s:s, s:i, s:s}", "applied", 1, "type",
				firewall_type_name(m->conf.type),
				"rollback_in", (json_int_t)rollback_s,
				"confirm", "run 'bulwark firewall confirm' "
				"before the rollback, or the previous rules "
				"come back");
		warn = json_array();
		if (m->conf.type == FW_TYPE_GATEWAY && ip_forward_off())
			json_array_append_new(warn, json_string(
				"net.ipv4.ip_forward is 0 and bulwarkd could "
				"not enable it (no rights, or systemd's "
				"ProtectKernelTunables): LAN hosts cannot "
				"reach the WAN until it is enabled, e.g. "
				"net.ipv4.ip_forward=1 in /etc/sysctl.d/"));
		if (res)
			json_object_set_new(res, "warnings", warn);
		else
			json_decref(warn);
		*result = res;
	}
	if (!f->timer_started) {
		/* no timer: do not leave an unconfirmable apply behind */
		do_rollback(f, NULL);
		rc = EAGAIN;
	}
out:
	pthread_mutex_unlock(&f->mu);
	free(text);
	free(restore);
	model_free(m);
	return rc;
}

int firewall_confirm(struct firewall *f)
{
	int rc = 0;

	if (!f)
		return EINVAL;
	pthread_mutex_lock(&f->mu);
	if (!f->pending) {
		rc = ENOENT;
		goto out;
	}
	rc = file_write(f, "firewall.rules", f->applied);
	if (rc)
		goto out;
	file_remove(f, "firewall.rollback");
	f->pending = false;
	f->fwd_by_apply = false;   /* confirmed: forwarding stays on */
	free(f->restore);
	free(f->applied);
	f->restore = f->applied = NULL;
	pthread_cond_broadcast(&f->cond);
	log_info("firewall", "apply confirmed");
out:
	pthread_mutex_unlock(&f->mu);
	return rc;
}

int firewall_rollback(struct firewall *f, struct report *r)
{
	int rc;

	if (!f)
		return EINVAL;
	pthread_mutex_lock(&f->mu);
	rc = f->pending ? do_rollback(f, r) : ENOENT;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->mu);
	return rc;
}

int firewall_start(struct firewall *f, struct report *r)
{
	char *text = NULL, err[256];
	const char *name;
	int rc = 0;

	if (!f)
		return EINVAL;
	pthread_mutex_lock(&f->mu);
	if (f->pending) {
		rc = EBUSY;
		report_add(r, "", "firewall", "firewall.pending",
			   "an apply waits for confirmation: confirm or "
			   "roll back first");
		goto out;
	}
	/* the confirmed rules; else finish an interrupted rollback */
	name = file_exists(f, "firewall.rules") ? "firewall.rules" :
	       file_exists(f, "firewall.rollback") ? "firewall.rollback" :
	       NULL;
	if (!name) {
		f->active = false;
		goto out;
	}
	rc = file_read(f, name, &text);
	if (!rc)
		rc = firewall_nft_run(text, err, sizeof(err));
	else
		snprintf(err, sizeof(err), "cannot read %s: %s", name,
			 strerror(rc));
	if (rc) {
		report_add(r, "", "firewall", rc == EPERM ?
			   "firewall.no_cap_net_admin" : "firewall.nft",
			   "%s", err);
		goto out;
	}
	file_remove(f, "firewall.rollback");
	f->active = !strcmp(name, "firewall.rules");
out:
	pthread_mutex_unlock(&f->mu);
	free(text);
	return rc;
}

int firewall_stop(struct firewall *f, struct report *r)
{
	struct fw_conf c;
	char *text = NULL, err[256];
	int rc;

	if (!f)
		return EINVAL;
	struct report rep;

	report_init(&rep);
	rc = firewall_conf_parse(NULL, &c, &rep);
	report_reset(&rep);
	if (rc)
		return rc;
	c.type = FW_TYPE_NONE;
	rc = firewall_render(&c, NULL, 0, NULL, &text);
	firewall_conf_free(&c);
	if (rc)
		return rc;
	pthread_mutex_lock(&f->mu);
	if (f->pending) {
		rc = EBUSY;
		report_add(r, "", "firewall", "firewall.pending",
			   "an apply waits for confirmation: confirm or "
			   "roll back first");
		goto out;
	}
	rc = firewall_nft_run(text, err, sizeof(err));
	if (rc) {
		report_add(r, "", "firewall", rc == EPERM ?
			   "firewall.no_cap_net_admin" : "firewall.nft",
			   "%s", err);
		goto out;
	}
	f->active = false;
out:
	pthread_mutex_unlock(&f->mu);
	free(text);
	return rc;
}

bool firewall_active(struct firewall *f)
{
	bool a;

	if (!f)
		return false;
	pthread_mutex_lock(&f->mu);
	a = f->active;
	pthread_mutex_unlock(&f->mu);
	return a;
}

/* ---- views ---- */

static json_t *ifaces_json(const struct fw_iface *ifs, size_t n)
{
	json_t *a = json_array();
	size_t i, j;

	for (i = 0; a && i < n; i++) {
		json_t *addrs = json_array();

		for (j = 0; j < ifs[i].n_net; j++)
			json_array_append_new(addrs,
					      json_string(ifs[i].addr[j]));
		json_array_append_new(a, json_pack("{s:s, s:s, s:o}",
			"name", ifs[i].name, "role", ifs[i].lan ? "lan" :
			"wan", "addresses", addrs));
	}
	return a;
}

static json_t *permit_json(const json_t *sec)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; o && i < firewall_catalogue_n; i++) {
		char key[64];
		const json_t *v;

		snprintf(key, sizeof(key), "permit.%s",
			 firewall_catalogue[i].name);
		v = json_object_get(sec, key);
		json_object_set_new(o, firewall_catalogue[i].name,
			json_string(json_is_string(v) ? json_string_value(v) :
				    firewall_catalogue[i].recommended));
	}
	return o;
}

int firewall_status(struct firewall *f, json_t **out)
{
	json_t *run = NULL, *stg = NULL, *o;
	struct report rep;
	struct fw_conf c;
	struct fw_iface *ifs;
	size_t n = 0;
	long left = 0;

	if (!f || !out)
		return EINVAL;
	ifs = calloc(FW_MAX_IFACES, sizeof(*ifs));
	if (!ifs)
		return ENOMEM;
	if (f->st) {
		store_section_get(f->st, "firewall", STORE_RUNNING, &run);
		store_section_get(f->st, "firewall", STORE_STAGED, &stg);
	}
	report_init(&rep);
	if (firewall_conf_parse(run, &c, &rep))
		firewall_conf_parse(NULL, &c, &rep);
	report_reset(&rep);
	firewall_ifaces_discover(ifs, FW_MAX_IFACES, &n);
	firewall_assign_roles(&c, ifs, n);
	pthread_mutex_lock(&f->mu);
	if (f->pending) {
		struct timespec now;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left = (long)(f->deadline.tv_sec - now.tv_sec);
		if (left < 0)
			left = 0;
	}
	o = json_pack("{s:s, s:s, s:b, s:b, s:i, s:b, s:o, s:o, s:i}",
		"type", firewall_type_name(c.type),
		"staged_type", json_is_string(json_object_get(stg, "type")) ?
			json_string_value(json_object_get(stg, "type")) :
			"none",
		"active", f->active, "pending", f->pending,
		"rollback_in", (json_int_t)left,
		"confirmed", file_exists(f, "firewall.rules"),
		"interfaces", ifaces_json(ifs, n),
		"permit", permit_json(run),
		"rollback_seconds", (json_int_t)c.rollback_s);
	pthread_mutex_unlock(&f->mu);
	firewall_conf_free(&c);
	json_decref(run);
	json_decref(stg);
	free(ifs);
	if (!o)
		return ENOMEM;
	*out = o;
	return 0;
}

int firewall_catalogue_json(struct firewall *f, bool staged, json_t **out)
{
	json_t *sec = NULL, *sip = NULL, *a;
	struct fw_ports p;
	size_t i;
	char sl[80] = "", ha[80] = "", hs[80] = "";

	if (!f || !out)
		return EINVAL;
	if (f->st) {
		enum store_view v = staged ? STORE_STAGED : STORE_RUNNING;

		store_section_get(f->st, "firewall", v, &sec);
		store_section_get(f->st, "sip", v, &sip);
	}
	pthread_mutex_lock(&f->mu);
	snprintf(sl, sizeof(sl), "%s", f->sip_listen);
	snprintf(ha, sizeof(ha), "%s", f->http_addr);
	snprintf(hs, sizeof(hs), "%s", f->https_addr);
	pthread_mutex_unlock(&f->mu);
	firewall_ports_resolve(sip, sec, sl, ha, &p);
	firewall_ports_https(&p, hs);
	a = json_array();
	for (i = 0; a && i < firewall_catalogue_n; i++) {
		const struct fw_service *s = &firewall_catalogue[i];
		uint16_t lo = 0, hi = 0;
		char ports[16], key[64];
		const json_t *v;

		firewall_service_ports(i, &p, &lo, &hi);
		if (lo == hi)
			snprintf(ports, sizeof(ports), "%u", lo);
		else
			snprintf(ports, sizeof(ports), "%u-%u", lo, hi);
		snprintf(key, sizeof(key), "permit.%s", s->name);
		v = json_object_get(sec, key);
		json_array_append_new(a, json_pack(
			"{s:s, s:s, s:s, s:s, s:s, s:s}", "name", s->name,
			"label", s->label, "proto",
			s->proto == FW_UDP ? "udp" : s->proto == FW_TCP ?
			"tcp" : "udp+tcp", "ports", ports, "permit",
			json_is_string(v) ? json_string_value(v) :
			s->recommended, "recommended", s->recommended));
	}
	json_decref(sec);
	json_decref(sip);
	if (!a)
		return ENOMEM;
	*out = a;
	return 0;
}

json_t *firewall_lan_networks(const json_t *section)
{
	struct fw_conf c;
	struct fw_iface *ifs;
	size_t n = 0;
	json_t *a = NULL;
	struct report rep;
	int rc;

	report_init(&rep);
	rc = firewall_conf_parse(section, &c, &rep);
	report_reset(&rep);
	if (rc)
		return json_array();
	ifs = calloc(FW_MAX_IFACES, sizeof(*ifs));
	if (ifs && c.n_lan &&
	    !firewall_ifaces_discover(ifs, FW_MAX_IFACES, &n))
		a = firewall_lan_cidrs_of(&c, ifs, n);
	else if (ifs)
		a = json_array();
	free(ifs);
	firewall_conf_free(&c);
	return a;
}
