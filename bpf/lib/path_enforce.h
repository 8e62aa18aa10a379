/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * From a resolved path to a hook's answer: match, turn the verdict into a return
 * value, report it on eg_events. Shared by exec.bpf.c and file.bpf.c so both
 * domains fail closed, report and rank verdicts the same way.
 *
 *   deny  -> deny_ret (-EACCES for files, -EPERM for exec) + event
 *   ask   -> deny_ret + event with verdict ask (nobody can answer inside a hook;
 *            userspace raises the question and writes the answer for the retry)
 *   audit -> 0 + event
 *   allow -> 0, an event only when the session has EG_SESSION_AUDIT_ALLOWS
 * A path that cannot be resolved or is too long, or a policy without its
 * EG_PATH_LOADED marker, is denied with the reason saying so.
 */
#ifndef EG_LIB_PATH_ENFORCE_H
#define EG_LIB_PATH_ENFORCE_H

#include "path_resolve.h"

/* One decided path: what the matcher said and where the path lies. */
struct eg_path_verdict {
	struct eg_decision d;
	__s32 len;	/* length of scratch->path[slot], or < 0 if unresolved */
	__u8 mask;	/* the access kinds checked on it */
	__u8 slot;
	__u8 _pad[2];
};

static __always_inline struct eg_path_verdict eg_decide(struct eg_path_scratch *s, int slot, int len,
							 const struct eg_session *session, __u8 domain,
							 __u8 mask, bool use_default)
{
	struct eg_path_verdict v = {};

	v.len = len;
	v.mask = mask;
	v.slot = slot;
	if (len < 0) {
		v.d.verdict = EG_VERDICT_DENY;
		v.d.reason = len == EG_RESOLVE_TOO_LONG ? EG_REASON_TOO_LONG : EG_REASON_UNRESOLVED;
		v.d.rule = EG_RULE_DEFAULT;
		return v;
	}
	v.d = eg_unpack_decision(eg_match_path(slot, len, session->policy_id,
					       EG_MATCH_WHAT(domain, mask, use_default ? session->default_verdict[domain]
										       : EG_NO_DEFAULT)));
	return v;
}

/* The stronger of two decisions; on a tie the first (the source of a rename). */
static __always_inline struct eg_path_verdict eg_stronger(struct eg_path_verdict a, struct eg_path_verdict b)
{
	return b.d.verdict > a.d.verdict ? b : a;
}

static __always_inline void eg_emit(struct eg_path_scratch *s, __u16 type, __u64 session_id,
				    const struct eg_session *session, const struct eg_path_verdict *v, int ret)
{
	struct eg_path_event *ev;
	__u32 n;

	ev = eg_event_reserve(session_id, sizeof(*ev));
	if (!ev)
		return;
	eg_fill_header(&ev->hdr, type, sizeof(*ev));
	eg_fill_task(&ev->task);
	ev->session_id = session_id;
	ev->policy_id = session->policy_id;
	ev->access = v->mask;
	ev->ret = ret;
	ev->rule = v->d.rule;
	ev->verdict = v->d.verdict;
	ev->reason = v->d.reason;
	ev->device = 0;
	ev->inode = 0;
	__builtin_memset(ev->path, 0, sizeof(ev->path));
	ev->path_len = 0;
	if (v->len >= 0) {
		/* len < EG_PATH_MAX always; the mask says so to the verifier, and the
		 * barrier keeps clang from dropping the mask as redundant. */
		n = v->len;
		barrier_var(n);
		n = (n & (EG_PATH_MAX - 1)) + 1;
		if (!bpf_probe_read_kernel(ev->path, n, s->path[v->slot & (EG_SLOTS - 1)]))
			ev->path_len = n;
		ev->path[EG_PATH_MAX - 1] = 0;
	}
	bpf_ringbuf_submit(ev, 0);
}

/* The hook's return value for a decision, with its event. */
static __always_inline int eg_enforce(struct eg_path_scratch *s, __u16 type, __u64 session_id,
				      const struct eg_session *session, struct eg_path_verdict *v, int deny_ret)
{
	int ret = v->d.verdict >= EG_VERDICT_ASK ? deny_ret : 0;

	if (v->d.verdict != EG_VERDICT_ALLOW || (session->flags & EG_SESSION_AUDIT_ALLOWS))
		eg_emit(s, type, session_id, session, v, ret);
	return ret;
}

#endif /* EG_LIB_PATH_ENFORCE_H */
