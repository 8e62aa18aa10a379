/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Renaming a directory moves every path below it, and path_rename fires for
 * the directory alone (PLATFORM.md): `mv ~/.local/share ~/.local/s` would take
 * ~/.local/share/keyrings out from under its rule, `mv /tmp/t ~/.config/app`
 * would put files where a rule on ~/.config/app/settings.json forbids writing.
 *
 * So userspace writes, for every proper ancestor directory A of an exact or
 * subtree file rule, an EG_PATH_ANCESTOR key (file domain, path A) whose
 * verdict per access kind is the strongest of the rules below A for that kind
 * (PolicyMaps.swift). A rename asks for that key once per side, with the kinds
 * that side needs: the moved directory is judged as if each rule below it were
 * renamed. Exact lookup of the path just matched, reusing its scan's hash: one
 * more hash lookup per rename side and no lookup anywhere else. The matcher
 * never sees these keys (the loaded marker's lengths leave them out), so opens
 * and execs pay nothing.
 */
#ifndef EG_LIB_PATH_ANCESTOR_H
#define EG_LIB_PATH_ANCESTOR_H

#include "path_enforce.h"

/*
 * Strengthens `v` with the rules below its path, for v->mask. Call right after
 * eg_decide on v's slot (s->full_hash is that path's hash); a path that did not
 * resolve was denied already.
 */
static __always_inline void eg_rules_below(struct eg_path_scratch *s, struct eg_path_verdict *v,
					   const struct eg_session *session)
{
	__u64 m;

	if (v->len <= 0 || v->d.reason == EG_REASON_NO_POLICY)
		return;
	m = eg_path_probe(v->mask, EG_PATH_ANCESTOR | ((__u32)v->slot << 8) | (EG_DOMAIN_FILE << 16),
			  session->policy_id, (__u32)v->len << 16, s->full_hash);
	if (!(m & EG_M_FOUND) || EG_M_VERDICT(m) <= v->d.verdict)
		return;
	v->d.verdict = EG_M_VERDICT(m);
	v->d.rule = EG_M_RULE(m);
	v->d.reason = EG_REASON_RULE;
}

/*
 * Patterns match below their head at any depth, so keys on the head and its
 * parents cannot speak for them: `mv /tmp/g repo/.git`, g/hooks/pre-commit
 * inside, lands a file `${workspace}/ ** /.git/hooks/ **` forbids creating. For a
 * pattern H/t1/.../tn (H its literal head, ti its tokens from the first wildcard
 * on), userspace writes (PolicyMaps+Patterns.swift, renameGuards):
 *   - a rename guard, domain EG_DOMAIN_RENAME, for each prefix H/t1/.../ti with
 *     i < n, but for t1 = `**`: a directory at a path it matches holds paths the
 *     pattern may judge, and moving it changes which;
 *   - for t1 = `**`, a star root (file domain, EG_PATH_STAR_ROOT) at H: below H
 *     that `**` takes any directory, so a directory moved within H keeps every
 *     match through it, while one moved into or out of H gains or loses them.
 * A directory renamed from S to P takes, per side, the strongest verdict of the
 * guards the side's path matches and of the star roots above it that are not
 * above the other side, with that side's kinds. A guard that finds no room in
 * the map becomes a guard root (EG_PATH_GUARD_ROOT) at its head, which counts
 * for every path below the head: more refusals, never fewer.
 *
 * Sound: a match of P/c either
 * aligns P's last component with a token ti (P matches that guard, or the
 * pattern itself at i = n), or a `**` ti takes it, and then P matches
 * H/t1/.../ti: a guard, or for i = 1 a star root above P. Not refused, S
 * matches it as well (the guard too, or the star root is above S), and the same
 * alignment matches S/c. Swap S and P for what a move takes away. All guards
 * rank alike (verdict alone decides), so no guard hides a stronger one.
 */

/*
 * Bytes path[0] and path[1] (both resolved, lengths a and b) share from their start.
 * Global functions here and below: verified once, apart from the hook's branches.
 */
__noinline __u32 eg_common_prefix(__u32 a, __u32 b)
{
	struct eg_path_scratch *s = eg_get_scratch();
	__u32 n = a < b ? a : b, off, k;

	if (!s)
		return 0;
	for (off = 0; off < EG_PATH_MAX; off += 8) {
		__u64 diff;

		if (off >= n)
			break;
		diff = *(const __u64 *)(s->path[0] + off) ^ *(const __u64 *)(s->path[1] + off);
		if (!diff)
			continue;
		/* The first differing byte of this word (little-endian: the lowest set one). */
		for (k = 0; k < 7; k++) {
			if (diff & 0xff)
				break;
			diff >>= 8;
		}
		return off + k < n ? off + k : n;
	}
	return n;
}

/*
 * The directory before the k-th '/' of the path s->sw walks: a guard root there
 * counts, a star root only when the other side is not below it too.
 */
static long eg_star_root_step(__u32 k, void *unused)
{
	struct eg_path_scratch *s = eg_get_scratch();
	struct eg_star_walk *w;
	__u32 at, what;
	__u64 hash;

	if (!s)
		return 1;
	w = &s->sw;
	if (k >= w->n)
		return 1;
	at = s->slash[k & (EG_SLASHES - 1)] & (EG_PATH_MAX - 1);
	hash = s->prefix_hash[k & (EG_SLASHES - 1)];
	what = (w->slot << 8) | (EG_DOMAIN_FILE << 16);
	/* A guard root stands for guards that found no room in the map: any rename below it. */
	w->m = eg_path_probe(w->m, EG_PATH_GUARD_ROOT | what, w->policy_id, at << 16, hash);
	/* Shared when the other side has these bytes and a '/' after them: at < common. */
	if (at >= w->common)
		w->m = eg_path_probe(w->m, EG_PATH_STAR_ROOT | what, w->policy_id, at << 16, hash);
	return 0;
}

/*
 * The rename guards' decision for path[slot] (len bytes) and `mask`, the other side
 * sharing `common` bytes with it: packed as eg_match_path's, reason DEFAULT when none.
 */
__noinline __u64 eg_guard_verdict(__u32 slot, __u32 len, __u32 mask, __u32 policy_id, __u32 common)
{
	struct eg_path_scratch *s = eg_get_scratch();
	__u64 packed, m;

	if (!s)
		return EG_VERDICT_DENY | (EG_REASON_UNRESOLVED << 8) | ((__u64)EG_RULE_DEFAULT << 16);
	slot &= EG_SLOTS - 1;
	len &= EG_PATH_MAX - 1;
	mask &= 0xff;
	s->sw.m = mask;
	s->sw.slot = slot;
	s->sw.policy_id = policy_id;
	s->sw.common = common;
	s->sw.n = eg_scan_path(slot, len);
	bpf_loop(EG_SLASHES, eg_star_root_step, NULL, 0);
	m = s->sw.m;
	/* Missing marker: a half written policy, denied (eg_match_path says NO_POLICY). */
	packed = eg_match_path(slot, len, policy_id, EG_MATCH_WHAT(EG_DOMAIN_RENAME, mask, EG_NO_DEFAULT));
	if ((m & EG_M_FOUND) && (((packed >> 8) & 0xff) == EG_REASON_DEFAULT || EG_M_VERDICT(m) > (packed & 0xff)))
		packed = EG_M_VERDICT(m) | (EG_REASON_RULE << 8) | (EG_M_RULE(m) << 16);
	return packed;
}

/*
 * Strengthens `v` (a side of a directory's rename, just decided) with the rename
 * guards its path matches and the star roots above it and not above the other
 * side, which shares `common` bytes with it.
 */
static __always_inline void eg_rename_guards(struct eg_path_verdict *v, const struct eg_session *session,
					     __u32 common)
{
	struct eg_decision d;

	if (v->len <= 0 || v->d.reason == EG_REASON_NO_POLICY || !(session->flags & EG_SESSION_RENAME_GUARDS))
		return;
	d = eg_unpack_decision(eg_guard_verdict(v->slot, v->len, v->mask, session->policy_id, common));
	if (d.reason != EG_REASON_DEFAULT && d.verdict > v->d.verdict)
		v->d = d;
}

#endif /* EG_LIB_PATH_ANCESTOR_H */
