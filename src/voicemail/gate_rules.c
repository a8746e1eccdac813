/*
 * gate_rules — the gates' pure rules (gate_rules.h).
 */
#include <stdio.h>
#include <string.h>

#include "voicemail/gate_rules.h"

enum gate_pivr gate_pivr_pick(char d)
{
	switch (d) {
	case '\0':
	case '0':
	case '1':
		return GATE_PIVR_RING;
	case '2':
		return GATE_PIVR_VOICEMAIL;
	case '3':
		return GATE_PIVR_DEST;
	default:
		return GATE_PIVR_INVALID;
	}
}

bool gate_pw_wellformed(const char *in)
{
	size_t n = in ? strnlen(in, GATE_PW_MAX + 1) : 0;

	if (n == 0 || n > GATE_PW_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (in[i] < '0' || in[i] > '9')
			return false;
	return true;
}

static int find(struct gate_src *t, const char *ip)
{
	for (int i = 0; i < GATE_SRC_MAX; i++)
		if (t->e[i].ip[0] && !strcmp(t->e[i].ip, ip))
			return i;
	return -1;
}

unsigned gate_src_fail(struct gate_src *t, const char *ip, uint64_t now_ms)
{
	int i = find(t, ip);

	if (i >= 0 && now_ms - t->e[i].first_ms > GATE_SRC_WINDOW_MS)
		t->e[i].ip[0] = '\0';   /* its window passed: a new one */
	if (i < 0 || !t->e[i].ip[0]) {
		/* a free slot, else the oldest */
		int slot = 0;

		for (int k = 0; k < GATE_SRC_MAX; k++) {
			if (!t->e[k].ip[0]) {
				slot = k;
				break;
			}
			if (t->e[k].first_ms < t->e[slot].first_ms)
				slot = k;
		}
		i = slot;
		snprintf(t->e[i].ip, sizeof(t->e[i].ip), "%s", ip);
		t->e[i].n = 0;
		t->e[i].first_ms = now_ms;
	}
	if (++t->e[i].n >= GATE_SRC_FAILS) {
		unsigned n = t->e[i].n;

		t->e[i].ip[0] = '\0';   /* banned: counted afresh after */
		return n;
	}
	return t->e[i].n;
}
