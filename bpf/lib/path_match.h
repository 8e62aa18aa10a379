/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Path rules: the map both enforcement objects (exec.bpf.c, file.bpf.c) share,
 * and the matcher that turns a resolved path into a verdict.
 *
 * ---- What userspace writes into eg_path_rules (pinned by name) ----------------
 *
 * Key struct eg_path_key {policy_id, domain, kind, len, hash}: the path's length
 * and eg_path_hash() (ebguard.h). Value struct eg_path_rule: verdict[access] per
 * enum eg_access (EG_VERDICT_NONE where this key says nothing about that
 * access), rule[access] the rule index reported in events, flags
 * EG_PATH_RULE_*, and path: the key's `len` bytes, no NUL, the rest zero. A
 * lookup hit counts only when path equals the bytes looked for, so no hash
 * collision, chosen or not, can lend a rule to another path.
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
 * for this program (an ask is answered by a human while the exec is held). The
 * flag counts on any key looked at while the exec verdict is still
 * open, i.e. on a key at least as specific as the one whose verdict wins; its
 * own verdict[EXEC] may be EG_VERDICT_NONE (only argv rules: the walk goes on to
 * find the verdict of the path alone). The kernel cannot read argv in the hook,
 * so it holds every such exec (SIGSTOP, EG_REASON_HELD) whatever the path
 * verdict, reports that verdict and its rule in the held event, and userspace
 * decides (SIGCONT or SIGKILL).
 *
 * What the kernel cannot see, so userspace must compile in:
 *   - A rule on a path deeper than a directory does not stop that directory from
 *     being renamed by itself: userspace writes EG_PATH_ANCESTOR keys for the
 *     directories above rules, which renames look up (lib/path_ancestor.h). The
 *     matcher never probes them (the loaded marker leaves out their lengths).
 *   - Paths are those the task sees (bpf_d_path and the dentry walk stop at the
 *     task's root): a chroot changes them. Defeating chroot/unshare is tamper
 *     protection's job.
 *
 * Cost: one forward pass over P's bytes, eight a step, hashing every prefix
 * that ends before a '/' (eg_path_scan); then at most 1 (marker) + 2 + depth(P)
 * + 1 lookups of 16-byte keys, only at lengths some key has, whatever the number
 * of rules; the walk stops as soon as every requested kind has its verdict.
 * Keys used to carry the path (264 bytes, hashed whole per lookup): in the
 * qemu/TCG VM that made the file_open hook ~4.8x the cost of the trivial
 * tamper guard (then a file_open program of its own) on the same calls;
 * hashes made it ~4x.
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
/* '/' positions a path can have: every component takes at least 2 bytes ("/x"). */
#define EG_SLASHES (EG_PATH_MAX / 2)

/*
 * Per-CPU scratch: everything here is far over the 512-byte stack. LSM programs
 * run with migration disabled and never sleep or reschedule, so on kernels with
 * voluntary preemption (Debian's default, PREEMPT_DYNAMIC booted voluntary) one
 * CPU runs one decision at a time. With preempt=full a task could be preempted
 * mid-decision and another one reuse the buffer: a known limit, shared with
 * every per-CPU-heap BPF tool.
 */
struct eg_path_scratch {
	char path[EG_SLOTS][EG_PATH_MAX];	/* resolved paths, NUL-terminated */
	char walk[2 * EG_PATH_MAX];		/* the dentry walk writes backwards here;
						 * also the slack eg_path_equal reads past a path */
	/* eg_path_scan's output for the path being matched: */
	__u64 prefix_hash[EG_SLASHES];		/* hash of path[0, slash[k]) */
	__u16 slash[EG_SLASHES];		/* position of the k-th '/' */
	__u64 full_hash;			/* hash of the whole path */
	__u64 name_hash;			/* hash of the final component */
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

/*
 * Matcher state, packed in a scalar that eg_path_probe (a global function) takes
 * and returns by value, so no caller's stack is handed over to be changed:
 *   bits 0-7 access kinds still without a verdict, 8 a rule decided something,
 *   9 an ARGV key came before the exec verdict, 16-23 the verdict so far,
 *   32-47 its rule.
 */
#define EG_M_LEFT(m)	((m) & 0xff)
#define EG_M_FOUND	(1ULL << 8)
#define EG_M_HOLD	(1ULL << 9)
#define EG_M_VERDICT(m)	(((m) >> 16) & 0xff)
#define EG_M_RULE(m)	(((m) >> 32) & 0xffff)

/* Takes the verdicts this key has for the kinds still open. */
static __always_inline __u64 eg_merge_rule(__u64 m, const struct eg_path_rule *r)
{
	__u64 left = EG_M_LEFT(m), best = EG_M_VERDICT(m), rule = EG_M_RULE(m), flags = m & (EG_M_FOUND | EG_M_HOLD);

	if ((r->flags & EG_PATH_RULE_ARGV) && (left & (1 << EG_ACCESS_EXEC)))
		flags |= EG_M_HOLD;
#pragma unroll
	for (int k = 0; k < EG_ACCESS_KINDS; k++) {
		__u8 v;

		if (!(left & (1 << k)))
			continue;
		v = r->verdict[k];
		if (v == EG_VERDICT_NONE)
			continue;
		if (v > EG_VERDICT_DENY)
			v = EG_VERDICT_DENY;
		left &= ~(1 << k);
		if (!(flags & EG_M_FOUND) || v > best) {
			best = v;
			rule = r->rule[k];
			flags |= EG_M_FOUND;
		}
	}
	return left | flags | (best << 16) | (rule << 32);
}

/*
 * Whether the len bytes at path equal the rule's: word by word, the last word
 * masked. Reading up to 7 bytes past a path stays inside the scratch (walk).
 */
static __always_inline bool eg_path_equal(const char *path, const struct eg_path_rule *r, __u32 len)
{
	for (__u32 off = 0; off < EG_PATH_MAX; off += 8) {
		__u64 diff;

		if (off >= len)
			break;
		diff = *(const __u64 *)(path + off) ^ *(const __u64 *)(r->path + off);
		if (len - off < 8)
			diff &= (1ULL << ((len - off) * 8)) - 1;
		if (diff)
			return false;
	}
	return true;
}

/*
 * Looks up one key (16 bytes: its hash was computed by eg_path_scan) and merges it
 * if its path really is path[slot][start, start + len). `what` is kind | slot << 8
 * | domain << 16, `span` start | len << 16: BPF calls take five arguments at most.
 * Global, so it is verified once however many call sites the matcher has.
 */
__noinline __u64 eg_path_probe(__u64 m, __u32 what, __u32 policy_id, __u32 span, __u64 hash)
{
	struct eg_path_scratch *s = eg_get_scratch();
	struct eg_path_key key = {
		.policy_id = policy_id,
		.domain = what >> 16,
		.kind = what,
		.len = span >> 16,
		.hash = hash,
	};
	__u32 start = span & (EG_PATH_MAX - 1), len = (span >> 16) & (EG_PATH_MAX - 1);
	struct eg_path_rule *r;

	if (!s)
		return m;
	r = bpf_map_lookup_elem(&eg_path_rules, &key);
	if (!r || !eg_path_equal(s->path[(what >> 8) & (EG_SLOTS - 1)] + start, r, len))
		return m;
	return eg_merge_rule(m, r);
}

/* State of eg_path_scan's walk; bpf_loop hands it to each step. */
struct eg_scan_ctx {
	__u64 h;	/* hash of the bytes so far */
	__u64 name;	/* hash of the bytes since the last '/' */
	__u32 len;
	__u32 n;	/* '/' seen so far */
	__u32 slot;
	__u32 _pad;
};

/*
 * Eight bytes of the scan. Branch-free per byte but for the end of the path, so
 * the verifier walks one step once, not once per combination of slashes; eight
 * bytes a step, not one, because a step's fixed cost (the call, the scratch
 * lookup) is what a byte costs.
 */
static long eg_scan_step(__u32 step, struct eg_scan_ctx *x)
{
	struct eg_path_scratch *s = eg_get_scratch();
	__u32 base = step * 8, len = x->len, n = x->n;
	__u64 h = x->h, name = x->name, word;

	if (!s || base >= len)
		return 1;
	/* base < len < EG_PATH_MAX; a word past the path's NUL reads stale bytes, never used. */
	word = *(const __u64 *)(s->path[x->slot & (EG_SLOTS - 1)] + (base & (EG_PATH_MAX - 8)));
#pragma unroll
	for (int b = 0; b < 8; b++) {
		__u64 c = (word >> (8 * b)) & 0xff, slash, keep;

		if (base + b >= len)
			break;
		/* 1 when c is '/': (c ^ '/') - 1 wraps only from 0. */
		slash = ((c ^ '/') - 1) >> 63;
		barrier_var(slash);
		keep = slash - 1;	/* all ones unless c is '/' */
		/* Written at every byte, kept (n moves on) only at a '/'. */
		s->prefix_hash[n & (EG_SLASHES - 1)] = h;
		s->slash[n & (EG_SLASHES - 1)] = base + b;
		n += slash;
		h = (h ^ c) * EG_PATH_HASH_PRIME;
		name = (((name ^ c) * EG_PATH_HASH_PRIME) & keep) | (EG_PATH_HASH_SEED & ~keep);
	}
	x->h = h;
	x->name = name;
	x->n = n;
	return 0;
}

/*
 * One forward pass over path[slot] (len bytes): the hash of the whole path, of
 * its final component, and of the prefix before each '/', whose positions it
 * records; returns how many there are.
 */
static __always_inline __u32 eg_path_scan(struct eg_path_scratch *s, __u32 slot, __u32 len)
{
	struct eg_scan_ctx x = {
		.h = EG_PATH_HASH_SEED,
		.name = EG_PATH_HASH_SEED,
		.len = len,
		.slot = slot,
	};

	bpf_loop(EG_PATH_MAX / 8, eg_scan_step, &x, 0);
	s->full_hash = x.h;
	s->name_hash = x.name;
	return x.n;
}

static __always_inline bool eg_has_length(const __u64 *bits, __u32 len)
{
	len &= EG_PATH_MAX - 1;
	return bits[len / 64] & (1ULL << (len % 64));
}

/* State of the subtree walk over the prefixes eg_path_scan found. */
struct eg_prefix_ctx {
	__u64 lengths[EG_PATH_MAX / 64];	/* the marker's struct eg_path_lengths bits */
	__u64 m;	/* matcher state (EG_M_*) */
	__u32 n;	/* prefixes */
	__u32 what;	/* eg_path_probe's */
	__u32 policy_id;
	__u32 _pad;
};

/* The j-th longest prefix; stops once every kind has its verdict. */
static long eg_prefix_step(__u32 j, struct eg_prefix_ctx *p)
{
	struct eg_path_scratch *s = eg_get_scratch();
	__u32 k = (p->n - 1 - j) & (EG_SLASHES - 1), at;

	if (!s)
		return 1;
	at = s->slash[k] & (EG_PATH_MAX - 1);
	if (eg_has_length(p->lengths, at))
		p->m = eg_path_probe(p->m, p->what, p->policy_id, at << 16, s->prefix_hash[k]);
	return EG_M_LEFT(p->m) ? 0 : 1;
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
	struct eg_path_key key = {
		.policy_id = policy_id,
		.domain = domain,
		.kind = EG_PATH_LOADED,
		.hash = EG_PATH_HASH_SEED,	/* the hash of "" */
	};
	struct eg_prefix_ctx p = {};	/* also holds the marker's lengths for the probes here */
	struct eg_path_rule *loaded;
	__u32 n, name_start;
	__u64 m, verdict, reason, rule;

	if (!s)
		return EG_VERDICT_DENY | (EG_REASON_UNRESOLVED << 8) | ((__u64)EG_RULE_DEFAULT << 16);
	loaded = bpf_map_lookup_elem(&eg_path_rules, &key);
	if (!loaded)
		return EG_VERDICT_DENY | (EG_REASON_NO_POLICY << 8) | ((__u64)EG_RULE_DEFAULT << 16);
	__builtin_memcpy(p.lengths, loaded, sizeof(p.lengths));

	slot &= EG_SLOTS - 1;
	len &= EG_PATH_MAX - 1;
	m = mask;
	n = eg_path_scan(s, slot, len);
	if (n > EG_SLASHES)	/* not from a resolved path: components are never empty */
		n = EG_SLASHES;
	what = slot << 8 | domain << 16;
	if (eg_has_length(p.lengths, len)) {
		m = eg_path_probe(m, what | EG_PATH_EXACT, policy_id, len << 16, s->full_hash);
		if (EG_M_LEFT(m))
			m = eg_path_probe(m, what | EG_PATH_SUBTREE, policy_id, len << 16, s->full_hash);
	}
	/* The prefixes before each '/', longest first; the one at 0 is "", the root. */
	if (EG_M_LEFT(m) && n) {
		p.m = m;
		p.n = n;
		p.what = what | EG_PATH_SUBTREE;
		p.policy_id = policy_id;
		bpf_loop(n, eg_prefix_step, &p, 0);
		m = p.m;
	}
	if (EG_M_LEFT(m) && n) {
		name_start = (s->slash[(n - 1) & (EG_SLASHES - 1)] + 1) & (EG_PATH_MAX - 1);
		if (name_start < len && eg_has_length(p.lengths, len - name_start))
			m = eg_path_probe(m, what | EG_PATH_NAME, policy_id, name_start | (len - name_start) << 16,
					  s->name_hash);
	}
	verdict = EG_M_VERDICT(m);
	reason = EG_REASON_RULE;
	rule = EG_M_RULE(m);
	if (EG_M_LEFT(m)) {
		if (dflt == EG_NO_DEFAULT)
			dflt = EG_VERDICT_ALLOW;
		else if (dflt > EG_VERDICT_DENY)
			dflt = EG_VERDICT_DENY;
		if (!(m & EG_M_FOUND) || dflt > verdict) {
			verdict = dflt;
			reason = EG_REASON_DEFAULT;
			rule = EG_RULE_DEFAULT;
		}
	}
	return verdict | (reason << 8) | (rule << 16) | ((__u64)!!(m & EG_M_HOLD) << 32);
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
