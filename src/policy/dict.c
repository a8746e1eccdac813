/*
 * dict — the dictionary of forbidden words, as a letter trie.
 *
 * Why a trie: the SIP rule asks whether *any* substring of a password, read
 * with substitutions undone (where '1' may be 'l' or 'i'), is a word. A trie
 * answers that in one walk per start position and stops as soon as no word
 * continues the letters read so far, so a check costs a few dozen node
 * visits instead of one hash lookup per (start, length, variant).
 *
 * Layout: nodes live in one array and link by index (first child, next
 * sibling; siblings sorted by letter). The 26 first letters hang off a
 * direct table. Index 0 is "no node". The array has a hard bound
 * (DICT_MAX_NODES); reaching it is reported as ENOMEM.
 *
 * The dictionary is written only by policy_dict_add and read-only after
 * that, so one dictionary may be shared by any number of threads.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"
#include "policy/policy_int.h"

/* 4 M nodes × 12 bytes = 48 MiB at most; wamerican needs ~170 k. */
#define DICT_MAX_NODES (4u * 1024u * 1024u)
#define DICT_FIRST_CAP 4096u
/* A line with more '1's than this is skipped: each '1' doubles the
 * number of spellings added. */
#define DICT_MAX_ONES 3u

struct dict_node {
	uint32_t child;     /* first child, 0 = none */
	uint32_t sibling;   /* next sibling (greater letter), 0 = none */
	uint8_t letter;     /* 0..25 */
	uint8_t word;       /* a word ends here */
};

struct policy_dict {
	struct dict_node *node;
	uint32_t n, cap;      /* node[0] is unused: index 0 means "none" */
	uint32_t root[26];
	size_t words;
};

int policy_dict_alloc(struct policy_dict **dp)
{
	struct policy_dict *d;

	if (!dp)
		return EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return ENOMEM;
	d->n = 1;
	*dp = d;
	return 0;
}

void policy_dict_free(struct policy_dict *d)
{
	if (!d)
		return;
	free(d->node);
	free(d);
}

size_t policy_dict_size(const struct policy_dict *d)
{
	return d ? d->words : 0;
}

void policy_cand_of(unsigned char ch, struct policy_cand *out)
{
	out->c[0] = -1;
	out->c[1] = -1;
	if (ch >= 'a' && ch <= 'z') {
		out->c[0] = (signed char)(ch - 'a');
		return;
	}
	if (ch >= 'A' && ch <= 'Z') {
		out->c[0] = (signed char)(ch - 'A');
		return;
	}
	switch (ch) {
	case '0': out->c[0] = 'o' - 'a'; break;
	case '1': out->c[0] = 'l' - 'a'; out->c[1] = 'i' - 'a'; break;
	case '3': out->c[0] = 'e' - 'a'; break;
	case '4': out->c[0] = 'a' - 'a'; break;
	case '5': out->c[0] = 's' - 'a'; break;
	case '7': out->c[0] = 't' - 'a'; break;
	case '@': out->c[0] = 'a' - 'a'; break;
	case '$': out->c[0] = 's' - 'a'; break;
	default: break;
	}
}

static uint32_t node_new(struct policy_dict *d, uint8_t letter,
			 uint32_t sibling)
{
	struct dict_node *nd;

	if (d->n >= d->cap) {
		uint32_t cap = d->cap ? d->cap * 2 : DICT_FIRST_CAP;
		struct dict_node *p;

		if (cap > DICT_MAX_NODES)
			cap = DICT_MAX_NODES;
		if (cap <= d->n)
			return 0;
		p = realloc(d->node, (size_t)cap * sizeof(*p));
		if (!p)
			return 0;
		d->node = p;
		d->cap = cap;
	}
	nd = &d->node[d->n];
	nd->child = 0;
	nd->sibling = sibling;
	nd->letter = letter;
	nd->word = 0;
	return d->n++;
}

/* Child of parent with letter, created (in sorted place) if absent.
 * *link is the slot that points at the first candidate sibling. */
static uint32_t child_get(struct policy_dict *d, uint32_t parent,
			  uint8_t letter)
{
	uint32_t prev = 0, cur, nw;

	cur = d->node[parent].child;
	while (cur && d->node[cur].letter < letter) {
		prev = cur;
		cur = d->node[cur].sibling;
	}
	if (cur && d->node[cur].letter == letter)
		return cur;
	nw = node_new(d, letter, cur);   /* may move d->node */
	if (!nw)
		return 0;
	if (prev)
		d->node[prev].sibling = nw;
	else
		d->node[parent].child = nw;
	return nw;
}

static int insert(struct policy_dict *d, const uint8_t *w, size_t len)
{
	uint32_t cur;

	cur = d->root[w[0]];
	if (!cur) {
		cur = node_new(d, w[0], 0);
		if (!cur)
			return ENOMEM;
		d->root[w[0]] = cur;
	}
	for (size_t i = 1; i < len; i++) {
		cur = child_get(d, cur, w[i]);
		if (!cur)
			return ENOMEM;
	}
	if (!d->node[cur].word) {
		d->node[cur].word = 1;
		d->words++;
	}
	return 0;
}

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* One line: trim, skip comments, lower-case, strip a possessive "'s",
 * undo substitutions; anything that is still not a letter skips the line.
 * Each '1' is added both as 'l' and as 'i'. */
static int add_line(struct policy_dict *d, const char *s, size_t len)
{
	uint8_t w[POLICY_DICT_WORD_MAX];
	size_t ones[DICT_MAX_ONES], none = 0;
	int err;

	while (len && is_space((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len && is_space((unsigned char)s[len - 1]))
		len--;
	if (!len || s[0] == '#')
		return 0;
	if (len >= 2 && s[len - 2] == '\'' &&
	    (s[len - 1] == 's' || s[len - 1] == 'S'))
		len -= 2;
	if (len < 3 || len > POLICY_DICT_WORD_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		struct policy_cand c;

		policy_cand_of((unsigned char)s[i], &c);
		if (c.c[0] < 0)
			return 0;
		if (c.c[1] >= 0) {
			if (none == DICT_MAX_ONES)
				return 0;
			ones[none++] = i;
		}
		w[i] = (uint8_t)c.c[0];
	}
	for (unsigned mask = 0; mask < (1u << none); mask++) {
		for (size_t k = 0; k < none; k++)
			w[ones[k]] = (mask >> k) & 1 ? 'i' - 'a' : 'l' - 'a';
		err = insert(d, w, len);
		if (err)
			return err;
	}
	return 0;
}

int policy_dict_add(struct policy_dict *d, const char *buf, size_t len)
{
	size_t i = 0;
	int err = 0;

	if (!d || (!buf && len))
		return EINVAL;
	while (i < len) {
		const char *nl = memchr(buf + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - buf) : len;

		err = add_line(d, buf + i, end - i);
		if (err)
			goto out;
		i = end + 1;
	}
 out:
	return err;
}

static uint32_t child_find(const struct policy_dict *d, uint32_t parent,
			   uint8_t letter)
{
	uint32_t cur = d->node[parent].child;

	while (cur && d->node[cur].letter < letter)
		cur = d->node[cur].sibling;
	if (cur && d->node[cur].letter == letter)
		return cur;
	return 0;
}

/* Longest word (>= minw letters) starting at cand[i] below node 'at'
 * (depth letters already read). Depth is bounded by the longest word. */
static size_t walk(const struct policy_dict *d, const struct policy_cand *cand,
		   size_t n, size_t i, uint32_t at, size_t depth, unsigned minw)
{
	size_t best = 0;

	for (int k = 0; k < 2; k++) {
		signed char c = cand[i].c[k];
		uint32_t nx;
		size_t sub;

		if (c < 0)
			break;
		nx = depth ? child_find(d, at, (uint8_t)c) : d->root[(int)c];
		if (!nx)
			continue;
		if (d->node[nx].word && depth + 1 >= minw && depth + 1 > best)
			best = depth + 1;
		if (i + 1 < n && d->node[nx].child) {
			sub = walk(d, cand, n, i + 1, nx, depth + 1, minw);
			if (sub > best)
				best = sub;
		}
	}
	return best;
}

bool policy_dict_find(const struct policy_dict *d,
		      const struct policy_cand *cand, size_t n, unsigned minw,
		      size_t *pos, size_t *len)
{
	if (!d || !d->words || !minw)
		return false;
	if (minw < 3)
		minw = 3;
	for (size_t i = 0; i + minw <= n; i++) {
		size_t l = walk(d, cand, n, i, 0, 0, minw);

		if (l) {
			*pos = i;
			*len = l;
			return true;
		}
	}
	return false;
}
