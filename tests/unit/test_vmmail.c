/*
 * test_vmmail — the MIME writer (structure, base64 round trip of the
 * attachment, RFC 2047, header injection) and the queue's refusals.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "common/report.h"
#include "voicemail/vmmail_int.h"

static struct vmmail_msg base_msg(void)
{
	struct vmmail_msg m = { .to = "owner@example.org", .mailbox = "201",
				.caller = "0612345678",
				.caller_name = "Alice",
				.time_ms = 1700000000000LL,
				.duration_ms = 65000 };
	return m;
}

/* The base64 body of the part whose headers contain marker. */
static uint8_t *part_decode(const char *msg, const char *marker,
			    size_t *len)
{
	const char *p = strstr(msg, marker), *e;
	char *b64;
	uint8_t *bin;
	size_t n = 0, bl;

	assert_non_null(p);
	p = strstr(p, "\r\n\r\n");
	assert_non_null(p);
	p += 4;
	e = strstr(p, "\r\n--");
	assert_non_null(e);
	b64 = malloc((size_t)(e - p) + 1);
	for (const char *q = p; q < e; q++) {
		if (*q == '\r' || *q == '\n')
			continue;
		b64[n++] = *q;
	}
	b64[n] = '\0';
	bin = malloc(n + 1);
	assert_int_equal(sodium_base642bin(bin, n + 1, b64, n, NULL, &bl,
					   NULL, sodium_base64_VARIANT_ORIGINAL),
			 0);
	free(b64);
	*len = bl;
	return bin;
}

static void test_structure_and_roundtrip(void **state)
{
	struct vmmail_msg m = base_msg();
	uint8_t wav[10000];
	char *out = NULL, *text, bnd[80];
	size_t len = 0, n;
	uint8_t *back;
	const char *b, *line;

	for (size_t i = 0; i < sizeof(wav); i++)
		wav[i] = (uint8_t)(i * 7 + 3);
	m.attach = true;
	assert_int_equal(vmmail_mime_build(&m, "vm@pbx.example", "pbx",
					   1700000100000LL, wav, sizeof(wav),
					   &out, &len), 0);
	assert_int_equal(strlen(out), len);
	assert_non_null(strstr(out, "Date: Tue, 14 Nov 2023 22:15:00 +0000\r\n"));
	assert_non_null(strstr(out, "To: <owner@example.org>\r\n"));
	assert_non_null(strstr(out, "From: Bulwark voicemail <vm@pbx.example>\r\n"));
	assert_non_null(strstr(out, "Subject: New voicemail from Alice "
			       "<0612345678> in mailbox 201\r\n"));
	assert_non_null(strstr(out, "Message-ID: <"));
	assert_non_null(strstr(out, "@pbx>\r\n"));
	b = strstr(out, "boundary=\"");
	assert_non_null(b);
	b += 10;
	n = strcspn(b, "\"");
	assert_true(n > 10 && n < sizeof(bnd) - 3);
	snprintf(bnd, sizeof(bnd), "--%.*s--\r\n", (int)n, b);
	assert_non_null(strstr(out, bnd));           /* closing boundary */
	/* every line CRLF-terminated and at most 76 characters in bodies */
	for (line = out; *line; ) {
		const char *eol = strstr(line, "\r\n");

		assert_non_null(eol);
		assert_true(eol - line <= 998);
		line = eol + 2;
	}
	back = part_decode(out, "Content-Type: audio/wav", &n);
	assert_int_equal(n, sizeof(wav));
	assert_memory_equal(back, wav, sizeof(wav));
	free(back);
	{
		const char *a = strstr(strstr(out, "audio/wav"), "\r\n\r\n") + 4;
		const char *eol = strstr(a, "\r\n");

		assert_int_equal(eol - a, 76);
	}
	text = (char *)part_decode(out, "text/plain", &n);
	text[n] = '\0';
	assert_non_null(strstr(text, "New voicemail from Alice <0612345678> "
			       "in mailbox 201, duration 1:05, time "
			       "2023-11-14 22:13:20 UTC."));
	free(text);
	free(out);
}

static void test_rfc2047(void **state)
{
	char out[512], dec[128];
	size_t bl;
	/* 30 two-byte characters: must fold without splitting one */
	char in[128] = "";

	assert_int_equal(vmmail_rfc2047("plain", out, sizeof(out)), 0);
	assert_string_equal(out, "plain");
	for (int i = 0; i < 30; i++)
		strcat(in, "\xc3\xa9");
	assert_int_equal(vmmail_rfc2047(in, out, sizeof(out)), 0);
	assert_memory_equal(out, "=?UTF-8?B?", 10);
	assert_non_null(strstr(out, "?=\r\n =?UTF-8?B?"));
	/* first word: 44 bytes (22 characters), decoded intact */
	{
		const char *s = out + 10, *e = strstr(s, "?=");

		assert_true(e - out <= 75);
		assert_int_equal(sodium_base642bin((unsigned char *)dec,
			sizeof(dec), s, (size_t)(e - s), NULL, &bl, NULL,
			sodium_base64_VARIANT_ORIGINAL), 0);
		assert_int_equal(bl % 2, 0);
	}
	assert_int_equal(vmmail_rfc2047(in, out, 20), ENOSPC);
}

static void test_subject_encoded(void **state)
{
	struct vmmail_msg m = base_msg();
	char *out = NULL;
	size_t len;

	strcpy(m.caller_name, "J\xc3\xbcrgen");
	assert_int_equal(vmmail_mime_build(&m, "vm@pbx", "pbx", 0, NULL, 0,
					   &out, &len), 0);
	assert_non_null(strstr(out, "Subject: =?UTF-8?B?"));
	assert_null(strstr(out, "J\xc3\xbcrgen"));   /* no raw 8-bit header */
	free(out);
}

static void test_injection(void **state)
{
	struct vmmail_msg m = base_msg();
	char *out = NULL;
	size_t len;

	/* caller and name come from SIP: control bytes stripped */
	strcpy(m.caller_name, "Eve\r\nBcc: victim@example.com");
	strcpy(m.caller, "1\r\nX: y");
	assert_int_equal(vmmail_mime_build(&m, "vm@pbx", "pbx", 0, NULL, 0,
					   &out, &len), 0);
	assert_null(strstr(out, "\r\nBcc:"));
	assert_null(strstr(out, "\r\nX: y"));
	assert_non_null(strstr(out, "EveBcc: victim@example.com"));
	free(out);
	out = NULL;
	/* the addresses and the mailbox: refused */
	m = base_msg();
	strcpy(m.to, "a@b.c\r\nBcc: x@y.z");
	assert_int_equal(vmmail_mime_build(&m, "vm@pbx", "pbx", 0, NULL, 0,
					   &out, &len), EINVAL);
	m = base_msg();
	strcpy(m.mailbox, "201\n");
	assert_int_equal(vmmail_mime_build(&m, "vm@pbx", "pbx", 0, NULL, 0,
					   &out, &len), EINVAL);
	m = base_msg();
	assert_int_equal(vmmail_mime_build(&m, "vm@pbx>\r\nX: y", "pbx", 0,
					   NULL, 0, &out, &len), EINVAL);
	assert_int_equal(vmmail_addr_ok("<a@b>"), EINVAL);
	assert_int_equal(vmmail_addr_ok("a b@c"), EINVAL);
	assert_int_equal(vmmail_addr_ok("nobody"), EINVAL);
	assert_int_equal(vmmail_addr_ok("a@b.example"), 0);
	assert_null(out);
}

static void test_queue(void **state)
{
	struct vmmail *vm = NULL;
	struct vmmail_conf c = { .host = "127.0.0.1", .port = 1,
				 .security = "none", .from = "vm@pbx" };
	struct vmmail_msg m = base_msg();
	json_t *st;
	int err = 0;
	size_t i;

	assert_int_equal(vmmail_alloc(&vm, NULL, NULL, NULL), 0);
	/* off: refused, counted */
	assert_int_equal(vmmail_send(vm, &m), ENOTCONN);
	strcpy(m.to, "x@y\r\nBcc: z@w");
	assert_int_equal(vmmail_send(vm, &m), EINVAL);
	m = base_msg();
	vmmail_configure(vm, &c);
	for (i = 0; i < VMMAIL_QUEUE_MAX + 1 && !err; i++)
		err = vmmail_send(vm, &m);
	assert_int_equal(err, ENOSPC);
	assert_int_equal(i, VMMAIL_QUEUE_MAX + 1);
	st = vmmail_status(vm);
	assert_true(json_is_true(json_object_get(st, "configured")));
	assert_int_equal(json_integer_value(json_object_get(st, "refused")), 2);
	assert_int_equal(json_integer_value(json_object_get(st, "queued")),
			 VMMAIL_QUEUE_MAX);
	json_decref(st);
	vmmail_free(vm);   /* joins, even with a full queue */
}

static void expect_refused(const char *key, const char *val,
			   const char *field, const char *rule)
{
	json_t *o = vmmail_smtp_defaults();
	struct report r;

	report_init(&r);
	assert_int_equal(vmmail_smtp_set(o, key, val, &r), EINVAL);
	assert_int_equal(report_count(&r), 1);
	assert_string_equal(r.item[0].field, field);
	assert_string_equal(r.item[0].rule, rule);
	report_reset(&r);
	json_decref(o);
}

static void test_smtp_section(void **state)
{
	json_t *o = vmmail_smtp_defaults();
	struct vmmail_conf c;
	struct report r;

	report_init(&r);
	vmmail_smtp_decode(o, &c);
	assert_string_equal(c.host, "");
	assert_int_equal(c.port, 587);
	assert_string_equal(c.security, "starttls");
	assert_true(c.verify_peer);
	assert_int_equal(vmmail_smtp_set(o, "host", "relay.example.org", &r), 0);
	assert_int_equal(vmmail_smtp_set(o, "port", "465", &r), 0);
	assert_int_equal(vmmail_smtp_set(o, "security", "smtps", &r), 0);
	assert_int_equal(vmmail_smtp_set(o, "password", "pw", &r), 0);
	assert_int_equal(vmmail_smtp_validate(o, &r), 0);
	vmmail_smtp_decode(o, &c);
	assert_string_equal(c.host, "relay.example.org");
	assert_int_equal(c.port, 465);
	assert_string_equal(c.security, "smtps");
	assert_string_equal(c.password, "pw");
	assert_int_equal(report_count(&r), 0);
	report_reset(&r);
	json_decref(o);
	expect_refused("port", "0", "smtp.port", "smtp.range");
	expect_refused("port", "65536", "smtp.port", "smtp.range");
	expect_refused("security", "tls", "smtp.security", "smtp.choice");
	expect_refused("host", "a b", "smtp.host", "smtp.host");
	expect_refused("from", "x@y>\r\nBcc: z", "smtp.from", "smtp.address");
	expect_refused("user", "u\r\nX", "smtp.user", "smtp.control");
	expect_refused("password", "p\nw", "smtp.password", "smtp.control");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_structure_and_roundtrip),
		cmocka_unit_test(test_rfc2047),
		cmocka_unit_test(test_subject_encoded),
		cmocka_unit_test(test_injection),
		cmocka_unit_test(test_queue),
		cmocka_unit_test(test_smtp_section),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
