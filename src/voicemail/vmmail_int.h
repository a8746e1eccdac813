/*
 * vmmail_int — the pure MIME writer behind vmmail (vmmail_mime.c), shared
 * with the unit test. No I/O, no logging.
 */
#ifndef BULWARK_VMMAIL_INT_H
#define BULWARK_VMMAIL_INT_H

#include <stddef.h>
#include <stdint.h>

#include "voicemail/vmmail.h"

/* Largest recording attached (bytes); a larger one is not attached. */
#define VMMAIL_ATTACH_MAX (16u * 1024 * 1024)

/* 0 when s is fit for a header as given (no byte below 0x20, no 0x7f),
 * else EINVAL. */
int vmmail_hdr_ok(const char *s);

/* 0 when s looks like local@domain (printable ASCII, no space, quote,
 * angle bracket, comma or control byte), else EINVAL. */
int vmmail_addr_ok(const char *s);

/* Copy src into dst (sz bytes) without control bytes (stripped). */
void vmmail_strip(char *dst, size_t sz, const char *src);

/* RFC 2047: text unchanged when it is plain ASCII, else UTF-8 "B"
 * encoded words of at most 75 characters, folded (CRLF SP) between
 * words, never splitting a UTF-8 character. 0, or ENOSPC. */
int vmmail_rfc2047(const char *text, char *out, size_t sz);

/* The whole message (CRLF lines): headers, a text part and, when wav is
 * not NULL, the recording base64 in 76-character lines. from: envelope
 * and header address; host: for the Message-ID; now_ms: the Date.
 * Fields of m with control bytes are refused (EINVAL) — to, mailbox —
 * or stripped — caller, caller_name. *out is malloc'd. 0, EINVAL,
 * ENOMEM. */
int vmmail_mime_build(const struct vmmail_msg *m, const char *from,
		      const char *host, int64_t now_ms, const uint8_t *wav,
		      size_t wav_len, char **out, size_t *len);

#endif
