/* Placeholder until the registrar lands (issue 3): listens nowhere. */
#include <stdlib.h>
#include <jansson.h>
#include "store/snapshot.h"
#include "sip/sipd.h"

static json_t *sip_defaults(void)
{
	return json_object();
}

const struct store_section sipd_section = {
	.name = "sip", .defaults = sip_defaults,
};

int sipd_transport_set(struct sipd *sd, const char *transport, bool on)
{
	(void)sd; (void)transport; (void)on;
	return 0;
}

struct sipd {
	struct snapshot *snap;
};

int sipd_alloc(struct sipd **sp, const struct sipd_conf *conf,
	       struct snapshot *snap)
{
	struct sipd *sd = calloc(1, sizeof(*sd));

	(void)conf;
	if (!sd)
		return 12;
	sd->snap = snap;
	*sp = sd;
	return 0;
}

void sipd_apply_snapshot(struct sipd *sd, struct snapshot *snap)
{
	snapshot_free(sd->snap);
	sd->snap = snap;
}

json_t *sipd_registrations(struct sipd *sd) { return json_array(); }
json_t *sipd_status(struct sipd *sd) { return json_pack("{s:s}", "state", "not built"); }

void sipd_close(struct sipd *sd)
{
	if (!sd)
		return;
	snapshot_free(sd->snap);
	free(sd);
}
