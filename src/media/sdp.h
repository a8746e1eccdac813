/*
 * sdp — a strict, bounded SDP parser (RFC 4566) and the offer/answer
 * helpers (RFC 3264) a B2BUA that anchors audio needs: codec intersection
 * with a configured list and the rewrite of a description for one leg
 * (relay address and ports, payload types filtered, o= per leg).
 *
 * The parser reads the caller's buffer once and allocates nothing; every
 * string is a slice into that buffer, which the caller keeps alive while
 * it reads the result. Every count has a fixed bound (SDP_MAX_*); past a
 * bound, and on any line we do not understand, the whole description is
 * refused with the line number and the rule (struct sdp_err) — the call
 * layer answers 488. Rules: docs/internals/sdp.md.
 */
#ifndef BULWARK_SDP_H
#define BULWARK_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SDP_MAX_LEN     16384  /* octets of one description */
#define SDP_MAX_LINES   256    /* lines of one description */
#define SDP_MAX_LINE    1024   /* octets of one line, without CRLF */
#define SDP_MAX_MEDIA   8      /* m= lines */
#define SDP_MAX_FMT     32     /* formats on one m= line */
#define SDP_MAX_ADDR    64     /* octets of an address in c=, o=, a=rtcp */
#define SDP_MAX_CODECS  16     /* names in one allowed codec list */

struct sdp_str {
	const char *p;
	size_t l;
};

/* The rule a refused description broke (sdp_rule_str names it). */
enum sdp_rule {
	SDP_OK = 0,
	SDP_E_ARG,        /* NULL argument */
	SDP_E_EMPTY,      /* no octets */
	SDP_E_TOOBIG,     /* more than SDP_MAX_LEN octets */
	SDP_E_LINES,      /* more than SDP_MAX_LINES lines */
	SDP_E_LINELEN,    /* a line longer than SDP_MAX_LINE */
	SDP_E_CHAR,       /* NUL, bare CR or a control octet in a line */
	SDP_E_SYNTAX,     /* not "<letter>=<value>" */
	SDP_E_TYPE,       /* a type letter RFC 4566 does not define */
	SDP_E_ORDER,      /* a line where RFC 4566 does not allow it */
	SDP_E_VERSION,    /* first line not v=0 */
	SDP_E_ORIGIN,     /* o= missing or malformed */
	SDP_E_SESSION,    /* s= missing, repeated or empty */
	SDP_E_TIME,       /* t= malformed */
	SDP_E_CONN,       /* c= malformed or repeated */
	SDP_E_FAMILY,     /* an address family we do not serve */
	SDP_E_ADDR,       /* not a unicast numeric address (name, multicast) */
	SDP_E_NOCONN,     /* a media with no c= at either level */
	SDP_E_MEDIA,      /* m= malformed */
	SDP_E_TOOMANY,    /* more than SDP_MAX_MEDIA m= lines */
	SDP_E_PORT,       /* a port out of range, or a port count */
	SDP_E_FMT,        /* a bad, repeated or excess payload type */
	SDP_E_RTPMAP,     /* a=rtpmap malformed or repeated */
	SDP_E_FMTP,       /* a=fmtp malformed or repeated */
	SDP_E_DIR,        /* two direction attributes at one level */
	SDP_E_RTCP,       /* a=rtcp malformed */
	SDP_E_PTIME,      /* a=ptime / a=maxptime out of 1..1000 */
	SDP_E_ATTR,       /* a= with a malformed name */
	SDP_E_ANSWER,     /* an answer that does not match its offer */
	SDP_E_CRYPTO,     /* srtp: a=crypto malformed, repeated tag, too
			   * many (media/sdp_crypto.h) */
	SDP_E__COUNT
};

/* Where and why a description was refused. line is 1-based (0: the body
 * as a whole); type is the line's letter (0 when there is none). */
struct sdp_err {
	enum sdp_rule rule;
	unsigned line;
	char type;
};

enum sdp_af {
	SDP_AF_NONE = 0,
	SDP_AF_IP4 = 1,
	SDP_AF_IP6 = 2,
};

/* Families a parse accepts (mask of 1 << SDP_AF_*). */
#define SDP_SERVE_IP4 (1u << SDP_AF_IP4)
#define SDP_SERVE_IP6 (1u << SDP_AF_IP6)

/* Effective direction. NONE only as "not stated at this level". */
enum sdp_dir {
	SDP_DIR_NONE = 0,
	SDP_DIR_SENDRECV,
	SDP_DIR_SENDONLY,
	SDP_DIR_RECVONLY,
	SDP_DIR_INACTIVE,
};

enum sdp_proto {
	SDP_PROTO_OTHER = 0,  /* kept, never relayed: port 0 in an answer */
	SDP_PROTO_RTP_AVP,
	SDP_PROTO_RTP_SAVP,
	SDP_PROTO_RTP_AVPF,
	SDP_PROTO_RTP_SAVPF,
};

enum sdp_kind {
	SDP_KIND_OTHER = 0,
	SDP_KIND_AUDIO,
	SDP_KIND_VIDEO,
};

struct sdp_conn {
	bool set;
	enum sdp_af af;
	struct sdp_str addr;   /* the literal as written */
	uint8_t ip[16];        /* 4 (IP4) or 16 (IP6) octets, network order */
	bool hold;             /* 0.0.0.0 or :: (RFC 2543 hold) */
	unsigned line;
};

/* srtp (issue 15): one a=crypto line of an RTP media (RFC 4568), decoded
 * by media/sdp_crypto.c. */
#define SDP_MAX_CRYPTO  8      /* a=crypto lines of one media */
struct sdp_crypto {
	uint32_t tag;          /* 1..999999999 */
	uint8_t suite;         /* enum srtpc_suite (media/srtp_ctx.h); 0: a
				* suite or parameters we do not support
				* (kept, never chosen) */
	struct sdp_str key;    /* base64 of master key||salt; for a
				* supported suite checked to decode to
				* exactly its length */
};

/* One payload type of an RTP m= line, in the m= order. */
struct sdp_pt {
	uint8_t pt;
	bool rtpmap;           /* an a=rtpmap was seen (else static/none) */
	struct sdp_str name;   /* encoding name (from rtpmap or static) */
	uint32_t clock;        /* 0 when unknown (dynamic without rtpmap) */
	uint8_t channels;      /* 1 unless stated */
	struct sdp_str fmtp;   /* parameters of a=fmtp, unset when none */
};

struct sdp_media {
	enum sdp_kind kind;
	enum sdp_proto proto;
	struct sdp_str type;   /* "audio", "video", … */
	struct sdp_str protos; /* "RTP/AVP", … */
	struct sdp_str fmts;   /* the format list as written */
	uint16_t port;
	size_t n_pt;           /* RTP protos only */
	struct sdp_pt pt[SDP_MAX_FMT];
	struct sdp_conn conn;  /* media-level c= (set or not) */
	enum sdp_dir dir;      /* media-level attribute, NONE if absent */
	uint16_t rtcp_port;    /* a=rtcp, 0 if absent */
	bool rtcp_mux;
	bool ice;              /* ICE attributes present */
	uint16_t ptime, maxptime; /* ms, 0 if absent */
	size_t n_crypto;       /* srtp: a=crypto lines, in order */
	struct sdp_crypto crypto[SDP_MAX_CRYPTO];
	unsigned line;         /* 1-based line of m= */
	unsigned first, last;  /* line index range of the section, 0-based */
};

struct sdp {
	const char *buf;
	size_t len;
	struct sdp_str o_user, o_addr;
	uint64_t sess_id, sess_ver;
	struct sdp_conn conn;  /* session-level c= */
	enum sdp_dir dir;      /* session-level direction, NONE if absent */
	size_t n_media;
	struct sdp_media media[SDP_MAX_MEDIA];
	/* lines (for the writer): offset and length, without the EOL */
	size_t n_lines;
	uint16_t loff_len[SDP_MAX_LINES][2];
};

/* Name of a rule, for logs and Warning headers ("sdp: line 5 (c=): ..."). */
const char *sdp_rule_str(enum sdp_rule rule);

/* Parse len octets at buf into *sdp (slices into buf). serve is a mask of
 * SDP_SERVE_*: a c= of another family is refused (SDP_E_FAMILY). Returns
 * 0, EINVAL (NULL argument) or EBADMSG with *err set (err may be NULL). */
int sdp_parse(struct sdp *sdp, const char *buf, size_t len, unsigned serve,
	      struct sdp_err *err);

/* Direction of media i as it applies: media level, else session level,
 * else sendrecv. */
enum sdp_dir sdp_media_dir(const struct sdp *sdp, size_t i);

/* The connection that applies to media i (media level, else session
 * level); NULL when there is none (possible only for port 0). */
const struct sdp_conn *sdp_media_conn(const struct sdp *sdp, size_t i);

/* Media i is on hold: sendonly or inactive, or held by c=0.0.0.0 / ::. */
bool sdp_media_held(const struct sdp *sdp, size_t i);

/* Media i is RTP audio (RTP/AVP, RTP/SAVP, AVPF, SAVPF) with a port:
 * the kind of media the relay anchors. */
bool sdp_media_relayable(const struct sdp *sdp, size_t i);

/* Check an answer against the offer it answers (RFC 3264 §6): as many
 * m= lines, each of the same media and protocol; a media the offer
 * rejected stays rejected; every payload type of an accepted RTP media
 * was offered for it, with the same encoding when both name one.
 * Returns 0, EINVAL (NULL argument) or EBADMSG with *err = SDP_E_ANSWER
 * at the answer's m= line (line 0: the count). */
int sdp_answer_check(const struct sdp *offer, const struct sdp *answer,
		     struct sdp_err *err);

/* A set of RTP payload types (0..127). */
struct sdp_ptset {
	uint64_t bits[2];
};

void sdp_ptset_clear(struct sdp_ptset *s);
void sdp_ptset_add(struct sdp_ptset *s, unsigned pt);
bool sdp_ptset_has(const struct sdp_ptset *s, unsigned pt);
size_t sdp_ptset_count(const struct sdp_ptset *s);

/* Configured codecs, in preference order: "PCMU", "opus/48000/2", … A name
 * matches an encoding case-insensitively; an optional clock rate and
 * channel count must match too. */
struct sdp_codecs {
	size_t n;
	const char *name[SDP_MAX_CODECS];
};

/* Intersection of media i of an offer with the allowed list: *out gets
 * the offered payload types whose encoding is allowed, plus
 * telephone-event (RFC 4733) when offered and dtmf is true. Returns 0,
 * EINVAL (bad argument, media not RTP), or ENOENT when no audio codec
 * remains (telephone-event alone does not count): answer 488. */
int sdp_codecs_intersect(const struct sdp *sdp, size_t i,
			 const struct sdp_codecs *allow, bool dtmf,
			 struct sdp_ptset *out);

/* Per-leg origin state, kept by the call layer for the life of a leg:
 * one session id, a version bumped whenever the written body changes
 * (RFC 3264 §8), keyed so a peer cannot make two bodies look alike. */
struct sdp_leg {
	uint64_t sess_id;
	uint64_t version;
	uint64_t last;         /* keyed hash of the last body written */
	bool written;
	uint8_t key[16];
};

/* Fresh random session id and hash key. Returns 0 or EIO. */
int sdp_leg_init(struct sdp_leg *leg);

/* What to write for one leg. media[i] applies to media i of the input;
 * port 0 rejects it (m= with port 0, no attributes). For a relayed media
 * pts is the set to keep (non-empty; NULL keeps all) and rtcp_port the
 * relay's RTCP port (0: port + 1). */
struct sdp_rewrite {
	enum sdp_af af;        /* family of addr */
	const char *addr;      /* relay address, numeric, NUL-terminated */
	bool rtcp_mux;         /* keep a=rtcp-mux (the relay demuxes) */
	bool sendrecv;         /* write the media active: direction
				* attributes dropped (sendrecv is the
				* default) and a hold c= (0.0.0.0, ::)
				* written as addr — the PBX taking a call
				* off hold after a transfer */
	const char *dir;       /* with sendrecv: this direction ("inactive")
				* written after every relayed m= line
				* instead (music on hold answers a hold;
				* issue 13); NULL: none */
	struct {
		uint16_t port;
		uint16_t rtcp_port;
		const struct sdp_ptset *pts;
	} media[SDP_MAX_MEDIA];
	/* srtp (issue 15): every a=crypto of the input is dropped; a
	 * relayed media is written RTP/SAVP(F) followed by "a=crypto:" +
	 * crypto when crypto is set, else RTP/AVP(F) */
	const char *crypto;
};

/* Write the description *in rewritten for a leg into out (size octets;
 * the result is not NUL-terminated, *outlen is its length): o= carries
 * the leg's session id and version (bumped when the body differs from
 * the last one written for this leg), every c= the relay address (the
 * hold forms 0.0.0.0 / :: stay hold), m= the relay port, a=rtcp the
 * relay RTCP port; ICE attributes are dropped (they would bypass the
 * relay), rtpmap/fmtp/rtcp-fb of payload types not kept are dropped;
 * directions (unless rw->sendrecv) and every other line are kept. Lines end in CRLF.
 * Returns 0, EINVAL (bad argument, a relayed media that is not RTP or
 * would keep no payload type, port 65535 without an RTCP port), ENOSPC
 * (out too small) or E2BIG (the result would pass SDP_MAX_LEN or
 * SDP_MAX_LINES, so it would not parse again); *leg changes only on
 * success. */
int sdp_rewrite(char *out, size_t size, size_t *outlen, const struct sdp *in,
		const struct sdp_rewrite *rw, struct sdp_leg *leg);

#endif
