/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * From a resolved path to a hook's answer: match, turn the verdict into a return
 * value, report it on eg_events. Shared by exec.bpf.c and file.bpf.c so both
 * domains fail closed, report and rank verdicts the same way.
 *
 *   deny  -> deny_ret (-EACCES for files, -EPERM for exec) + event
 *   ask   -> deny_ret + event with verdict ask (nobody can answer inside a hook;
 *            userspace raises the question and writes the answer for the retry:
 *            eg_file_answered() below, file domain only; exec asks are held)
 *   answered -> the operator's verdict (ALLOW: 0, DENY: deny_ret), reason
 *            EG_REASON_ANSWERED, always reported
 *   audit -> 0 + event
 *   allow -> 0, an event only when the session has EG_SESSION_AUDIT_ALLOWS
 *   shadow session (EG_SESSION_SHADOW): deny and ask -> 0 + event (would deny/ask)
 * A path that cannot be resolved or is too long, or a policy without its
 * EG_PATH_LOADED marker, is denied with the reason saying so.
 */
#ifndef EG_LIB_PATH_ENFORCE_H
#define EG_LIB_PATH_ENFORCE_H

#include "path_resolve.h"

/*
 * Answers to file asks, written by the daemon (struct eg_file_answer_key ->
 * struct eg_answer, see ebguard.h): one entry per (session, inode, device,
 * access kind), so the answer holds for the object the kernel resolved, whatever
 * name reaches it (symlink, hard link, bind mount), and not for a new file put
 * at the same path. Only read when a decision is ASK: the allow path never
 * looks here.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct eg_file_answer_key);
	__type(value, struct eg_answer);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} eg_file_answers SEC(".maps");

/* One decided path: what the matcher said, where the path lies, which object it is. */
struct eg_path_verdict {
	struct eg_decision d;
	__s32 len;	/* length of scratch->path[slot], or < 0 if unresolved */
	__u8 mask;	/* the access kinds checked on it */
	__u8 slot;
	__u8 _pad[2];
	/* The object (struct inode *); 0 when it does not exist yet (a create's
	 * negative dentry). Read (eg_inode_id) only for an event or an ask, never on
	 * the allow path. A plain number: the struct is copied around (eg_stronger),
	 * and a copied scalar keeps the verifier out of pointer-spill tracking. */
	__u64 inode;
};

/* How answers and events name an object: i_ino, and the kernel's dev_t of its superblock. */
struct eg_inode_id {
	__u64 ino;	/* 0: no object */
	__u32 dev;
	__u32 _pad;
};

static __always_inline struct eg_inode_id eg_inode_id(__u64 object)
{
	struct inode *inode = (struct inode *)object;
	struct eg_inode_id id = {};

	if (inode) {
		id.ino = BPF_CORE_READ(inode, i_ino);
		id.dev = BPF_CORE_READ(inode, i_sb, s_dev);
	}
	return id;
}

/* `inode` is the object the hook decides on (see struct eg_path_verdict). */
static __always_inline struct eg_path_verdict eg_decide(struct eg_path_scratch *s, int slot, int len,
							 struct inode *inode, const struct eg_session *session,
							 __u8 domain, __u8 mask, bool use_default)
{
	struct eg_path_verdict v = {};

	v.len = len;
	v.mask = mask;
	v.slot = slot;
	v.inode = (__u64)inode;
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

/*
 * The operator's answer for `mask` on one object: EG_VERDICT_DENY when any kind
 * of the mask has a deny answer, EG_VERDICT_ALLOW when every kind has an allow
 * answer, else EG_VERDICT_ASK (still unanswered). The kernel no longer knows
 * which kinds of a merged decision said ask, so the daemon answers every kind of
 * the event's access mask. Expired answers are deleted and count as missing.
 * `once` answers that decide are consumed here: the first access to delete one
 * wins it, so two racing accesses cannot both spend the same answer.
 *
 * A global function, like eg_match_path: verified once, scalar arguments only.
 * No per-kind bit masks are accumulated on purpose: the verifier tracks such
 * constants precisely and would walk every combination (2^kinds paths). The
 * walk keeps one flag; the allow pass looks the answers up again to spend them.
 */
__noinline __u32 eg_file_answer(__u64 session_id, __u64 ino, __u32 dev, __u32 mask)
{
	struct eg_file_answer_key key = { .session_id = session_id, .inode = ino, .device = dev };
	__u64 now = bpf_ktime_get_boot_ns();
	struct eg_answer *a;
	bool missing = false;
	__u32 k;

	for (k = 0; k < EG_ACCESS_KINDS; k++) {
		if (!(mask & (1 << k)))
			continue;
		key.access = k;
		a = bpf_map_lookup_elem(&eg_file_answers, &key);
		if (a && a->expires_ns && now >= a->expires_ns) {
			bpf_map_delete_elem(&eg_file_answers, &key);
			a = NULL;
		}
		if (!a) {
			missing = true;
			continue;
		}
		/* A deny decides alone; anything but allow counts as deny. */
		if (a->verdict != EG_VERDICT_ALLOW) {
			if (a->once)
				bpf_map_delete_elem(&eg_file_answers, &key);
			return EG_VERDICT_DENY;
		}
	}
	if (missing)
		return EG_VERDICT_ASK;
	/* Every kind allowed: spend the `once` answers among them. */
	for (k = 0; k < EG_ACCESS_KINDS; k++) {
		if (!(mask & (1 << k)))
			continue;
		key.access = k;
		a = bpf_map_lookup_elem(&eg_file_answers, &key);
		if (!a)
			return EG_VERDICT_ASK;	/* a concurrent access spent it first */
		if (a->once && bpf_map_delete_elem(&eg_file_answers, &key))
			return EG_VERDICT_ASK;
	}
	return EG_VERDICT_ALLOW;
}

/*
 * Lets an operator's answer decide a file ask. Objects without an inode (a file
 * about to be created) cannot be answered: they stay ask, so denied.
 */
static __always_inline void eg_file_answered(__u64 session_id, struct eg_path_verdict *v)
{
	struct eg_inode_id id;
	__u32 verdict;

	if (v->d.verdict != EG_VERDICT_ASK)
		return;
	id = eg_inode_id(v->inode);
	if (!id.ino)
		return;
	verdict = eg_file_answer(session_id, id.ino, id.dev, v->mask);
	if (verdict == EG_VERDICT_ASK)
		return;
	v->d.verdict = verdict;
	v->d.reason = EG_REASON_ANSWERED;
}

/* The stronger of two decisions; on a tie the first (the source of a rename). */
static __always_inline struct eg_path_verdict eg_stronger(struct eg_path_verdict a, struct eg_path_verdict b)
{
	return b.d.verdict > a.d.verdict ? b : a;
}

/*
 * Reports a decision on the session's channel; `urgent` for a task stopped until it is read.
 * False when no ring had room (counted in eg_lost): a hold must then not happen at all.
 */
static __always_inline bool eg_emit_to(struct eg_path_scratch *s, __u16 type, __u64 session_id,
				       const struct eg_session *session, const struct eg_path_verdict *v, int ret,
				       bool urgent)
{
	struct eg_inode_id id = eg_inode_id(v->inode);
	struct eg_path_event *ev;
	__u32 n;

	ev = urgent ? eg_event_reserve_urgent(session_id, sizeof(*ev)) : eg_event_reserve(session_id, sizeof(*ev));
	if (!ev)
		return false;
	eg_fill_header(&ev->hdr, type, sizeof(*ev));
	eg_fill_task(&ev->task);
	ev->session_id = session_id;
	ev->policy_id = session->policy_id;
	ev->access = v->mask;
	ev->ret = ret;
	ev->rule = v->d.rule;
	ev->verdict = v->d.verdict;
	ev->reason = v->d.reason;
	ev->device = id.dev;
	ev->inode = id.ino;
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
	return true;
}

static __always_inline void eg_emit(struct eg_path_scratch *s, __u16 type, __u64 session_id,
				    const struct eg_session *session, const struct eg_path_verdict *v, int ret)
{
	eg_emit_to(s, type, session_id, session, v, ret, false);
}

/*
 * Shadow (EG_SESSION_SHADOW): an executable mapping of the program execve is running
 * (already the new mm's exe_file) repeats what execve's own check reported (the exec
 * domain's bprm check, the file domain's FMODE_EXEC open): one would-deny per exec, not
 * two. An interpreter's or a loader's mapping of another file is still reported.
 */
static __always_inline bool eg_shadow_seen_exec(const struct eg_session *session, const struct eg_path_verdict *v,
						struct file *file)
{
	struct task_struct *task;

	if (v->d.verdict < EG_VERDICT_ASK || eg_enforced(session, v->d.reason))
		return false;
	task = bpf_get_current_task_btf();
	return BPF_CORE_READ_BITFIELD_PROBED(task, in_execve) &&
	       BPF_CORE_READ(task, mm, exe_file, f_inode) == BPF_CORE_READ(file, f_inode);
}

/* The hook's return value for a decision, with its event. */
static __always_inline int eg_enforce(struct eg_path_scratch *s, __u16 type, __u64 session_id,
				      const struct eg_session *session, struct eg_path_verdict *v, int deny_ret)
{
	int ret = v->d.verdict >= EG_VERDICT_ASK && eg_enforced(session, v->d.reason) ? deny_ret : 0;

	/* An operator's allow is reported too: the audit trail shows what was approved. */
	if (v->d.verdict != EG_VERDICT_ALLOW || v->d.reason == EG_REASON_ANSWERED ||
	    (session->flags & EG_SESSION_AUDIT_ALLOWS))
		eg_emit(s, type, session_id, session, v, ret);
	return ret;
}

#endif /* EG_LIB_PATH_ENFORCE_H */
