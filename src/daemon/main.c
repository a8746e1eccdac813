/*
 * bulwarkd — start-up, signals and shut-down.
 *
 * Start order: data directory → settings sections → store → snapshot →
 * guard → sipd (takes the snapshot) → registrar (registers its methods
 * with sipd) → firewall → services → admin API.
 * The main thread then runs the data-plane loop (re_main) until SIGTERM or
 * SIGINT; every other thread has those signals blocked, so they always
 * reach the loop, which stops; then everything closes in reverse order.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>

/* Only the libre headers needed: re.h pulls re_json.h, which clashes
 * with jansson. Theirs have no include guards: re_types.h, re_fmt.h,
 * re_mem.h come with registrar/registrar.h, included first. */
#include "registrar/registrar.h"
#include "call/call.h"
#include "store/cdr_db.h"
#include <re_main.h>
#include <re_mqueue.h>
#include <sodium.h>

#include "api/api.h"
#include "api/auth.h"
#include "api/routes.h"
#include "api/tls.h"
#include "common/instance.h"
#include "common/log.h"
#include "daemon/daemon.h"
#include "daemon/datadir.h"
#include "daemon/loop.h"
#include "daemon/services.h"
#include "firewall/firewall.h"
#include "guard/guard.h"
#include "sip/sipd.h"
#include "store/publish.h"
#include "store/snapshot.h"
#include "voicemail/mwi.h"
#include "store/store.h"
#include "store/vmstore.h"
#include "voicemail/vmmail.h"
#include "voicemail/vmapp.h"
#include "call/campon.h"
#include "hotdesk/hotdesk.h"
#include "store/hdstore.h"
#include "media/callrec.h"
#include "trunk/trunk.h"   /* trunk (issue 15) */
#include "trunk/treg.h"
#include "call/outbound.h"   /* outbound (issue 15) */
#include "call/toll.h"

#ifndef BULWARK_SHARE_DIR
#define BULWARK_SHARE_DIR "/usr/share/bulwark"
#endif
#define DEFAULT_DATA "/var/lib/bulwark"
/* Descriptors: the soft limit is raised to the hard one at start, up to
 * MAX_FDS (libre's descriptor table costs ~40 bytes per slot); sipd keeps
 * its TCP connections safely below whatever was granted. */
#define MAX_FDS 65536
#define MIN_FDS 1024

struct daemon *daemon_ctx;
static struct daemon the_daemon;
static volatile sig_atomic_t got_signal;

struct opts {
	const char *data;
	const char *sip;
	const char *sip_tls;   /* tls: --sip-tls */
	const char *http;
	const char *https;
	enum log_level level;
	bool syslog;
	bool reset_admin;
	const char *rtp_addr;
	uint16_t rtp_min, rtp_max;
	unsigned campon_expiry;   /* seconds, 0: the default */
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: bulwarkd [--data DIR] [--sip ADDR:PORT] [--sip-tls ADDR:PORT]\n"
"                [--https ADDR:PORT]\n"
"                [--http ADDR:PORT] [--log-level debug|info|warn|error]\n"
"                [--syslog] [--instance NAME] [--rtp-addr ADDR]\n"
"                [--rtp-range MIN-MAX] [--campon-expiry SECONDS]\n"
"       bulwarkd [--data DIR] --reset-admin\n"
"\n"
"  --data DIR         data directory (default " DEFAULT_DATA ", or $BULWARK_DATA)\n"
"  --sip ADDR:PORT    SIP listen address (default: the sip settings' port)\n"
"  --sip-tls ADDR:PORT  SIP over TLS listens here from start (TLS 1.2+;\n"
"                     certificate DATA/tls/sip.crt, self-signed at first\n"
"                     start); without it the sip-tls service listens on\n"
"                     the --sip address, port tls_port (default 5061)\n"
"  --https ADDR:PORT  also serve the admin API over HTTPS (TLS 1.2+, HTTP\n"
"                     Basic, user admin; certificate DATA/tls/admin.crt,\n"
"                     self-signed at first start)\n"
"  --http ADDR:PORT   also serve the admin API over plain HTTP (HTTP Basic,\n"
"                     user admin): for 127.0.0.1 or a management network\n"
"  --log-level LEVEL  minimum level logged (default info)\n"
"  --syslog           copy log lines to syslog\n"
"  --instance NAME    one of several bulwarkd on this host: its nftables\n"
"                     table is inet bulwark_NAME (default inet bulwark);\n"
"                     NAME is 1-16 of a-z, 0-9, _\n"
"  --rtp-addr ADDR    address the media relay binds and names in SDP\n"
"                     (default: the --sip address when it is one, else\n"
"                     every address, SDP naming the one each phone reaches)\n"
"  --rtp-range MIN-MAX  relay ports (default: the sip section's rtp_start\n"
"                     to rtp_end); MIN even, at least 4 ports\n"
"  --campon-expiry SECONDS  a camp-on request's life, 10-86400 (default\n"
"                     1800)\n"
"  --reset-admin      replace the admin API password (written to DATA/admin-password), exit\n");
}

static int parse_level(const char *s, enum log_level *lvl)
{
	static const char *const names[] = { "debug", "info", "warn", "error" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (!strcasecmp(s, names[i])) {
			*lvl = (enum log_level)i;
			return 0;
		}
	}
	return EINVAL;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "sip", required_argument, NULL, 's' },
		{ "sip-tls", required_argument, NULL, 't' },
		{ "http", required_argument, NULL, 'H' },
		{ "https", required_argument, NULL, 'T' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "syslog", no_argument, NULL, 'S' },
		{ "reset-admin", no_argument, NULL, 'R' },
		{ "instance", required_argument, NULL, 'I' },
		{ "rtp-addr", required_argument, NULL, 'A' },
		{ "rtp-range", required_argument, NULL, 'P' },
		{ "campon-expiry", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	o->data = getenv("BULWARK_DATA");
	if (!o->data || !*o->data)
		o->data = DEFAULT_DATA;
	o->level = LOG_LVL_INFO;
	while ((ch = getopt_long(argc, argv, "d:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd': o->data = optarg; break;
		case 's': o->sip = optarg; break;
		case 't': o->sip_tls = optarg; break;
		case 'H': o->http = optarg; break;
		case 'T': o->https = optarg; break;
		case 'S': o->syslog = true; break;
		case 'R': o->reset_admin = true; break;
		case 'I':
			if (!instance_name_valid(optarg) ||
			    instance_set(optarg)) {
				fprintf(stderr, "bulwarkd: --instance: '%s' is "
					"not 1-16 of a-z, 0-9, _\n", optarg);
				return 2;
			}
			break;
		case 'A': o->rtp_addr = optarg; break;
		case 'P': {
			unsigned a, b;
			char tail;

			if (sscanf(optarg, "%u-%u%c", &a, &b, &tail) != 2 ||
			    a < 1024 || b > 65535 || a % 2 || b < a + 3) {
				fprintf(stderr, "bulwarkd: --rtp-range: '%s' is "
					"not MIN-MAX with MIN even, 1024 <= MIN, "
					"MAX <= 65535 and at least 4 ports\n",
					optarg);
				return 2;
			}
			o->rtp_min = (uint16_t)a;
			o->rtp_max = (uint16_t)b;
			break;
		}
		case 'C': {
			unsigned v;
			char tail;

			if (sscanf(optarg, "%u%c", &v, &tail) != 1 || v < 10 ||
			    v > 86400) {
				fprintf(stderr, "bulwarkd: --campon-expiry: '%s' "
					"is not a number of seconds from 10 to "
					"86400\n", optarg);
				return 2;
			}
			o->campon_expiry = v;
			break;
		}
		case 'l':
			if (parse_level(optarg, &o->level)) {
				fprintf(stderr, "bulwarkd: --log-level: '%s' is "
					"not one of debug, info, warn, error\n",
					optarg);
				return 2;
			}
			break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("bulwarkd 0.1.0\n"); exit(0);
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "bulwarkd: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}
	return 0;
}

/* Finished calls go to the CDR writer (its own thread and connection). */
static struct cdr_writer *cdrw;
/* Recorded calls go to DATA/recordings (its own thread; issue 13). */
static struct callrec *callrec;

static void on_cdr(const struct cdr_rec *r, void *arg)
{
	(void)cdr_writer_put(arg, r);
}

/* The call layer on the stack and the registrar: its relay address is
 * --rtp-addr, else the --sip address when it names one. */
static int calls_start(struct daemon *d, const struct opts *o)
{
	struct call_conf cc = { .rtp_min = o->rtp_min, .rtp_max = o->rtp_max };
	char host[64] = "";
	int err;

	err = cdr_writer_open(&cdrw, store_db_path(d->store), 10000);
	if (err) {
		log_err("daemon", "call records: %s", strerror(err));
		return err;
	}
	cc.cdrh = on_cdr;
	cc.cdr_arg = cdrw;
	{
		char rdir[512];
		struct callrec_conf rc = { .dir = rdir };

		snprintf(rdir, sizeof(rdir), "%s/recordings", o->data);
		err = callrec_alloc(&callrec, &rc);
		if (err)
			log_warn("daemon", "call recording: %s (calls are "
				 "not recorded)", strerror(err));
		cc.rec = callrec;
	}
	{
		static char mdir[512];   /* read by call_alloc only */

		snprintf(mdir, sizeof(mdir), "%s/moh", o->data);
		cc.moh_dir = mdir;
	}
	{
		static char tpath[512];   /* read by call_alloc only */

		snprintf(tpath, sizeof(tpath), "%s/toll.json", o->data);
		cc.toll_path = tpath;   /* issue 15 */
	}

	cc.rtp_addr = o->rtp_addr;
	if (!cc.rtp_addr && o->sip) {
		struct sa sa;

		if (!sa_decode(&sa, o->sip, strlen(o->sip)) &&
		    !sa_is_any(&sa) && sa_af(&sa) == AF_INET) {
			re_snprintf(host, sizeof(host), "%j", &sa);
			cc.rtp_addr = host;
		}
	}
	err = call_alloc(&d->calls, d->sipd, d->registrar, &cc);
	if (err)
		log_err("daemon", "calls: %s", strerror(err));
	return err;
}

static void vm_changed(const char *number, unsigned n_new, unsigned n_saved,
		       void *arg);
static void vm_ban(const char *src, void *arg);
static void vm_event(const char *type, json_t *fields, void *arg);

/* The voicemail application on the call layer; the lamps of every
 * mailbox that holds messages are set once the loop runs. */
static int voicemail_start(struct daemon *d, const struct opts *o,
			   const struct snapshot *snap)
{
	static char override[512];
	struct vmapp_conf vc = {
		.calls = d->calls, .store = d->store, .vs = d->vmstore,
		.mail = d->vmmail, .prompt_override = override,
		.ban = vm_ban, .event = vm_event, .arg = d,
	};
	int err;

	snprintf(override, sizeof(override), "%s/prompts", o->data);
	err = vmapp_alloc(&d->vmapp, &vc);
	if (err) {
		log_err("daemon", "voicemail: %s", strerror(err));
		return err;
	}
	/* the extensions as they are: a later commit that deletes one
	 * removes its mailbox */
	vmapp_snapshot(d->vmapp, snap);
	err = vmstore_counts_all(d->vmstore, vm_changed, d);
	if (err)
		log_warn("daemon", "voicemail counts for MWI: %s",
			 strerror(err));
	return 0;
}

/* Camp-on (issue 13): the *82 service and the PBX's callbacks. */
static int campon_start(struct daemon *d, const struct opts *o)
{
	static char override[512];
	struct campon_conf cc = {
		.calls = d->calls, .prompt_override = override,
		.expiry_s = o->campon_expiry,
	};
	int err;

	snprintf(override, sizeof(override), "%s/prompts", o->data);
	err = campon_alloc(&d->campon, &cc);
	if (err)
		log_err("daemon", "camp-on: %s", strerror(err));
	return err;
}

/* hotdesk (issue 13): log-ins at phones, kept across restarts; its PIN
 * failures go to the guard as voicemail's do. */
static int hotdesk_start(struct daemon *d, const struct opts *o)
{
	static char override[512];
	struct hotdesk_conf hc = {
		.calls = d->calls, .store = d->store, .hs = d->hdstore,
		.prompt_override = override,
		.ban = vm_ban, .event = vm_event, .arg = d,
	};
	int err;

	snprintf(override, sizeof(override), "%s/prompts", o->data);
	err = hotdesk_alloc(&d->hotdesk, &hc, sipd_snapshot(d->sipd));
	if (err)
		log_err("daemon", "hotdesk: %s", strerror(err));
	return err;
}

static void hotdesk_on_snapshot(void *arg, struct snapshot *snap)
{
	struct daemon *d = arg;

	hotdesk_snapshot(d->hotdesk, snap);
}

/* "ADDR:PORT" as a client would write it: the unspecified address
 * becomes the loopback one (which the generated certificate names). */
static void client_addr(char *buf, size_t sz, const char *addr)
{
	if (!addr) {
		snprintf(buf, sz, "ADDR:PORT");
		return;
	}
	if (!strncmp(addr, "0.0.0.0:", 8))
		snprintf(buf, sz, "127.0.0.1:%s", addr + 8);
	else if (!strncmp(addr, "[::]:", 5))
		snprintf(buf, sz, "[::1]:%s", addr + 5);
	else
		snprintf(buf, sz, "%s", addr);
}

/* Where the new password is: the password itself goes only to that file
 * (0600), never to stdout, which under systemd is the journal. */
static void print_credential(const struct opts *o, bool reset)
{
	char url[128];

	client_addr(url, sizeof(url), o->https ? o->https : o->http);
	printf("\n"
	       "bulwarkd: %s admin API credential:\n"
	       "    user:     %s\n"
	       "    password: in %s/" API_AUTH_PW_FILE " (mode 0600: readable "
	       "by root and the daemon's user only; keep it elsewhere and "
	       "delete the file)\n"
	       "  use it with:\n", reset ? "new" : "generated",
	       API_AUTH_USER, o->data);
	if (o->https)
		printf("    bulwark --url https://%s --cacert %s/" API_TLS_DIR
		       "/" API_TLS_CERT " --user %s:PASSWORD status\n"
		       "    curl --cacert %s/" API_TLS_DIR "/" API_TLS_CERT
		       " -u %s:PASSWORD https://%s/api/v1/status\n",
		       url, o->data, API_AUTH_USER, o->data, API_AUTH_USER,
		       url);
	else
		printf("    bulwark --url http://%s --user %s:PASSWORD status\n"
		       "    curl -u %s:PASSWORD http://%s/api/v1/status\n",
		       url, API_AUTH_USER, API_AUTH_USER, url);
	printf("  lost it?  bulwarkd --data %s --reset-admin\n\n", o->data);
	fflush(stdout);
}

/* The certificate's identity, for an administrator to pin (public). */
static void print_certificate(const struct opts *o,
			      const struct api_tls_info *ti)
{
	printf("\n"
	       "bulwarkd: generated a self-signed HTTPS certificate\n"
	       "    file:        %s/" API_TLS_DIR "/" API_TLS_CERT
	       " (valid until %s)\n"
	       "    SHA-256:     %s\n"
	       "    public key:  %s\n"
	       "  check the SHA-256 fingerprint in your browser, or give the\n"
	       "  file (bulwark --cacert, curl --cacert) or the public key\n"
	       "  (bulwark --fingerprint, curl --pinnedpubkey) to clients\n\n",
	       o->data, ti->not_after, ti->fingerprint, ti->pin);
	fflush(stdout);
}

/* tls: the SIP over TLS certificate pair DATA/tls/sip.crt + sip.key (the
 * admin's own, else self-signed at first start) into *crt and *key (the
 * caller wipes and frees *key). 0 or errno, logged. */
static int sip_tls_cert(const struct opts *o, char **crt, char **key)
{
	struct api_tls_info ti;
	char why[512] = "";
	bool created = false;
	int err;

	err = api_tls_ensure_pair(o->data, "sip", o->sip_tls ? o->sip_tls :
				  o->sip, &created, &ti, why, sizeof(why));
	if (!err)
		err = api_tls_load_pair(o->data, "sip", crt, key, NULL, why,
					sizeof(why));
	if (err) {
		log_err("daemon", "SIP over TLS certificate: %s", why);
		return err;
	}
	log_info("daemon", "SIP over TLS certificate %s/" API_TLS_DIR
		 "/sip.crt%s: SHA-256 %s, valid until %s", o->data,
		 created ? " (generated, self-signed)" : "", ti.fingerprint,
		 ti.not_after);
	if (ti.days_left < 30)
		log_warn("daemon", "SIP over TLS certificate %s on %s: replace "
			 "%s/" API_TLS_DIR "/sip.crt and sip.key (or remove "
			 "both for a new self-signed one) and restart",
			 ti.days_left < 0 ? "expired" : "expires",
			 ti.not_after, o->data);
	return 0;
}

static int reset_admin(const struct opts *o)
{
	char pw[API_AUTH_PW_LEN + 1];
	const char *what;
	bool created;
	int err = datadir_prepare(o->data, &what);

	if (err) {
		fprintf(stderr, "bulwarkd: data directory %s: %s: %s\n",
			o->data, what, strerror(err));
		return 1;
	}
	err = api_auth_ensure(o->data, true, pw, sizeof(pw), &created);
	if (err) {
		fprintf(stderr, "bulwarkd: cannot reset the admin credential: "
			"%s\n", strerror(err));
		return 1;
	}
	print_credential(o, true);
	sodium_memzero(pw, sizeof(pw));
	return 0;
}

/* The data plane's subscribers to each committed snapshot (loop thread;
 * store/publish.h). The guard reads it during the call; sipd keeps it. */
static void guard_on_snapshot(void *arg, struct snapshot *snap)
{
	guard_apply_snapshot(arg, snap);
}

static void sipd_on_snapshot(void *arg, struct snapshot *snap)
{
	sipd_apply_snapshot(arg, snapshot_ref(snap));
}

static void mwi_on_snapshot(void *arg, struct snapshot *snap)
{
	mwi_snapshot(arg, snap);
}

static void vmapp_on_snapshot(void *arg, struct snapshot *snap)
{
	struct daemon *d = arg;

	vmapp_snapshot(d->vmapp, snap);
}

/* ---- voicemail: counts to MWI, bans and events, mail done ------------- */

struct vm_counts {
	char number[VM_NUM_MAX];
	unsigned n_new, n_saved;
};

static void vm_counts_apply(void *arg)
{
	struct vm_counts *c = arg;

	if (daemon_ctx && daemon_ctx->mwi)
		mwi_set(daemon_ctx->mwi, c->number, c->n_new, c->n_saved);
	free(c);
}

/* vmstore's change callback, on whatever thread changed the mailbox and
 * under vmstore's lock: only a copy posted to the loop. */
static void vm_changed(const char *number, unsigned n_new, unsigned n_saved,
		       void *arg)
{
	struct vm_counts *c = calloc(1, sizeof(*c));

	(void)arg;
	if (!c)
		return;
	snprintf(c->number, sizeof(c->number), "%s", number);
	c->n_new = n_new;
	c->n_saved = n_saved;
	if (loop_post(vm_counts_apply, c))
		free(c);
}

/* A source that tried PINs on many mailboxes (loop thread). */
static void vm_ban(const char *src, void *arg)
{
	struct daemon *d = arg;
	int err = d->guard ? guard_ban_add(d->guard, src, 0) : ENOENT;

	if (err)
		log_warn("voicemail", "ban of %s: %s", src, strerror(err));
}

static void vm_event(const char *type, json_t *fields, void *arg)
{
	struct daemon *d = arg;

	if (d->guard)
		guard_report_event(d->guard, type, fields);
	else
		json_decref(fields);
}

/* A mail sent: "delete after e-mail" removes the message now. */
static void vmmail_on_done(const struct vmmail_msg *m, bool ok, void *arg)
{
	struct daemon *d = arg;

	if (ok && m->delete_after && m->msg_id[0] &&
	    vmstore_msg_delete(d->vmstore, m->mailbox, m->msg_id))
		log_warn("voicemail", "mailbox %s: message %s not deleted "
			 "after its e-mail", m->mailbox, m->msg_id);
}

/* vmmail's failures, from its thread: logged with the relay and the
 * error (never the password). */
static void vmmail_on_event(const char *type, json_t *f, void *arg)
{
	log_warn("vmmail", "%s: relay %s: %s (try %lld%s)", type,
		 json_string_value(json_object_get(f, "host")),
		 json_string_value(json_object_get(f, "error")),
		 (long long)json_integer_value(json_object_get(f, "tries")),
		 json_is_true(json_object_get(f, "given_up")) ?
		 ", given up" : "");
}

/* The relay as committed ("smtp", decoded with its password opened). */
static void vmmail_on_snapshot(void *arg, struct snapshot *snap)
{
	const struct vmmail_conf *c = snapshot_typed(snap, "smtp");

	if (c)
		vmmail_configure(arg, c);
}

static void on_signal(int sig)
{
	/* Signal context: only async-signal-safe work. */
	got_signal = sig;
	re_cancel();
}

static int register_everything(void)
{
	const struct store_section *secs[] = {
		&sipd_section, &guard_section, &firewall_section,
		&services_section, &vmmail_smtp_section,
		&hotdesk_section,   /* hotdesk (issue 13) */
		&trunks_section,    /* trunk (issue 15) */
		&outbound_routes_section, &toll_section, /* outbound (15) */
	};
	struct { const struct api_route *r; size_t n; } routes[] = {
		{ api_routes_config, api_routes_config_n },
		{ api_routes_sip, api_routes_sip_n },
		{ api_routes_guard, api_routes_guard_n },
		{ api_routes_firewall, api_routes_firewall_n },
		{ api_routes_calls, api_routes_calls_n },
		{ api_routes_vm, api_routes_vm_n },
		{ api_routes_vmmail, api_routes_vmmail_n },
		{ api_routes_greet_admin, api_routes_greet_admin_n },
		{ api_routes_hotdesk, api_routes_hotdesk_n },
		{ api_routes_rec, api_routes_rec_n },
		{ api_routes_trunk, api_routes_trunk_n },   /* trunk (issue 15) */
	};
	size_t i;
	int err;

	for (i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
		err = store_section_register(secs[i]);
		if (err)
			return err;
	}
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		err = api_routes_register(routes[i].r, routes[i].n);
		if (err)
			return err;
	}
	return 0;
}

/* Where the shipped data files are: $BULWARK_SHARE if set (and only
 * there), else the installed directory, else — a bulwarkd run from its
 * build tree, never installed — the source tree's data/. */
static const char *share_dir_pick(void)
{
	const char *env = getenv("BULWARK_SHARE");

	if (env && *env)
		return env;
#ifdef BULWARK_SOURCE_SHARE_DIR
	if (access(BULWARK_SHARE_DIR "/common-passwords.txt", R_OK) &&
	    !access(BULWARK_SOURCE_SHARE_DIR "/common-passwords.txt", R_OK))
		return BULWARK_SOURCE_SHARE_DIR;
#endif
	return BULWARK_SHARE_DIR;
}

/* A missing word list silently weakens the dictionary rule: say so at
 * every start, loudly (status keeps showing it while it lasts). */
static void dict_report(const struct store *s)
{
	json_t *st = store_dict_status(s), *l;
	size_t i;

	json_array_foreach(json_object_get(st, "lists"), i, l) {
		if (json_is_true(json_object_get(l, "loaded")))
			continue;
		log_err("daemon", "DEGRADED: word list %s is missing: "
			"passwords made of its words are not refused "
			"(sip.dict_min_word). Install it (Debian: apt-get "
			"install wamerican; the other list comes with "
			"bulwarkd: meson install) and restart bulwarkd",
			json_string_value(json_object_get(l, "path")));
	}
	log_info("daemon", "dictionary: %lld distinct words",
		 (long long)json_integer_value(json_object_get(st, "words")));
	json_decref(st);
}

/* Raise RLIMIT_NOFILE's soft limit to the hard limit (at most MAX_FDS):
 * a TCP flood ran the daemon out of descriptors at the default 4096.
 * Returns the limit now in force, which libre's loop is sized to (a
 * descriptor above its table cannot be polled). */
static int raise_fd_limit(void)
{
	struct rlimit rl;
	rlim_t want;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return MIN_FDS;
	want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > MAX_FDS ?
		MAX_FDS : rl.rlim_max;
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > want) {
		/* already more than libre's table would hold: lower it */
		rl.rlim_cur = want;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	else if (rl.rlim_cur < want) {
		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			log_warn("daemon", "cannot raise the descriptor limit "
				 "to %llu: %s", (unsigned long long)want,
				 strerror(errno));
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur < MIN_FDS)
		return MIN_FDS;
	log_info("daemon", "descriptor limit %llu",
		 (unsigned long long)rl.rlim_cur);
	return rl.rlim_cur > MAX_FDS ? MAX_FDS : (int)rl.rlim_cur;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct daemon *d = &the_daemon;
	struct snapshot *snap = NULL;
	struct api *api = NULL;
	struct api_tls_info tls_info;
	char path[4096];
	const char *what = "";
	sigset_t sigs, oldsigs;
	int err, rc = 1;

	memset(&o, 0, sizeof(o));
	err = parse_opts(argc, argv, &o);
	if (err)
		return err;
	if (o.reset_admin)
		return reset_admin(&o);

	log_setup(o.level, o.syslog);
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* libmicrohttpd runs a thread per admin connection; glibc would give
	 * each its own malloc arena and keep every transient peak (a bulk
	 * import, a commit) resident in several of them. Two arenas: one for
	 * the loop, one shared by the control plane. */
	mallopt(M_ARENA_MAX, 2);

	/* Every thread started from here on inherits the blocked set; the
	 * main thread unblocks before it enters the loop. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, &oldsigs);
	signal(SIGPIPE, SIG_IGN);

	if (sodium_init() < 0) {
		log_err("daemon", "libsodium initialisation failed");
		return 1;
	}
	err = libre_init();
	if (err) {
		log_err("daemon", "libre initialisation failed: %s",
			strerror(err));
		return 1;
	}
	fd_setsize(raise_fd_limit());

	d->data_dir = o.data;
	d->share_dir = share_dir_pick();
	daemon_ctx = d;

	err = datadir_prepare(o.data, &what);
	if (err) {
		log_err("daemon", "data directory %s: %s: %s", o.data, what,
			strerror(err));
		goto out;
	}
	err = register_everything();
	if (err) {
		log_err("daemon", "registering sections and routes: %s",
			strerror(err));
		goto out;
	}
	err = store_open(&d->store, o.data, d->share_dir);
	if (err) {
		log_err("daemon", "store %s/bulwark.db: %s", o.data,
			strerror(err));
		goto out;
	}
	dict_report(d->store);
	err = vmstore_open(&d->vmstore, o.data, store_db_path(d->store));
	if (err) {
		log_err("daemon", "voicemail store %s/voicemail: %s", o.data,
			strerror(err));
		goto out;
	}
	vmstore_on_change(d->vmstore, vm_changed, d);
	err = hdstore_open(&d->hdstore, store_db_path(d->store));
	if (err) {
		log_err("daemon", "hotdesk store: %s", strerror(err));
		goto out;
	}
	err = vmmail_alloc(&d->vmmail, vmmail_on_done, vmmail_on_event, d);
	if (err) {
		log_err("daemon", "voicemail e-mail queue: %s", strerror(err));
		goto out;
	}
	err = store_snapshot(d->store, &snap);
	if (err) {
		log_err("daemon", "running configuration snapshot: %s",
			strerror(err));
		goto out;
	}
	err = loop_init();
	if (err) {
		log_err("daemon", "loop message queue: %s", strerror(err));
		goto out;
	}
	store_publish_init(loop_post);
	{
		struct guard_conf gc = { .data_dir = o.data,
					 .db_path = store_db_path(d->store),
					 .sip_listen = o.sip };

		err = guard_alloc(&d->guard, &gc);
		if (err) {
			log_err("daemon", "guard: %s", strerror(err));
			goto out;
		}
		if (d->guard)
			guard_apply_snapshot(d->guard, snap);
	}
	vmmail_on_snapshot(d->vmmail, snap);
	{
		struct sipd_conf sc = { .listen = o.sip, .guard = d->guard,
					.tls_listen = o.sip_tls };
		struct registrar_conf regc = {
			.db_path = store_db_path(d->store) };
		char *tcrt = NULL, *tkey = NULL;

		/* tls: without a certificate there is no TLS, the rest runs;
		 * unless --sip-tls asked for it */
		if (sip_tls_cert(&o, &tcrt, &tkey) && o.sip_tls)
			goto out;   /* rc stays 1; sip_tls_cert said why */
		sc.tls_cert = tcrt;
		sc.tls_key = tkey;
		err = sipd_alloc(&d->sipd, &sc, snap);
		snap = NULL;   /* sipd owns it, even on failure */
		free(tcrt);
		if (tkey) {
			sodium_memzero(tkey, strlen(tkey));
			free(tkey);
		}
		if (err) {
			log_err("daemon", "SIP on %s: %s",
				o.sip ? o.sip : "configured port",
				strerror(err));
			goto out;
		}
		err = registrar_alloc(&d->registrar, d->sipd, &regc);
		if (err) {
			log_err("daemon", "registrar: %s", strerror(err));
			goto out;
		}
		err = calls_start(d, &o);
		if (err)
			goto out;
		/* MWI serves SUBSCRIBE through the call layer's hook */
		err = mwi_alloc(&d->mwi, d->sipd, d->calls, d->registrar);
		if (err) {
			log_err("daemon", "mwi: %s", strerror(err));
			goto out;
		}
		err = voicemail_start(d, &o, snap);
		if (err)
			goto out;
		/* camp-on (issue 13): *82 and the callbacks */
		err = campon_start(d, &o);
		if (err)
			goto out;
		err = hotdesk_start(d, &o);
		if (err)
			goto out;
		/* trunk (issue 15): outbound registration to the trunks */
		err = treg_alloc(&d->treg, d->sipd);
		if (err) {
			log_err("daemon", "trunks: %s", strerror(err));
			goto out;
		}
	}
	err = 0;
	if (d->guard)
		err = store_subscribe("guard", guard_on_snapshot, d->guard);
	if (!err)
		err = store_subscribe("sip", sipd_on_snapshot, d->sipd);
	if (!err)
		err = store_subscribe("mwi", mwi_on_snapshot, d->mwi);
	if (!err)
		err = store_subscribe("vmmail", vmmail_on_snapshot, d->vmmail);
	if (!err)
		err = store_subscribe("voicemail", vmapp_on_snapshot, d);
	if (!err)
		err = store_subscribe("hotdesk", hotdesk_on_snapshot, d);
	if (err) {
		log_err("daemon", "snapshot subscribers: %s", strerror(err));
		goto out;
	}
	err = firewall_alloc(&d->firewall, d->store, o.data);
	if (err) {
		log_err("daemon", "firewall: %s", strerror(err));
		goto out;
	}
	err = services_alloc(&d->services, d);
	if (err) {
		log_err("daemon", "services: %s", strerror(err));
		goto out;
	}
	/* --sip / --http override the configured ports: the firewall must
	 * open the ports actually listened on */
	services_set_listen(d->services, o.sip, o.http);
	if (o.https) {
		char why[512] = "";
		bool created = false;

		err = api_tls_ensure(o.data, o.https, &created, &tls_info, why,
				     sizeof(why));
		if (err) {
			log_err("daemon", "--https certificate: %s", why);
			goto out;
		}
		if (created)
			print_certificate(&o, &tls_info);
		log_info("daemon", "HTTPS certificate %s/" API_TLS_DIR "/"
			 API_TLS_CERT "%s: SHA-256 %s, public key %s, valid "
			 "until %s", o.data, created ? " (generated)" : "",
			 tls_info.fingerprint, tls_info.pin,
			 tls_info.not_after);
		if (tls_info.days_left < 30)
			log_warn("daemon", "HTTPS certificate %s on %s: replace "
				 "%s/" API_TLS_DIR "/" API_TLS_CERT " and "
				 API_TLS_KEY " (or remove both for a new "
				 "self-signed one) and restart",
				 tls_info.days_left < 0 ? "expired" : "expires",
				 tls_info.not_after, o.data);
	}
	if (o.http || o.https) {
		char pw[API_AUTH_PW_LEN + 1];
		bool created = false;

		err = api_auth_ensure(o.data, false, pw, sizeof(pw), &created);
		if (err) {
			log_err("daemon", "admin credential: %s", strerror(err));
			goto out;
		}
		if (created) {
			print_credential(&o, false);
			log_info("daemon", "admin API credential generated: the "
				 "password is in %s/" API_AUTH_PW_FILE " (0600)",
				 o.data);
		}
		sodium_memzero(pw, sizeof(pw));
	}
	err = datadir_path(path, sizeof(path), o.data, "control.sock");
	if (!err)
		err = api_start(&api, d, path, o.http);
	if (err) {
		log_err("daemon", "admin API (%s%s%s): %s", path,
			o.http ? ", " : "", o.http ? o.http : "",
			strerror(err));
		goto out;
	}
	if (o.https) {
		char why[512] = "";

		err = api_https_start(api, o.https, why, sizeof(why));
		if (err) {
			log_err("daemon", "admin API over HTTPS on %s: %s",
				o.https, why);
			goto out;
		}
		services_set_listen_https(d->services, o.https);
	}

	/* start-up read every extension (fingerprints, snapshot): give the
	 * freed pages back before settling down */
	malloc_trim(0);
	log_info("daemon", "ready: data %s, admin API %s%s%s%s%s", o.data,
		 path, o.https ? " and https://" : "", o.https ? o.https : "",
		 o.http ? " and http://" : "", o.http ? o.http : "");
	pthread_sigmask(SIG_SETMASK, &oldsigs, NULL);
	err = re_main(on_signal);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	if (got_signal)
		log_info("daemon", "signal %d: stopping", (int)got_signal);
	/* trunk (issue 15): un-REGISTER, answers waited for at most 2 s */
	if (treg_stop(d->treg, 2000))
		(void)re_main(on_signal);
	rc = err ? 1 : 0;
	if (err)
		log_err("daemon", "event loop: %s", strerror(err));

out:
	loop_shutdown();
	api_stop(api);
	store_publish_reset();
	services_close(d->services);
	firewall_close(d->firewall);
	d->campon = campon_free(d->campon);
	d->vmapp = vmapp_free(d->vmapp);
	d->hotdesk = hotdesk_free(d->hotdesk);
	d->treg = treg_free(d->treg);   /* trunk (issue 15) */
	d->mwi = mwi_free(d->mwi);
	call_close(d->calls);
	callrec = callrec_free(callrec);    /* after the relay let go */
	vmmail_free(d->vmmail);
	cdr_writer_close(cdrw);
	registrar_close(d->registrar);
	sipd_close(d->sipd);
	guard_close(d->guard);
	snapshot_free(snap);
	vmstore_close(d->vmstore);
	hdstore_close(d->hdstore);
	store_close(d->store);
	loop_close();
	libre_close();
	if (rc == 0)
		log_info("daemon", "stopped");
	daemon_ctx = NULL;
	return rc;
}
