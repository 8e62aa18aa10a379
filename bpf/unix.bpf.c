/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Socket enforcement that needs BPF-LSM, hence apart from net.bpf.c, which must
 * load on kernels that refuse LSM programs: Unix sockets (semantics in
 * lib/unix_match.h) and every socket the cgroup programs never see (ping, raw,
 * packet, SCTP, ...: lib/sock_match.h).
 *
 * Why these hooks: cgroup sock_addr programs never see AF_UNIX. unix_stream_connect
 * runs in the connecting task with the listening peer already looked up, so the
 * peer's bound name is the one the kernel really resolved (stream and seqpacket);
 * unix_may_send does the same for datagrams, at connect() and at each sendto().
 */
#include "lib/sock_match.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("lsm/unix_stream_connect")
int BPF_PROG(eg_unix_connect, struct sock *sock, struct sock *other, struct sock *newsk, int ret)
{
	if (ret)
		return ret;
	return eg_unix_check(other);
}

SEC("lsm/unix_may_send")
int BPF_PROG(eg_unix_send, struct socket *sock, struct socket *other, int ret)
{
	if (ret)
		return ret;
	return eg_unix_check(BPF_CORE_READ(other, sk));
}

/* socket(2) and socketpair(2): sockets without a destination a rule can judge. */
SEC("lsm/socket_create")
int BPF_PROG(eg_sock_create, int family, int type, int protocol, int kern, int ret)
{
	if (ret)
		return ret;
	return eg_sock_decide_create(family, type, protocol, kern);
}

/*
 * Ping sockets' destinations at sendmsg, which runs no cgroup program for them.
 * connect() needs nothing here: ping_pre_connect and ping_v6_pre_connect run
 * cgroup/connect4|6 (net.bpf.c), which judge the same rules with the socket's
 * protocol (1 or 58), and connect stays free of LSM programs. This program runs
 * for every sendmsg on the host: it returns after two loads for any socket that
 * is not a ping socket, before looking for a session.
 */
SEC("lsm/socket_sendmsg")
int BPF_PROG(eg_sock_sendmsg, struct socket *sock, struct msghdr *msg, int size, int ret)
{
	if (ret)
		return ret;
	return eg_sock_ping(sock, BPF_CORE_READ(msg, msg_name), BPF_CORE_READ(msg, msg_namelen));
}
