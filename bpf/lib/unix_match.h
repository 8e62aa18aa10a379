/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Unix socket connects and datagram sends (BPF-LSM; unix.bpf.c): the peer
 * socket's bound name, the one the kernel resolved, decided by the policy's
 * `unix:` rules.
 *
 * Why the path matcher: `unix:` rules are path rules of their own domain
 * (EG_DOMAIN_UNIX keys in eg_path_rules, one access kind, EG_UNIX_ACCESS), so
 * exact paths, subtrees and patterns (`*` in a component, `**` for components)
 * are decided by lib/path_match.h exactly as file and exec paths are: the same
 * keys, the same bounds, the same precedence (most literal bytes before the
 * first wildcard, then deny > ask > audit > allow, then the lower rule index),
 * and the same userspace reference. A second matcher beside eg_unix_rules would
 * have had to rank its exact and subtree hits against the patterns' on its own.
 * The cost is the path matcher's: a scan of the name (at most 108 bytes) and
 * 16-byte lookups only at the lengths the policy's unix keys have; the whole-name
 * and per-directory lookups of 116-byte keys it replaces cost more per probe.
 *
 * The name, as the server passed it to bind(): not normalised. A filesystem name
 * (sun_path[0] == '/') is read whole into the scratch (108 bytes at most, so it
 * always fits: a name filling sun_path without a NUL is decided on all its bytes)
 * and matched; its components are the bytes between its '/', empty ones ("//")
 * included, as the userspace reference (PolicyEvaluator.decideUnix) splits them.
 * A name bound relative to the server's directory (no leading '/') is matched by
 * no rule (rules are absolute): default_verdict[EG_DOMAIN_NET]. Abstract names
 * (sun_path[0] == 0) are looked up whole in eg_unix_rules (lib/net_match.h).
 * Peers without any address (socketpair, unbound datagram sockets) are not
 * nameable and are allowed. A name whose kernel copy cannot be read is denied
 * (EG_REASON_UNRESOLVED); a policy without its EG_DOMAIN_UNIX marker is denied
 * (EG_REASON_NO_POLICY), as for paths.
 *
 * Events: EG_EVENT_UNIX, family AF_UNIX, unix_path the name (abstract: "@name"),
 * NUL-terminated: a 108-byte name shows its first 107 bytes.
 *
 * Stack: eg_match_path's chain (down to the pattern checks under bpf_loop) is
 * what limits the file programs to 480 of 512 bytes; this caller keeps the name
 * in the scratch and its abstract lookup (a 116-byte key) in a function of its
 * own, beside that chain rather than under it.
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

/*
 * An abstract name's rule in eg_unix_rules (path[0] of the scratch, len bytes with
 * the leading NUL): EG_VERDICT_NONE | EG_RULE_DEFAULT << 16 when there is none,
 * else verdict | rule << 16. A function of its own: its 116-byte key is not on the
 * stack while the path matcher runs.
 */
__noinline __u32 eg_unix_abstract(__u32 policy_id, __u32 len)
{
	struct eg_path_scratch *s = eg_get_scratch();
	struct eg_unix_key key = { .policy_id = policy_id };
	struct eg_net_rule *rule;

	if (!s)
		return EG_VERDICT_DENY | (__u32)EG_RULE_DEFAULT << 16;
	if (len > EG_UNIX_PATH_MAX)
		len = EG_UNIX_PATH_MAX;
	/* Zero after the name (eg_unix_peer_name), as userspace writes keys. */
	__builtin_memcpy(key.path, s->path[0], EG_UNIX_PATH_MAX);
	key.len = len;
	rule = bpf_map_lookup_elem(&eg_unix_rules, &key);
	if (!rule)
		return EG_VERDICT_NONE | (__u32)EG_RULE_DEFAULT << 16;
	return rule->verdict | (__u32)rule->rule << 16;
}

/*
 * Reports one decision: the name from the scratch (abstract shown the way ss(8)
 * does, @name). A function of its own, not inlined into eg_unix_check: inlined,
 * clang 14 dropped the stores of policy_id..port that eg_net_event_start makes
 * (the events said policy 0), as it once did with the shadow test in between.
 */
static __noinline void eg_unix_report(__u64 session_id, const struct eg_session *session, __u32 packed,
				      const struct eg_path_scratch *s, int named)
{
	/* BPF calls take no structs by value: rule | verdict << 16 | reason << 24. */
	struct eg_net_decision d = { packed & 0xffff, (packed >> 16) & 0xff, packed >> 24 };
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
	if (s) {
		__builtin_memcpy(ev->unix_path, s->path[0], sizeof(ev->unix_path));
		if (named == EG_UNIX_ABSTRACT)
			ev->unix_path[0] = '@';
	}
	ev->unix_path[sizeof(ev->unix_path) - 1] = 0;
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
	__u32 len = 0, v;
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
	} else if (named == EG_UNIX_PATH && s->path[0][0] == '/') {
		packed = eg_match_path(0, len, session->policy_id,
				       EG_MATCH_WHAT(EG_DOMAIN_UNIX, 1 << EG_UNIX_ACCESS, EG_NO_DEFAULT));
		if (((packed >> 8) & 0xff) == EG_REASON_RULE) {
			d = (struct eg_net_decision){ (packed >> 16) & 0xffff, packed & 0xff, EG_REASON_RULE };
		} else if (((packed >> 8) & 0xff) != EG_REASON_DEFAULT) {
			d = eg_net_fail_closed();	/* no marker (NO_POLICY), or no scratch */
			d.reason = (packed >> 8) & 0xff;
		}
	} else if (named == EG_UNIX_ABSTRACT) {
		v = eg_unix_abstract(session->policy_id, len);
		if ((v & 0xff) <= EG_VERDICT_DENY)
			d = (struct eg_net_decision){ v >> 16, v & 0xff, EG_REASON_RULE };
		else if ((v & 0xff) != EG_VERDICT_NONE)
			d = eg_net_fail_closed();
	}
decided:
	if (eg_net_reported(session, d))
		eg_unix_report(session_id, session, d.rule | (__u32)d.verdict << 16 | (__u32)d.reason << 24, s, named);
	return eg_net_refuses(session, d) ? -EPERM : 0;
}

#endif /* EG_LIB_UNIX_MATCH_H */
