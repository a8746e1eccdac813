/*
 * sipmsg — our own strict SIP message parser and stateless reply writer
 * (src/sip/msg.c).
 *
 * libre's sip_msg_decode accepts several RFC 4475 invalid messages and
 * refuses some valid ones, and costs ~9 us per REGISTER; the registrar
 * needs strict checks (RFC 3261 syntax, RFC 4475) and speed, so requests
 * are parsed here in one pass over the caller's buffer (no copies, no
 * allocation). All slices point into that buffer.
 */
#ifndef BULWARK_SIPMSG_H
#define BULWARK_SIPMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sa;

struct sipmsg_str {
	const char *p;
	size_t l;
};

enum sipmsg_hid {
	SH_OTHER = 0, SH_VIA, SH_FROM, SH_TO, SH_CALLID, SH_CSEQ, SH_CONTACT,
	SH_CLEN, SH_CTYPE, SH_MAXFWD, SH_EXPIRES, SH_AUTH, SH_UA, SH_REQUIRE,
	SH_PREQUIRE, SH_SUPPORTED, SH_ACCEPT, SH_PAUTH, SH__COUNT
};

#define SIPMSG_MAX_HDRS 96
#define SIPMSG_MAX_LEN 65535

struct sipmsg_hdr {
	uint8_t id;
	struct sipmsg_str name, val;
};

struct sipmsg_addr {
	struct sipmsg_str dname, uri, params, tag;
	struct sipmsg_str user;     /* user part of a sip/sips URI */
	struct sipmsg_str expires;  /* Contact expires= value */
	bool star;
};

struct sipmsg {
	bool req;
	struct sipmsg_str met, ruri, ver, reason;
	unsigned scode;
	size_t n_hdr;
	struct sipmsg_hdr hdr[SIPMSG_MAX_HDRS];
	int16_t first[SH__COUNT];
	uint8_t count[SH__COUNT];
	struct sipmsg_str body;
	size_t total;             /* octets of this message incl. body */
	bool rl_bad;              /* malformed request line (400) */
	bool hdr_bad;             /* malformed header line (400) */
	bool clen_bad;            /* Content-Length beyond the datagram */

	/* Filled by sipmsg_check() */
	uint32_t cseq;
	struct sipmsg_str cseq_met, callid;
	struct sipmsg_addr from, to;
	int64_t expires;          /* Expires header, -1 if absent */
	int maxfwd;               /* -1 if absent */
	/* top Via */
	struct sipmsg_str via_host, via_branch, via_tp;
	uint16_t via_port;
	bool via_rport;
	size_t via_top_end;       /* end of the top via-parm in hdr value */
	size_t via_rport_off, via_rport_len; /* span of ";rport[=x]" */
	bool via_ok;              /* the fields above were set: the whole
				   * top via-parm parsed */
	/* Require values we do not support (for 420 Unsupported) */
	struct sipmsg_str unsupported;
};

/* Stream framing: length of the first complete message in buf (headers +
 * Content-Length body). 0 with EAGAIN when more octets are needed;
 * EBADMSG when the head is larger than SIPMSG_MAX_LEN or Content-Length
 * is malformed or too large (then *msglen is the head's length when one
 * was found, so the caller can answer 400 before closing, else 0). */
int sipmsg_frame(const char *buf, size_t len, size_t *msglen);

/* Split a message into start line, headers and body. dgram: the body is
 * Content-Length octets of what follows (extra octets ignored, missing
 * ones an error). Returns 0 or EBADMSG (nothing usable: no header end,
 * too many headers, not a SIP start line). */
int sipmsg_parse(struct sipmsg *m, const char *buf, size_t len, bool dgram);

/* Validate a parsed request (RFC 3261 syntax of the headers we rely on,
 * RFC 4475 rules). Returns 0 or the status code to answer with: 400, 505,
 * 416, 420 (m->unsupported set) or 415. On 400 *why is a short reason. */
unsigned sipmsg_check(struct sipmsg *m, const char **why);

/* Check a response enough to match it to a request we sent: top Via
 * branch, CSeq; Call-ID, From and To (when present, once each, well
 * formed) are read into callid/from/to for the dialog layer. 0 or
 * EBADMSG. */
int sipmsg_check_response(struct sipmsg *m);

/* First header of a kind (NULL if none). */
const struct sipmsg_hdr *sipmsg_hdr(const struct sipmsg *m,
				    enum sipmsg_hid id);

/* Parse one name-addr / addr-spec (From/To/one Contact entry) from *p..e.
 * list: stop at a top-level ',' (Contact). Advances *p past the entry and
 * its ','. 0 or EBADMSG. */
int sipmsg_addr(struct sipmsg_addr *a, const char **p, const char *e,
		bool list);

/* The rule of a Request-URI (and of every remote target we will put in
 * one): a well-formed sip: or sips: URI without escaped headers after the
 * host. 0, 416 for another scheme, 400 otherwise. */
int sipmsg_ruri_check(const char *p, size_t l);

/* Write a stateless response to request m into out (size outsz):
 * status line, Via (top one with received= / rport= per RFC 3581 for
 * src), From, To (tag added when absent), Call-ID, CSeq, then extra
 * (pre-formatted header lines, each ending in CRLF; may be NULL), then
 * Content-Length: 0. Returns the length, or 0 when it does not fit. */
size_t sipmsg_reply(const struct sipmsg *m, const struct sa *src,
		    unsigned code, const char *reason, const char *extra,
		    size_t extra_len, const char *totag_salt, char *out,
		    size_t outsz);

/* The same with a body (ctype its Content-Type; body NULL or blen 0: no
 * body, Content-Length: 0). */
size_t sipmsg_reply_body(const struct sipmsg *m, const struct sa *src,
			 unsigned code, const char *reason, const char *extra,
			 size_t extra_len, const char *totag_salt,
			 const char *ctype, const char *body, size_t blen,
			 char *out, size_t outsz);

/* The To tag sipmsg_reply adds to a response to m (8 hex digits, not
 * NUL-terminated): a function of the Call-ID, the From tag and the salt,
 * so every response to one request, and to its retransmissions, carries
 * the same one — the local tag of a dialog the request creates. */
void sipmsg_totag(const struct sipmsg *m, const char *totag_salt,
		  char tag[8]);

/* Case-insensitive equality of a slice with a C string. */
bool sipmsg_eq(const struct sipmsg_str *s, const char *c);

#endif
