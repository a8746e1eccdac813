/*
 * svc_ep — the media side the PBX-answered services share (svc.h): their
 * endpoints on the relay's address and port pool, and one endpoint per
 * session towards the relay. Loop thread.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <re_types.h>
#include <re_fmt.h>
#include <re_sa.h>
#include <re_list.h>
#include <re_tmr.h>
#include <re_main.h>

#include "call/svc.h"
#include "media/endpoint.h"
#include "media/relay.h"

int call_svc_eps_open(struct endpoints **epsp, struct call_app *app,
		      const struct call_svc_media *md, const char *prompt_dir,
		      const char *prompt_override, unsigned max_endpoints,
		      void (*readable)(int flags, void *arg), void *arg)
{
	struct endpoint_conf ec;
	struct endpoints *eps = NULL;
	int err;

	endpoint_conf_default(&ec);
	ec.local = md->bind;
	ec.src.take = relay_port_take;
	ec.src.give = relay_port_give;
	ec.src.arg = call_svc_relay(app);
	if (max_endpoints)
		ec.max_endpoints = max_endpoints;
	if (prompt_dir)
		snprintf(ec.prompt_dir, sizeof(ec.prompt_dir), "%s",
			 prompt_dir);
	if (prompt_override)
		snprintf(ec.prompt_override, sizeof(ec.prompt_override), "%s",
			 prompt_override);
	err = endpoint_alloc(&eps, &ec);
	if (err)
		return err;
	err = fd_listen(endpoint_event_fd(eps), FD_READ, readable, arg);
	if (err) {
		endpoint_free(eps);
		return err;
	}
	*epsp = eps;
	return 0;
}

int call_svc_ep_create(struct endpoints *eps, uint64_t tag,
		       const struct call_svc_media *md, bool inband,
		       uint32_t *ep, uint16_t *rtp_port)
{
	struct endpoint_media em;

	memset(&em, 0, sizeof(em));
	em.rtp = md->rtp;
	em.law = md->pt == 8 ? G711_ALAW : G711_ULAW;
	em.te_pt = md->te_pt;
	em.inband = inband;
	return endpoint_create(eps, tag, &em, ep, rtp_port);
}
