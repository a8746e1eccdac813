/*
 * gate_rules — the pure parts of the gates (vmgate.c): what a personal
 * IVR key means, whether typed digits can be a call password, and the
 * count of wrong call passwords per source that leads to a ban. No I/O,
 * no clock of its own (the caller gives the time): tests/unit/
 * test_gate.c.
 */
#ifndef BULWARK_GATE_RULES_H
#define BULWARK_GATE_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GATE_TRIES        3      /* wrong passwords (or menu keys) a call */
#define GATE_PW_MAX       16     /* security.call_password's max length */
#define GATE_SRC_MAX      64     /* sources remembered */
#define GATE_SRC_FAILS    6      /* wrong passwords from one source ... */
#define GATE_SRC_WINDOW_MS (3600 * 1000)   /* ... within this: banned */

/* What a key of the personal IVR's menu does (docs/admin/calls.md,
 * "Personal IVR"). */
enum gate_pivr {
	GATE_PIVR_RING = 0,   /* 1, 0, or nothing within the time: the
			       * extension itself */
	GATE_PIVR_VOICEMAIL,  /* 2: leave a message in its mailbox */
	GATE_PIVR_DEST,       /* 3: the configured destination */
	GATE_PIVR_INVALID,    /* any other key: the menu again */
};

/* The choice of key d ('\0': nothing pressed within the time). */
enum gate_pivr gate_pivr_pick(char d);

/* true when in (the digits typed before '#' or the quiet) can be a call
 * password at all: 1..GATE_PW_MAX digits 0-9. Anything else is a wrong
 * password without asking the store. */
bool gate_pw_wellformed(const char *in);

/* Wrong call passwords per source address. */
struct gate_src {
	struct {
		char ip[64];
		unsigned n;
		uint64_t first_ms;
	} e[GATE_SRC_MAX];
};

/* One more wrong password from ip at now_ms; returns the failures that
 * source has within the window (this one included). At GATE_SRC_FAILS
 * the caller bans it; its count starts again. The oldest entry gives
 * way when the table is full. */
unsigned gate_src_fail(struct gate_src *t, const char *ip, uint64_t now_ms);
/* (A right password forgets nothing: knowing one extension's password
 * must not buy more guesses at another's.) */

#endif
