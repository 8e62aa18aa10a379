/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Sockets the cgroup sock_addr programs never see (needs BPF-LSM; used by
 * unix.bpf.c). net.bpf.c judges TCP, UDP (UDP-Lite, MPTCP) connects and UDP
 * sends by destination; every other socket a session creates is judged here:
 *
 *  - AF_UNIX (unix_stream_connect/unix_may_send: lib/unix_match.h) and AF_NETLINK
 *    are allowed at creation. Netlink talks to the local kernel, never to a network
 *    destination, and glibc needs NETLINK_ROUTE for getaddrinfo(AI_ADDRCONFIG), `ip` and
 *    friends; what root could change through it is the capabilities' business.
 *  - ICMP "ping" sockets (SOCK_DGRAM + IPPROTO_ICMP/ICMPV6) are allowed at
 *    creation and judged by destination at each sendmsg with an address, as
 *    protocol 1 (v4) or 58 (v6): the kernel runs no cgroup sendmsg program for
 *    them (their connect runs cgroup/connect4|6, net.bpf.c). Rules with
 *    `protocol: icmp` (or `any`) match them.
 *  - Everything else (SOCK_RAW of any family, AF_PACKET, SCTP, DCCP, AF_VSOCK,
 *    AF_BLUETOOTH, AF_XDP, AF_TIPC, AF_ALG, ...) has no destination a rule can
 *    judge, or one the kernel never shows a cgroup program: socket() itself is
 *    decided by the policy's EG_UNIX_LEN_SOCKETS entry in eg_unix_rules, which
 *    the compiler sets to deny unless the network default is allow or audit and
 *    no address rule denies or asks (a raw socket would walk around that rule).
 *    No entry: denied (EG_REASON_NO_POLICY), as for a half-written policy.
 *
 * Sockets made by the kernel itself (kern) are not the session's doing.
 */
#ifndef EG_LIB_SOCK_MATCH_H
#define EG_LIB_SOCK_MATCH_H

#include "unix_match.h"

#define EG_AF_NETLINK 16
#define EG_SOCK_STREAM 1
#define EG_SOCK_DGRAM 2
#define EG_SOCK_TYPE_MASK 0xf
#define EG_IPPROTO_ICMP 1
#define EG_IPPROTO_TCP 6
#define EG_IPPROTO_UDP 17
#define EG_IPPROTO_ICMPV6 58
#define EG_IPPROTO_UDPLITE 136
#define EG_IPPROTO_MPTCP 262

/* Whether a socket of this kind is judged by destination somewhere else (or needs no judging). */
static __always_inline bool eg_sock_judged(int family, int type, int protocol)
{
	if (family == AF_UNIX || family == EG_AF_NETLINK)
		return true;
	if (family != AF_INET && family != AF_INET6)
		return false;
	type &= EG_SOCK_TYPE_MASK;
	if (type == EG_SOCK_STREAM)
		return protocol == 0 || protocol == EG_IPPROTO_TCP || protocol == EG_IPPROTO_MPTCP;
	if (type == EG_SOCK_DGRAM)
		return protocol == 0 || protocol == EG_IPPROTO_UDP || protocol == EG_IPPROTO_UDPLITE ||
		       (family == AF_INET && protocol == EG_IPPROTO_ICMP) ||
		       (family == AF_INET6 && protocol == EG_IPPROTO_ICMPV6);
	return false;
}

/* socket(): 0 to allow, -EPERM to refuse. */
static __always_inline int eg_sock_decide_create(int family, int type, int protocol, int kern)
{
	struct eg_net_dest dest = { .family = family > 255 ? 255 : family, .protocol = eg_net_protocol(protocol) };
	struct eg_unix_key key = { .len = EG_UNIX_LEN_SOCKETS };
	struct eg_net_decision d;
	struct eg_session *session;
	struct eg_net_rule *rule;
	struct eg_net_event *ev;
	__u64 session_id = 0;

	if (kern)
		return 0;
	session = eg_current_session(&session_id);
	if (!session || eg_sock_judged(family, type, protocol))
		return 0;
	key.policy_id = session->policy_id;
	rule = bpf_map_lookup_elem(&eg_unix_rules, &key);
	d = eg_net_fail_closed();
	if (rule && rule->verdict <= EG_VERDICT_DENY)
		d = (struct eg_net_decision){ rule->rule, rule->verdict, EG_REASON_SOCKET };
	/* The socket type rides in the port field: the event says what was refused. */
	dest.port = type & EG_SOCK_TYPE_MASK;
	if (eg_net_reported(session, d)) {
		ev = eg_net_event_start(EG_EVENT_NET, session_id, session, d, &dest);
		if (ev)
			bpf_ringbuf_submit(ev, 0);
	}
	return eg_net_refuses(session, d) ? -EPERM : 0;
}

/* Whether `sock` is an ICMP ping socket; its protocol number in *protocol. */
static __always_inline bool eg_sock_is_ping(struct socket *sock, __u8 *protocol)
{
	struct sock *sk = BPF_CORE_READ(sock, sk);
	__u16 family, proto;

	if (!sk || BPF_CORE_READ(sk, sk_type) != EG_SOCK_DGRAM)
		return false;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	proto = BPF_CORE_READ(sk, sk_protocol);
	if (!((family == AF_INET && proto == EG_IPPROTO_ICMP) || (family == AF_INET6 && proto == EG_IPPROTO_ICMPV6)))
		return false;
	*protocol = proto;
	return true;
}

/*
 * A ping socket's destination, from a kernel copy of the caller's sockaddr
 * (sendmsg's msg_name), judged like an IP connect. 0 to
 * allow, -EPERM to refuse. An address that cannot be read is refused.
 */
static __always_inline int eg_sock_ping(struct socket *sock, const void *addr, int addrlen)
{
	struct eg_net_dest dest = {};
	struct eg_net_decision d;
	struct eg_session *session;
	struct eg_net_event *ev;
	__u64 session_id = 0;
	__u16 family = 0;
	__u8 protocol = 0;
	__u32 a[4] = {};

	if (!addr || !eg_sock_is_ping(sock, &protocol))
		return 0;
	session = eg_current_session(&session_id);
	if (!session)
		return 0;
	dest.protocol = protocol;
	d = eg_net_fail_closed();
	d.reason = EG_REASON_UNRESOLVED;
	if (bpf_probe_read_kernel(&family, sizeof(family), addr))
		goto decided;
	if (family == AF_INET && addrlen >= 8) {
		if (bpf_probe_read_kernel(&a[0], 4, addr + 4))	/* sin_addr */
			goto decided;
		dest.family = AF_INET;
		eg_net_set_ip4(&dest, a[0]);
	} else if (family == AF_INET6 && addrlen >= 24) {
		if (bpf_probe_read_kernel(a, 16, addr + 8))	/* sin6_addr */
			goto decided;
		if (a[0] == 0 && a[1] == 0 && a[2] == bpf_htonl(0xffff)) {
			dest.family = AF_INET;
			eg_net_set_ip4(&dest, a[3]);
		} else {
			if ((a[0] | a[1] | a[2] | a[3]) == 0)
				a[3] = bpf_htonl(1);	/* :: is the host itself */
			dest.family = AF_INET6;
			__builtin_memcpy(dest.addr, a, 16);
		}
	} else {
		/* AF_UNSPEC (disconnect) or a malformed address: the kernel refuses or forgets. */
		return 0;
	}
	d = dest.family == AF_INET ? eg_net_decide4(session, &dest) : eg_net_decide6(session, &dest);
	eg_net_answered(session_id, &dest, &d);
decided:
	if (eg_net_reported(session, d)) {
		ev = eg_net_event_start(EG_EVENT_NET, session_id, session, d, &dest);
		if (ev)
			bpf_ringbuf_submit(ev, 0);
	}
	return eg_net_refuses(session, d) ? -EPERM : 0;
}

#endif /* EG_LIB_SOCK_MATCH_H */
