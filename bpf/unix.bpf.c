/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Socket enforcement that needs BPF-LSM, hence apart from net.bpf.c, which must
 * load on kernels that refuse LSM programs: Unix sockets (semantics in
 * lib/net_match.h) and every socket the cgroup programs never see (ping, raw,
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
 * Ping sockets' destinations. connect() also runs cgroup/connect4 for IPv4 ping
 * sockets (ping_pre_connect), which judges the same rules the same way; sendmsg
 * runs no cgroup program for them at all. Both bail out after two loads for
 * every socket that is not a ping socket, before looking for a session.
 */
SEC("lsm/socket_connect")
int BPF_PROG(eg_sock_connect, struct socket *sock, struct sockaddr *address, int addrlen, int ret)
{
	if (ret)
		return ret;
	return eg_sock_ping(sock, address, addrlen);
}

SEC("lsm/socket_sendmsg")
int BPF_PROG(eg_sock_sendmsg, struct socket *sock, struct msghdr *msg, int size, int ret)
{
	if (ret)
		return ret;
	return eg_sock_ping(sock, BPF_CORE_READ(msg, msg_name), BPF_CORE_READ(msg, msg_namelen));
}
