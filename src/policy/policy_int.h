/*
 * policy_int — shared between policy.c, dict.c and generate.c only.
 *
 * A password is matched against words and name parts through its
 * "candidates": for every character, the letters it may stand for after
 * lower-casing and undoing the common substitutions (0→o 1→l|i 3→e 4→a
 * 5→s 7→t @→a $→s). Any other character stands for no letter and so
 * breaks a word.
 */
#ifndef BULWARK_POLICY_INT_H
#define BULWARK_POLICY_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "policy/policy.h"

/* Passwords longer than this are refused by sip.max_length's upper bound
 * anyway; the dictionary and name scans stop here so that a huge input
 * cannot cost more than a bounded amount of work. */
#define POLICY_SCAN_MAX 256u

/* Longest dictionary word kept (longer lines are skipped). */
#define POLICY_DICT_WORD_MAX 64u

/* Up to two letters (0..25) a character may stand for; -1 = none. */
struct policy_cand {
	signed char c[2];
};

/* Fill out with the letters ch may stand for. */
void policy_cand_of(unsigned char ch, struct policy_cand *out);

/* Search d for a word of at least minw letters inside the candidate string
 * cand[0..n). On a hit, *pos and *len give the first (leftmost, then
 * longest) match and true is returned. */
bool policy_dict_find(const struct policy_dict *d,
		      const struct policy_cand *cand, size_t n, unsigned minw,
		      size_t *pos, size_t *len);

#endif
