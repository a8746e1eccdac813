/*
 * Unit tests of the firewall model and rendering (pure), with injected
 * interfaces and ports. The rendered text is compared with golden text.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "firewall/firewall.h"
#include "firewall/fw.h"

/* ---- helpers ---- */

static void iface(struct fw_iface *f, const char *name, const char *cidr)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->name, sizeof(f->name), "%s", name);
	if (cidr) {
		char a[64];
		uint8_t bin[16];
		unsigned plen;
		int fam;

		assert_int_equal(sscanf(cidr, "%63[^/]/%u", a, &plen), 2);
		fam = strchr(a, ':') ? AF_INET6 : AF_INET;
		assert_int_equal(inet_pton(fam, a, bin), 1);
		firewall_cidr_make(&f->net[0], fam, bin, plen);
		snprintf(f->addr[0], sizeof(f->addr[0]), "%s", cidr);
		f->n_net = 1;
	}
}

/* The system the section's own checks see (firewall_ifaces_hook): by
 * default every name the tests use exists, so staging accepts them and
 * firewall_check is tested with injected interfaces. */
static const char *const fake_names_all[] = {
	"eth0", "eth1", "eth2", "eth7", "eth9", NULL,
};
static const char *const *fake_names = fake_names_all;
static bool fake_eth1_down_bare;

static int fake_discover(struct fw_iface *ifs, size_t max, size_t *n)
{
	size_t i;

	for (i = 0; fake_names[i] && i < max; i++) {
		iface(&ifs[i], fake_names[i], i == 0 ? "198.51.100.2/24" :
		      NULL);
		ifs[i].down = fake_eth1_down_bare &&
			      !strcmp(fake_names[i], "eth1");
	}
	*n = i;
	return 0;
}

/* Section object from "key=value" pairs through the section's set(). */
static json_t *section(const char *kv, ...)
{
	json_t *o = firewall_section.defaults();
	struct report r;
	va_list ap;
	const char *s;

	report_init(&r);
	va_start(ap, kv);
	for (s = kv; s; s = va_arg(ap, const char *)) {
		char key[64];
		const char *eq = strchr(s, '=');

		assert_non_null(eq);
		snprintf(key, sizeof(key), "%.*s", (int)(eq - s), s);
		assert_int_equal(firewall_section.set(o, key, eq + 1, &r), 0);
	}
	va_end(ap);
	assert_int_equal(report_count(&r), 0);
	return o;
}

static bool has_rule(const struct report *r, const char *field,
		     const char *rule)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (!strcmp(r->item[i].rule, rule) &&
		    (!field || !strcmp(r->item[i].field, field)))
			return true;
	return false;
}

static void default_ports(struct fw_ports *p)
{
	json_t *sip = json_pack("{s:i, s:i, s:i, s:i, s:i}", "udp_port", 5060,
				"tcp_port", 5060, "tls_port", 5061,
				"rtp_start", 10000, "rtp_end", 20000);

	firewall_ports_resolve(sip, NULL, NULL, NULL, p);
	json_decref(sip);
}

/* ---- cidr and permit parsing ---- */

static void test_cidr_parse(void **state)
{
	struct fw_cidr c;
	char t[64];

	assert_int_equal(firewall_cidr_parse("10.0.0.0/8", &c), 0);
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.plen, 8);
	firewall_cidr_text(&c, t, sizeof(t));
	assert_string_equal(t, "10.0.0.0/8");
	assert_int_equal(firewall_cidr_parse("192.0.2.7", &c), 0);
	assert_int_equal(c.plen, 32);
	assert_int_equal(firewall_cidr_parse("2001:db8::/32", &c), 0);
	assert_int_equal(c.family, AF_INET6);
	firewall_cidr_text(&c, t, sizeof(t));
	assert_string_equal(t, "2001:db8::/32");
	/* refused: host bits set, bad prefix, garbage, empty */
	assert_int_equal(firewall_cidr_parse("10.1.2.3/8", &c), EINVAL);
	assert_int_equal(firewall_cidr_parse("10.0.0.0/33", &c), EINVAL);
	assert_int_equal(firewall_cidr_parse("10.0.0.0/", &c), EINVAL);
	assert_int_equal(firewall_cidr_parse("10.0.0.0/-1", &c), EINVAL);
	assert_int_equal(firewall_cidr_parse("2001:db8::/129", &c), EINVAL);
	assert_int_equal(firewall_cidr_parse("example.com", &c), EINVAL);
	assert_int_equal(firewall_cidr_parse("", &c), EINVAL);
}

static void test_permit_parse(void **state)
{
	struct fw_permit p;
	struct report r;

	report_init(&r);
	assert_int_equal(firewall_permit_parse("off", &p, "f", &r), 0);
	assert_false(p.on);
	assert_int_equal(firewall_permit_parse("any", &p, "f", &r), 0);
	assert_true(p.on && p.any);
	assert_int_equal(firewall_permit_parse("10.0.0.0/8, 2001:db8::/32",
					       &p, "f", &r), 0);
	assert_true(p.on && !p.any);
	assert_int_equal(p.n_src, 2);
	assert_int_equal(report_count(&r), 0);
	assert_int_equal(firewall_permit_parse("10.0.0.0/8,300.1.1.1", &p,
				"firewall.permit.ssh", &r), EINVAL);
	assert_true(has_rule(&r, "firewall.permit.ssh", "firewall.bad_cidr"));
	assert_non_null(strstr(r.item[0].msg, "300.1.1.1"));
	report_reset(&r);
}

/* ---- the section ---- */

static void test_section_set(void **state)
{
	json_t *o = firewall_section.defaults();
	struct report r;

	report_init(&r);
	assert_string_equal(json_string_value(json_object_get(o, "type")),
			    "none");
	assert_string_equal(json_string_value(
		json_object_get(o, "permit.sip-udp")), "any");
	assert_string_equal(json_string_value(
		json_object_get(o, "permit.ssh")), "off");

	assert_int_equal(firewall_section.set(o, "type", "router", &r),
			 EINVAL);
	assert_true(has_rule(&r, "firewall.type", "firewall.bad_type"));
	assert_int_equal(firewall_section.set(o, "permit.telnet", "any", &r),
			 ENOENT);
	assert_true(has_rule(&r, "firewall.permit.telnet",
			     "firewall.unknown_service"));
	assert_int_equal(firewall_section.set(o, "permit.ssh", "10.0.0.0/33",
					      &r), EINVAL);
	assert_true(has_rule(&r, "firewall.permit.ssh", "firewall.bad_cidr"));
	assert_int_equal(firewall_section.set(o, "ssh_port", "70000", &r),
			 EINVAL);
	assert_true(has_rule(&r, "firewall.ssh_port", "firewall.bad_port"));
	assert_int_equal(firewall_section.set(o, "rollback_seconds", "0", &r),
			 EINVAL);
	assert_true(has_rule(&r, "firewall.rollback_seconds",
			     "firewall.bad_rollback"));
	assert_int_equal(firewall_section.set(o, "lan", "eth1 bad/name", &r),
			 EINVAL);
	assert_true(has_rule(&r, "firewall.lan", "firewall.bad_interface"));
	assert_int_equal(firewall_section.set(o, "nonsense", "1", &r), ENOENT);
	assert_true(has_rule(&r, "firewall.nonsense", "firewall.unknown_key"));
	/* refused values changed nothing */
	assert_string_equal(json_string_value(json_object_get(o, "type")),
			    "none");
	assert_string_equal(json_string_value(
		json_object_get(o, "permit.ssh")), "off");
	report_reset(&r);

	/* accepted values are stored in canonical form */
	assert_int_equal(firewall_section.set(o, "permit.ssh",
		"192.0.2.0/24 , 2001:db8::/32", &r), 0);
	assert_string_equal(json_string_value(
		json_object_get(o, "permit.ssh")),
		"192.0.2.0/24,2001:db8::/32");
	assert_int_equal(firewall_section.set(o, "lan", " eth1, eth2 ", &r),
			 0);
	assert_string_equal(json_string_value(json_object_get(o, "lan")),
			    "eth1,eth2");
	assert_int_equal(firewall_section.set(o, "rollback_seconds", "3",
					      &r), 0);
	assert_int_equal(json_integer_value(
		json_object_get(o, "rollback_seconds")), 3);
	assert_int_equal(report_count(&r), 0);
	json_decref(o);
}

/* ---- ports ---- */

static void test_ports(void **state)
{
	json_t *sip = json_pack("{s:i, s:s, s:i, s:i, s:i}", "udp_port", 5070,
				"tcp_port", "5071", "tls_port", 5072,
				"rtp_start", 30000, "rtp_end", 30100);
	json_t *sec = section("ssh_port=2222", "admin_http_port=8088", NULL);
	struct fw_ports p;
	uint16_t lo, hi;
	int i;

	firewall_ports_resolve(sip, sec, NULL, NULL, &p);
	i = firewall_service_find("sip-udp");
	assert_true(firewall_service_ports((size_t)i, &p, &lo, &hi));
	assert_int_equal(lo, 5070);
	i = firewall_service_find("sip-tcp");
	firewall_service_ports((size_t)i, &p, &lo, &hi);
	assert_int_equal(lo, 5071);
	i = firewall_service_find("rtp");
	firewall_service_ports((size_t)i, &p, &lo, &hi);
	assert_int_equal(lo, 30000);
	assert_int_equal(hi, 30100);
	i = firewall_service_find("ssh");
	firewall_service_ports((size_t)i, &p, &lo, &hi);
	assert_int_equal(lo, 2222);
	i = firewall_service_find("iax2");
	firewall_service_ports((size_t)i, &p, &lo, &hi);
	assert_int_equal(lo, 4569);
	i = firewall_service_find("admin-http");
	firewall_service_ports((size_t)i, &p, &lo, &hi);
	assert_int_equal(lo, 8088);

	/* the daemon's --sip and --http win over the sections */
	firewall_ports_resolve(sip, sec, "192.0.2.1:5999", "[::1]:9443", &p);
	i = firewall_service_find("sip-udp");
	firewall_service_ports((size_t)i, &p, &lo, &hi);
	assert_int_equal(lo, 5999);
	i = firewall_service_find("sip-tcp");
	firewall_service_ports((size_t)i, &p, &lo, &hi);
	assert_int_equal(lo, 5999);
	i = firewall_service_find("admin-http");
	firewall_service_ports((size_t)i, &p, &lo, &hi);
	assert_int_equal(lo, 9443);
	assert_int_equal(firewall_service_find("nope"), -1);
	json_decref(sip);
	json_decref(sec);
}

/* ---- the whole-model check ---- */

static int check(json_t *sec, struct fw_iface *ifs, size_t n,
		 struct report *r)
{
	struct fw_conf c;
	struct fw_ports p;
	int rc;

	default_ports(&p);
	firewall_ports_resolve(NULL, sec, NULL, NULL, &p);
	assert_int_equal(firewall_conf_parse(sec, &c, r), 0);
	firewall_assign_roles(&c, ifs, n);
	rc = firewall_check(&c, ifs, n, &p, r);
	firewall_conf_free(&c);
	return rc;
}

static void test_check_gateway_one_interface(void **state)
{
	struct fw_iface ifs[2];
	struct report r;
	json_t *sec = section("type=gateway", NULL);

	report_init(&r);
	iface(&ifs[0], "eth0", "198.51.100.2/24");
	assert_int_equal(check(sec, ifs, 1, &r), EINVAL);
	assert_true(has_rule(&r, "firewall.type",
			     "firewall.gateway_needs_two_interfaces"));
	report_reset(&r);
	/* single is fine with one interface */
	json_decref(sec);
	sec = section("type=single", NULL);
	assert_int_equal(check(sec, ifs, 1, &r), 0);
	/* gateway with two interfaces but no LAN designated */
	json_decref(sec);
	sec = section("type=gateway", NULL);
	iface(&ifs[1], "eth1", "10.0.0.1/24");
	assert_int_equal(check(sec, ifs, 2, &r), EINVAL);
	assert_true(has_rule(&r, "firewall.lan",
			     "firewall.gateway_needs_lan"));
	report_reset(&r);
	json_decref(sec);
	sec = section("type=gateway", "lan=eth1", NULL);
	assert_int_equal(check(sec, ifs, 2, &r), 0);
	assert_int_equal(report_count(&r), 0);
	json_decref(sec);
}

static void test_check_interfaces(void **state)
{
	struct fw_iface ifs[2];
	struct report r;
	json_t *sec = section("type=single", "lan=eth9", NULL);

	report_init(&r);
	iface(&ifs[0], "eth0", "198.51.100.2/24");
	iface(&ifs[1], "eth1", "10.0.0.1/24");
	assert_int_equal(check(sec, ifs, 2, &r), EINVAL);
	assert_true(has_rule(&r, "firewall.lan",
			     "firewall.unknown_interface"));
	assert_non_null(strstr(r.item[0].msg, "eth9"));
	report_reset(&r);
	json_decref(sec);
	/* every interface LAN: nothing would be policed */
	sec = section("type=single", "lan=eth0,eth1", NULL);
	assert_int_equal(check(sec, ifs, 2, &r), EINVAL);
	assert_true(has_rule(&r, "firewall.lan", "firewall.no_wan"));
	report_reset(&r);
	json_decref(sec);
	/* type none: an unknown LAN name is still refused */
	sec = section("lan=eth7", NULL);
	assert_int_equal(check(sec, ifs, 2, &r), EINVAL);
	assert_true(has_rule(&r, "firewall.lan",
			     "firewall.unknown_interface"));
	report_reset(&r);
	json_decref(sec);
}

static void test_check_port_conflict(void **state)
{
	struct fw_iface ifs[1];
	struct report r;
	json_t *sec;

	report_init(&r);
	iface(&ifs[0], "eth0", "198.51.100.2/24");
	/* SSH moved onto the SIP TCP port: refused, naming both */
	sec = section("type=single", "ssh_port=5060", "permit.ssh=any", NULL);
	assert_int_equal(check(sec, ifs, 1, &r), EINVAL);
	assert_true(has_rule(&r, "firewall.permit.ssh",
			     "firewall.port_conflict"));
	assert_non_null(strstr(r.item[0].msg, "sip-tcp"));
	report_reset(&r);
	json_decref(sec);
	/* a port inside the RTP range (UDP) */
	sec = section("type=single", "permit.iax2=any", NULL);
	{
		struct fw_conf c;
		struct fw_ports p;
		json_t *sip = json_pack("{s:i, s:i}", "rtp_start", 4000,
					"rtp_end", 5000);

		firewall_ports_resolve(sip, sec, NULL, NULL, &p);
		assert_int_equal(firewall_conf_parse(sec, &c, &r), 0);
		firewall_assign_roles(&c, ifs, 1);
		assert_int_equal(firewall_check(&c, ifs, 1, &p, &r), EINVAL);
		assert_true(has_rule(&r, "firewall.permit.iax2",
				     "firewall.port_conflict"));
		firewall_conf_free(&c);
		json_decref(sip);
	}
	report_reset(&r);
	json_decref(sec);
	/* same port, different protocols: fine; conflicting service off:
	 * fine */
	sec = section("type=single", "ssh_port=5060", "permit.ssh=off", NULL);
	assert_int_equal(check(sec, ifs, 1, &r), 0);
	json_decref(sec);
	sec = section("type=single", "provisioning_http_port=69",
		      "permit.provisioning-http=any", "permit.tftp=any", NULL);
	assert_int_equal(check(sec, ifs, 1, &r), 0);
	assert_int_equal(report_count(&r), 0);
	json_decref(sec);
}

/* ---- rendering (golden) ---- */

static char *render(json_t *sec, struct fw_iface *ifs, size_t n)
{
	struct fw_conf c;
	struct fw_ports p;
	struct report r;
	char *text = NULL;

	report_init(&r);
	default_ports(&p);
	assert_int_equal(firewall_conf_parse(sec, &c, &r), 0);
	firewall_assign_roles(&c, ifs, n);
	assert_int_equal(firewall_check(&c, ifs, n, &p, &r), 0);
	assert_int_equal(firewall_render(&c, ifs, n, &p, &text), 0);
	firewall_conf_free(&c);
	report_reset(&r);
	return text;
}

#define HEAD \
"add table inet bulwark\n" \
"add set inet bulwark ban4 { type ipv4_addr; flags interval, timeout; }\n" \
"add set inet bulwark ban6 { type ipv6_addr; flags interval, timeout; }\n"
#define CHAINS \
"add chain inet bulwark fw_in { type filter hook input priority 0; policy accept; }\n" \
"add chain inet bulwark fw_fwd { type filter hook forward priority 0; policy accept; }\n" \
"add chain inet bulwark fw_nat { type nat hook postrouting priority 100; policy accept; }\n" \
"flush chain inet bulwark fw_in\n" \
"flush chain inet bulwark fw_fwd\n" \
"flush chain inet bulwark fw_nat\n"
#define IN_COMMON \
"add rule inet bulwark fw_in ip saddr @ban4 counter drop comment \"banned by the guard\"\n" \
"add rule inet bulwark fw_in ip6 saddr @ban6 counter drop comment \"banned by the guard\"\n" \
"add rule inet bulwark fw_in ct state established,related accept comment \"established\"\n" \
"add rule inet bulwark fw_in icmpv6 type { destination-unreachable, packet-too-big, time-exceeded, parameter-problem, echo-request, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept comment \"icmpv6: errors, PMTU, echo, neighbour discovery\"\n" \
"add rule inet bulwark fw_in ct state invalid drop comment \"invalid\"\n" \
"add rule inet bulwark fw_in icmp type { destination-unreachable, time-exceeded, parameter-problem, echo-request } accept comment \"icmp: errors, PMTU, echo\"\n"
#define FWD_TAIL \
"add rule inet bulwark fw_fwd ip saddr @ban4 counter drop comment \"banned by the guard\"\n" \
"add rule inet bulwark fw_fwd ip6 saddr @ban6 counter drop comment \"banned by the guard\"\n" \
"add rule inet bulwark fw_fwd ct state established,related accept comment \"established\"\n" \
"add rule inet bulwark fw_fwd counter drop comment \"wan: no forwarding\"\n"

static const char golden_none[] =
"# Bulwark firewall, table inet bulwark (chains fw_in, fw_fwd, fw_nat)\n"
"# server type: none; WAN: eth0; LAN: -\n"
HEAD CHAINS;

static const char golden_single[] =
"# Bulwark firewall, table inet bulwark (chains fw_in, fw_fwd, fw_nat)\n"
"# server type: single; WAN: eth0; LAN: -\n"
HEAD CHAINS
"add rule inet bulwark fw_in iifname \"lo\" accept comment \"loopback\"\n"
IN_COMMON
"add rule inet bulwark fw_in udp dport 5060 counter accept comment \"sip-udp\"\n"
"add rule inet bulwark fw_in tcp dport 5060 counter accept comment \"sip-tcp\"\n"
"add rule inet bulwark fw_in udp dport 10000-20000 counter accept comment \"rtp\"\n"
"add rule inet bulwark fw_in ip saddr { 192.0.2.0/24, 198.51.100.7/32 } tcp dport 22 counter accept comment \"ssh\"\n"
"add rule inet bulwark fw_in ip6 saddr 2001:db8::/32 tcp dport 22 counter accept comment \"ssh\"\n"
"add rule inet bulwark fw_in counter drop comment \"wan: not permitted\"\n"
FWD_TAIL;

static const char golden_gateway[] =
"# Bulwark firewall, table inet bulwark (chains fw_in, fw_fwd, fw_nat)\n"
"# server type: gateway; WAN: eth0; LAN: eth1, eth2\n"
HEAD
"add ct helper inet bulwark tftp { type \"tftp\" protocol udp; }\n"
CHAINS
"add rule inet bulwark fw_in iifname \"lo\" accept comment \"loopback\"\n"
"add rule inet bulwark fw_in iifname { \"eth1\", \"eth2\" } accept comment \"lan: never policed\"\n"
IN_COMMON
"add rule inet bulwark fw_in udp dport 5060 counter accept comment \"sip-udp\"\n"
"add rule inet bulwark fw_in tcp dport 5061 counter accept comment \"sip-tls\"\n"
"add rule inet bulwark fw_in udp dport 69 ct helper set \"tftp\" counter accept comment \"tftp\"\n"
"add rule inet bulwark fw_in counter drop comment \"wan: not permitted\"\n"
"add rule inet bulwark fw_fwd iifname { \"eth1\", \"eth2\" } accept comment \"lan: never policed\"\n"
FWD_TAIL
"add rule inet bulwark fw_nat meta nfproto ipv4 oifname \"eth0\" masquerade comment \"gateway: outgoing NAT\"\n";

static void test_render_none(void **state)
{
	struct fw_iface ifs[1];
	json_t *sec = firewall_section.defaults();
	char *text;

	iface(&ifs[0], "eth0", "198.51.100.2/24");
	text = render(sec, ifs, 1);
	assert_string_equal(text, golden_none);
	free(text);
	json_decref(sec);
}

static void test_render_single(void **state)
{
	struct fw_iface ifs[1];
	json_t *sec = section("type=single", "permit.sip-tls=off",
			      "permit.ssh=192.0.2.0/24,2001:db8::/32,"
			      "198.51.100.7", NULL);
	char *text;

	iface(&ifs[0], "eth0", "198.51.100.2/24");
	text = render(sec, ifs, 1);
	assert_string_equal(text, golden_single);
	free(text);
	json_decref(sec);
}

static void test_render_gateway(void **state)
{
	struct fw_iface ifs[3];
	json_t *sec = section("type=gateway", "lan=eth2,eth1",
			      "permit.sip-tcp=off", "permit.rtp=off",
			      "permit.tftp=any", NULL);
	char *text;

	iface(&ifs[0], "eth0", "198.51.100.2/24");
	iface(&ifs[1], "eth1", "10.0.0.1/24");
	iface(&ifs[2], "eth2", "10.1.0.1/24");
	text = render(sec, ifs, 3);
	assert_string_equal(text, golden_gateway);
	free(text);
	json_decref(sec);
}

/* The rendered text is valid nftables syntax (libnftables dry run: the
 * kernel is not changed). Needs CAP_NET_ADMIN; skipped otherwise. */
static void test_render_nft_dry_run(void **state)
{
	struct fw_iface ifs[3];
	json_t *sec = section("type=gateway", "lan=eth1",
			      "permit.ssh=192.0.2.0/24,2001:db8::/32",
			      "permit.tftp=any", NULL);
	struct nft_ctx *ctx;
	char *text;
	int rc;

	if (!firewall_has_net_admin()) {
		json_decref(sec);
		skip();
	}
	iface(&ifs[0], "eth0", "198.51.100.2/24");
	iface(&ifs[1], "eth1", "10.0.0.1/24");
	iface(&ifs[2], "eth2", NULL);
	text = render(sec, ifs, 3);
	ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	assert_non_null(ctx);
	nft_ctx_set_dry_run(ctx, true);
	nft_ctx_buffer_error(ctx);
	rc = nft_run_cmd_from_buffer(ctx, text);
	if (rc)
		print_error("%s\n", nft_ctx_get_error_buffer(ctx));
	assert_int_equal(rc, 0);
	nft_ctx_free(ctx);
	free(text);
	json_decref(sec);
}

static void test_lan_cidrs(void **state)
{
	struct fw_iface ifs[3];
	json_t *sec = section("type=gateway", "lan=eth1,eth2", NULL);
	struct fw_conf c;
	struct report r;
	json_t *a;

	report_init(&r);
	iface(&ifs[0], "eth0", "198.51.100.0/24");
	iface(&ifs[1], "eth1", "10.0.0.0/24");
	iface(&ifs[2], "eth2", "2001:db8:1::/64");
	assert_int_equal(firewall_conf_parse(sec, &c, &r), 0);
	a = firewall_lan_cidrs_of(&c, ifs, 3);
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(json_string_value(json_array_get(a, 0)),
			    "10.0.0.0/24");
	assert_string_equal(json_string_value(json_array_get(a, 1)),
			    "2001:db8:1::/64");
	json_decref(a);
	firewall_conf_free(&c);
	json_decref(sec);
}

/* Issue 10: an unknown interface is refused when staged, not first at
 * commit. */
static void test_lan_checked_at_staging(void **state)
{
	static const char *const two[] = { "eth0", "eth1", NULL };
	json_t *o = firewall_section.defaults();
	struct report r;

	report_init(&r);
	fake_names = two;
	assert_int_equal(firewall_section.set(o, "lan", "eth1,eth9", &r),
			 EINVAL);
	assert_true(has_rule(&r, "firewall.lan",
			     "firewall.unknown_interface"));
	assert_non_null(strstr(r.item[0].msg, "eth9"));
	assert_string_equal(json_string_value(json_object_get(o, "lan")), "");
	report_reset(&r);
	assert_int_equal(firewall_section.set(o, "lan", "eth1", &r), 0);
	fake_names = fake_names_all;
	json_decref(o);
}

/* Issue 10: a NIC that is down and has no address does not count toward
 * the two interfaces a gateway needs. */
static void test_gateway_counts_usable(void **state)
{
	struct fw_iface ifs[2];
	struct report r;
	json_t *sec = section("type=gateway", "lan=eth1", NULL);

	report_init(&r);
	iface(&ifs[0], "eth0", "198.51.100.2/24");
	iface(&ifs[1], "eth1", NULL);
	ifs[1].down = true;
	assert_int_equal(firewall_ifaces_usable(ifs, 2), 1);
	assert_int_equal(check(sec, ifs, 2, &r), EINVAL);
	assert_true(has_rule(&r, "firewall.type",
			     "firewall.gateway_needs_two_interfaces"));
	report_reset(&r);
	/* down but addressed, or up without an address: usable */
	ifs[1].down = false;
	assert_int_equal(check(sec, ifs, 2, &r), 0);
	iface(&ifs[1], "eth1", "10.0.0.1/24");
	ifs[1].down = true;
	assert_int_equal(check(sec, ifs, 2, &r), 0);
	report_reset(&r);
	json_decref(sec);
}

/* Issue 10: the commit check sees the ports apply would use — the SIP
 * services' from the staged "sip" section — so a conflict is refused at
 * commit and dry run. */
static void test_commit_sees_sip_ports(void **state)
{
	static const char *const two[] = { "eth0", "eth1", NULL };
	json_t *sec = section("type=single", "ssh_port=5070",
			      "permit.ssh=any", NULL);
	json_t *all = json_pack("{s:{s:i,s:i},s:O}", "sip", "udp_port", 5070,
				"tcp_port", 5070, "firewall", sec);
	struct report r;

	report_init(&r);
	assert_non_null(firewall_section.validate_all);
	assert_int_equal(firewall_section.validate_all(sec, all, &r), EINVAL);
	assert_true(has_rule(&r, "firewall.permit.ssh",
			     "firewall.port_conflict"));
	report_reset(&r);
	json_object_set_new(json_object_get(all, "sip"), "tcp_port",
			    json_integer(5060));
	assert_int_equal(firewall_section.validate_all(sec, all, &r), 0);
	/* a gateway on a system whose second NIC is down and bare */
	json_decref(sec);
	sec = section("type=gateway", "lan=eth1", NULL);
	fake_names = two;
	fake_eth1_down_bare = true;
	assert_int_equal(firewall_section.validate_all(sec, all, &r), EINVAL);
	assert_true(has_rule(&r, "firewall.type",
			     "firewall.gateway_needs_two_interfaces"));
	fake_eth1_down_bare = false;
	fake_names = fake_names_all;
	report_reset(&r);
	json_decref(sec);
	json_decref(all);
}

static void test_discover(void **state)
{
	struct fw_iface ifs[FW_MAX_IFACES];
	size_t n = 0, i;

	/* whatever the system has: never loopback, names valid */
	assert_int_equal(firewall_ifaces_discover(ifs, FW_MAX_IFACES, &n), 0);
	for (i = 0; i < n; i++) {
		assert_string_not_equal(ifs[i].name, "lo");
		assert_true(firewall_ifname_valid(ifs[i].name));
		assert_true(ifs[i].n_net <= FW_MAX_NETS);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cidr_parse),
		cmocka_unit_test(test_permit_parse),
		cmocka_unit_test(test_section_set),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_check_gateway_one_interface),
		cmocka_unit_test(test_check_interfaces),
		cmocka_unit_test(test_check_port_conflict),
		cmocka_unit_test(test_render_none),
		cmocka_unit_test(test_render_single),
		cmocka_unit_test(test_render_gateway),
		cmocka_unit_test(test_render_nft_dry_run),
		cmocka_unit_test(test_lan_cidrs),
		cmocka_unit_test(test_discover),
		cmocka_unit_test(test_lan_checked_at_staging),
		cmocka_unit_test(test_gateway_counts_usable),
		cmocka_unit_test(test_commit_sees_sip_ports),
	};

	firewall_ifaces_hook = fake_discover;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
