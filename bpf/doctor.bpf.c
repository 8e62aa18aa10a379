/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Capability probes for `ebguard doctor`: the smallest program of each kind
 * ebguard relies on. Loading and attaching them is the test; the kernel's
 * answer is the only truth (an LSM list naming "bpf" is not enough).
 */
#include "lib/common.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* The doctor's own pid and a cookie it passes to getpgid(): a call nobody else makes. */
const volatile __u32 eg_probe_tgid = 0;
const volatile __u64 eg_probe_cookie = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} eg_probe_rb SEC(".maps");

/* Needs a BPF trampoline: refused on kernels without working BPF-LSM. Decides nothing. */
SEC("lsm/file_open")
int BPF_PROG(eg_probe_lsm, struct file *file, int ret)
{
	return ret;
}

/* getpgid() is rare and cheap, so the probe call is easy to single out. */
SEC("tp/syscalls/sys_enter_getpgid")
int eg_probe_tp(struct trace_event_raw_sys_enter *ctx)
{
	struct eg_probe_event *ev;

	if ((bpf_get_current_pid_tgid() >> 32) != eg_probe_tgid)
		return 0;
	if ((__u64)ctx->args[0] != eg_probe_cookie)
		return 0;
	ev = bpf_ringbuf_reserve(&eg_probe_rb, sizeof(*ev), 0);
	if (!ev)
		return 0;
	eg_fill_header(&ev->hdr, EG_EVENT_PROBE, sizeof(*ev));
	eg_fill_task(&ev->task);
	ev->cookie = eg_probe_cookie;
	bpf_ringbuf_submit(ev, 0);
	return 0;
}

/* Attached to a scratch cgroup only; allows everything. */
SEC("cgroup/connect4")
int eg_probe_conn4(struct bpf_sock_addr *ctx)
{
	return 1;
}
