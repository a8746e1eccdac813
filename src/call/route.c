/*
 * route — the routing rules, in the order they apply (route.h;
 * docs/internals/calls.md, "Routing").
 */
#include <string.h>

#include "call/route.h"
#include "call/route_int.h"
#include "model/model.h"
#include "store/snapshot.h"

static const char *const rule_names[ROUTE_R__COUNT] = {
	[ROUTE_R_NONE] = "none",
	[ROUTE_R_GLOBAL_LIMIT] = "global_limit",
	[ROUTE_R_CALLER_LIMIT] = "caller_limit",
	[ROUTE_R_FEATURE_CODE] = "feature_code",
	[ROUTE_R_NOT_FOUND] = "not_found",
	[ROUTE_R_NOT_SERVED] = "not_served",
	[ROUTE_R_CALLEE_LIMIT] = "callee_limit",
	[ROUTE_R_UNAVAILABLE] = "unavailable",
	[ROUTE_R_EXTENSION] = "extension",
	[ROUTE_R_BLACKLIST] = "blacklist",
	[ROUTE_R_COS_FEATURE] = "cos_feature",
	[ROUTE_R_COS_DEST] = "cos_destination",
	[ROUTE_R_LOOP] = "forward_loop",
	[ROUTE_R_VOICEMAIL] = "voicemail",
	[ROUTE_R_FWD_IMMEDIATE] = "forward_immediate",
	[ROUTE_R_FWD_BUSY] = "forward_busy",
	[ROUTE_R_FWD_NOANSWER] = "forward_no_answer",
	[ROUTE_R_FWD_UNAVAILABLE] = "forward_unavailable",
	[ROUTE_R_RING_GROUP] = "ring_group",
	[ROUTE_R_SHARED] = "shared",
	[ROUTE_R_VIRTUAL] = "virtual",
	[ROUTE_R_NO_MEMBER] = "no_member",
	[ROUTE_R_VM_ACCESS] = "voicemail_access",
	[ROUTE_R_CALLPW] = "call_password",
	[ROUTE_R_PIVR] = "personal_ivr",
	[ROUTE_R_CAMPON] = "camp_on",
	[ROUTE_R_CAMPON_REFUSED] = "camp_on_refused",
	[ROUTE_R_HOTDESK] = "hotdesk",
	[ROUTE_R_HOTDESK_CODE] = "hotdesk_code",
	[ROUTE_R_TRUNK] = "trunk",                 /* outbound (issue 15) */
	[ROUTE_R_EMERGENCY] = "emergency",
	[ROUTE_R_TRUNK_INBOUND] = "trunk_inbound",
	[ROUTE_R_TOLL_LIMIT] = "toll_limit",
};

const char *route_rule_str(enum route_rule r)
{
	return (size_t)r < ROUTE_R__COUNT && rule_names[r] ? rule_names[r] :
		"unknown";
}


void route_reject(struct route_result *out, enum route_rule rule,
			 unsigned code, const char *reason, const char *disp)
{
	out->kind = ROUTE_REJECT;
	out->rule = rule;
	out->code = code;
	out->reason = reason;
	out->disposition = disp;
}

/* An extension a call can ring today: a phone with SIP credentials. */
bool route_rings(const struct snap_ext *x)
{
	return x->auth && (x->type == MODEL_SIP || x->type == MODEL_IAX2);
}

static bool busy(const struct ctx *c, const struct snap_ext *x)
{
	return c->live->calls_in(x->number, c->live->arg) >= x->limit_in;
}

static bool reachable(const struct ctx *c, const struct snap_ext *x)
{
	return c->live->contacts(x->number, c->live->arg) > 0;
}

static const struct snap_ext *find(const struct ctx *c, const char *num)
{
	return snapshot_find(c->snap, num, strlen(num));
}

/* hotdesk (issue 13): the phone hotdesk extension x's user is logged in
 * at, when it is one that rings; NULL otherwise. */
static const struct snap_ext *hotdesk_phone(const struct ctx *c,
					    const struct snap_ext *x)
{
	const char *at = c->live->hotdesk_at ?
		c->live->hotdesk_at(x->number, c->live->arg) : NULL;
	const struct snap_ext *p = at ? find(c, at) : NULL;

	return p && route_rings(p) ? p : NULL;
}

/* What rings for t as a follow-me entry or a group member: a phone
 * itself, a hotdesk extension its user's phone (when logged in). */
static const struct snap_ext *ringer(const struct ctx *c,
				     const struct snap_ext *t)
{
	if (t && t->type == MODEL_HOTDESK)
		return hotdesk_phone(c, t);
	return t && route_rings(t) ? t : NULL;
}

/* x's forward destination for rule w, when enabled and it exists. */
static const struct snap_ext *fwd_to(const struct ctx *c,
				     const struct snap_ext *x,
				     enum snap_fwd w)
{
	if (!x->feat || !x->feat->fwd[w][0])
		return NULL;
	return find(c, x->feat->fwd[w]);
}

/* outbound (issue 15): x forwards (rule w) to an external number that
 * an outbound route takes: the call leaves on a trunk, counted against
 * x and allowed by x's class. true when that decided. */
static bool fwd_out(struct ctx *c, const struct snap_ext *x,
		    enum snap_fwd w, enum route_rule rule, unsigned hops)
{
	const char *to = x->feat ? x->feat->fwd[w] : "";

	if (!to[0] || find(c, to))
		return false;
	if (!route_trunk(c, x, to, strlen(to), false))
		return false;
	c->out->fwd_rule = rule;
	c->out->fwd_from = x;
	c->out->hops = hops + 1;
	return true;
}

bool route_blacklisted(const struct snap_ext *x, const char *number)
{
	for (size_t i = 0; x->feat && i < x->feat->n_black; i++)
		if (!strcmp(x->feat->black[i], number))
			return true;
	return false;
}

/* Index of x among the plan's targets (added if new), -1 when full. */
static int target(struct route_result *out, const struct snap_ext *x,
		  bool dedupe)
{
	for (size_t i = 0; dedupe && i < out->n_targets; i++)
		if (out->targets[i] == x)
			return (int)i;
	if (out->n_targets >= ROUTE_MAX_TARGETS)
		return -1;
	out->targets[out->n_targets] = x;
	return (int)out->n_targets++;
}

static void step(struct route_result *out, size_t first, size_t n,
		 unsigned ring_s)
{
	if (out->n_steps >= ROUTE_MAX_STEPS || !n)
		return;
	out->steps[out->n_steps++] = (struct route_step){
		(uint8_t)first, (uint8_t)n, (uint16_t)ring_s };
}


/* Follow a forward from `from` to `to`; past the bound, 482. */
static void forward(struct ctx *c, const struct snap_ext *from,
		    const struct snap_ext *to, enum route_rule rule,
		    unsigned hops)
{
	struct route_result *out = c->out;

	out->fwd_rule = rule;
	out->fwd_from = from;
	out->hops = hops + 1;
	if (hops + 1 > ROUTE_MAX_HOPS) {
		out->callee = to;
		route_reject(out, ROUTE_R_LOOP, 482, "Loop Detected", "failed");
		return;
	}
	route_ext(c, to, hops + 1);
}

/* The mailbox that takes x's messages: its own, or for a ring group
 * (no mailbox of its own) the first of ring_group.vm_copies when that
 * one has a mailbox; NULL: none. */
static const struct snap_ext *mailbox_of(const struct ctx *c,
					 const struct snap_ext *x)
{
	const struct snap_ext *m;

	if (x->vm)
		return x;
	if (x->type != MODEL_RING_GROUP || !x->rg_vm[0])
		return NULL;
	m = find(c, x->rg_vm);
	return m && m->vm ? m : NULL;
}

/* The PBX answers: mailbox m takes a message for x (x itself, or a ring
 * group whose vm_copies get it too). */
static void deposit(struct route_result *out, const struct snap_ext *x,
		    const struct snap_ext *m, enum route_greet g)
{
	out->kind = ROUTE_SERVICE;
	out->rule = ROUTE_R_VOICEMAIL;
	out->svc = ROUTE_SVC_DEPOSIT;
	out->mailbox = m;
	out->callee = m;
	out->greet = g;
	out->copies_of = m != x ? x : NULL;
}

/* Nobody free to ring at x: busy forward (when some were busy) or
 * unavailable forward, else the answer that says why. */
static void none_free(struct ctx *c, const struct snap_ext *x,
		      bool was_busy, enum route_rule why, unsigned hops)
{
	const struct snap_ext *t = fwd_to(c, x, was_busy ? SNAP_FWD_BUSY :
					  SNAP_FWD_UNAVAILABLE);

	if (t) {
		forward(c, x, t, was_busy ? ROUTE_R_FWD_BUSY :
			ROUTE_R_FWD_UNAVAILABLE, hops);
		return;
	}
	if (fwd_out(c, x, was_busy ? SNAP_FWD_BUSY : SNAP_FWD_UNAVAILABLE,
		    was_busy ? ROUTE_R_FWD_BUSY : ROUTE_R_FWD_UNAVAILABLE,
		    hops))
		return;   /* outbound (issue 15) */
	if (mailbox_of(c, x)) {
		deposit(c->out, x, mailbox_of(c, x), was_busy ?
			ROUTE_GREET_BUSY : ROUTE_GREET_UNAVAIL);
		return;
	}
	if (was_busy)
		route_reject(c->out, why == ROUTE_R_UNAVAILABLE ?
			     ROUTE_R_CALLEE_LIMIT : why, 486, "Busy Here",
			     "busy");
	else
		route_reject(c->out, why, 480, "Temporarily Unavailable",
			     "unavailable");
}

/* After the first step (targets first..first+n-1, chosen for x): x's
 * follow-me list in sequence, then its no-answer forward; the plan is
 * complete. */
static void plan_rest(struct ctx *c, const struct snap_ext *x,
		      size_t first, size_t n, enum route_rule rule)
{
	struct route_result *out = c->out;
	const struct snap_feat *f = x->feat;
	bool follow = f && f->follow_me;
	size_t fm_first;

	out->noanswer = fwd_to(c, x, SNAP_FWD_NOANSWER);
	out->busy = fwd_to(c, x, SNAP_FWD_BUSY);
	/* outbound (issue 15): or an external number a route takes */
	out->noanswer_out = !out->noanswer &&
		route_fwd_routed(c, x, SNAP_FWD_NOANSWER);
	out->busy_out = !out->busy && route_fwd_routed(c, x, SNAP_FWD_BUSY);
	/* no forward for an outcome: x's own mailbox takes the call */
	out->vm_noanswer = !out->noanswer && !out->noanswer_out ?
		mailbox_of(c, x) : NULL;
	out->vm_busy = !out->busy && !out->busy_out ? mailbox_of(c, x) : NULL;
	out->copies_of = !x->vm && mailbox_of(c, x) ? x : NULL;
	/* a ring time only when something follows it; otherwise the phone
	 * rings until the call layer's bound, as before forwarding */
	step(out, first, n, x->ring_time);
	fm_first = out->n_targets;
	for (size_t i = 0; follow && i < f->n_fm; i++) {
		const struct snap_ext *t = ringer(c, find(c, f->fm[i]));
		int k;

		if (!t || busy(c, t) || !reachable(c, t))
			continue;
		k = target(out, t, f->fm_together);
		if (k >= 0 && !f->fm_together)
			step(out, (size_t)k, 1, t->ring_time);
	}
	/* together: one step of them all, for x's ring time */
	if (follow && f->fm_together)
		step(out, fm_first, out->n_targets - fm_first, x->ring_time);
	if (!out->n_steps) {
		none_free(c, x, false, ROUTE_R_UNAVAILABLE, out->hops);
		return;
	}
	/* the last step ends the plan: with nothing after it, it rings
	 * until the call layer's bound */
	if (!out->noanswer && !out->vm_noanswer &&
	    !out->noanswer_out)   /* outbound (issue 15) */
		out->steps[out->n_steps - 1].ring_s = 0;
	out->kind = ROUTE_EXTENSION;
	out->rule = rule;
	out->callee = x;
}

/* A phone called directly. */
static void phone(struct ctx *c, const struct snap_ext *x, unsigned hops)
{
	int k;

	if (busy(c, x)) {
		none_free(c, x, true, ROUTE_R_CALLEE_LIMIT, hops);
		return;
	}
	if (!reachable(c, x)) {
		none_free(c, x, false, ROUTE_R_UNAVAILABLE, hops);
		return;
	}
	k = target(c->out, x, false);
	plan_rest(c, x, (size_t)(k < 0 ? 0 : k), k < 0 ? 0 : 1,
		  ROUTE_R_EXTENSION);
}

/* hotdesk (issue 13): a hotdesk extension called. The phone its user is
 * logged in at rings, with the hotdesk extension's own rules (ring time,
 * follow-me, forwards, mailbox); nobody logged in (or that phone
 * unreachable): unavailable, as a phone without a contact. Busy: the
 * hotdesk extension's calls at its limit, or that phone's at its own. */
static void hotdesk(struct ctx *c, const struct snap_ext *x, unsigned hops)
{
	const struct snap_ext *p = hotdesk_phone(c, x);
	int k;

	if (!p) {
		none_free(c, x, false, ROUTE_R_UNAVAILABLE, hops);
		return;
	}
	if (busy(c, x) || busy(c, p)) {
		none_free(c, x, true, ROUTE_R_CALLEE_LIMIT, hops);
		return;
	}
	if (!reachable(c, p)) {
		none_free(c, x, false, ROUTE_R_UNAVAILABLE, hops);
		return;
	}
	k = target(c->out, p, false);
	plan_rest(c, x, (size_t)(k < 0 ? 0 : k), k < 0 ? 0 : 1,
		  ROUTE_R_HOTDESK);
}

struct members {
	size_t first, n;
	unsigned n_busy;
};

/* Member t of a group: a phone that rings, with a contact and below its
 * limit, is added; a virtual member brings its own destinations. */
static void member(struct ctx *c, const struct snap_ext *t,
		   struct members *m, bool expand)
{
	int k;

	if (expand && t->type == MODEL_VIRTUAL && t->feat) {
		for (size_t i = 0; i < t->feat->n_members; i++) {
			const struct snap_ext *d = find(c, t->feat->members[i]);

			if (d)
				member(c, d, m, false);
		}
		return;
	}
	t = ringer(c, t);
	if (!t || !reachable(c, t))
		return;
	if (busy(c, t)) {
		m->n_busy++;
		return;
	}
	k = target(c->out, t, true);
	if (k >= 0 && (size_t)k == m->first + m->n)
		m->n++;
}

/* Ring group, shared device, virtual extension: its members. */
static void group(struct ctx *c, const struct snap_ext *x, unsigned hops,
		  enum route_rule rule)
{
	struct route_result *out = c->out;
	const struct snap_feat *f = x->feat;
	struct members m = { out->n_targets, 0, 0 };
	uint8_t strat = rule == ROUTE_R_RING_GROUP && f ? f->strategy :
		SNAP_RING_ALL;

	for (size_t i = 0; f && i < f->n_members; i++) {
		const struct snap_ext *t = find(c, f->members[i]);

		if (t && t != x)
			member(c, t, &m, rule == ROUTE_R_RING_GROUP);
	}
	if (!m.n) {
		if (!f || !f->follow_me) {
			none_free(c, x, m.n_busy > 0, m.n_busy ?
				  ROUTE_R_CALLEE_LIMIT : ROUTE_R_NO_MEMBER,
				  hops);
			return;
		}
		plan_rest(c, x, 0, 0, rule);
		return;
	}
	if (strat == SNAP_RING_ALL) {
		plan_rest(c, x, m.first, m.n, rule);
		return;
	}
	if (strat == SNAP_RING_RANDOM && m.n > 1) {
		/* a rotation by the seed: every member first in turn */
		size_t r = c->live->seed % m.n;
		const struct snap_ext *tmp[ROUTE_MAX_TARGETS];

		for (size_t i = 0; i < m.n; i++)
			tmp[i] = out->targets[m.first + (i + r) % m.n];
		memcpy(&out->targets[m.first], tmp, m.n * sizeof(tmp[0]));
	}
	/* hunt and random: one member at a time, each for its ring time;
	 * memoryhunt: the first, then the first two, ... */
	for (size_t i = 0; i < m.n; i++) {
		const struct snap_ext *t = out->targets[m.first + i];

		if (strat == SNAP_RING_MEMORYHUNT)
			step(out, m.first, i + 1, t->ring_time);
		else
			step(out, m.first + i, 1, t->ring_time);
	}
	plan_rest(c, x, 0, 0, rule);
}

/* gates (issue 13): x's call password, then its personal IVR, unless
 * this call passed them already: the PBX answers first. */
static bool gate(struct ctx *c, const struct snap_ext *x)
{
	bool passed = c->gated && !strcmp(c->gated->number, x->number);
	enum route_svc k = ROUTE_SVC_NONE;

	if (x->call_pw && !(passed && c->gate_done >= ROUTE_SVC_CALLPW))
		k = ROUTE_SVC_CALLPW;
	else if (x->pivr && !(passed && c->gate_done >= ROUTE_SVC_PIVR))
		k = ROUTE_SVC_PIVR;
	if (k == ROUTE_SVC_NONE)
		return false;
	c->out->kind = ROUTE_SERVICE;
	c->out->rule = k == ROUTE_SVC_CALLPW ? ROUTE_R_CALLPW : ROUTE_R_PIVR;
	c->out->svc = k;
	c->out->callee = x;
	c->out->mailbox = NULL;
	return true;
}

void route_ext(struct ctx *c, const struct snap_ext *x,
		      unsigned hops)
{
	const struct snap_ext *t;

	c->out->callee = x;
	/* refused before anything rings, forwards included */
	if (route_blacklisted(x, c->caller->number)) {
		route_reject(c->out, ROUTE_R_BLACKLIST, 603, "Decline",
			     "rejected");
		return;
	}
	/* the callee's gates come before its own forwards: a password
	 * protects the extension wherever its calls would go */
	if (gate(c, x))
		return;
	t = fwd_to(c, x, SNAP_FWD_IMMEDIATE);
	if (t) {
		forward(c, x, t, ROUTE_R_FWD_IMMEDIATE, hops);
		return;
	}
	if (fwd_out(c, x, SNAP_FWD_IMMEDIATE, ROUTE_R_FWD_IMMEDIATE, hops))
		return;   /* outbound (issue 15): to an external number */
	switch (x->type) {
	case MODEL_SIP:
	case MODEL_IAX2:
		if (route_rings(x)) {
			phone(c, x, hops);
			return;
		}
		break;
	case MODEL_RING_GROUP:
		group(c, x, hops, ROUTE_R_RING_GROUP);
		return;
	case MODEL_SHARED:
		group(c, x, hops, ROUTE_R_SHARED);
		return;
	case MODEL_VIRTUAL:
		group(c, x, hops, ROUTE_R_VIRTUAL);
		return;
	case MODEL_VOICEMAIL:
		/* a mailbox alone: it takes a message at once */
		deposit(c->out, x, x, ROUTE_GREET_UNAVAIL);
		return;
	case MODEL_HOTDESK:
		hotdesk(c, x, hops);
		return;
	default:
		break;
	}
	/* zap: not served yet */
	route_reject(c->out, ROUTE_R_NOT_SERVED, 480, "Temporarily Unavailable",
		     "unavailable");
}

void call_route(const struct snapshot *snap, const struct snap_ext *caller,
		const char *dialled, size_t len, const struct route_live *live,
		struct route_result *out)
{
	struct ctx c = { snap, caller, live, out, NULL, ROUTE_SVC_NONE };
	const struct snap_ext *x;
	uint32_t allow;

	memset(out, 0, sizeof(*out));
	/* outbound (issue 15): an emergency route wins over everything */
	if (route_trunk(&c, caller, dialled, len, true))
		return;
	if (live->calls >= live->max_calls) {
		route_reject(out, ROUTE_R_GLOBAL_LIMIT, 503,
			     "Service Unavailable", "failed");
		return;
	}
	if (live->calls_out(caller->number, live->arg) >= caller->limit_out) {
		route_reject(out, ROUTE_R_CALLER_LIMIT, 486, "Busy Here",
			     "busy");
		return;
	}
	allow = route_cos_allow(snap, caller);
	if (len && (dialled[0] == '*' || dialled[0] == '#')) {
		route_code(&c, dialled, len, allow);
		return;
	}
	x = snapshot_find(snap, dialled, len);
	if (!x) {
		/* outbound (issue 15): the trunks' routes */
		if (route_trunk(&c, caller, dialled, len, false))
			return;
		route_reject(out, ROUTE_R_NOT_FOUND, 404, "Not Found",
			     "notfound");
		return;
	}
	/* a class naming destination classes must name "internal" for
	 * calls to extensions; one naming none restricts only codes */
	if ((allow & SNAP_COS_DESTS) &&
	    !(allow & SNAP_COS_DEST(SNAP_DEST_INTERNAL))) {
		route_reject(out, ROUTE_R_COS_DEST, 403, "Forbidden",
			     "rejected");
		return;
	}
	route_ext(&c, x, 0);
}

void call_route_forward(const struct snapshot *snap,
			const struct snap_ext *caller,
			const struct snap_ext *from, const struct snap_ext *to,
			enum route_rule rule, unsigned hops,
			const struct route_live *live,
			struct route_result *out)
{
	struct ctx c = { snap, caller, live, out, NULL, ROUTE_SVC_NONE };

	memset(out, 0, sizeof(*out));
	forward(&c, from, to, rule, hops);
}

void call_route_connect(const struct snapshot *snap,
			const struct snap_ext *caller,
			const struct snap_ext *gated, enum route_svc done,
			const struct snap_ext *to, unsigned hops,
			const struct route_live *live,
			struct route_result *out)
{
	struct ctx c = { snap, caller, live, out, gated, done };

	memset(out, 0, sizeof(*out));
	out->hops = hops;
	route_ext(&c, to, hops);
}
