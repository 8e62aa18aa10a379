/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Path rules: the map the enforcement objects (exec.bpf.c, file.bpf.c, and
 * unix.bpf.c for `unix:` rules, domain EG_DOMAIN_UNIX: lib/unix_match.h) share,
 * and the matcher that turns a resolved path into a verdict.
 *
 * ---- What userspace writes into eg_path_rules (pinned by name) ----------------
 *
 * Key struct eg_path_key {policy_id, domain, kind, len, hash}: the length and
 * eg_path_hash() (ebguard.h) of the key's string. Values: struct eg_path_rule
 * (EXACT, SUBTREE, NAME, ANCESTOR) or struct eg_path_glob (GLOB_*), both starting
 * with verdict[access] per enum eg_access (EG_VERDICT_NONE where the key says
 * nothing about that access), rule[access] the rule index reported in events,
 * and flags EG_PATH_RULE_*. An eg_path_rule carries its key's path (len bytes,
 * no NUL): a hit counts only when it equals the bytes looked for, so no hash
 * collision, chosen or not, can lend a rule to another path. A pattern's value
 * carries the whole pattern, which is checked against the whole path.
 *
 * Kinds, for a resolved absolute path P ("/a/b/c"):
 *   EG_PATH_EXACT    key path == P.
 *   EG_PATH_SUBTREE  key path is P or a directory prefix of P, without the
 *                    trailing slash: "/a/b/c", "/a/b", "/a", and "" (len 0) for
 *                    the root. So "/dir/ **" is stored as "/dir" and matches /dir
 *                    itself; "/ **" is stored as "".
 *   EG_PATH_NAME     key path == the final component of P ("c"; ".env").
 *   EG_PATH_GLOB_DIR a pattern whose literal head (its components before the
 *                    first one holding a wildcard) is the key: looked up at
 *                    every directory prefix of P, with the subtrees.
 *   EG_PATH_GLOB_NAME a pattern with a literal component after its head (".git"
 *                    in "${workspace}/ ** /.git/hooks/ **", "c0" in "/a/b/ * /c0/ *"),
 *                    keyed by that component: looked up for every component of
 *                    P, so any literal component of a pattern is a sound key.
 *                    Userspace anchors a pattern there when it can (the longest,
 *                    then the deepest), so patterns sharing a head but not their
 *                    literal parts are checked only on paths holding those.
 *   EG_PATH_GLOB_PREFIX a pattern whose final component is `pre*suf`, keyed by pre
 *   EG_PATH_GLOB_SUFFIX ("id_" of `id_*`) or by suf (".pem" of `*.pem`; hashed last
 *                    byte first): looked up once per length the policy has, from
 *                    one walk over the final component from both ends
 *                    (eg_affix_step). Userspace prefers these anchors: only names
 *                    with that start or end pay for the check, where a `name:`
 *                    pattern headed at the root was checked on every path.
 *   EG_PATH_LOADED   path "" (len 0), value the lengths of its keys per kind
 *                    (struct eg_path_lengths): this (policy, domain) has all
 *                    its rules in the map. Write it after the rules, delete it
 *                    before them. A session whose policy has no marker for the
 *                    domain being decided is denied (EG_REASON_NO_POLICY): a half
 *                    loaded policy must never allow what the whole one denies.
 *
 * ---- Patterns ----------------------------------------------------------------
 * `*` matches any bytes of one component (never '/'), at most one `*` per
 * component; `**` as a whole component matches zero or more components. A
 * pattern is compiled to its literal head and up to EG_GLOB_TOKENS component
 * tests (struct eg_path_glob): LIT (equal bytes), STAR (pre*suf: the component
 * starts with pre, ends with suf, is at least as long as both) and ANY (`**`).
 * The check (eg_glob_check) walks the path's components once per segment: the
 * segment before the first `**` is anchored at the head, the last one at the
 * end of the path, and each one between two `**` is placed at its leftmost
 * fit, which is never worse for what follows (segments are rigid: a `*` stays
 * in its component). Cost: at most depth(P) * (tokens + 1) component tests for
 * a pattern with a floating segment, tokens + 1 otherwise. Patterns sharing one
 * anchor key take the hashes hash + 0 .. hash + EG_GLOB_CHAIN - 1; a ninth
 * takes its next anchor (suffix or prefix, a literal after `**`, its head), as
 * does an affix at a ninth length of its side; the policy compiler refuses a
 * pattern with no anchor left, and patterns with more tokens or text than
 * the value holds (`policy check` names them with file:line:column): a pattern
 * is decided exactly or not accepted, never matched loosely.
 *
 * ---- Precedence, per access kind A ------------------------------------------
 * Every key that matches P and has verdict[A] != EG_VERDICT_NONE is a candidate
 * with a rank, its count of literal bytes before the first wildcard:
 *   exact path        EG_RANK_EXACT (511, above any)
 *   subtree "/d/ **"  len("/d/") (the root "/ **": 1)
 *   pattern           bytes before its first '*' ("/home/ * /.ssh/ **": 6)
 *   name (and name patterns) 0
 * The highest rank wins; on equal ranks deny > ask > audit > allow; then the
 * lower rule index (only to name one). The three are one integer, EG_SCORE, so
 * the kernel keeps the greatest per kind. Several rules on one key are merged by
 * userspace the same way. No candidate for A: the session's default_verdict
 * [domain] (mmap's exec check excepted, see exec.bpf.c). A request made of
 * several kinds (O_RDWR: read + write) takes the strongest of the kinds'
 * verdicts; on a tie the lowest access kind names the rule (as the userspace
 * reference, PolicyEvaluator.swift, does). A verdict byte above EG_VERDICT_DENY
 * that is not EG_VERDICT_NONE counts as deny.
 *
 * EG_PATH_RULE_ARGV (exec domain): argv-conditional rules or an ask rule exist
 * for this program (an ask is answered by a human while the exec is held). The
 * flag counts on a matching key whose rank is at least the exec winner's; its
 * own verdict[EXEC] may be EG_VERDICT_NONE (only argv rules). The kernel cannot
 * read argv in the hook, so it holds every such exec (SIGSTOP, EG_REASON_HELD)
 * whatever the path verdict, reports that verdict and its rule in the held
 * event, and userspace decides (SIGCONT or SIGKILL).
 *
 * What the kernel cannot see, so userspace must compile in:
 *   - A rule on a path deeper than a directory does not stop that directory from
 *     being renamed by itself: userspace writes EG_PATH_ANCESTOR keys for the
 *     directories above exact and subtree rules and above patterns' heads, and
 *     for patterns their rename guards (domain EG_DOMAIN_RENAME), star roots and
 *     guard roots, which directory renames and symlinks look up
 *     (lib/path_ancestor.h). The matcher never probes them for an open or exec.
 *   - Paths are those the task sees (bpf_d_path and the dentry walk stop at the
 *     task's root): a chroot changes them. Defeating chroot/unshare is tamper
 *     protection's job.
 *
 * Cost: one forward pass over P's bytes, eight a step, hashing every prefix
 * that ends before a '/' and every component (eg_path_scan); then 1 (marker) +
 * 1 (exact) + depth(P) (components, only when the policy has GLOB_NAME keys, at
 * their lengths) + 2 * EG_AFFIX_LENGTHS (the final component's ends, only at
 * the lengths of GLOB_PREFIX/SUFFIX keys, after a walk of at most the longest
 * such key's bytes) + 1 + depth(P) (prefixes: subtree and GLOB_DIR keys) + 1
 * (name) lookups of 16-byte keys at most, only at lengths some key has, whatever
 * the number of rules; a hit on a pattern key costs its check and one more lookup.
 * The prefix walk stops once no shorter prefix can outrank what was found.
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
 * State of eg_glob_check's walk over the path's components. Kept in the per-CPU
 * scratch, not on the stack: 6.1's verifier checks a bpf_loop callback once,
 * with the context as it is at the first call, and removes as dead the branches
 * that context's constants rule out (such as a floating segment's retry).
 * Values in a map are unknown to it.
 */
struct eg_glob_ctx {
	__u32 slot, len, d;	/* the path, its length and its number of components */
	__u32 ti, ci;		/* next token, next component */
	__u32 seg_ti, seg_ci;	/* a floating segment's first token and where it is tried */
	__u32 seglen;		/* its tokens */
	__u32 floating;
	__u32 result;
};

/*
 * State of eg_affix_step's walk over the final component from both ends (in the
 * scratch, for the reason eg_glob_ctx is).
 */
struct eg_affix_ctx {
	__u64 pre;		/* hash of name[0, i) */
	__u64 suf;		/* hash of name[nlen - i, nlen), last byte first */
	__u32 start, nlen;	/* the final component: path[start, start + nlen) */
	__u32 slot, policy_id;
	__u32 what, info;	/* eg_glob_probe's, but the kind */
};

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
	struct eg_path_glob glob;		/* the pattern being checked (a copy: the
						 * words eg_text_equal reads past its text
						 * stay inside this scratch) */
	/* eg_path_scan's output for the path being matched: */
	__u64 prefix_hash[EG_SLASHES];		/* hash of path[0, slash[k]) */
	__u64 comp_hash[EG_SLASHES];		/* hash of the component that ends at slash[k] */
	__u16 slash[EG_SLASHES];		/* position of the k-th '/' */
	__u64 full_hash;			/* hash of the whole path */
	__u64 name_hash;			/* hash of the final component */
	/* The matcher's state: the loaded marker's length bits, and per access kind the
	 * best candidate's EG_SCORE (0: none). */
	struct eg_path_lengths_bits {
		__u64 exact[EG_PATH_MAX / 64];
		__u64 glob_dir[EG_PATH_MAX / 64];
		__u64 glob_name[EG_PATH_MAX / 64];
		__u64 affix[2];			/* GLOB_PREFIX, GLOB_SUFFIX: bit L for length L */
	} bits;
	__u32 best[8];
	__u32 hold;				/* 1 + rank of the best-ranked ARGV key; 0: none */
	__u16 git_rename_dst;			/* set by the rename hook around its destination's match:
						 * a vetted git commits its lock files that way */
	__u16 git_name;				/* EG_GIT_NAME_*: how the path matched ends
						 * (eg_git_direct_name) */
	struct eg_glob_ctx gw;			/* eg_glob_check's walk */
	struct eg_affix_ctx aw;			/* eg_affix_step's walk */
	struct eg_star_walk {			/* lib/path_ancestor.h's walk over a renamed path */
		__u64 m;			/* matcher state (eg_merge_rule) */
		__u32 slot, policy_id;
		__u32 common;			/* bytes the two sides share */
		__u32 n;			/* the path's '/' count */
	} sw;
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
		s->comp_hash[n & (EG_SLASHES - 1)] = name;
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

/* A candidate's precedence as one number: rank, then verdict, then the lower rule index. */
#define EG_SCORE(rank, verdict, rule) (((__u32)(rank) << 19) | ((__u32)(verdict) << 16) | (0xffff - (__u32)(rule)))
#define EG_SCORE_RANK(sc) ((sc) >> 19)
/*
 * A score's verdict field ranks a `unless: git` deny (EG_VERDICT_DENY_UNLESS_GIT)
 * just below a plain deny of the same rank: ALLOW 0, AUDIT 1, ASK 2, that 3, DENY 4.
 */
#define EG_SV_DENY_UNLESS_GIT 3
#define EG_SV_DENY 4
#define EG_SCORE_SV(sc) (((sc) >> 16) & 0x7)
#define EG_SCORE_VERDICT(sc) (EG_SCORE_SV(sc) >= EG_SV_DENY_UNLESS_GIT ? EG_VERDICT_DENY : EG_SCORE_SV(sc))
#define EG_SCORE_RULE(sc) (0xffff - ((sc) & 0xffff))

/* Offers one matching key's verdicts, at `rank`, for the kinds in `mask`. */
static __always_inline void eg_take(struct eg_path_scratch *s, const __u8 *verdict, const __u16 *rule, __u32 flags,
				    __u32 rank, __u32 mask)
{
	rank &= EG_RANK_EXACT;
	if ((flags & EG_PATH_RULE_ARGV) && (mask & (1 << EG_ACCESS_EXEC)) && rank + 1 > s->hold)
		s->hold = rank + 1;
#pragma unroll
	for (int k = 0; k < EG_ACCESS_KINDS; k++) {
		__u32 v, sc;

		if (!(mask & (1 << k)))
			continue;
		v = verdict[k];
		if (v == EG_VERDICT_NONE)
			continue;
		v = v == EG_VERDICT_DENY_UNLESS_GIT ? EG_SV_DENY_UNLESS_GIT : v >= EG_VERDICT_DENY ? EG_SV_DENY : v;
		sc = EG_SCORE(rank, v, rule[k]);
		if (sc > s->best[k])
			s->best[k] = sc;
	}
}

/* The lowest rank found so far among the kinds of `mask` (0 when one has none). */
static __always_inline __u32 eg_min_rank(const struct eg_path_scratch *s, __u32 mask)
{
	__u32 low = EG_RANK_EXACT;

#pragma unroll
	for (int k = 0; k < EG_ACCESS_KINDS; k++) {
		if ((mask & (1 << k)) && EG_SCORE_RANK(s->best[k]) < low)
			low = EG_SCORE_RANK(s->best[k]);
	}
	return low;
}

/*
 * Looks up one EXACT, SUBTREE or NAME key and, if its path really is
 * path[slot][start, start + len), offers its verdicts at `rank`. `what` is kind |
 * slot << 8 | domain << 16, `span` start | len << 16, `rm` rank | mask << 16:
 * BPF calls take five arguments at most. Global, so it is verified once.
 */
__noinline int eg_rule_probe(__u32 what, __u32 policy_id, __u32 span, __u64 hash, __u32 rm)
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
		return 0;
	r = bpf_map_lookup_elem(&eg_path_rules, &key);
	if (!r || !eg_path_equal(s->path[(what >> 8) & (EG_SLOTS - 1)] + start, r, len))
		return 0;
	eg_take(s, r->verdict, r->rule, r->flags, rm & 0xffff, rm >> 16);
	return 1;
}

/*
 * Whether path[slot][at, at + n) equals glob.text[off, off + n): word by word, the
 * last word masked. It looks the scratch up itself: a pointer handed down costs
 * eg_glob_step 32 more bytes of stack, which the call chain under eg_walks lacks.
 */
static __always_inline int eg_text_equal(__u32 slot, __u32 at, __u32 off, __u32 n)
{
	struct eg_path_scratch *s;
	const char *a, *b;

	if (!n)
		return 1;
	s = eg_get_scratch();
	if (!s)
		return 0;
	a = s->path[slot & (EG_SLOTS - 1)] + (at & (EG_PATH_MAX - 1));
	b = s->glob.text + (off & (EG_PATH_MAX - 1));
	for (__u32 i = 0; i < EG_PATH_MAX; i += 8) {
		__u64 diff;

		if (i >= n)
			break;
		diff = *(const __u64 *)(a + i) ^ *(const __u64 *)(b + i);
		if (n - i < 8)
			diff &= (1ULL << ((n - i) * 8)) - 1;
		if (diff)
			return 0;
	}
	return 1;
}


/* Whether component ci (ci < d) passes token t (LIT or STAR). */
static __always_inline bool eg_glob_component(struct eg_path_scratch *s, const struct eg_glob_ctx *c,
					      struct eg_glob_tok t)
{
	__u32 start = s->slash[c->ci & (EG_SLASHES - 1)] + 1, end = c->len, clen;

	if (c->ci + 1 < c->d)
		end = s->slash[(c->ci + 1) & (EG_SLASHES - 1)];
	if (end < start)
		return false;
	clen = end - start;
	if (t.kind == EG_GLOB_LIT)
		return clen == t.pre && eg_text_equal(c->slot, start, t.off, t.pre);
	if (t.kind != EG_GLOB_STAR || clen < (__u32)t.pre + t.suf)
		return false;
	return eg_text_equal(c->slot, start, t.off, t.pre) &&
	       eg_text_equal(c->slot, end - t.suf, (__u32)t.off + t.pre, t.suf);
}

/* One component test, or one move of a `**`. */
static long eg_glob_step(__u32 i, void *unused)
{
	struct eg_path_scratch *s = eg_get_scratch();
	struct eg_glob_ctx *c;
	struct eg_glob_tok t;
	__u32 ti;

	if (!s)
		return 1;
	c = &s->gw;
	ti = c->ti;
	c->result = 0;
	if (ti >= s->glob.ntok || ti >= EG_GLOB_TOKENS) {
		c->result = c->ci == c->d;
		return 1;
	}
	t = s->glob.tok[ti & (EG_GLOB_TOKENS - 1)];
	if (t.kind == EG_GLOB_ANY) {
		c->ti = ++ti;
		if (ti >= s->glob.ntok) {	/* a trailing `**` takes the rest */
			c->result = 1;
			return 1;
		}
		if (t.pre) {			/* the last segment: at the end, no retry */
			if (c->d < c->ci + t.suf)
				return 1;
			c->ci = c->d - t.suf;
			c->floating = 0;
		} else {
			c->floating = 1;
			c->seg_ti = ti;
			c->seg_ci = c->ci;
			c->seglen = t.suf;
		}
		return 0;
	}
	if (c->ci < c->d && eg_glob_component(s, c, t)) {
		c->ti++;
		c->ci++;
		return 0;
	}
	if (!c->floating)
		return 1;
	/* The floating segment does not fit here: one component further. */
	c->seg_ci++;
	if (c->seg_ci + c->seglen > c->d)
		return 1;
	c->ti = c->seg_ti;
	c->ci = c->seg_ci;
	return 0;
}

/* Each floating start (<= depth) runs its segment (<= tokens) once, plus the `**` moves. */
#define EG_GLOB_STEPS (EG_SLASHES * (EG_GLOB_TOKENS + 2))

/*
 * Whether the pattern in s->glob matches path[slot] (len bytes, d components).
 * Global: verified once.
 */
__noinline int eg_glob_check(__u32 slot, __u32 len, __u32 d)
{
	struct eg_path_scratch *s = eg_get_scratch();
	struct eg_glob_ctx *c;
	__u32 head;

	if (!s)
		return 0;
	c = &s->gw;
	slot &= EG_SLOTS - 1;
	len &= EG_PATH_MAX - 1;
	head = s->glob.head;
	__builtin_memset(c, 0, sizeof(*c));
	c->slot = slot;
	c->len = len;
	c->d = d;
	c->ci = s->glob.hdepth;
	if (head) {
		if (head >= len || s->path[slot][head & (EG_PATH_MAX - 1)] != '/' || !eg_text_equal(slot, 0, 0, head))
			return 0;
	}
	if (c->ci > d)
		return 0;
	bpf_loop(EG_GLOB_STEPS, eg_glob_step, NULL, 0);
	return s->gw.result;
}

/*
 * The patterns on one anchor key (hash + 0, + 1, ... until a miss), each checked
 * against path[slot] and offered when it matches. `what` is kind | slot << 8 |
 * domain << 16, `info` len | d << 8 | mask << 16. Global: verified once.
 */
__noinline int eg_glob_probe(__u32 what, __u32 policy_id, __u32 keylen, __u64 hash, __u32 info)
{
	struct eg_path_scratch *s = eg_get_scratch();
	struct eg_path_key key = {
		.policy_id = policy_id,
		.domain = what >> 16,
		.kind = what,
		.len = keylen,
	};
	struct eg_path_glob *g;
	__u32 slot = (what >> 8) & (EG_SLOTS - 1);

	if (!s)
		return 0;
	for (__u32 i = 0; i < EG_GLOB_CHAIN; i++) {
		key.hash = hash + i;
		g = bpf_map_lookup_elem(&eg_path_rules, &key);
		if (!g)
			break;
		__builtin_memcpy(&s->glob, g, sizeof(s->glob));
		if (eg_glob_check(slot, info & 0xff, (info >> 8) & 0xff))
			eg_take(s, s->glob.verdict, s->glob.rule, s->glob.flags, s->glob.rank, (info >> 16) & 0xff);
	}
	return 0;
}

/* What the walks need (the marker's length bits are in the scratch: the stack is short). */
struct eg_walk_state {
	__u32 n;	/* '/' in the path */
	__u32 d;	/* components */
	__u32 len;
	__u32 slot;
	__u32 domain;
	__u32 mask;
	__u32 policy_id;
	__u32 _pad;
};

/* Component j: the patterns anchored on it. */
static long eg_name_step(__u32 j, struct eg_walk_state *w)
{
	struct eg_path_scratch *s = eg_get_scratch();
	__u32 start, end = w->len;
	__u64 hash;

	if (!s)
		return 1;
	start = s->slash[j & (EG_SLASHES - 1)] + 1;
	hash = s->name_hash;
	if (j + 1 < w->d) {
		end = s->slash[(j + 1) & (EG_SLASHES - 1)];
		hash = s->comp_hash[(j + 1) & (EG_SLASHES - 1)];
	}
	if (end <= start || !eg_has_length(s->bits.glob_name, end - start))
		return 0;
	eg_glob_probe(EG_PATH_GLOB_NAME | w->slot << 8 | w->domain << 16, w->policy_id, end - start, hash,
		      w->len | w->d << 8 | w->mask << 16);
	return 0;
}

/*
 * Byte i from each end of the final component: the patterns keyed by its first
 * i + 1 bytes (GLOB_PREFIX) and by its last i + 1 (GLOB_SUFFIX), at the lengths
 * the policy has. Ends once no longer key exists.
 */
static long eg_affix_step(__u32 i, void *unused)
{
	struct eg_path_scratch *s = eg_get_scratch();
	const __u8 *p;
	__u32 n = i + 1;

	/* Few live values across the probes: this frame lies under the pattern checks'. */
	if (!s || i >= s->aw.nlen || n > EG_AFFIX_MAX)
		return 1;
	p = (const __u8 *)s->path[s->aw.slot & (EG_SLOTS - 1)];
	s->aw.pre = (s->aw.pre ^ p[(s->aw.start + i) & (EG_PATH_MAX - 1)]) * EG_PATH_HASH_PRIME;
	s->aw.suf = (s->aw.suf ^ p[(s->aw.start + s->aw.nlen - n) & (EG_PATH_MAX - 1)]) * EG_PATH_HASH_PRIME;
	if (s->bits.affix[0] & (1ULL << (n & 63)))
		eg_glob_probe(EG_PATH_GLOB_PREFIX | s->aw.what, s->aw.policy_id, n, s->aw.pre, s->aw.info);
	if (s->bits.affix[1] & (1ULL << (n & 63)))
		eg_glob_probe(EG_PATH_GLOB_SUFFIX | s->aw.what, s->aw.policy_id, n, s->aw.suf, s->aw.info);
	/* No key longer than n: done. */
	return ((s->bits.affix[0] | s->bits.affix[1]) >> (n & 63)) >> 1 ? 0 : 1;
}

/* The j-th longest prefix (a directory of the path): its subtree and the patterns headed there. */
static long eg_prefix_step(__u32 j, struct eg_walk_state *w)
{
	struct eg_path_scratch *s = eg_get_scratch();
	__u32 k = (w->n - 1 - j) & (EG_SLASHES - 1), at;

	if (!s)
		return 1;
	at = s->slash[k] & (EG_PATH_MAX - 1);
	if (eg_has_length(s->bits.exact, at))
		eg_rule_probe(EG_PATH_SUBTREE | w->slot << 8 | w->domain << 16, w->policy_id, at << 16, s->prefix_hash[k],
			      (at + 1) | w->mask << 16);
	if (eg_has_length(s->bits.glob_dir, at))
		eg_glob_probe(EG_PATH_GLOB_DIR | w->slot << 8 | w->domain << 16, w->policy_id, at, s->prefix_hash[k],
			      w->len | w->d << 8 | w->mask << 16);
	/* A shorter prefix's candidates rank at most `at` (path_match.h's header). */
	return eg_min_rank(s, w->mask) > at ? 1 : 0;
}

#define EG_NO_DEFAULT 0xff

/*
 * What a vetted git may do where a `unless: git` deny applies: create or write a
 * lock file (`*.lock`) or a `.git` (a new repository, a gitfile), and rename onto a
 * protected name (git_rename_dst: committing its lock file, the only way git writes
 * config, config.worktree and the like). Never a direct write of `config` itself: a
 * checkout or merge whose work tree was aimed at a `.git` directory (core.worktree
 * in a repository of the agent's) writes files directly, and git refuses to check
 * out any path named `.git`. A `commondir` only by a vetted `git worktree add`
 * (EG_HELD_GIT_WORKTREE), which writes it directly and checks nothing out itself.
 * The rename hook sets git_rename_dst; this checks the last component of
 * path[slot] (len bytes, n '/'), for eg_match_path to note.
 */
#define EG_GIT_NAME_LOCK 1	/* `*.lock` or `.git` */
#define EG_GIT_NAME_COMMONDIR 2	/* `commondir` */

static __always_inline __u16 eg_git_direct_name(struct eg_path_scratch *s, __u32 slot, __u32 len, __u32 n)
{
	const char *p = s->path[slot & (EG_SLOTS - 1)];
	__u32 start = n ? s->slash[(n - 1) & (EG_SLASHES - 1)] + 1 : 0;

	if (len >= 5 && len < EG_PATH_MAX && p[(len - 5) & (EG_PATH_MAX - 1)] == '.' &&
	    p[(len - 4) & (EG_PATH_MAX - 1)] == 'l' && p[(len - 3) & (EG_PATH_MAX - 1)] == 'o' &&
	    p[(len - 2) & (EG_PATH_MAX - 1)] == 'c' && p[(len - 1) & (EG_PATH_MAX - 1)] == 'k')
		return EG_GIT_NAME_LOCK;
	if (len == start + 4 && p[start & (EG_PATH_MAX - 1)] == '.' && p[(start + 1) & (EG_PATH_MAX - 1)] == 'g' &&
	    p[(start + 2) & (EG_PATH_MAX - 1)] == 'i' && p[(start + 3) & (EG_PATH_MAX - 1)] == 't')
		return EG_GIT_NAME_LOCK;
	if (len == start + 9 && p[start & (EG_PATH_MAX - 1)] == 'c' && p[(start + 1) & (EG_PATH_MAX - 1)] == 'o' &&
	    p[(start + 2) & (EG_PATH_MAX - 1)] == 'm' && p[(start + 3) & (EG_PATH_MAX - 1)] == 'm' &&
	    p[(start + 4) & (EG_PATH_MAX - 1)] == 'o' && p[(start + 5) & (EG_PATH_MAX - 1)] == 'n' &&
	    p[(start + 6) & (EG_PATH_MAX - 1)] == 'd' && p[(start + 7) & (EG_PATH_MAX - 1)] == 'i' &&
	    p[(start + 8) & (EG_PATH_MAX - 1)] == 'r')
		return EG_GIT_NAME_COMMONDIR;
	return 0;
}

/*
 * The decision for `mask` from the candidates found (s->best, s->hold): the
 * strongest kind, on a tie the lowest kind names it. A function of its own, so
 * its registers do not spill into eg_match_path's frame, which sits under the
 * pattern checks' (BPF allows 512 bytes of stack for a whole call chain).
 */
__noinline __u64 eg_verdict_of(__u32 mask, __u32 dflt)
{
	struct eg_path_scratch *s = eg_get_scratch();
	__u64 verdict = EG_VERDICT_ALLOW, reason = EG_REASON_DEFAULT, rule = EG_RULE_DEFAULT, hold = 0;
	bool first = true, git_writer = false;

	if (!s)
		return EG_VERDICT_DENY | (EG_REASON_UNRESOLVED << 8) | ((__u64)EG_RULE_DEFAULT << 16);

	if (dflt == EG_NO_DEFAULT)
		dflt = EG_VERDICT_ALLOW;
	else if (dflt > EG_VERDICT_DENY)
		dflt = EG_VERDICT_DENY;
	/* A `unless: git` deny decides a kind: is this a git-shaped write by the git it yields to? */
#pragma unroll
	for (int k = 0; k < EG_ACCESS_KINDS; k++) {
		if ((mask & (1 << k)) && s->best[k] && EG_SCORE_SV(s->best[k]) == EG_SV_DENY_UNLESS_GIT) {
			__u64 marks = eg_git_writer_marks(bpf_get_current_pid_tgid() >> 32);

			git_writer = ((s->git_rename_dst || s->git_name == EG_GIT_NAME_LOCK) && marks) ||
				     (s->git_name == EG_GIT_NAME_COMMONDIR && (marks & EG_HELD_GIT_WORKTREE));
			break;
		}
	}
	/* The strongest kind; on a tie the lowest kind names it. */
#pragma unroll
	for (int k = 0; k < EG_ACCESS_KINDS; k++) {
		__u32 sc = s->best[k], v = sc ? EG_SCORE_VERDICT(sc) : dflt;
		__u64 why = sc ? EG_REASON_RULE : EG_REASON_DEFAULT;

		if (!(mask & (1 << k)))
			continue;
		if (git_writer && sc && EG_SCORE_SV(sc) == EG_SV_DENY_UNLESS_GIT) {
			v = EG_VERDICT_AUDIT;
			why = EG_REASON_VETTED_GIT;
		}
		if (first || v > verdict) {
			verdict = v;
			reason = why;
			rule = sc ? EG_SCORE_RULE(sc) : EG_RULE_DEFAULT;
			first = false;
		}
	}
	if (s->hold && (!s->best[EG_ACCESS_EXEC] || s->hold - 1 >= EG_SCORE_RANK(s->best[EG_ACCESS_EXEC])))
		hold = 1;
	return verdict | (reason << 8) | (rule << 16) | (hold << 32);
}

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

/* eg_path_scan as a function of its own: its state stays off the walks' stack. */
__noinline __u32 eg_scan_path(__u32 slot, __u32 len)
{
	struct eg_path_scratch *s = eg_get_scratch();
	__u32 n;

	if (!s)
		return 0;
	n = eg_path_scan(s, slot & (EG_SLOTS - 1), len & (EG_PATH_MAX - 1));
	/* More is not from a resolved path: components are never empty. */
	n = n > EG_SLASHES ? EG_SLASHES : n;
	/* Here, not in eg_match_path, whose frame lies under the walks' (the call chain's stack). */
	s->git_name = eg_git_direct_name(s, slot, len, n);
	return n;
}

/*
 * Every lookup for path[slot] (len bytes, n '/'), most specific first: exact,
 * the patterns anchored on a component or on the final component's ends (they
 * can rank anywhere), the path as a
 * subtree, its directories with their patterns (longest first, until nothing
 * shorter can outrank what was found), the name. `dm` is domain | mask << 8.
 * The candidates land in s->best. Its frame, like eg_match_path's, lies under
 * the pattern checks', so it stays small.
 */
__noinline int eg_walks(__u32 slot, __u32 len, __u32 n, __u32 policy_id, __u32 dm)
{
	struct eg_path_scratch *s = eg_get_scratch();
	struct eg_walk_state w = {};
	__u32 probe, name_start;

	if (!s)
		return 0;
	w.slot = slot & (EG_SLOTS - 1);
	w.len = len & (EG_PATH_MAX - 1);
	w.n = n & (2 * EG_SLASHES - 1);
	w.d = w.len > 1 ? w.n : 0;	/* "/" has no component */
	w.domain = dm & 0xff;
	w.mask = (dm >> 8) & 0xff;
	w.policy_id = policy_id;
	probe = w.slot << 8 | w.domain << 16;
	if (eg_has_length(s->bits.exact, w.len))
		eg_rule_probe(probe | EG_PATH_EXACT, policy_id, w.len << 16, s->full_hash, EG_RANK_EXACT | w.mask << 16);
	if (eg_min_rank(s, w.mask) < EG_RANK_EXACT) {
		if ((s->bits.glob_name[0] | s->bits.glob_name[1] | s->bits.glob_name[2] | s->bits.glob_name[3]) && w.d)
			bpf_loop(w.d, eg_name_step, &w, 0);
		/* The final component's ends: the patterns keyed on its literal prefix or suffix. */
		if ((s->bits.affix[0] | s->bits.affix[1]) && w.d) {
			name_start = (s->slash[(w.n - 1) & (EG_SLASHES - 1)] + 1) & (EG_PATH_MAX - 1);
			if (name_start < w.len) {
				s->aw.pre = EG_PATH_HASH_SEED;
				s->aw.suf = EG_PATH_HASH_SEED;
				s->aw.start = name_start;
				s->aw.nlen = w.len - name_start;
				s->aw.slot = w.slot;
				s->aw.policy_id = policy_id;
				s->aw.what = w.slot << 8 | w.domain << 16;
				s->aw.info = w.len | w.d << 8 | w.mask << 16;
				bpf_loop(EG_AFFIX_MAX, eg_affix_step, NULL, 0);
			}
		}
		if (eg_has_length(s->bits.exact, w.len))
			eg_rule_probe(probe | EG_PATH_SUBTREE, policy_id, w.len << 16, s->full_hash,
				      (w.len + 1) | w.mask << 16);
		/* The prefixes before each '/', longest first; the one at 0 is "", the root. */
		if (w.n)
			bpf_loop(w.n, eg_prefix_step, &w, 0);
	}
	if (eg_min_rank(s, w.mask) == 0 && w.n) {
		name_start = (s->slash[(w.n - 1) & (EG_SLASHES - 1)] + 1) & (EG_PATH_MAX - 1);
		if (name_start < w.len && eg_has_length(s->bits.exact, w.len - name_start))
			eg_rule_probe(probe | EG_PATH_NAME, policy_id, name_start | (w.len - name_start) << 16, s->name_hash,
				      w.mask << 16);
	}
	return 0;
}

/* `what` is EG_MATCH_WHAT(domain, mask, dflt): BPF calls take five arguments at most. */
__noinline __u64 eg_match_path(__u32 slot, __u32 len, __u32 policy_id, __u32 what)
{
	struct eg_path_scratch *s = eg_get_scratch();
	struct eg_path_key key = {
		.policy_id = policy_id,
		.domain = what & 0xff,
		.kind = EG_PATH_LOADED,
		.hash = EG_PATH_HASH_SEED,	/* the hash of "" */
	};
	struct eg_path_rule *loaded;
	__u32 n;

	if (!s)
		return EG_VERDICT_DENY | (EG_REASON_UNRESOLVED << 8) | ((__u64)EG_RULE_DEFAULT << 16);
	loaded = bpf_map_lookup_elem(&eg_path_rules, &key);
	if (!loaded)
		return EG_VERDICT_DENY | (EG_REASON_NO_POLICY << 8) | ((__u64)EG_RULE_DEFAULT << 16);
	__builtin_memcpy(&s->bits, loaded, sizeof(s->bits));
	__builtin_memset(s->best, 0, sizeof(s->best));
	s->hold = 0;
	n = eg_scan_path(slot, len);
	eg_walks(slot, len, n, policy_id, what & 0xffff);
	return eg_verdict_of((what >> 8) & 0xff, (what >> 16) & 0xff);
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
