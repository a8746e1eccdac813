/*
 * routes_firewall — admin API of the firewall and the network services
 * manager. Placeholder: the firewall engineer owns and fills this file
 * (issue 5).
 */
#include <jansson.h>

#include "api/routes.h"
#include "daemon/daemon.h"
#include "daemon/services.h"

static void services_get(struct daemon *d, const struct api_req *req,
			 struct api_resp *resp)
{
	api_ok(resp, services_list(d->services));
}

const struct api_route api_routes_firewall[] = {
	{ "GET", "/services", services_get },
};
const size_t api_routes_firewall_n = API_ROUTES_N(api_routes_firewall);
