/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The cgroup sock_addr side of network decisions (net.bpf.c): address rules
 * (lib/net_match.h), host rules through the session's resolver, and DNS redirection.
 *
 * ---- DNS: every query goes to the session's resolver ---------------------------
 * A session with eg_session.dns_port set has its resolver (ebguard, outside the
 * session) listening on 127.0.0.1 and ::1 at that port, UDP and TCP. Every
 * connect or unconnected send to port 53 over UDP or TCP, whatever the address, is
 * rewritten to it (IPv4-mapped destinations to ::ffff:127.0.0.1, other IPv6 to
 * ::1) and allowed without consulting the rules: the resolver decides names. The
 * address the caller gave is kept with the socket (eg_dns_origins, socket
 * storage), and recvmsg4|6 and getpeername4|6 put it back in place of the
 * resolver's, so the client sees the answer come from the server it asked.
 * A session may not reach another session's resolver port (eg_dns_ports) on
 * loopback: denied, reason EG_REASON_RESOLVER.
 *
 * ---- Host rules: eg_hosts ---------------------------------------------------------
 * key = struct eg_host_key { session_id, family, addr } (mapped v6 as AF_INET, v4
 * in the first 4 bytes), written by the resolver BEFORE its answer reaches the
 * client: the answered A/AAAA addresses of a name some host rule lets resolve,
 * value = the rules of every such name answered with that address (an eg_net_rules
 * list, deny > ask > audit > allow, then rule index), a deadline (TTL plus grace)
 * and the id of the name answered last. An entry past its deadline is ignored.
 *
 * Order of a connect/sendmsg decision:
 *   1. an explicit cidr deny (a rule, not the default) decides: no name reopens an
 *      address a rule closed (the metadata address stays closed);
 *   2. else a live eg_hosts entry whose list has a rule matching the port and
 *      protocol decides, reason EG_REASON_HOST, the event carrying host_id;
 *   3. else the cidr rules and the default, as lib/net_match.h says.
 * Ask answers (eg_net_answers) then apply as for address rules. Connections made
 * while an entry lived are never cut: only connect and send are decided.
 */
#ifndef EG_LIB_SOCK_ADDR_H
#define EG_LIB_SOCK_ADDR_H

#include "net_match.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EG_HOSTS_MAX);
	__type(key, struct eg_host_key);
	__type(value, struct eg_host_allowance);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} eg_hosts SEC(".maps");

/* Resolver port (host order) -> the session it serves. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} eg_dns_ports SEC(".maps");

/* Per socket, freed with it: so no flood of sockets can push out another's entry. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct eg_dns_origin);
} eg_dns_origins SEC(".maps");

/* Reads the destination of an IPv4 or IPv6 sock_addr call; mapped v6 becomes v4. */
static __always_inline void eg_net_read_dest(struct bpf_sock_addr *ctx, bool v6, struct eg_net_dest *dest)
{
	__u32 a0, a1, a2, a3;

	dest->protocol = eg_net_protocol(ctx->protocol);
	dest->port = bpf_ntohs((__u16)ctx->user_port);
	if (!v6) {
		dest->family = AF_INET;
		eg_net_set_ip4(dest, ctx->user_ip4);
		return;
	}
	a0 = ctx->user_ip6[0];
	a1 = ctx->user_ip6[1];
	a2 = ctx->user_ip6[2];
	a3 = ctx->user_ip6[3];
	if (a0 == 0 && a1 == 0 && a2 == bpf_htonl(0xffff)) {
		dest->family = AF_INET;
		eg_net_set_ip4(dest, a3);
		return;
	}
	/* :: is routed to the host itself: match it as ::1. */
	if ((a0 | a1 | a2 | a3) == 0)
		a3 = bpf_htonl(1);
	dest->family = AF_INET6;
	__builtin_memcpy(&dest->addr[0], &a0, 4);
	__builtin_memcpy(&dest->addr[4], &a1, 4);
	__builtin_memcpy(&dest->addr[8], &a2, 4);
	__builtin_memcpy(&dest->addr[12], &a3, 4);
}


/* Whether the first 12 bytes of an address are zero (so ::1 is recognised). */
static __always_inline bool eg_net_zero12(const __u8 *addr)
{
	__u32 a = 0, b = 0, c = 0;

	__builtin_memcpy(&a, &addr[0], 4);
	__builtin_memcpy(&b, &addr[4], 4);
	__builtin_memcpy(&c, &addr[8], 4);
	return (a | b | c) == 0;
}

/* 127.0.0.0/8 and ::1, as the rules see the destination (mapped v6 is AF_INET). */
static __always_inline bool eg_net_is_loopback(const struct eg_net_dest *dest)
{
	__u32 rest = 0;

	if (dest->family == AF_INET)
		return dest->addr[0] == 127;
	__builtin_memcpy(&rest, &dest->addr[12], 4);
	return rest == bpf_htonl(1) && eg_net_zero12(dest->addr);
}

/* Step 2 of the order above: a live answer of the session's resolver decides. */
static __always_inline bool eg_net_host_decide(__u64 session_id, const struct eg_session *session,
					       const struct eg_net_dest *dest, struct eg_net_decision *d,
					       __u32 *host_id)
{
	struct eg_host_key key = { .session_id = session_id, .family = dest->family };
	struct eg_host_allowance *allowance;
	struct eg_net_decision h;

	if (d->reason == EG_REASON_RULE && d->verdict == EG_VERDICT_DENY)
		return false;
	__builtin_memcpy(key.addr, dest->addr, sizeof(key.addr));
	allowance = bpf_map_lookup_elem(&eg_hosts, &key);
	if (!allowance || bpf_ktime_get_boot_ns() >= allowance->expires_ns)
		return false;
	h = eg_net_decide(session, &allowance->rules, dest->port, dest->protocol);
	if (h.reason == EG_REASON_DEFAULT)
		return false;	/* none of the names' rules covers this port: address rules decide */
	if (h.reason == EG_REASON_RULE)
		h.reason = EG_REASON_HOST;
	*d = h;	/* a malformed entry fails closed (EG_REASON_NO_POLICY) */
	*host_id = allowance->host_id;
	return true;
}

/* Sends a query for port 53 to the session's resolver instead; true when it did. */
static __always_inline bool eg_dns_redirect(struct bpf_sock_addr *ctx, bool v6, const struct eg_session *session,
					    const struct eg_net_dest *dest)
{
	struct eg_dns_origin *origin;
	__u16 resolver;

	if (!session->dns_port || dest->port != 53 || (dest->protocol != 6 && dest->protocol != 17))
		return false;
	origin = bpf_sk_storage_get(&eg_dns_origins, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!origin)
		return false;	/* no memory: the rules decide the query as any other send */
	resolver = bpf_htons(session->dns_port);
	origin->port = (__u16)ctx->user_port;
	origin->resolver_port = resolver;
	if (!v6) {
		origin->addr[0] = ctx->user_ip4;
		ctx->user_ip4 = bpf_htonl(0x7f000001);
	} else {
		origin->addr[0] = ctx->user_ip6[0];
		origin->addr[1] = ctx->user_ip6[1];
		origin->addr[2] = ctx->user_ip6[2];
		origin->addr[3] = ctx->user_ip6[3];
		ctx->user_ip6[0] = 0;
		ctx->user_ip6[1] = 0;
		if (dest->family == AF_INET) {
			ctx->user_ip6[2] = bpf_htonl(0xffff);
			ctx->user_ip6[3] = bpf_htonl(0x7f000001);
		} else {
			ctx->user_ip6[2] = 0;
			ctx->user_ip6[3] = bpf_htonl(1);
		}
	}
	ctx->user_port = resolver;
	return true;
}

/*
 * recvmsg4|6, getpeername4|6: a reply (or peer) that is the resolver this socket's
 * query was sent to shows as the server the caller asked. Never refuses.
 */
static __always_inline int eg_dns_restore(struct bpf_sock_addr *ctx, bool v6)
{
	struct eg_dns_origin *origin;

	if (!ctx->sk)
		return 1;
	origin = bpf_sk_storage_get(&eg_dns_origins, ctx->sk, 0, 0);
	if (!origin || (__u16)ctx->user_port != origin->resolver_port)
		return 1;
	if (!v6) {
		if (ctx->user_ip4 != bpf_htonl(0x7f000001))
			return 1;
		ctx->user_ip4 = origin->addr[0];
	} else {
		if (ctx->user_ip6[0] || ctx->user_ip6[1])
			return 1;
		if (!(ctx->user_ip6[2] == 0 && ctx->user_ip6[3] == bpf_htonl(1)) &&
		    !(ctx->user_ip6[2] == bpf_htonl(0xffff) && ctx->user_ip6[3] == bpf_htonl(0x7f000001)))
			return 1;
		ctx->user_ip6[0] = origin->addr[0];
		ctx->user_ip6[1] = origin->addr[1];
		ctx->user_ip6[2] = origin->addr[2];
		ctx->user_ip6[3] = origin->addr[3];
	}
	ctx->user_port = origin->port;
	return 1;
}

/*
 * The whole decision for connect4|6 and sendmsg4|6: 1 lets the call through, 0
 * makes it fail with EPERM (what cgroup sock_addr programs return).
 */
static __always_inline int eg_net_sock_addr(struct bpf_sock_addr *ctx, bool v6)
{
	struct eg_net_dest dest = {};
	struct eg_net_decision d;
	struct eg_session *session;
	struct eg_net_event *ev;
	__u64 session_id = 0, *owner;
	__u32 host_id = 0, port;

	session = eg_current_session(&session_id);
	if (!session)
		return 1;
	eg_net_read_dest(ctx, v6, &dest);
	if (eg_dns_redirect(ctx, v6, session, &dest))
		return 1;
	port = dest.port;
	owner = eg_net_is_loopback(&dest) ? bpf_map_lookup_elem(&eg_dns_ports, &port) : NULL;
	if (owner && *owner != session_id) {
		d = (struct eg_net_decision){ EG_RULE_DEFAULT, EG_VERDICT_DENY, EG_REASON_RESOLVER };
	} else {
		if (dest.family == AF_INET)
			d = eg_net_decide4(session, &dest);
		else
			d = eg_net_decide6(session, &dest);
		eg_net_host_decide(session_id, session, &dest, &d, &host_id);
		eg_net_answered(session_id, &dest, &d);
	}
	if (eg_net_reported(session, d)) {
		ev = eg_net_event_start(EG_EVENT_NET, session_id, session, d, &dest);
		if (ev) {
			ev->host_id = host_id;
			bpf_ringbuf_submit(ev, 0);
		}
	}
	return eg_net_refuses(session, d) ? 0 : 1;
}

#endif /* EG_LIB_SOCK_ADDR_H */
