/*
 * fuzz_contact — libFuzzer target for the name-addr / addr-spec parser
 * (sipmsg_addr), which reads every Contact entry of a REGISTER and the
 * From and To headers of every request. The SIP harness reaches it only
 * behind a request that parses and checks; here the bytes are the header
 * value itself. Run as a Contact list (entry after entry, as the
 * registrar walks it) and as a single From/To value. Every slice of an
 * entry must lie inside the input, sub-slices inside their slice, and
 * each entry must move the cursor forward.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sip/sipmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void fuzz_cleanup(void);

/* s lies inside [b, b + n) (an unset slice is fine). */
static void inside(const struct sipmsg_str *s, const char *b, size_t n)
{
	if (!s->p) {
		if (s->l)
			abort();
		return;
	}
	if (s->p < b || s->p > b + n || s->l > (size_t)(b + n - s->p))
		abort();
}

static void entry_ok(const struct sipmsg_addr *a, const char *b, size_t n)
{
	inside(&a->dname, b, n);
	inside(&a->uri, b, n);
	inside(&a->params, b, n);
	if (a->star) {
		/* '*' has no URI, no parameters */
		if (a->uri.l || a->params.l || a->dname.l)
			abort();
		return;
	}
	if (!a->uri.l)
		abort();
	/* the user part is inside the URI, the tag and expires values
	 * inside the parameters */
	if (a->user.p)
		inside(&a->user, a->uri.p, a->uri.l);
	if (a->tag.p)
		inside(&a->tag, a->params.p, a->params.l);
	if (a->expires.p)
		inside(&a->expires, a->params.p, a->params.l);
	/* the URI of a name-addr has no '<' '>' '"' or whitespace */
	for (size_t i = 0; i < a->uri.l; i++) {
		char c = a->uri.p[i];

		if (c == '<' || c == '>' || c == '"' || c == ' ' ||
		    c == '\t' || c == '\r' || c == '\n')
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *b = (const char *)data, *e = b + size, *p = b;
	struct sipmsg_addr a;
	size_t entries = 0;
	bool star = false;

	/* a Contact value, entry by entry */
	while (p < e) {
		const char *before = p;

		if (sipmsg_addr(&a, &p, e, true))
			break;
		if (p <= before || p > e || ++entries > size)
			abort();   /* no progress: the caller would spin */
		entry_ok(&a, b, size);
		star |= a.star;
	}
	(void)star;
	/* a From / To value: one entry, no list */
	p = b;
	if (!sipmsg_addr(&a, &p, e, false)) {
		if (a.star || p != e)
			abort();   /* the whole value or nothing */
		entry_ok(&a, b, size);
	}
	return 0;
}

void fuzz_cleanup(void)
{
}
