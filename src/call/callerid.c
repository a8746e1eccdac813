/*
 * callerid — caller ID presentation, PAI/RPID and Alert-Info (see
 * callerid.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "call/callerid.h"

_Static_assert(sizeof(((struct cid *)0)->name) ==
	       sizeof(((struct snap_cid_one *)0)->name), "cid name size");
_Static_assert(sizeof(((struct cid *)0)->number) ==
	       sizeof(((struct snap_cid_one *)0)->number), "cid number size");

/* x's custom caller ID of kind k, or NULL (the default). */
static const struct snap_cid_one *custom(const struct snap_ext *x,
					 enum cid_kind k)
{
	return x && x->cid && (unsigned)k < SNAP_CID__COUNT &&
		x->cid->k[k].custom ? &x->cid->k[k] : NULL;
}

/* Copy what a display name may hold: printable ASCII without '"' and
 * '\\' (the model's caller ID name rule; the extension's name field is
 * stricter still). */
static void copy_name(char *dst, size_t sz, const char *src)
{
	size_t n = 0;

	for (; src && *src && n + 1 < sz; src++)
		if (*src >= 0x20 && *src <= 0x7e && *src != '"' &&
		    *src != '\\')
			dst[n++] = *src;
	dst[n] = '\0';
}

void callerid_for(const struct snap_ext *x, enum cid_kind k,
		  struct cid *out)
{
	const struct snap_cid_one *c = custom(x, k);

	memset(out, 0, sizeof(*out));
	if (!x || (unsigned)k >= SNAP_CID__COUNT)
		return;
	if (c) {
		copy_name(out->name, sizeof(out->name), c->name);
		snprintf(out->number, sizeof(out->number), "%s", c->number);
		return;
	}
	copy_name(out->name, sizeof(out->name), x->name);
	snprintf(out->number, sizeof(out->number), "%.21s", x->number);
}

/* The phone's display name as a caller ID name, or false. */
static bool phone_name(char *dst, size_t sz, const char *p, size_t l)
{
	if (l >= 2 && p[0] == '"' && p[l - 1] == '"') {
		p++;
		l -= 2;
	}
	while (l && p[0] == ' ') {
		p++;
		l--;
	}
	while (l && p[l - 1] == ' ')
		l--;
	if (!l || l >= sz)
		return false;
	for (size_t i = 0; i < l; i++)
		if (p[i] < 0x20 || p[i] > 0x7e || p[i] == '"' || p[i] == '\\')
			return false;
	memcpy(dst, p, l);
	dst[l] = '\0';
	return true;
}

void callerid_internal(const struct snap_ext *x, const char *disp,
		       size_t dl, struct cid *out)
{
	char name[sizeof(out->name)];

	callerid_for(x, CID_INTERNAL, out);
	if (x && x->cid_override && disp &&
	    phone_name(name, sizeof(name), disp, dl))
		memcpy(out->name, name, sizeof(name));
}

void callerid_trunk(const struct snap_ext *x, enum cid_kind k,
		    const struct cid *line, struct cid *out)
{
	if (k == CID_EMERGENCY && custom(x, CID_EMERGENCY)) {
		callerid_for(x, CID_EMERGENCY, out);
		return;
	}
	if (line && line->number[0] && !(x && x->cid_override)) {
		*out = *line;
		return;
	}
	callerid_for(x, CID_EXTERNAL, out);
}

bool callerid_hdr_ok(const char *s)
{
	size_t n;

	if (!s || !s[0] || s[0] == ' ')
		return false;
	for (n = 0; s[n]; n++)
		if (s[n] < 0x20 || s[n] > 0x7e || n >= 128)
			return false;
	return s[n - 1] != ' ';
}

/* A number fit for a URI's user part. */
static bool number_ok(const char *s)
{
	if (!s[0])
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= 'A' && *s <= 'Z') || strchr("+*#._-", *s)))
			return false;
	return true;
}

/* Append one whole line (or nothing). */
__attribute__((format(printf, 4, 5)))
static size_t add(char *buf, size_t sz, size_t off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (off >= sz)
		return off;
	va_start(ap, fmt);
	n = vsnprintf(buf + off, sz - off, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sz - off) {
		buf[off] = '\0';
		return off;
	}
	return off + (size_t)n;
}

/* "Name" <sip:number@realm> (no display part when the name is empty). */
static size_t identity(char *buf, size_t sz, size_t off, const char *hdr,
		       const struct cid *id, const char *realm,
		       const char *params)
{
	char name[sizeof(id->name)];

	if (!number_ok(id->number))
		return off;
	copy_name(name, sizeof(name), id->name);
	if (name[0])
		return add(buf, sz, off, "%s: \"%s\" <sip:%s@%s>%s\r\n", hdr,
			   name, id->number, realm, params);
	return add(buf, sz, off, "%s: <sip:%s@%s>%s\r\n", hdr, id->number,
		   realm, params);
}

size_t callerid_invite_hdrs(char *buf, size_t sz, size_t off,
			    const struct snap_ext *to, const struct cid *id,
			    const char *realm)
{
	if (!buf || !to || !id || !realm)
		return off;
	if (to->send_pai)
		off = identity(buf, sz, off, "P-Asserted-Identity", id, realm,
			       "");
	else if (to->send_rpid)
		off = identity(buf, sz, off, "Remote-Party-ID", id, realm,
			       ";party=calling;screen=yes;privacy=off");
	if (to->cid && callerid_hdr_ok(to->cid->alert_info))
		off = add(buf, sz, off, "Alert-Info: %s\r\n",
			  to->cid->alert_info);
	return off;
}

size_t callerid_answer_hdrs(char *buf, size_t sz, size_t off,
			    const struct snap_ext *caller,
			    const struct cid *id, const char *realm)
{
	if (!buf || !caller || !id || !realm)
		return off;
	if (caller->send_pai)
		return identity(buf, sz, off, "P-Asserted-Identity", id, realm,
				"");
	if (caller->send_rpid)
		return identity(buf, sz, off, "Remote-Party-ID", id, realm,
				";party=called;screen=yes;privacy=off");
	return off;
}

/* outbound (issue 15) */
size_t callerid_trunk_hdrs(char *buf, size_t sz, size_t off,
			   unsigned id_header, const struct cid *id,
			   const char *domain)
{
	if (!buf || !id || !domain)
		return off;
	if (id_header == 1)
		return identity(buf, sz, off, "P-Asserted-Identity", id,
				domain, "");
	if (id_header == 2)
		return identity(buf, sz, off, "Remote-Party-ID", id, domain,
				";party=calling;screen=yes;privacy=off");
	return off;
}
