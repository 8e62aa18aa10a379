/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Network enforcement for every session: where a governed task may connect or
 * send to. The rules and their semantics are in lib/net_match.h (addresses) and
 * lib/sock_addr.h (host names, DNS redirection).
 *
 * Why these hooks: cgroup sock_addr programs run in the calling task's context
 * before the kernel routes anything, see the destination exactly as the caller
 * gave it, and can refuse with EPERM; they need no BPF-LSM (so they enforce on
 * kernels that refuse LSM programs) and, attached once to ebguard's parent cgroup
 * with multi-attach links, they cover every session cgroup below it. connect4|6
 * cover TCP (including TCP Fast Open, which goes through the same pre-connect
 * hook) and connected UDP; sendmsg4|6 cover UDP datagrams sent with an address
 * and no connect. IPv4-mapped IPv6 destinations are decided by the IPv4 rules.
 *
 * The kernel runs these programs for sockets created in a cgroup below the attach
 * point (the socket's cgroup, fixed at socket()); the session is then found from
 * the calling task. A socket created outside every session and handed into one
 * (SCM_RIGHTS, pidfd_getfd) never reaches these programs; attaching at the root
 * cgroup would close that, at one extra hash lookup for every connect on the host.
 */
#include "lib/sock_addr.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("cgroup/connect4")
int eg_connect4(struct bpf_sock_addr *ctx)
{
	return eg_net_sock_addr(ctx, false);
}

SEC("cgroup/connect6")
int eg_connect6(struct bpf_sock_addr *ctx)
{
	return eg_net_sock_addr(ctx, true);
}

SEC("cgroup/sendmsg4")
int eg_sendmsg4(struct bpf_sock_addr *ctx)
{
	return eg_net_sock_addr(ctx, false);
}

SEC("cgroup/sendmsg6")
int eg_sendmsg6(struct bpf_sock_addr *ctx)
{
	return eg_net_sock_addr(ctx, true);
}

/* Replies from the session's resolver show the server the query was sent to (lib/sock_addr.h). */
SEC("cgroup/recvmsg4")
int eg_recvmsg4(struct bpf_sock_addr *ctx)
{
	return eg_dns_restore(ctx, false);
}

SEC("cgroup/recvmsg6")
int eg_recvmsg6(struct bpf_sock_addr *ctx)
{
	return eg_dns_restore(ctx, true);
}

SEC("cgroup/getpeername4")
int eg_peername4(struct bpf_sock_addr *ctx)
{
	return eg_dns_restore(ctx, false);
}

SEC("cgroup/getpeername6")
int eg_peername6(struct bpf_sock_addr *ctx)
{
	return eg_dns_restore(ctx, true);
}
