/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Observation for kernels that refuse BPF-LSM: exec and file rules cannot be
 * enforced there, but what a session runs is still reported, from tracepoints,
 * which need no BPF trampoline.
 */
#include "lib/maps.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* sched_process_exec fires once the new program is committed, with its resolved filename. */
SEC("tp/sched/sched_process_exec")
int eg_observe_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct eg_path_event *ev;
	struct eg_session *session;
	__u64 session_id = 0;
	long len;

	session = eg_current_session(&session_id);
	if (!session)
		return 0;
	ev = eg_event_reserve(session_id, sizeof(*ev));
	if (!ev)
		return 0;
	eg_fill_header(&ev->hdr, EG_EVENT_EXEC, sizeof(*ev));
	eg_fill_task(&ev->task);
	ev->session_id = session_id;
	ev->policy_id = session->policy_id;
	ev->access = 1 << EG_ACCESS_EXEC;
	ev->ret = 0;
	ev->rule = EG_RULE_DEFAULT;
	ev->verdict = EG_VERDICT_AUDIT;
	ev->reason = EG_REASON_OBSERVED;
	ev->device = 0;
	ev->inode = 0;
	len = bpf_probe_read_kernel_str(ev->path, sizeof(ev->path),
					(void *)ctx + (ctx->__data_loc_filename & 0xFFFF));
	ev->path_len = len > 0 ? len : 0;
	bpf_ringbuf_submit(ev, 0);
	return 0;
}
