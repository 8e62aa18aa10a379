/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Unix socket enforcement (needs BPF-LSM, hence apart from net.bpf.c, which must
 * load on kernels that refuse LSM programs). Semantics in lib/net_match.h.
 *
 * Why these hooks: cgroup sock_addr programs never see AF_UNIX. unix_stream_connect
 * runs in the connecting task with the listening peer already looked up, so the
 * peer's bound name is the one the kernel really resolved (stream and seqpacket);
 * unix_may_send does the same for datagrams, at connect() and at each sendto().
 */
#include "lib/net_match.h"

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
