/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Network decisions: which destination a session may reach. Shared by net.bpf.c
 * (cgroup/connect4|6, cgroup/sendmsg4|6) and unix.bpf.c (BPF-LSM sockets; Unix
 * socket names are decided in lib/unix_match.h).
 *
 * ---- Map semantics (the contract with the policy compiler) -----------------
 *
 * eg_net4_rules, eg_net6_rules: LPM tries, pinned by name, BPF_F_NO_PREALLOC.
 *   key   = { prefixlen = 32 + CIDR length, policy_id, addr = network bytes of the CIDR }
 *           (addr in network byte order, host bits zero). The policy id is always
 *           matched in full, so policies never see each other's entries. IPv4 CIDRs go
 *           in eg_net4_rules only; IPv6 CIDRs in eg_net6_rules. Do not write
 *           ::ffff:0:0/96 entries: the kernel checks IPv4-mapped destinations
 *           (::ffff:a.b.c.d) against eg_net4_rules, as a.b.c.d.
 *   value = struct eg_net_rules: count (0..EG_NET_RULES_MAX) rules, each a port range
 *           [port_lo, port_hi] (host order, inclusive; 0-65535 = any port), a protocol
 *           (0 any, 6 tcp, 17 udp) and a verdict, with the policy's rule index.
 *           The list holds every rule whose CIDR covers the key's prefix (userspace
 *           pushes shorter prefixes' rules down into longer ones), ordered most
 *           specific prefix first, then deny > ask > audit > allow, then rule index.
 *   The kernel does ONE longest-prefix lookup per connect/sendmsg and walks that
 *   entry's list in order: the first rule whose port range and protocol match
 *   decides. No entry, or no rule in it matching, means the session's
 *   default_verdict[EG_DOMAIN_NET] decides (rule EG_RULE_DEFAULT, reason DEFAULT).
 *   Updating a key replaces its whole list atomically for readers. Capacity:
 *   EG_NET_MAX_PREFIXES keys per family, all policies together; a key's list holds
 *   at most EG_NET_RULES_MAX rules (a rule with several port ranges takes one slot
 *   per range).
 *
 * eg_unix_rules: hash, pinned by name. key = struct eg_unix_key { policy_id, len,
 *   path }. Holds each policy's EG_UNIX_LEN_SOCKETS entry (lib/sock_match.h) and,
 *   keyed by name, abstract Unix names (sun_path[0] == 0, keyed with that leading
 *   NUL in path and len, the rest zero); value = struct eg_net_rule, only verdict
 *   and rule are read. No policy form writes abstract keys yet: those names get
 *   default_verdict[EG_DOMAIN_NET]. Filesystem names are not here: `unix:` rules
 *   are path rules of domain EG_DOMAIN_UNIX in eg_path_rules, decided by the path
 *   matcher (lib/unix_match.h). The map is declared here, so net.bpf.o creates it
 *   too: it has no effect there.
 *
 * eg_sessions (lib/maps.h): the session's policy_id, default verdicts and flags.
 *
 * eg_net_answers: hash, pinned by name, written by the daemon when an operator
 *   answers an ask. key = struct eg_net_answer_key { session_id, family, protocol,
 *   port, addr } exactly as the ask's event reported the destination (mapped v6 as
 *   AF_INET, v4 in the first 4 bytes and the rest zero, 0.0.0.0 as 127.0.0.1),
 *   value = struct eg_answer. Read only when the rules say ask.
 *
 * Unix sockets have no answer map: a Unix ask stays a deny (EPERM).
 *
 * ---- Outcomes ----------------------------------------------------------------
 * deny, ask -> the call fails with EPERM (ask denies at once; the event says ask).
 * answered  -> an ask with an unexpired answer in eg_net_answers: the answer's
 *              verdict (allow, or EPERM), reason EG_REASON_ANSWERED, always
 *              reported; a `once` answer is consumed by the call it decides.
 * audit     -> allowed, with an event.
 * allow     -> allowed; an event only if the session has EG_SESSION_AUDIT_ALLOWS.
 * Tasks outside every session: allowed after one hash lookup, no event.
 * Fail closed: a session whose entries are malformed (verdict out of range, count
 * above EG_NET_RULES_MAX) is denied with reason EG_REASON_NO_POLICY.
 * Destinations 0.0.0.0 and :: are matched as 127.0.0.1 and ::1, where the kernel
 * really sends them, so "deny 127.0.0.0/8" cannot be dodged through INADDR_ANY;
 * events report the address as matched (mapped v6 as AF_INET a.b.c.d).
 * The protocol is the socket's: 6 tcp (Multipath TCP sockets count as tcp), 17 udp;
 * anything else (ICMP ping sockets, ...) is matched only by protocol-0 ("any") rules.
 */
#ifndef EG_LIB_NET_MATCH_H
#define EG_LIB_NET_MATCH_H

#include "maps.h"

#ifndef AF_UNIX
#define AF_UNIX 1
#endif
#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, EG_NET_MAX_PREFIXES);
	__type(key, struct eg_net4_key);
	__type(value, struct eg_net_rules);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} eg_net4_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, EG_NET_MAX_PREFIXES);
	__type(key, struct eg_net6_key);
	__type(value, struct eg_net_rules);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} eg_net6_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EG_UNIX_RULES_MAX);
	__type(key, struct eg_unix_key);
	__type(value, struct eg_net_rule);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} eg_unix_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct eg_net_answer_key);
	__type(value, struct eg_answer);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} eg_net_answers SEC(".maps");

/* What decided, and how. */
struct eg_net_decision {
	__u16 rule;	/* rule index, or EG_RULE_DEFAULT */
	__u8 verdict;	/* enum eg_verdict */
	__u8 reason;	/* enum eg_reason */
};

/* A destination as the rules see it. */
struct eg_net_dest {
	__u8 family;	/* AF_INET (also for mapped v6), AF_INET6, AF_UNIX */
	__u8 protocol;
	__u16 port;	/* host order */
	__u8 addr[16];	/* network order; v4 in the first 4 bytes */
};

static __always_inline struct eg_net_decision eg_net_fail_closed(void)
{
	return (struct eg_net_decision){ EG_RULE_DEFAULT, EG_VERDICT_DENY, EG_REASON_NO_POLICY };
}

/* The session's default for the network, or deny when the session's entry is corrupt. */
static __always_inline struct eg_net_decision eg_net_default(const struct eg_session *session)
{
	__u8 verdict = session->default_verdict[EG_DOMAIN_NET];

	if (verdict > EG_VERDICT_DENY)
		return eg_net_fail_closed();
	return (struct eg_net_decision){ EG_RULE_DEFAULT, verdict, EG_REASON_DEFAULT };
}

/*
 * Walks one LPM entry's candidate list: the first rule whose port range and
 * protocol match decides. NULL (no entry) or no match: the session's default.
 */
static __always_inline struct eg_net_decision
eg_net_decide(const struct eg_session *session, const struct eg_net_rules *rules, __u16 port, __u8 protocol)
{
	__u32 count, i;

	if (!rules)
		return eg_net_default(session);
	count = rules->count;
	if (count > EG_NET_RULES_MAX)
		return eg_net_fail_closed();
	for (i = 0; i < EG_NET_RULES_MAX; i++) {
		const struct eg_net_rule *rule = &rules->rules[i];

		if (i >= count)
			break;
		if (port < rule->port_lo || port > rule->port_hi)
			continue;
		if (rule->protocol && rule->protocol != protocol)
			continue;
		if (rule->verdict > EG_VERDICT_DENY)
			return eg_net_fail_closed();
		return (struct eg_net_decision){ rule->rule, rule->verdict, EG_REASON_RULE };
	}
	return eg_net_default(session);
}

static __always_inline struct eg_net_decision
eg_net_decide4(const struct eg_session *session, const struct eg_net_dest *dest)
{
	struct eg_net4_key key = {
		.prefixlen = 32 + 32,
		.policy_id = session->policy_id,
	};

	__builtin_memcpy(key.addr, dest->addr, sizeof(key.addr));
	return eg_net_decide(session, bpf_map_lookup_elem(&eg_net4_rules, &key), dest->port, dest->protocol);
}

static __always_inline struct eg_net_decision
eg_net_decide6(const struct eg_session *session, const struct eg_net_dest *dest)
{
	struct eg_net6_key key = {
		.prefixlen = 32 + 128,
		.policy_id = session->policy_id,
	};

	__builtin_memcpy(key.addr, dest->addr, sizeof(key.addr));
	return eg_net_decide(session, bpf_map_lookup_elem(&eg_net6_rules, &key), dest->port, dest->protocol);
}

/*
 * Whether the decision is reported: everything but allows, unless the session
 * audits allows; an operator's allow always is (the audit trail shows approvals).
 */
static __always_inline bool eg_net_reported(const struct eg_session *session, struct eg_net_decision d)
{
	return d.verdict != EG_VERDICT_ALLOW || d.reason == EG_REASON_ANSWERED ||
	       (session->flags & EG_SESSION_AUDIT_ALLOWS);
}

/*
 * Lets an operator's answer decide an ask on `dest` (see eg_net_answers). An
 * expired answer is deleted and ignored; a `once` answer is consumed by the
 * first call to delete it, so two racing calls cannot both spend it.
 */
static __always_inline void eg_net_answered(__u64 session_id, const struct eg_net_dest *dest,
					    struct eg_net_decision *d)
{
	struct eg_net_answer_key key = {
		.session_id = session_id,
		.family = dest->family,
		.protocol = dest->protocol,
		.port = dest->port,
	};
	struct eg_answer *a;
	__u8 verdict;

	if (d->verdict != EG_VERDICT_ASK)
		return;
	__builtin_memcpy(key.addr, dest->addr, sizeof(key.addr));
	a = bpf_map_lookup_elem(&eg_net_answers, &key);
	if (!a)
		return;
	if (a->expires_ns && bpf_ktime_get_boot_ns() >= a->expires_ns) {
		bpf_map_delete_elem(&eg_net_answers, &key);
		return;
	}
	/* Anything but allow counts as deny. */
	verdict = a->verdict == EG_VERDICT_ALLOW ? EG_VERDICT_ALLOW : EG_VERDICT_DENY;
	if (a->once && bpf_map_delete_elem(&eg_net_answers, &key))
		return;	/* a concurrent call spent it first: still ask */
	d->verdict = verdict;
	d->reason = EG_REASON_ANSWERED;
}

static __always_inline bool eg_net_denies(struct eg_net_decision d)
{
	return d.verdict == EG_VERDICT_DENY || d.verdict == EG_VERDICT_ASK;
}

/* Whether the call is refused: a deny or ask, unless the session only shadows it. */
static __always_inline bool eg_net_refuses(const struct eg_session *session, struct eg_net_decision d)
{
	return eg_net_denies(d) && eg_enforced(session, d.reason);
}

/*
 * Reserves and fills an EG_EVENT_NET/EG_EVENT_UNIX event; the caller adds what is
 * specific (the Unix path) and submits. NULL when the ring buffer is full: the
 * decision stands regardless.
 */
static __always_inline struct eg_net_event *
eg_net_event_start(__u16 type, __u64 session_id, const struct eg_session *session,
		   struct eg_net_decision d, const struct eg_net_dest *dest)
{
	/*
	 * Decided before the reservation, into a plain int: with the shadow test inline
	 * between the stores, clang 14 dropped the stores of ret..port in the Unix hooks.
	 */
	int ret = eg_net_refuses(session, d) ? -EPERM : 0;
	struct eg_net_event *ev;

	barrier_var(ret);
	ev = eg_event_reserve(session_id, sizeof(*ev));
	if (!ev)
		return NULL;
	eg_fill_header(&ev->hdr, type, sizeof(*ev));
	eg_fill_task(&ev->task);
	ev->session_id = session_id;
	ev->policy_id = session->policy_id;
	ev->ret = ret;
	ev->rule = d.rule;
	ev->verdict = d.verdict;
	ev->reason = d.reason;
	ev->family = dest->family;
	ev->protocol = dest->protocol;
	ev->port = dest->port;
	__builtin_memcpy(ev->addr, dest->addr, sizeof(ev->addr));
	/* Every byte set: ring memory holds older records' bytes, and a record equal to the
	 * one before but for its time is published as a repeat (the daemon compares whole
	 * records), which stale bytes in the unused name would defeat. */
	__builtin_memset(ev->unix_path, 0, sizeof(ev->unix_path));
	ev->host_id = 0;
	ev->unix_len = 0;
	ev->_pad = 0;
	return ev;
}

/* 0.0.0.0 is routed to the host itself: match it as 127.0.0.1. */
static __always_inline void eg_net_set_ip4(struct eg_net_dest *dest, __u32 ip4)
{
	if (ip4 == 0)
		ip4 = bpf_htonl(0x7f000001);
	__builtin_memcpy(dest->addr, &ip4, sizeof(ip4));
}

/*
 * The protocol as rules name it: MPTCP (262, too big for the event's byte) is TCP on
 * the wire, so TCP rules govern it; any other number above 255 matches only "any".
 */
static __always_inline __u8 eg_net_protocol(__u32 protocol)
{
	if (protocol == 262)	/* IPPROTO_MPTCP */
		return 6;	/* IPPROTO_TCP */
	return protocol > 255 ? 255 : protocol;
}

#endif /* EG_LIB_NET_MATCH_H */
