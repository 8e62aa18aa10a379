/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Path rules: the map both enforcement objects (exec.bpf.c, file.bpf.c) share,
 * and the matcher that turns a resolved path into a verdict.
 *
 * ---- What userspace writes into eg_path_rules (pinned by name) ----------------
 *
 * Key struct eg_path_key {policy_id, domain, kind, len, path}: path holds `len`
 * bytes, no NUL, and every byte after them is zero (the whole key is hashed).
 * Value struct eg_path_rule: verdict[access] per enum eg_access (EG_VERDICT_NONE
 * where this key says nothing about that access), rule[access] the rule index
 * reported in events, flags EG_PATH_RULE_*.
 *
 * Kinds, for a resolved absolute path P ("/a/b/c"):
 *   EG_PATH_EXACT    key path == P.
 *   EG_PATH_SUBTREE  key path is P or a directory prefix of P, without the
 *                    trailing slash: "/a/b/c", "/a/b", "/a", and "" (len 0) for
 *                    the root. So "/dir/ **" is stored as "/dir" and matches /dir
 *                    itself; "/ **" is stored as "".
 *   EG_PATH_NAME     key path == the final component of P ("c"; ".env").
 *   EG_PATH_LOADED   path "" (len 0), value the lengths of its keys
 *                    (struct eg_path_lengths): this (policy, domain) has all
 *                    its rules in the map. Write it after the rules, delete it
 *                    before them. A session whose policy has no marker for the
 *                    domain being decided is denied (EG_REASON_NO_POLICY): a half
 *                    loaded policy must never allow what the whole one denies.
 *
 * Precedence, per access kind A: the most specific key with verdict[A] !=
 * EG_VERDICT_NONE wins: EXACT, then SUBTREE from the longest prefix to the
 * shortest (""), then NAME. Several rules on one key are merged by userspace
 * into that one byte (deny > ask > audit > allow). No key for A: the session's
 * default_verdict[domain] (mmap's exec check excepted, see exec.bpf.c).
 * A request made of several kinds (O_RDWR: read + write) takes the strongest of
 * the kinds' verdicts (deny > ask > audit > allow); on a tie the one found first
 * (the more specific) names the rule. A verdict byte above EG_VERDICT_DENY that
 * is not EG_VERDICT_NONE counts as deny.
 *
 * EG_PATH_RULE_ARGV (exec domain): argv-conditional rules or an ask rule exist
 * for this program (an ask is answered by a human while the exec is held). The flag counts on any key looked at while the exec verdict is still
 * open, i.e. on a key at least as specific as the one whose verdict wins; its
 * own verdict[EXEC] may be EG_VERDICT_NONE (only argv rules: the walk goes on to
 * find the verdict of the path alone). The kernel cannot read argv in the hook,
 * so it holds every such exec (SIGSTOP, EG_REASON_HELD) whatever the path
 * verdict, reports that verdict and its rule in the held event, and userspace
 * decides (SIGCONT or SIGKILL).
 *
 * What the kernel cannot see, so userspace must compile in:
 *   - A rule on a path deeper than a directory does not stop that directory from
 *     being renamed (the path under it changes). Renames and hard links of the
 *     governed file itself are checked (file.bpf.c); to pin a deeper rule, give
 *     its ancestors rename/delete verdicts.
 *   - Paths are those the task sees (bpf_d_path and the dentry walk stop at the
 *     task's root): a chroot changes them. Defeating chroot/unshare is tamper
 *     protection's job.
 *
 * Cost: at most 1 (marker) + 2 + depth(P) + 1 hash lookups, whatever the number
 * of rules; the walk stops as soon as every requested kind has its verdict.
 * Measured in the qemu/TCG VM (PathRuleCostTests): 10,000 rules cost the same as
 * 10; a governed open of a 6-component tmpfs path costs ~30 us more than an
 * ungoverned one there, mostly hashing the 264-byte key ~10 times.
 */
#ifndef EG_LIB_PATH_MATCH_H
#define EG_LIB_PATH_MATCH_H

#include "maps.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EG_PATH_RULES_MAX);
	/* 65536 preallocated 300-byte entries would pin ~20 MB for nothing. */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct eg_path_key);
	__type(value, struct eg_path_rule);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} eg_path_rules SEC(".maps");

/* Slots for the (at most two) paths one hook decides on: rename and link. */
#define EG_SLOTS 2

/*
 * Per-CPU scratch: everything here is far over the 512-byte stack. LSM programs
 * run with migration disabled and never sleep or reschedule, so on kernels with
 * voluntary preemption (Debian's default, PREEMPT_DYNAMIC booted voluntary) one
 * CPU runs one decision at a time. With preempt=full a task could be preempted
 * mid-decision and another one reuse the buffer: a known limit, shared with
 * every per-CPU-heap BPF tool.
 */
struct eg_path_scratch {
	struct eg_path_key key;			/* the key being looked up */
	char path[EG_SLOTS][EG_PATH_MAX];	/* resolved paths, NUL-terminated */
	char walk[2 * EG_PATH_MAX];		/* the dentry walk writes backwards here */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct eg_path_scratch);
} eg_scratch SEC(".maps");

static __always_inline struct eg_path_scratch *eg_get_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&eg_scratch, &zero);
}

/* The outcome of matching one path against one access mask. */
struct eg_decision {
	__u8 verdict;	/* enum eg_verdict */
	__u8 reason;	/* enum eg_reason */
	__u16 rule;	/* rule index or EG_RULE_DEFAULT */
	__u32 flags;	/* EG_PATH_RULE_ARGV: hold this exec (see above) */
};

/* Matcher state; lives on the caller's stack, bpf_loop hands it to the callback. */
struct eg_match_ctx {
	struct eg_path_lengths lengths;	/* from the loaded marker: lengths worth a lookup */
	struct eg_decision best;
	__u32 len;		/* length of the full path */
	__u32 name_start;	/* first byte of the final component */
	__u8 left;		/* access kinds still without a verdict */
	__u8 found;		/* best holds a rule's verdict */
	__u8 hold;		/* an ARGV key came before the exec verdict */
	__u8 _pad;
};

/* Takes the verdicts this key has for the kinds still open. */
static __always_inline void eg_merge_rule(struct eg_match_ctx *m, const struct eg_path_rule *r)
{
	if ((r->flags & EG_PATH_RULE_ARGV) && (m->left & (1 << EG_ACCESS_EXEC)))
		m->hold = 1;
#pragma unroll
	for (int k = 0; k < EG_ACCESS_KINDS; k++) {
		__u8 v;

		if (!(m->left & (1 << k)))
			continue;
		v = r->verdict[k];
		if (v == EG_VERDICT_NONE)
			continue;
		if (v > EG_VERDICT_DENY)
			v = EG_VERDICT_DENY;
		m->left &= ~(1 << k);
		if (!m->found || v > m->best.verdict) {
			m->best.verdict = v;
			m->best.reason = EG_REASON_RULE;
			m->best.rule = r->rule[k];
			m->found = 1;
		}
	}
}

static __always_inline void eg_lookup_merge(struct eg_match_ctx *m, struct eg_path_key *key,
					    __u8 kind, __u32 len)
{
	struct eg_path_rule *r;

	len &= EG_PATH_MAX - 1;
	if (!(m->lengths.bits[len / 64] & (1ULL << (len % 64))))
		return;		/* no key of this policy and domain is this long */
	key->kind = kind;
	key->len = len;
	r = bpf_map_lookup_elem(&eg_path_rules, key);
	if (r)
		eg_merge_rule(m, r);
}

/*
 * One byte of the subtree walk, from the end of the path to its start. Each byte
 * is zeroed once read, so when a '/' at i is reached the key holds exactly the
 * prefix [0, i) followed by zeros: the whole walk zeroes the path once, O(len).
 */
static long eg_subtree_step(__u32 n, struct eg_match_ctx *m)
{
	struct eg_path_scratch *s = eg_get_scratch();
	__u32 i;
	char c;

	if (!s || n >= m->len)
		return 1;
	i = (m->len - 1 - n) & (EG_PATH_MAX - 1);
	c = s->key.path[i];
	s->key.path[i] = 0;
	if (c != '/')
		return 0;
	if (!m->name_start)
		m->name_start = i + 1;
	eg_lookup_merge(m, &s->key, EG_PATH_SUBTREE, i);
	return m->left ? 0 : 1;
}

#define EG_NO_DEFAULT 0xff

/*
 * Matches path[slot] (len bytes, 0 < len < EG_PATH_MAX) for `mask` in
 * (policy_id, domain). Kinds no rule speaks for take `dflt`, or count as allowed
 * (reason DEFAULT) when dflt is EG_NO_DEFAULT.
 *
 * A global function: the verifier checks it once, on its own, instead of once
 * per call site with each caller's state (a rename decides two paths; inlined,
 * the two matchers' branches multiplied to 400k verified instructions). Hence
 * scalar arguments only, the scratch looked up again inside, and the decision
 * packed into the return value (eg_unpack_decision).
 */
#define EG_MATCH_WHAT(domain, mask, dflt) ((domain) | ((mask) << 8) | ((__u32)(dflt) << 16))

/* `what` is EG_MATCH_WHAT(domain, mask, dflt): BPF calls take five arguments at most. */
__noinline __u64 eg_match_path(__u32 slot, __u32 len, __u32 policy_id, __u32 what)
{
	struct eg_path_scratch *s = eg_get_scratch();
	__u32 domain = what & 0xff, mask = (what >> 8) & 0xff, dflt = (what >> 16) & 0xff;
	struct eg_match_ctx m = {};
	struct eg_path_rule *loaded;
	struct eg_path_key *key;
	__u32 name_len;

	if (!s)
		return EG_VERDICT_DENY | (EG_REASON_UNRESOLVED << 8) | ((__u64)EG_RULE_DEFAULT << 16);
	key = &s->key;
	__builtin_memset(key, 0, sizeof(*key));
	key->policy_id = policy_id;
	key->domain = domain;
	key->kind = EG_PATH_LOADED;
	loaded = bpf_map_lookup_elem(&eg_path_rules, key);
	if (!loaded)
		return EG_VERDICT_DENY | (EG_REASON_NO_POLICY << 8) | ((__u64)EG_RULE_DEFAULT << 16);
	__builtin_memcpy(&m.lengths, loaded, sizeof(m.lengths));

	slot &= EG_SLOTS - 1;
	len &= EG_PATH_MAX - 1;
	m.len = len;
	m.left = mask;
	bpf_probe_read_kernel(key->path, len, s->path[slot]);
	eg_lookup_merge(&m, key, EG_PATH_EXACT, len);
	if (m.left)
		eg_lookup_merge(&m, key, EG_PATH_SUBTREE, len);
	if (m.left)
		bpf_loop(len, eg_subtree_step, &m, 0);
	/* The walk ran to the start, so the key's path is all zero again. */
	if (m.left && m.name_start && m.name_start < len) {
		name_len = (len - m.name_start) & (EG_PATH_MAX - 1);
		bpf_probe_read_kernel(key->path, name_len, s->path[slot] + (m.name_start & (EG_PATH_MAX - 1)));
		eg_lookup_merge(&m, key, EG_PATH_NAME, name_len);
	}
	if (m.left) {
		if (dflt == EG_NO_DEFAULT)
			dflt = EG_VERDICT_ALLOW;
		else if (dflt > EG_VERDICT_DENY)
			dflt = EG_VERDICT_DENY;
		if (!m.found || dflt > m.best.verdict) {
			m.best.verdict = dflt;
			m.best.reason = EG_REASON_DEFAULT;
			m.best.rule = EG_RULE_DEFAULT;
		}
	}
	return m.best.verdict | ((__u64)m.best.reason << 8) | ((__u64)m.best.rule << 16) |
	       ((__u64)m.hold << 32);
}

static __always_inline struct eg_decision eg_unpack_decision(__u64 packed)
{
	struct eg_decision d = {
		.verdict = packed & 0xff,
		.reason = (packed >> 8) & 0xff,
		.rule = (packed >> 16) & 0xffff,
		.flags = (packed >> 32) & 1 ? EG_PATH_RULE_ARGV : 0,
	};
	return d;
}

#endif /* EG_LIB_PATH_MATCH_H */
