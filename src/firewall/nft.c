/*
 * nft — the firewall's only door to the kernel: libnftables, one
 * transaction per script, this instance's table only ("inet bulwark" by
 * default; common/instance.h).
 */
#include <errno.h>
#include <linux/capability.h>
#include <nftables/libnftables.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/instance.h"
#include "firewall/fw.h"

/* One libnftables run at a time from this module. */
static pthread_mutex_t nft_lock = PTHREAD_MUTEX_INITIALIZER;

/* Objects the chains may reference; declared as the guard does (the
 * table's name three times). */
#define HEAD "add table %s\n" \
	"add set %s ban4 { type ipv4_addr; flags interval, timeout; }\n" \
	"add set %s ban6 { type ipv6_addr; flags interval, timeout; }\n"

static const char *const own_chains[][2] = {
	{ "fw_in", "{ type filter hook input priority 0; policy accept; }" },
	{ "fw_fwd", "{ type filter hook forward priority 0; policy accept; }" },
	{ "fw_nat", "{ type nat hook postrouting priority 100; policy accept; }" },
};

bool firewall_has_net_admin(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0,
	};
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data))
		return false;
	return (data[CAP_TO_INDEX(CAP_NET_ADMIN)].effective &
		CAP_TO_MASK(CAP_NET_ADMIN)) != 0;
}

/* First line of nft's error text, without the echo of the command. */
static void copy_err(char *err, size_t errsz, const char *msg)
{
	size_t n;

	if (!err || !errsz)
		return;
	if (!msg || !*msg)
		msg = "nft: unknown error";
	n = strcspn(msg, "\n");
	if (n >= errsz)
		n = errsz - 1;
	memcpy(err, msg, n);
	err[n] = '\0';
}

static int run(const char *script, bool stateless, char **out, char *err,
	       size_t errsz)
{
	struct nft_ctx *ctx;
	int rc;

	if (!firewall_has_net_admin()) {
		copy_err(err, errsz, "the firewall needs CAP_NET_ADMIN: run "
			 "bulwarkd as root or with the systemd unit's "
			 "AmbientCapabilities=CAP_NET_ADMIN; nothing applied");
		return EPERM;
	}
	pthread_mutex_lock(&nft_lock);
	ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!ctx) {
		pthread_mutex_unlock(&nft_lock);
		copy_err(err, errsz, "nft: out of memory");
		return ENOMEM;
	}
	if (stateless)
		nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_STATELESS);
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	rc = nft_run_cmd_from_buffer(ctx, script);
	if (rc) {
		const char *e = nft_ctx_get_error_buffer(ctx);

		copy_err(err, errsz, e);
		rc = e && strstr(e, "Operation not permitted") ? EPERM :
		     e && strstr(e, "No such file or directory") ? ENOENT :
		     EINVAL;
	} else if (out) {
		const char *o = nft_ctx_get_output_buffer(ctx);

		*out = strdup(o ? o : "");
		if (!*out)
			rc = ENOMEM;
	}
	nft_ctx_free(ctx);
	pthread_mutex_unlock(&nft_lock);
	return rc;
}

int firewall_nft_run(const char *script, char *err, size_t errsz)
{
	return run(script, false, NULL, err, errsz);
}

int firewall_nft_snapshot(char **script)
{
	const char *t = instance_nft_table();
	char *acc = NULL, err[256], head[256];
	size_t len = 0, i;
	int rc = 0;

	snprintf(head, sizeof(head), HEAD, t, t, t);

	for (i = 0; i < sizeof(own_chains) / sizeof(own_chains[0]); i++) {
		char cmd[96], *listing = NULL, *part = NULL, *np;
		int n;

		snprintf(cmd, sizeof(cmd), "list chain %s %s", t,
			 own_chains[i][0]);
		rc = run(cmd, true, &listing, err, sizeof(err));
		if (rc == EPERM)
			goto out;
		if (rc == 0) {
			/* add first: the script also works on a kernel
			 * that lost the chain (after a reboot) */
			n = asprintf(&part, "%sadd chain %s %s %s\n"
				     "flush chain %s %s\n%s", i ? "" : head,
				     t, own_chains[i][0], own_chains[i][1],
				     t, own_chains[i][0], listing);
		} else {
			/* absent before: created by the apply, so the
			 * rollback removes it again */
			n = asprintf(&part, "%sadd chain %s %s %s\n"
				     "delete chain %s %s\n", i ? "" : head,
				     t, own_chains[i][0], own_chains[i][1],
				     t, own_chains[i][0]);
		}
		free(listing);
		rc = 0;
		if (n < 0) {
			rc = ENOMEM;
			goto out;
		}
		np = realloc(acc, len + (size_t)n + 1);
		if (!np) {
			free(part);
			rc = ENOMEM;
			goto out;
		}
		acc = np;
		memcpy(acc + len, part, (size_t)n + 1);
		len += (size_t)n;
		free(part);
	}
	*script = acc;
	acc = NULL;
out:
	free(acc);
	return rc;
}
