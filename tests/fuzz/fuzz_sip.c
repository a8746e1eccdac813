/*
 * fuzz_sip — libFuzzer target for OUR request handling: raw bytes go
 * through sipd_input() (the function the UDP and TCP transports call:
 * strict parse, checks, dispatch, digest, bindings, reply writer) of a
 * sipd with a fake snapshot and no sockets, the registrar's rows
 * registered, once as a datagram and once through the stream framer.
 * Every reply must be a well-formed status line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "registrar/registrar.h"
#include "sip/sipd.h"
#include "sip/sipd_int.h"
#include "sip/sipmsg.h"
#include "store/snapshot.h"
#include <re_main.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void fuzz_cleanup(void);

static struct sipd *sd;
static struct registrar *reg;   /* the REGISTER row */

static void out(enum sipd_tp tp, const struct sa *dst, const char *buf,
		size_t len, void *arg)
{
	static struct sipmsg r;

	(void)tp; (void)dst; (void)arg;
	if (len < 12 || memcmp(buf, "SIP/2.0 ", 8))
		abort();   /* we only ever send responses here */
	/* ... and every one is a whole message our own parser reads back,
	 * with no raw line break inside a header value */
	if (sipmsg_parse(&r, buf, len, true) || r.req || r.hdr_bad ||
	    r.body.l || len < 4 || memcmp(buf + len - 4, "\r\n\r\n", 4))
		abort();
}

static void ext_set(struct snap_ext *x, const char *num, const char *pw,
		    bool auth, uint8_t type)
{
	memset(x, 0, sizeof(*x));
	strncpy(x->number, num, sizeof(x->number) - 1);
	x->type = type;
	x->auth = auth;
	if (auth) {
		auth_digest_ha1(AUTH_ALG_MD5, num, "bulwark", pw,
				x->ha1_md5, sizeof(x->ha1_md5));
		auth_digest_ha1(AUTH_ALG_SHA256, num, "bulwark", pw,
				x->ha1_sha256, sizeof(x->ha1_sha256));
		x->algs_pref[0] = AUTH_ALG_SHA256;
		x->algs_pref[1] = AUTH_ALG_MD5;
	}
	x->max_contacts = 3;
	x->nat = true;
	x->qualify = true;
	x->transports = SNAP_TP_UDP | SNAP_TP_TCP;
}

static struct snapshot *fake_snapshot(void)
{
	struct snapshot *s = calloc(1, sizeof(*s));

	if (!s)
		abort();
	s->version = 1;
	strcpy(s->realm, "bulwark");
	s->n_ext = 3;
	s->ext = calloc(3, sizeof(*s->ext));
	if (!s->ext)
		abort();
	ext_set(&s->ext[0], "201", "Xq7mPz9kLw2R", true, 0);
	ext_set(&s->ext[1], "202", "Rt5hGv8nQe3W", true, 0);
	ext_set(&s->ext[2], "600", NULL, false, 6);
	s->sections = json_pack("{s:{s:i}}", "sip", "min_expires", 60);
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sa src;
	size_t n = 0, pos = 0;

	if (!sd) {
		if (libre_init() || sipd_alloc_offline(&sd, fake_snapshot(),
						       out, NULL) ||
		    registrar_alloc(&reg, sd, NULL))
			abort();
		sipd_set_clock(sd, 1700000000);
	}
	if (size > SIPMSG_MAX_LEN + 1024)
		return 0;
	sa_set_str(&src, "192.0.2.7", 5062);
	sipd_input(sd, SIPD_UDP, &src, 0, (const char *)data, size);
	/* the stream path: frame as many messages as the input holds */
	while (pos < size &&
	       !sipmsg_frame((const char *)data + pos, size - pos, &n) && n) {
		sipd_input(sd, SIPD_TCP, &src, 0, (const char *)data + pos, n);
		pos += n;
	}
	return 0;
}

void fuzz_cleanup(void)
{
	registrar_close(reg);
	reg = NULL;
	sipd_close(sd);
	sd = NULL;
	libre_close();
}
