/*
 * snapshot — the immutable, in-memory view of the *running* configuration
 * that the data plane reads.
 *
 * Built by the store (control plane) after each commit and at start, then
 * handed to the data plane by store_publish() (store/publish.h): every
 * subscriber that keeps it takes a reference. Nothing in it is shared with
 * the thread that built it: it is allocated with malloc (not libre mem)
 * and owns deep copies of everything. Never modified after it is built,
 * so any thread may read it while it holds a reference.
 *
 * Lifetime: the builder holds the first reference; snapshot_ref() adds
 * one, snapshot_deref() drops one and frees with the last. The count is
 * atomic (a long call may keep the snapshot it started with while the
 * loop moves on; the control plane may drop its reference on its own
 * thread). docs/internals/loop.md.
 */
#ifndef BULWARK_SNAPSHOT_H
#define BULWARK_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>
#include <jansson.h>

#include "common/sip_settings.h"
#include "policy/policy.h"

enum snap_alg { SNAP_ALG_MD5 = 1u << 0, SNAP_ALG_SHA256 = 1u << 1 };
enum snap_tp { SNAP_TP_UDP = 1u << 0, SNAP_TP_TCP = 1u << 1, SNAP_TP_TLS = 1u << 2 };
/* phone.codecs choices (model/fields.c), in the model's order. */
enum snap_codec {
	SNAP_CODEC_NONE = 0, SNAP_CODEC_ULAW, SNAP_CODEC_ALAW, SNAP_CODEC_G722,
	SNAP_CODEC_G729, SNAP_CODEC_GSM, SNAP_CODEC_OPUS, SNAP_CODEC_ILBC,
	SNAP_CODEC_SPEEX, SNAP_CODEC__COUNT
};
#define SNAP_MAX_CODECS 8

/* Forwarding rules of an extension (user.forward.<rule>.*). */
enum snap_fwd {
	SNAP_FWD_IMMEDIATE = 0, SNAP_FWD_BUSY, SNAP_FWD_NOANSWER,
	SNAP_FWD_UNAVAILABLE, SNAP_FWD__COUNT
};
/* ring_group.strategy choices, in the model's order. */
enum snap_strategy {
	SNAP_RING_ALL = 0, SNAP_RING_HUNT, SNAP_RING_MEMORYHUNT, SNAP_RING_RANDOM
};
#define SNAP_NUM 24
/* The caller IDs of an extension (callerid.<kind>.*), by kind. */
enum snap_cid_kind {
	SNAP_CID_INTERNAL = 0, SNAP_CID_EXTERNAL, SNAP_CID_EMERGENCY,
	SNAP_CID__COUNT
};

/* What routing reads of an extension beyond its phone: built only for an
 * extension that has any of it (most have none: snap_ext.feat NULL).
 * Immutable once built; shared by the snapshots that hold the extension
 * and the store's row cache, each holding a reference (atomic). */
struct snap_feat {
	atomic_uint refs;
	char fwd[SNAP_FWD__COUNT][SNAP_NUM];  /* enabled destination, or "" */
	char cos[33];             /* class_of_service; "" = "default" */
	uint8_t strategy;         /* enum snap_strategy */
	bool follow_me;           /* user.follow_me.enabled with a list */
	bool fm_together;         /* user.follow_me.strategy "together" */
	uint16_t n_fm, n_members, n_black;
	/* in the one allocation, after the struct: */
	const char (*fm)[SNAP_NUM];      /* user.follow_me.list */
	const char (*members)[SNAP_NUM]; /* ring_group.members, shared.members
					  * or virtual.destinations */
	const char (*black)[SNAP_NUM];   /* security.blacklist */
};

/* One more reference to f (NULL-safe); returns f. */
const struct snap_feat *snap_feat_ref(const struct snap_feat *f);
/* Drop one (NULL-safe); the last frees. */
void snap_feat_deref(const struct snap_feat *f);

struct snap_ext {
	char number[24];
	uint8_t type;             /* enum model_type */
	bool auth;                /* has SIP credentials (sip, iax2) */
	char ha1_md5[33];         /* hex MD5(number:realm:password) */
	char ha1_sha256[65];      /* hex SHA-256(number:realm:password) */
	uint8_t algs_pref[2];     /* allowed algorithms in order of
				   * preference, 0-terminated (snap_alg) */
	bool has_prev;            /* previous password still remembered */
	char prev_ha1_md5[33];
	char prev_ha1_sha256[65];
	int64_t prev_until;       /* unix seconds; forget prev after this */
	uint16_t max_contacts;    /* phone.max_contacts */
	bool nat;                 /* phone.nat */
	bool qualify;             /* phone.qualify */
	uint8_t transports;       /* snap_tp mask */
	bool srtp;                /* phone.srtp: SRTP mandatory on its
				   * legs (offered over TLS only; srtp,
				   * issue 15) */
	bool static_host;         /* phone.host_mode == "static" */
	char host_ip[48];         /* phone.host_ip when static */
	/* what the call layer reads */
	char name[64];            /* display name (the name field) */
	uint16_t limit_in;        /* phone.call_limit_in (0: no calls) */
	uint16_t limit_out;       /* phone.call_limit_out */
	uint8_t n_codecs;         /* phone.codecs, in preference order */
	uint8_t codecs[SNAP_MAX_CODECS];   /* enum snap_codec */
	uint16_t ring_time;       /* user.ring_time, seconds (0: default) */
	char language[17];        /* user.language ("" = the default set) */
	/* camp-on (issue 13) */
	bool camp_on;             /* user.camp_on: callers may camp on it */
	/* what voicemail reads */
	bool vm;                  /* voicemail.enabled: has a mailbox */
	bool mwi;                 /* voicemail.mwi (only with vm) */
	const struct snap_feat *feat;   /* NULL: no routing feature */
	/* gates (issue 13): what routing needs, never the secret */
	bool call_pw;             /* security.call_password is set */
	bool pivr;                /* user.personal_ivr.enabled with a
				   * destination */
	char pivr_dest[SNAP_NUM]; /* user.personal_ivr.destination */
	/* ring group (issue 13): the mailbox that takes its messages, the
	 * first of ring_group.vm_copies ("" none) */
	char rg_vm[SNAP_NUM];
	/* caller ID (call/callerid.h reads these; issue 13) */
	bool cid_override;        /* callerid.allow_override */
	bool send_pai, send_rpid; /* phone.send_pai, phone.send_rpid */
	const struct snap_cid *cid;   /* NULL: every caller ID the default,
				       * no Alert-Info (most extensions) */
	/* call recording and music on hold (issue 13, media) */
	uint8_t recording;        /* user.recording: enum snap_rec */
	char moh_class[33];       /* user.moh_class ("" = "default") */
};

/* An extension's custom caller IDs and Alert-Info: built only for one
 * that has any (refcounted and shared like snap_feat). */
struct snap_cid {
	atomic_uint refs;
	struct snap_cid_one {
		bool custom;          /* callerid.<kind>.use_default false */
		char name[65];        /* callerid.<kind>.name */
		char number[22];      /* callerid.<kind>.number */
	} k[SNAP_CID__COUNT];     /* enum snap_cid_kind */
	char alert_info[129];     /* phone.alert_info, "" = none */
};

/* One more reference to c (NULL-safe); returns c. */
const struct snap_cid *snap_cid_ref(const struct snap_cid *c);
/* Drop one (NULL-safe); the last frees. */
void snap_cid_deref(const struct snap_cid *c);

/* user.recording */
enum snap_rec { SNAP_REC_NEVER = 0, SNAP_REC_ALWAYS, SNAP_REC_ON_DEMAND };

/* The SDP encoding ("PCMU/8000", "opus/48000/2") of a snap_codec, for
 * sdp_codecs (media/sdp.h); NULL for an unknown value. */
const char *snap_codec_sdp(uint8_t codec);

struct snapshot {
	atomic_uint refs;         /* references held; 0 or 1 = the last one */
	uint64_t version;         /* commit number, 0 = nothing committed */
	char realm[64];           /* sip.realm */
	size_t n_ext;
	struct snap_ext *ext;     /* sorted by number (strcmp) */
	struct policy policy;
	/* The settings sections the data plane reads, typed: decoded once
	 * when the snapshot is built (the loop never parses JSON). */
	bool typed;               /* false: built by hand (tests) */
	struct sip_settings sip;
	/* Every other section with a decoder (store_section.decode), by
	 * name; owned. */
	size_t n_typed;
	struct snap_typed {
		const char *name; /* the section's (static storage) */
		void *data;
	} typed_sec[16];
	/* Deep copies of the running settings sections, owned, read-only.
	 * Keys as each section's owner defines them. May be empty objects. */
	json_t *sections;         /* {"sip":{...},"guard":{...},...} */
};

/* Feature codes (the "features" section, typed): the catalogue's order
 * (store/features.c). */
enum snap_feature {
	SNAP_FEAT_VOICEMAIL = 0, SNAP_FEAT_HOTDESK, SNAP_FEAT_PICKUP,
	SNAP_FEAT_DND, SNAP_FEAT_FORWARD, SNAP_FEAT_INTERCOM,
	SNAP_FEAT_VOICEMAIL_LOGIN, SNAP_FEAT_HOTDESK_LOGOUT, SNAP_FEAT_CAMP_ON,
	SNAP_FEAT__COUNT
};
/* Destination classes a class of service may list (bits after the
 * features'). */
enum snap_dest {
	SNAP_DEST_INTERNAL = 0, SNAP_DEST_LOCAL, SNAP_DEST_NATIONAL,
	SNAP_DEST_INTERNATIONAL, SNAP_DEST_PREMIUM, SNAP_DEST_EMERGENCY,
	SNAP_DEST__COUNT
};
#define SNAP_COS_DEST(d) (1u << (SNAP_FEAT__COUNT + (d)))
#define SNAP_COS_DESTS (((1u << SNAP_DEST__COUNT) - 1) << SNAP_FEAT__COUNT)
#define SNAP_COS_MAX 64

struct snap_features {
	char code[SNAP_FEAT__COUNT][8];   /* dialled code, "" = none */
};
struct snap_cos {
	size_t n;
	struct {
		char name[33];
		uint32_t allow;   /* 1u << snap_feature | SNAP_COS_DEST(d) */
	} cls[SNAP_COS_MAX];
};

/* Extension by number (not NUL-terminated: pointer + length), or NULL. */
const struct snap_ext *snapshot_find(const struct snapshot *s,
				     const char *num, size_t len);

/* The "sip" section, typed (borrowed, never NULL): the defaults for a
 * snapshot built by hand. */
const struct sip_settings *snapshot_sip(const struct snapshot *s);

/* A section decoded by its owner's decoder (struct store_section.decode),
 * borrowed for as long as the snapshot; NULL when the section has no
 * decoder or the snapshot was built by hand. */
const void *snapshot_typed(const struct snapshot *s, const char *section);

/* A running settings section (borrowed reference, never NULL: an empty
 * object if absent). */
const json_t *snapshot_section(const struct snapshot *s, const char *name);

/* One more reference to s (any thread). Returns s; NULL-safe. */
struct snapshot *snapshot_ref(struct snapshot *s);

/* Drop one reference (any thread); the last one frees. Returns NULL, so
 * that `p = snapshot_deref(p)` clears the holder's pointer. NULL-safe. */
struct snapshot *snapshot_deref(struct snapshot *s);

/* snapshot_deref() for a holder that does not keep the pointer. */
void snapshot_free(struct snapshot *s);

#endif
