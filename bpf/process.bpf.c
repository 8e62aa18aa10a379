/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Process lifecycle of governed tasks: exec (with argv), fork and exit, as
 * observation events (no verdict). Scheduler tracepoints, not LSM hooks: they
 * need no BPF trampoline, so this object loads on every kernel ebguard runs on,
 * including those that refuse BPF-LSM (PLATFORM.md). tp_btf gives the tasks and
 * the linux_binprm as typed pointers, which the classic tracepoint format hides.
 *
 * Only for sessions with EG_SESSION_PROCESS_EVENTS: the daemon's, which it enriches
 * and streams. A standalone `ebguard run` reads none of this; for its sessions each
 * process would cost an argv copy and three wake-ups of `run` for nothing.
 */
#include "lib/maps.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline __u32 eg_parent_tgid(struct task_struct *task)
{
	return BPF_CORE_READ(task, real_parent, tgid);
}

/*
 * sched_process_exec: fires once the exec can no longer fail, in the new
 * program's context: current->mm is the new mm, whose argument area the kernel
 * has just filled (so the pages are present and the user read does not fault).
 */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(eg_proc_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	struct eg_process_exec_event *ev;
	struct eg_session *session;
	__u64 session_id = 0;
	unsigned long arg_start, arg_end;
	__u64 len;
	long n;

	session = eg_current_session(&session_id);
	if (!session || !(session->flags & EG_SESSION_PROCESS_EVENTS))
		return 0;
	ev = eg_event_reserve(session_id, sizeof(*ev));
	if (!ev)
		return 0;
	eg_fill_header(&ev->hdr, EG_EVENT_PROCESS_EXEC, sizeof(*ev));
	eg_fill_task(&ev->task);
	ev->session_id = session_id;
	ev->ppid = eg_parent_tgid(task);
	ev->argc = BPF_CORE_READ(bprm, argc);
	ev->flags = 0;
	ev->_pad = 0;

	n = bpf_probe_read_kernel_str(ev->filename, sizeof(ev->filename), BPF_CORE_READ(bprm, filename));
	ev->filename_len = n > 0 ? n : 0;
	/* A full buffer means the name may have been cut: the kernel cannot tell us otherwise. */
	if (n == sizeof(ev->filename))
		ev->flags |= EG_PROCESS_FILENAME_TRUNCATED;

	arg_start = BPF_CORE_READ(task, mm, arg_start);
	arg_end = BPF_CORE_READ(task, mm, arg_end);
	len = arg_end > arg_start ? arg_end - arg_start : 0;
	if (len > EG_ARGV_MAX) {
		len = EG_ARGV_MAX;
		ev->flags |= EG_PROCESS_ARGV_TRUNCATED;
	}
	ev->argv_len = 0;
	if (len && bpf_probe_read_user(ev->argv, len, (void *)arg_start) == 0)
		ev->argv_len = len;
	bpf_ringbuf_submit(ev, 0);
	return 0;
}

/*
 * sched_process_fork: runs in the parent after the child is fully set up, once
 * per new task. Threads (same thread group) are not new processes: skipped.
 * A child spawned straight into a session (clone3 CLONE_INTO_CGROUP) by a
 * parent outside it is not reported here; its exec is.
 */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(eg_proc_fork, struct task_struct *parent, struct task_struct *child)
{
	struct eg_process_fork_event *ev;
	struct eg_session *session;
	__u64 session_id = 0;
	__u32 child_pid, child_tgid;

	session = eg_current_session(&session_id);
	if (!session || !(session->flags & EG_SESSION_PROCESS_EVENTS))
		return 0;
	child_pid = BPF_CORE_READ(child, pid);
	child_tgid = BPF_CORE_READ(child, tgid);
	if (child_pid != child_tgid)
		return 0;
	ev = eg_event_reserve(session_id, sizeof(*ev));
	if (!ev)
		return 0;
	eg_fill_header(&ev->hdr, EG_EVENT_PROCESS_FORK, sizeof(*ev));
	eg_fill_task(&ev->task);
	ev->session_id = session_id;
	ev->parent_pid = eg_parent_tgid(child);
	ev->child_pid = child_tgid;
	bpf_ringbuf_submit(ev, 0);
	return 0;
}

/*
 * sched_process_exit: every exiting thread, in its own context, still in its
 * cgroup. do_exit() has already counted this thread out of signal->live, so
 * live == 0 means this is the process's last thread: report the process once,
 * with the exit code wait() will see.
 */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(eg_proc_exit, struct task_struct *task)
{
	struct eg_process_exit_event *ev;
	struct eg_session *session;
	__u64 session_id = 0;

	session = eg_current_session(&session_id);
	if (!session || !(session->flags & EG_SESSION_PROCESS_EVENTS))
		return 0;
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	ev = eg_event_reserve(session_id, sizeof(*ev));
	if (!ev)
		return 0;
	eg_fill_header(&ev->hdr, EG_EVENT_PROCESS_EXIT, sizeof(*ev));
	eg_fill_task(&ev->task);
	ev->session_id = session_id;
	ev->ppid = eg_parent_tgid(task);
	ev->exit_code = BPF_CORE_READ(task, exit_code);
	bpf_ringbuf_submit(ev, 0);
	return 0;
}
