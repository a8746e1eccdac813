/*
 * vmmail_mime — the notification as an RFC 5322 / MIME message: headers
 * (RFC 2047 for names that are not ASCII), a text part, the WAV attached
 * in base64. Pure: the caller gives the time and the recording.
 */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "voicemail/vmmail_int.h"

int vmmail_hdr_ok(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return EINVAL;
	return 0;
}

int vmmail_addr_ok(const char *s)
{
	const char *at = strchr(s, '@');

	if (!at || at == s || !at[1] || strchr(at + 1, '@'))
		return EINVAL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f || strchr("<>\",;()[]\\", *p))
			return EINVAL;
	return 0;
}

void vmmail_strip(char *dst, size_t sz, const char *src)
{
	size_t n = 0;

	if (!sz)
		return;
	for (const unsigned char *p = (const unsigned char *)src;
	     *p && n + 1 < sz; p++)
		if (*p >= 0x20 && *p != 0x7f)
			dst[n++] = (char)*p;
	dst[n] = '\0';
}

static int ascii(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p >= 0x80)
			return 0;
	return 1;
}

int vmmail_rfc2047(const char *text, char *out, size_t sz)
{
	size_t len = strlen(text), i = 0, o = 0;

	if (ascii(text)) {
		if (len >= sz)
			return ENOSPC;
		memcpy(out, text, len + 1);
		return 0;
	}
	while (i < len) {
		/* 45 bytes -> 60 base64 chars + 12 = 72 <= 75 */
		size_t n = len - i > 45 ? 45 : len - i;
		char b64[64];

		while (n < len - i && n > 0 &&
		       ((unsigned char)text[i + n] & 0xc0) == 0x80)
			n--;   /* never split a UTF-8 character */
		if (!n)
			n = 1;
		sodium_bin2base64(b64, sizeof(b64),
				  (const unsigned char *)text + i, n,
				  sodium_base64_VARIANT_ORIGINAL);
		int w = snprintf(out + o, sz - o, "%s=?UTF-8?B?%s?=",
				 o ? "\r\n " : "", b64);
		if (w < 0 || (size_t)w >= sz - o)
			return ENOSPC;
		o += (size_t)w;
		i += n;
	}
	if (!o) {
		if (!sz)
			return ENOSPC;
		out[0] = '\0';
	}
	return 0;
}

struct buf {
	char *p;
	size_t len, cap;
	int err;
};

static void put(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void put(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->err)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->cap - b->len)
		b->err = ENOMEM;
	else
		b->len += (size_t)n;
}

/* data as base64, 57 bytes (76 characters) a line. */
static void put_b64(struct buf *b, const uint8_t *d, size_t n)
{
	for (size_t i = 0; i < n && !b->err; i += 57) {
		size_t k = n - i > 57 ? 57 : n - i;

		if (b->cap - b->len < 80) {
			b->err = ENOMEM;
			return;
		}
		sodium_bin2base64(b->p + b->len, 77, d + i, k,
				  sodium_base64_VARIANT_ORIGINAL);
		b->len += strlen(b->p + b->len);
		put(b, "\r\n");
	}
}

static void rand_hex(char *out, size_t bytes)
{
	unsigned char r[32];

	if (bytes > sizeof(r))
		bytes = sizeof(r);
	randombytes_buf(r, bytes);
	sodium_bin2hex(out, bytes * 2 + 1, r, bytes);
}

int vmmail_mime_build(const struct vmmail_msg *m, const char *from,
		      const char *host, int64_t now_ms, const uint8_t *wav,
		      size_t wav_len, char **out, size_t *len)
{
	char name[64], caller[32], subj[256], esubj[1024], date[64],
	     when[64], bnd[40], mid[40];
	struct buf b = { 0 };
	time_t t;
	struct tm tm;

	if (!m || !from || !host || !out || !len ||
	    vmmail_hdr_ok(m->to) || vmmail_addr_ok(m->to) ||
	    vmmail_addr_ok(from) || vmmail_hdr_ok(m->mailbox) ||
	    vmmail_hdr_ok(host) || !*m->mailbox)
		return EINVAL;
	if (wav && wav_len > VMMAIL_ATTACH_MAX)
		return EINVAL;
	vmmail_strip(name, sizeof(name), m->caller_name);
	vmmail_strip(caller, sizeof(caller), m->caller);
	snprintf(subj, sizeof(subj), "New voicemail from %s%s<%s> in "
		 "mailbox %s", name, *name ? " " : "",
		 *caller ? caller : "unknown", m->mailbox);
	if (vmmail_rfc2047(subj, esubj, sizeof(esubj)))
		return EINVAL;
	t = (time_t)(now_ms / 1000);
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	t = (time_t)(m->time_ms / 1000);
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	memcpy(bnd, "=_bw_", 5);
	rand_hex(bnd + 5, 16);
	rand_hex(mid, 16);

	b.cap = 8192 + (wav ? wav_len / 57 * 78 + 160 : 0);
	b.p = malloc(b.cap);
	if (!b.p)
		return ENOMEM;
	b.p[0] = '\0';
	put(&b, "Date: %s\r\nFrom: Bulwark voicemail <%s>\r\nTo: <%s>\r\n"
	    "Subject: %s\r\nMessage-ID: <%s@%s>\r\nMIME-Version: 1.0\r\n"
	    "Auto-Submitted: auto-generated\r\n"
	    "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n"
	    "This is a MIME message.\r\n\r\n--%s\r\n"
	    "Content-Type: text/plain; charset=UTF-8\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n",
	    date, from, m->to, esubj, mid, host, bnd, bnd);
	{
		char text[512];
		int n = snprintf(text, sizeof(text),
			"New voicemail from %s%s<%s> in mailbox %s, "
			"duration %" PRIu32 ":%02" PRIu32 ", time %s.\r\n%s",
			name, *name ? " " : "", *caller ? caller : "unknown",
			m->mailbox, m->duration_ms / 60000,
			m->duration_ms / 1000 % 60, when,
			wav ? "The recording is attached.\r\n" :
			m->attach ? "The recording could not be attached; it "
			"is kept in the mailbox.\r\n" : "");

		if (n > 0)
			put_b64(&b, (const uint8_t *)text,
				(size_t)n < sizeof(text) ? (size_t)n :
				sizeof(text) - 1);
	}
	if (wav) {
		put(&b, "\r\n--%s\r\nContent-Type: audio/wav; name=\"msg.wav\""
		    "\r\nContent-Transfer-Encoding: base64\r\n"
		    "Content-Disposition: attachment; filename=\"msg.wav\""
		    "\r\n\r\n", bnd);
		put_b64(&b, wav, wav_len);
	}
	put(&b, "\r\n--%s--\r\n", bnd);
	if (b.err) {
		free(b.p);
		return b.err;
	}
	*out = b.p;
	*len = b.len;
	return 0;
}
