/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Unix socket connects and datagram sends (BPF-LSM; unix.bpf.c): the peer
 * socket's bound name, the one the kernel resolved, decided by the policy's
 * `unix:` rules.
 *
 * Exact names and subtrees (`/run/docker.sock`, `/run/user/ **`) are looked up in
 * eg_unix_rules whole and per directory (lib/net_match.h), as before patterns
 * existed: same meaning, same cost. Patterns (`*` in a component, `**` for
 * components) are path rules of their own domain (EG_DOMAIN_UNIX keys in
 * eg_path_rules, one access kind, EG_UNIX_ACCESS), decided by lib/path_match.h
 * exactly as file and exec patterns are: the same anchors, bounds and reference.
 * Only sessions whose policy has unix patterns (EG_SESSION_UNIX_PATTERNS) run that
 * matcher, after the lookups. The two meet on one precedence, the paths' (most
 * literal bytes before the first wildcard, then deny > ask > audit > allow, then
 * the lower rule index), as one score each (EG_SCORE): an exact name (rank 511)
 * ends the decision at once, the deepest subtree ranks len("/dir/"), the best
 * pattern its bytes before the first '*'. Measured in the 6.1 VM (BPF run-time
 * statistics, bench/unix_cost.py, 1,000 exact rules): the whole decision through
 * the path matcher cost 2.7x these lookups for an exact hit and 1.9x for a name
 * no rule holds, hence both; as now, 1.19x and 1.04x of the lookups before
 * patterns existed (a loaded host: runs spread by +-20%).
 *
 * The name, as the server passed it to bind(): not normalised. A filesystem name
 * (sun_path[0] == '/') is read whole into the scratch (108 bytes at most, so it
 * always fits: a name filling sun_path without a NUL is decided on all its bytes);
 * a pattern's components are the bytes between its '/', empty ones ("//")
 * included, as the userspace reference (PolicyEvaluator.decideUnix) splits them.
 * A name bound relative to the server's directory (no leading '/') is matched by
 * no rule (rules are absolute): default_verdict[EG_DOMAIN_NET]. Abstract names
 * (sun_path[0] == 0) are looked up whole in eg_unix_rules.
 * Peers without any address (socketpair, unbound datagram sockets) are not
 * nameable and are allowed. A name whose kernel copy cannot be read is denied
 * (EG_REASON_UNRESOLVED); a policy without its EG_DOMAIN_UNIX marker is denied
 * (EG_REASON_NO_POLICY), as for paths.
 *
 * Events: EG_EVENT_UNIX, family AF_UNIX, unix_path the name and unix_len its bytes:
 * all of them, 108 for a name filling sun_path (no NUL follows it then); an abstract
 * name as many as its address length says, its leading NUL written '@' and any other
 * NUL in it (often padding to sizeof(struct sockaddr_un)) left for userspace to show.
 *
 * Stack: eg_match_path's chain (down to the pattern checks under bpf_loop) is
 * what limits the file programs to 480 of 512 bytes; this caller keeps the name
 * in the scratch and its eg_unix_rules lookups (a 116-byte key) in a function of
 * its own, beside that chain rather than under it.
 */
#ifndef EG_LIB_UNIX_MATCH_H
#define EG_LIB_UNIX_MATCH_H

#include "net_match.h"
#include "path_match.h"

/* What eg_unix_peer_name found. */
enum eg_unix_name {
	EG_UNIX_UNREADABLE = -1,	/* the kernel's copy could not be read: fail closed */
	EG_UNIX_UNNAMED = 0,		/* socketpair, unbound peers: nothing a policy can name */
	EG_UNIX_PATH = 1,		/* a filesystem name, in the scratch's path[0] */
	EG_UNIX_ABSTRACT = 2,		/* an abstract name, in path[0] with its leading NUL */
};

/*
 * Reads the bound name of the peer socket into path (the scratch's path[0]): a
 * filesystem name NUL-terminated, its length in *len; an abstract name with its
 * leading NUL, *len bytes of it.
 */
static __always_inline int eg_unix_peer_name(struct sock *peer, char *path, __u32 *len)
{
	struct unix_address *addr;
	const char *name;
	__u64 size;
	int n;

	addr = BPF_CORE_READ((struct unix_sock *)peer, addr);
	if (!addr)
		return EG_UNIX_UNNAMED;
	/* addr->len counts sun_family; for a path it also counts the NUL after it. */
	n = BPF_CORE_READ(addr, len) - (int)sizeof(__kernel_sa_family_t);
	if (n <= 0)
		return EG_UNIX_UNNAMED;
	name = (const char *)__builtin_preserve_access_index(&addr->name[0].sun_path);
	/* Zero after the name, as abstract keys and the event's copy want (the scratch is reused). */
	__builtin_memset(path, 0, EG_UNIX_PATH_MAX + 4);
	if (bpf_probe_read_kernel(path, 1, name))
		return EG_UNIX_UNREADABLE;
	if (path[0]) {
		/* sun_path's 108 bytes and the NUL the kernel keeps after them. */
		n = bpf_probe_read_kernel_str(path, EG_UNIX_PATH_MAX + 1, name);
		if (n <= 1)
			return EG_UNIX_UNREADABLE;
		*len = n - 1;
		return EG_UNIX_PATH;
	}
	if (n > EG_UNIX_PATH_MAX)
		return EG_UNIX_UNREADABLE;	/* the kernel never binds more */
	/* Bound the very register the helper gets (a no-op: n <= 108): the verifier loses a
	 * check made on a copy that was spilled to the stack. */
	size = n;
	barrier_var(size);
	size &= 0x7f;
	if (bpf_probe_read_kernel(path, size, name))
		return EG_UNIX_UNREADABLE;
	*len = size;
	return EG_UNIX_ABSTRACT;
}

/* eg_unix_lookup's answer for a rule whose verdict is out of range: fail closed. */
#define EG_UNIX_CORRUPT 0xffffffffu

/*
 * The name in the scratch's path[0] (len bytes; zero after them) looked up in
 * eg_unix_rules: whole (a filesystem or an abstract name), then, for an absolute
 * path, as each directory holding it, deepest first (keys with EG_UNIX_LEN_SUBTREE,
 * "" for the root; a directory matches itself too, as in path rules, a name of all
 * 108 bytes included, though key.path[108] does not exist). Returns the
 * winner's EG_SCORE (rank EG_RANK_EXACT for the whole name, len("/dir/") for a
 * subtree), 0 for none, EG_UNIX_CORRUPT for a verdict out of range. Walks the key
 * from its end, zeroing as it goes, so each candidate is the prefix followed by
 * zeros, as userspace writes it. A function of its own: its 116-byte key is not on
 * the stack while the path matcher runs.
 */
__noinline __u32 eg_unix_lookup(__u32 policy_id, __u32 len)
{
	struct eg_path_scratch *s = eg_get_scratch();
	struct eg_unix_key key = { .policy_id = policy_id };
	struct eg_net_rule *rule;
	__u32 rank = EG_RANK_EXACT;
	int i;
	char c;

	if (!s)
		return EG_UNIX_CORRUPT;
	if (len > EG_UNIX_PATH_MAX)
		len = EG_UNIX_PATH_MAX;
	__builtin_memcpy(key.path, s->path[0], EG_UNIX_PATH_MAX);
	key.len = len;
	rule = bpf_map_lookup_elem(&eg_unix_rules, &key);
	if (!rule && key.path[0] == '/') {
		for (i = EG_UNIX_PATH_MAX; i >= 0; i--) {
			c = 0;	/* i == 108: past sun_path, the end of a name that fills it */
			if (i < EG_UNIX_PATH_MAX) {
				c = key.path[i];
				key.path[i] = 0;
			}
			if ((__u32)i > len || ((__u32)i != len && c != '/'))
				continue;
			key.len = i | EG_UNIX_LEN_SUBTREE;
			rule = bpf_map_lookup_elem(&eg_unix_rules, &key);
			if (rule) {
				rank = i + 1;	/* "/dir/" ("/" for the root) */
				break;
			}
		}
	}
	if (!rule)
		return 0;
	if (rule->verdict > EG_VERDICT_DENY)
		return EG_UNIX_CORRUPT;
	return EG_SCORE(rank, rule->verdict, rule->rule);
}

/*
 * Reports one decision: the name from the scratch (abstract shown the way ss(8)
 * does, @name). A function of its own, not inlined into eg_unix_check: inlined,
 * clang 14 dropped the stores of policy_id..port that eg_net_event_start makes
 * (the events said policy 0), as it once did with the shadow test in between.
 */
static __noinline void eg_unix_report(__u64 session_id, const struct eg_session *session, __u64 packed,
				      const struct eg_path_scratch *s, int named)
{
	/* BPF calls take no structs by value, and five arguments at most:
	 * rule | verdict << 16 | reason << 24 | the name's length << 32. */
	struct eg_net_decision d = { packed & 0xffff, (packed >> 16) & 0xff, (packed >> 24) & 0xff };
	__u32 len = packed >> 32;
	struct eg_net_dest dest = { .family = AF_UNIX };
	struct eg_net_event *ev;

	ev = eg_net_event_start(EG_EVENT_UNIX, session_id, session, d, &dest);
	if (!ev)
		return;
	/*
	 * clang 14's BPF backend drops eg_net_event_start's stores of policy_id..port
	 * here (they are in its IR, not in the object; the events said policy 0):
	 * stored again after a compiler barrier, which keeps them.
	 */
	barrier();
	ev->policy_id = session->policy_id;
	ev->ret = eg_net_refuses(session, d) ? -EPERM : 0;
	ev->rule = d.rule;
	ev->verdict = d.verdict;
	ev->reason = d.reason;
	ev->family = AF_UNIX;
	ev->protocol = 0;
	ev->port = 0;
	ev->unix_len = 0;
	ev->_pad = 0;
	/* All the name's bytes, none cut for a terminator: unix_len says where it ends. */
	if (s && (named == EG_UNIX_PATH || named == EG_UNIX_ABSTRACT)) {
		__builtin_memcpy(ev->unix_path, s->path[0], sizeof(ev->unix_path));
		if (named == EG_UNIX_ABSTRACT)
			ev->unix_path[0] = '@';
		ev->unix_len = len < EG_UNIX_PATH_MAX ? len : EG_UNIX_PATH_MAX;
	}
	bpf_ringbuf_submit(ev, 0);
}

/*
 * The whole decision for a Unix connect or datagram send to `peer`: 0 to allow,
 * -EPERM to refuse (what LSM hooks return). An ask denies: Unix sockets have no
 * answer map (eg_net_answers is keyed by IP destinations), so nothing answers it.
 */
static __always_inline int eg_unix_check(struct sock *peer)
{
	struct eg_path_scratch *s;
	struct eg_net_decision d;
	struct eg_session *session;
	__u64 session_id = 0, packed;
	__u32 len = 0, score;
	int named = EG_UNIX_UNREADABLE;

	session = eg_current_session(&session_id);
	if (!session)
		return 0;
	s = eg_get_scratch();
	if (!s) {
		d = eg_net_fail_closed();
		d.reason = EG_REASON_UNRESOLVED;
		goto decided;
	}
	named = eg_unix_peer_name(peer, s->path[0], &len);
	if (named == EG_UNIX_UNNAMED)
		return 0;
	d = eg_net_default(session);
	if (named == EG_UNIX_UNREADABLE) {
		d = eg_net_fail_closed();
		d.reason = EG_REASON_UNRESOLVED;
		goto decided;
	}
	if (named == EG_UNIX_PATH && s->path[0][0] != '/')
		goto decided;	/* bound relative: no rule names it */
	score = eg_unix_lookup(session->policy_id, len);
	if (score == EG_UNIX_CORRUPT) {
		d = eg_net_fail_closed();
		goto decided;
	}
	/* Patterns, where the policy has them and no exact name decided. */
	if (named == EG_UNIX_PATH && (session->flags & EG_SESSION_UNIX_PATTERNS) &&
	    EG_SCORE_RANK(score) < EG_RANK_EXACT) {
		packed = eg_match_path(0, len, session->policy_id,
				       EG_MATCH_WHAT(EG_DOMAIN_UNIX, 1 << EG_UNIX_ACCESS, EG_NO_DEFAULT));
		if (((packed >> 8) & 0xff) != EG_REASON_RULE && ((packed >> 8) & 0xff) != EG_REASON_DEFAULT) {
			d = eg_net_fail_closed();	/* no marker (NO_POLICY), or no scratch */
			d.reason = (packed >> 8) & 0xff;
			goto decided;
		}
		/* The best pattern's score is the matcher's for the one kind it decided. */
		if (s->best[EG_UNIX_ACCESS] > score)
			score = s->best[EG_UNIX_ACCESS];
	}
	if (score)
		d = (struct eg_net_decision){ EG_SCORE_RULE(score), EG_SCORE_VERDICT(score), EG_REASON_RULE };
decided:
	if (eg_net_reported(session, d))
		eg_unix_report(session_id, session,
			       d.rule | (__u32)d.verdict << 16 | (__u32)d.reason << 24 | (__u64)len << 32, s, named);
	return eg_net_refuses(session, d) ? -EPERM : 0;
}

#endif /* EG_LIB_UNIX_MATCH_H */
