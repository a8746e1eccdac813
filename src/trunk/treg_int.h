/*
 * treg_int — what treg.c (records, snapshot, transactions) and
 * treg_msg.c (requests, answers) share. Loop thread only.
 */
#ifndef BULWARK_TREG_INT_H
#define BULWARK_TREG_INT_H

/* libre's sa, tmr, list and the ctrans types come with the includer */

enum treg_state { TS_OFF = 0, TS_REGISTERING, TS_REGISTERED, TS_FAILED,
		  TS_UNSUPPORTED };

struct tone {
	struct le le;
	struct treg *owner;
	struct trunk_conf c;       /* a copy: wiped when freed */
	enum treg_state state;
	char last_error[256];
	int64_t registered_at, expires_at, next_at;   /* unix s, 0 none */
	uint32_t failures, backoff_s, expiry;
	uint32_t cseq;
	char callid[48], ftag[20];
	bool answered;             /* this attempt answered a challenge */
	bool leaving;              /* un-REGISTER (Expires: 0) in flight:
				    * on t->leaving, freed when answered */
	struct ctrans_tx *tx;
	struct sa dst;
	struct tmr tmr;
	/* transport and outbound connection (0: UDP or none) */
	enum sipd_tp tp;
	uint64_t conn;
	char why[160];             /* why treg_send failed, when it knows */
	uint32_t dns_wait;         /* polls of a DNS lookup in progress */
};

struct treg {
	struct sipd *sd;
	struct ctrans *ct;
	struct tmr tick;
	struct list trunks;
	struct list leaving;       /* records un-REGISTERing */
	struct tmr stop;           /* treg_stop's bound */
	bool stopping;             /* treg_stop: re_cancel when done */
	struct tmr dns;            /* keeps names' answers fresh */
	char buf[4096];
	char auth[1024];
};

uint64_t treg_now_ms(void);
/* Run the transaction table's timers when it next has work. */
void treg_ct_schedule(struct treg *t);
/* Next attempt of o in in_s seconds. */
void treg_schedule(struct tone *o, uint32_t in_s);
/* An attempt of o failed (why: for the status and the log): backoff. */
void treg_fail(struct tone *o, const char *why);
/* Send o's REGISTER, with header auth_name: auth_val when not NULL
 * (TCP/TLS: over the trunk's outbound connection, opened when needed).
 * 0 or errno (o->why may say more). */
int treg_send(struct tone *o, const char *auth_name, const char *auth_val);
/* o's REGISTER got final response m. */
void treg_final(struct tone *o, const struct sipmsg *m);

#endif
