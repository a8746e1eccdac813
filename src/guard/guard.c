/*
 * guard — life cycle, configuration from the snapshot, status, the sweep.
 * The request-path hooks are in account.c, bans and trust in ban.c,
 * security events in event.c, the slow work (nftables, SQLite through
 * store/guard_db.h, security.log) on the worker thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>
#include <re_types.h>
#include <re_list.h>
struct re_printf;   /* re_tmr.h names it; re.h would clash with jansson */
#include <re_tmr.h>

#include "common/log.h"
#include "common/sip_settings.h"
#include "firewall/firewall.h"
#include "guard/guard_int.h"
#include "store/guard_db.h"
#include "store/health.h"
#include "store/snapshot.h"

#define CREDIT_LOAD_MS (720ull * 3600000u)   /* longest credit_hours */

static uint64_t wall_clock(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t seed(void)
{
	uint64_t s = 0;

	if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != sizeof(s))
		s = wall_clock(NULL) ^ (uint64_t)(uintptr_t)&s;
	return s;
}

static int tables_alloc(struct guard *g, const struct guard_cfg *c)
{
	uint64_t sd = seed();
	int err;

	err = gtab_init(&g->src, c->max_tracked, sizeof(struct gsrc), sd);
	if (!err)
		err = gtab_init(&g->pair, c->max_tracked, sizeof(struct gpair),
				sd ^ 0x1111);
	if (!err)
		err = gtab_init(&g->ext, c->max_tracked / 4 + 16,
				sizeof(struct gext), sd ^ 0x2222);
	if (!err)
		err = gtab_init(&g->ban, c->max_bans, sizeof(struct gban),
				sd ^ 0x3333);
	if (!err)
		err = gtab_init(&g->credit, c->max_tracked,
				sizeof(struct gcred), sd ^ 0x4444);
	return err;
}

static void tables_free(struct guard *g)
{
	gtab_free(&g->src);
	gtab_free(&g->pair);
	gtab_free(&g->ext);
	gtab_free(&g->ban);
	gtab_free(&g->credit);
}

static void resize(struct gtab *t, size_t cap)
{
	gtab_resize(t, cap);
}

void guard_set_cfg(struct guard *g, const struct guard_cfg *cfg)
{
	bool nft_changed = g->cfg.scope != cfg->scope ||
			   g->cfg.offload != cfg->offload;

	g->cfg = *cfg;
	resize(&g->src, cfg->max_tracked);
	resize(&g->pair, cfg->max_tracked);
	resize(&g->ext, cfg->max_tracked / 4 + 16);
	resize(&g->ban, cfg->max_bans);
	resize(&g->credit, cfg->max_tracked);
	if (nft_changed)
		guard_nft_setup(g);
}

void guard_nft_setup(struct guard *g)
{
	char buf[2048];
	struct gjob *j;

	if (!g->worker)
		return;
	j = calloc(1, sizeof(*j));
	if (!j)
		return;
	j->kind = GJOB_NFT_SETUP;
	j->nft = g->cfg.offload;
	if (g->cfg.offload) {
		if (gnft_setup_script(buf, sizeof(buf), g->cfg.scope, g->ports,
				      g->n_ports, g->rtp_start, g->rtp_end) ||
		    !(j->text = strdup(buf))) {
			free(j);
			return;
		}
	}
	gworker_push(g->worker, j);
}

/* The ban scope: SIP ports of the "sip" section, the --sip port, RTP. */
static bool ports_from(struct guard *g, const struct sip_settings *sip)
{
	unsigned p[8], n = 0, rs, re;
	const char *colon;
	bool changed;

	p[n++] = sip->udp_port;
	p[n++] = sip->tcp_port;
	p[n++] = sip->tls_port;
	colon = strrchr(g->sip_listen, ':');
	if (colon) {
		long x = strtol(colon + 1, NULL, 10);
		if (x > 0 && x < 65536)
			p[n++] = (unsigned)x;
	}
	rs = sip->rtp_start;
	re = sip->rtp_end;
	if (re < rs)
		re = rs;
	changed = n != g->n_ports || memcmp(p, g->ports, n * sizeof(*p)) ||
		  rs != g->rtp_start || re != g->rtp_end;
	memcpy(g->ports, p, n * sizeof(*p));
	g->n_ports = n;
	g->rtp_start = rs;
	g->rtp_end = re;
	return changed;
}

/* The manual: "LAN interfaces are never policed". Networks on the
 * interfaces the firewall designates LAN join the trusted list, whatever
 * the server type (with "No Firewall" too: the roles still say which
 * networks are the company's own). */
static void trust_lan(struct guard_cfg *c, const json_t *fw)
{
	json_t *lan = fw ? firewall_lan_networks(fw) : NULL;
	size_t i;
	json_t *v;

	json_array_foreach(lan, i, v) {
		struct gaddr ga;

		if (c->n_trusted >= GUARD_TRUST_MAX)
			break;
		if (!json_is_string(v) ||
		    gaddr_parse(&ga, json_string_value(v), 128))
			continue;
		c->trusted[c->n_trusted++] = ga;
	}
	json_decref(lan);
}

void guard_apply_snapshot(struct guard *g, const struct snapshot *snap)
{
	struct guard_cfg c;
	const json_t *secs;
	bool pc;

	if (!g || !snap)
		return;
	secs = snap->sections;
	if (snapshot_typed(snap, "guard"))   /* decoded at commit */
		c = *(const struct guard_cfg *)snapshot_typed(snap, "guard");
	else
		guard_cfg_load(&c, json_object_get(secs, "guard"));
	trust_lan(&c, json_object_get(secs, "firewall"));
	pc = ports_from(g, snapshot_sip(snap));
	if (pc && g->cfg.scope == c.scope && g->cfg.offload == c.offload) {
		guard_set_cfg(g, &c);
		guard_nft_setup(g);
	} else {
		guard_set_cfg(g, &c);
	}
}

/* Credit survives a restart: sources that authenticated recently get
 * their higher threshold and allowance back at once (an office NAT with
 * one stale phone is not a stranger after a restart). They go into the
 * credit table, which only successes enter (a forged flood filling the
 * source table cannot evict them); a source entry takes its credit from
 * there when it is created. Most recent last, so that they are the most
 * recent in the LRU order too. Entries older than the longest
 * credit_hours are not loaded; the configured credit_hours still decides
 * at each request. */
static void load_credit(struct guard *g, struct guard_db *db,
			uint64_t now)
{
	size_t max = g->cfg.max_tracked, n = 0;
	struct gcredit *cr = calloc(max, sizeof(*cr));

	if (!cr)
		return;
	if (gpersist_load_credit(db, now > CREDIT_LOAD_MS ?
				 now - CREDIT_LOAD_MS : 0, cr, max, &n))
		n = 0;
	while (n--) {
		struct gkey k;
		struct gcred *c;

		if (cr[n].last_ok > now)
			continue;
		memset(&k, 0, sizeof(k));
		memcpy(k.k, cr[n].addr.a, 16);
		k.k[16] = cr[n].addr.plen;
		k.k[17] = cr[n].addr.v4;
		c = gtab_put(&g->credit, &k, NULL);
		if (!c || c->last_ok >= cr[n].last_ok)
			continue;
		c->last_ok = cr[n].last_ok;
		c->ok_saved = cr[n].last_ok;
	}
	free(cr);
}

static void load_persisted(struct guard *g, const char *db_path)
{
	struct guard_db *db = NULL;
	struct gban *bans = NULL;
	struct gtrust *tr = NULL;
	size_t n = 0, nt = 0;
	uint64_t now = guard_now(g);

	if (guard_db_open(&db, db_path))
		return;
	bans = calloc(g->cfg.max_bans, sizeof(*bans));
	tr = calloc(GUARD_TRUST_MAX, sizeof(*tr));
	if (bans && !gpersist_load_bans(db, bans, g->cfg.max_bans, &n)) {
		for (size_t i = 0; i < n; i++) {
			struct gkey k;
			struct gban *b;
			struct gjob *j;

			/* Expired bans are kept for escalation history. */
			memset(&k, 0, sizeof(k));
			memcpy(k.k, bans[i].addr.a, 16);
			k.k[16] = bans[i].addr.plen;
			k.k[17] = bans[i].addr.v4;
			b = gtab_put(&g->ban, &k, NULL);
			*b = bans[i];
			if (b->until <= now || !g->worker)
				continue;
			j = calloc(1, sizeof(*j));
			if (!j)
				continue;
			j->kind = GJOB_BAN;
			j->ban = *b;
			j->nft = g->cfg.offload &&
				 !gaddr_loopback(&b->addr);
			gworker_push(g->worker, j);
		}
	}
	if (tr && !gpersist_load_trust(db, tr, GUARD_TRUST_MAX, &nt)) {
		for (size_t i = 0; i < nt; i++)
			if (!tr[i].until || tr[i].until > now)
				g->trust[g->n_trust++] = tr[i];
	}
	load_credit(g, db, now);
	free(bans);
	free(tr);
	guard_db_close(db);
}

int guard_alloc_clock(struct guard **gp, const struct guard_conf *conf,
		      guard_clock_h *clock, void *arg,
		      const struct guard_cfg *cfg)
{
	struct guard *g;
	int err;

	if (!gp)
		return EINVAL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return ENOMEM;
	g->clock = clock ? clock : wall_clock;
	g->clock_arg = arg;
	g->epoch = guard_now(g);
	g->ev_tok_ms = g->epoch;
	g->ev_tokens = 100000;
	g->ev2_tok_ms = g->epoch;
	guard_events_init(g);
	g->sup_since = g->epoch;
	if (cfg)
		g->cfg = *cfg;
	else
		guard_cfg_default(&g->cfg);
	err = tables_alloc(g, &g->cfg);
	if (err)
		goto out;
	if (conf && conf->sip_listen)
		snprintf(g->sip_listen, sizeof(g->sip_listen), "%s",
			 conf->sip_listen);
	ports_from(g, sip_settings_default());
	if (conf && (conf->data_dir || conf->db_path)) {
		err = gworker_start(&g->worker, conf->data_dir, conf->db_path,
				    g->cfg.offload);
		if (err)
			goto out;
		guard_nft_setup(g);
	}
	if (conf && conf->db_path)
		load_persisted(g, conf->db_path);
	*gp = g;
	g = NULL;
 out:
	if (g) {
		gworker_stop(g->worker);
		tables_free(g);
		free(g);
	}
	return err;
}

static void sweep_fire(void *arg)
{
	struct guard *g = arg;

	guard_sweep(g);
	tmr_start(g->sweep_tmr, GUARD_SWEEP_MS, sweep_fire, g);
}

int guard_alloc(struct guard **gp, const struct guard_conf *conf)
{
	struct guard *g = NULL;
	int err;

	err = guard_alloc_clock(&g, conf, NULL, NULL, NULL);
	if (err)
		return err;
	/* The daemon's loop runs the sweep; without a configuration (the
	 * benchmark) there is no loop and nothing to persist. */
	if (conf) {
		g->sweep_tmr = calloc(1, sizeof(*g->sweep_tmr));
		if (!g->sweep_tmr) {
			guard_close(g);
			return ENOMEM;
		}
		tmr_init(g->sweep_tmr);
		tmr_start(g->sweep_tmr, GUARD_SWEEP_MS, sweep_fire, g);
	}
	*gp = g;
	return 0;
}

unsigned guard_tarpit_ms(const struct guard *g)
{
	return g ? g->cfg.tarpit_ms : 0;
}

/* Storage state changes (store/health.h), each reported once: a full
 * disk is a system event the admin must see even though the data plane
 * keeps serving from memory. Polled here (the loop, every second) because
 * the writers that notice it run on other threads. The event itself is
 * kept by the worker until the disk takes it. */
static void storage_events(struct guard *g)
{
	uint64_t deg, rec;
	char why[256];

	store_health_transitions(&deg, &rec, why, sizeof(why));
	while (g->storage_deg < deg || g->storage_rec < rec) {
		bool down = g->storage_deg <= g->storage_rec;

		if (down) {
			g->storage_deg++;
			log_warn("storage", "writes to the data directory fail"
				 " (%s): serving from memory, retrying", why);
		} else {
			g->storage_rec++;
			log_info("storage", "writes to the data directory "
				 "succeed again; pending changes written");
		}
		guard_event_always(g, down ? "storage_degraded" :
				   "storage_recovered",
				   json_pack("{s:s,s:s}", "state", down ?
					     "degraded" : "ok",
					     "last_error", why));
	}
}

void guard_sweep(struct guard *g)
{
	uint64_t now;
	size_t n = 0;
	struct gban *b;

	if (!g)
		return;
	now = guard_now(g);
	/* Bans are bounded (max_bans); a chunk per sweep keeps each call
	 * short however large the table is. */
	if (g->ban.n) {
		if (g->sweep_at >= g->ban.cap)
			g->sweep_at = 0;
		while (n < GUARD_SWEEP_CHUNK &&
		       (b = gtab_iter(&g->ban, &g->sweep_at)) != NULL) {
			n++;
			if (!b->ended && b->until <= now)
				guard_ban_expired(g, b);
		}
		if (n < GUARD_SWEEP_CHUNK)
			g->sweep_at = 0;   /* reached the end: wrap */
	}
	guard_rl_flush(g, now, false);
	guard_events_flush(g, now, false);
	storage_events(g);
}

json_t *guard_status(struct guard *g)
{
	char off[200];
	bool active = false;
	size_t it = 0, nb = 0;
	struct gban *b;
	uint64_t now;
	json_t *out;

	if (!g)
		return json_pack("{s:s}", "state", "off");
	now = guard_now(g);
	guard_rl_flush(g, now, false);
	while ((b = gtab_iter(&g->ban, &it)) != NULL)
		if (b->until > now)
			nb++;
	if (g->worker)
		gworker_offload(g->worker, off, sizeof(off), &active);
	else
		snprintf(off, sizeof(off), "unavailable (no data directory); "
			 "dropping in user space");
	out = json_pack("{s:s,s:s,s:b,s:I,s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I,"
			 "s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I},"
			 "s:{s:I,s:I,s:I,s:I,s:I,s:I}}",
		"state", "running",
		"kernel_offload", off,
		"offload_active", active,
		"bans", (json_int_t)nb,
		"counters",
		"packets", (json_int_t)g->st.packets,
		"dropped_banned", (json_int_t)g->st.dropped_banned,
		"dropped_rate", (json_int_t)g->st.dropped_rate,
		"scanner", (json_int_t)g->st.scanner,
		"auth_ok", (json_int_t)g->st.auth_ok,
		"auth_fail", (json_int_t)g->st.auth_fail,
		"auth_fail_unproven", (json_int_t)g->st.unproven,
		"transport_refused", (json_int_t)g->st.transport,
		"stale", (json_int_t)g->st.stale,
		"bans", (json_int_t)g->st.bans,
		"tarpit", (json_int_t)g->st.tarpit,
		"distributed_attacks", (json_int_t)g->st.distributed,
		"events", (json_int_t)g->st.events,
		"events_suppressed", (json_int_t)g->st.events_suppressed,
		"events_dropped", (json_int_t)gworker_dropped(g->worker),
		"tables",
		"sources", (json_int_t)g->src.n,
		"pairs", (json_int_t)g->pair.n,
		"extensions", (json_int_t)g->ext.n,
		"bans", (json_int_t)g->ban.n,
		"credited", (json_int_t)g->credit.n,
		"evicted", (json_int_t)(g->src.evicted + g->pair.evicted +
					g->ext.evicted));
	/* the failures counted in auth_fail, by reason (names as in the
	 * auth_failure events); stale and transport have their own above */
	if (out)
		json_object_set_new(out, "auth_failures", json_pack(
			"{s:I,s:I,s:I,s:I}",
			"bad_password",
			(json_int_t)g->st.fail_by[GUARD_AUTH_BAD_PASSWORD],
			"unknown_user",
			(json_int_t)g->st.fail_by[GUARD_AUTH_UNKNOWN_USER],
			"user_mismatch",
			(json_int_t)g->st.fail_by[GUARD_AUTH_MISMATCH],
			"malformed",
			(json_int_t)g->st.fail_by[GUARD_AUTH_MALFORMED]));
	return out;
}

void guard_close(struct guard *g)
{
	if (!g)
		return;
	if (g->sweep_tmr) {
		tmr_cancel(g->sweep_tmr);
		free(g->sweep_tmr);
	}
	guard_rl_flush(g, guard_now(g), true);
	guard_events_flush(g, guard_now(g), true);
	gworker_stop(g->worker);
	tables_free(g);
	free(g);
}
