/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Self-protection: a governed session must not leave its cgroup, switch ebguard
 * off, or reach outside itself. Each hook below closes one way out; all of them
 * only ever deny, and only for tasks inside a session.
 */
#include "lib/guard.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define EG_SIGKILL 9
#define EG_SIGCONT 18
#define EG_PTRACE_MODE_ATTACH 0x02

/* The session a task belongs to (0 for none), read from its default-hierarchy cgroup. */
static __always_inline __u64 eg_task_session(struct task_struct *task)
{
	struct cgroup *cgroup = BPF_CORE_READ(task, cgroups, dfl_cgrp);
	struct cgroup *ancestor = NULL;
	__u32 level = eg_session_level;

	if (!cgroup || level == 0 || level >= EG_CGROUP_DEPTH_MAX)
		return 0;
	if (BPF_CORE_READ(cgroup, level) < (int)level)
		return 0;
	bpf_core_read(&ancestor, sizeof(ancestor), &cgroup->ancestors[level & (EG_CGROUP_DEPTH_MAX - 1)]);
	if (!ancestor)
		return 0;
	return BPF_CORE_READ(ancestor, kn, id);
}

/* bpf(): with it a session could detach, unpin or rewrite every rule. */
SEC("lsm/bpf")
int BPF_PROG(eg_guard_bpf, int cmd, union bpf_attr *attr, unsigned int size, int ret)
{
	__u64 session_id = 0;

	if (ret != 0 || !eg_current_session(&session_id))
		return ret;
	return eg_tamper(session_id, EG_TAMPER_BPF, 0);
}

/*
 * An exec held for its argv (eg_held) waits for ebguard's answer; until ebguard
 * marks it answered, SIGCONT to it is refused from anyone, and so is attaching
 * a tracer. Those refusals spare it: eg_held_resume below kills a held task
 * that runs unanswered, whatever woke it.
 */
static __always_inline __u64 eg_unanswered_hold(__u32 tgid)
{
	__u64 *held = bpf_map_lookup_elem(&eg_held, &tgid);

	if (!held || (*held & EG_HELD_ANSWERED))
		return 0;
	return *held ? *held : 1;
}

/* Signals may only stay inside the session: the agent can't kill ebguard or anyone else. */
SEC("lsm/task_kill")
int BPF_PROG(eg_guard_kill, struct task_struct *target, struct kernel_siginfo *info, int sig,
	     const struct cred *cred, int ret)
{
	__u64 session_id = 0, held;
	__u32 tgid;

	if (ret != 0)
		return ret;
	tgid = BPF_CORE_READ(target, tgid);
	if (sig == EG_SIGCONT && (held = eg_unanswered_hold(tgid)))
		return eg_tamper(held, EG_TAMPER_SIGNAL, tgid);
	if (!eg_current_session(&session_id))
		return 0;
	if (eg_task_session(target) == session_id)
		return 0;
	return eg_tamper(session_id, EG_TAMPER_SIGNAL, tgid);
}

/*
 * A held exec must not run its first instruction before ebguard answers,
 * whoever resumes it: SIGCONT from a task (refused above), the kernel's own
 * SIGCONT to an orphaned process group or a hung-up terminal's session (no LSM
 * hook sees those), a ptracer's PTRACE_CONT, or a SIGCONT that lands before the
 * stop and cancels it. Every one of them passes get_signal() on the task's way
 * back to user space (the SIGSTOP bprm_check queued keeps TIF_SIGPENDING set
 * even once a SIGCONT flushed it), so at get_signal's exit a held task without
 * ebguard's answer gets SIGKILL, and exit_to_user_mode loops back into
 * get_signal to die before its first instruction. Runs on signal delivery only,
 * never on open, exec or connect.
 */
SEC("fexit/get_signal")
int BPF_PROG(eg_held_resume, struct ksignal *ksig, bool delivered)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 held = eg_unanswered_hold(tgid);

	if (!held)
		return 0;
	bpf_send_signal(EG_SIGKILL);
	eg_tamper(held, EG_TAMPER_RESUMED, tgid);
	return 0;
}

/*
 * A held process that dies takes its hold with it, before its pid can be freed
 * (the last thread's exit comes before the leader is reaped): so an eg_held
 * entry always names a live process, and ebguard's pidfd_open followed by a
 * lookup proves the pidfd is the held process, not a newer one with its pid.
 */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(eg_held_exit, struct task_struct *task)
{
	__u32 tgid;

	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	tgid = BPF_CORE_READ(task, tgid);
	bpf_map_delete_elem(&eg_held, &tgid);
	return 0;
}

/*
 * Files that send signals: F_SETOWN, F_SETOWN_EX, SIOCSPGRP/FIOSETOWN and
 * FIOASYNC on a terminal name an owner, and the kernel later signals it
 * (SIGIO, F_SETSIG's choice, SIGKILL included, or SIGURG) through
 * file_send_sigiotask, not task_kill, often from softirq context where the
 * current task is nobody in particular. So whoever sets the owner is
 * remembered with the file (file_set_fowner runs in the setter's context and
 * cannot refuse), and each signal is judged at delivery: a file whose owner a
 * session set may signal only tasks of that session, as kill() may.
 * Keyed by the struct file's address: a new owner set outside any session
 * drops the entry, so a file reusing a freed one's address is never judged by
 * the old one's setter.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} eg_fowners SEC(".maps");

SEC("lsm/file_set_fowner")
int BPF_PROG(eg_guard_fowner, struct file *file)
{
	__u64 key = (__u64)file, session_id = 0;

	if (!eg_current_session(&session_id)) {
		bpf_map_delete_elem(&eg_fowners, &key);
		return 0;
	}
	/* The hook cannot refuse: a session file ebguard cannot remember costs its setter its life. */
	if (bpf_map_update_elem(&eg_fowners, &key, &session_id, BPF_ANY)) {
		bpf_send_signal(EG_SIGKILL);
		eg_tamper(session_id, EG_TAMPER_SIGIO, 0);
	}
	return 0;
}

SEC("lsm/file_send_sigiotask")
int BPF_PROG(eg_guard_sigio, struct task_struct *tsk, struct fown_struct *fown, int sig, int ret)
{
	__u64 key, *setter, held;
	__u32 tgid;

	if (ret != 0)
		return ret;
	tgid = BPF_CORE_READ(tsk, tgid);
	if ((held = eg_unanswered_hold(tgid)))
		return eg_tamper(held, EG_TAMPER_SIGIO, tgid);
	key = (__u64)fown - bpf_core_field_offset(struct file, f_owner);
	setter = bpf_map_lookup_elem(&eg_fowners, &key);
	if (!setter || eg_task_session(tsk) == *setter)
		return 0;
	return eg_tamper(*setter, EG_TAMPER_SIGIO, tgid);
}

/* ptrace_access_check also guards /proc/PID/mem, process_vm_readv and pidfd_getfd. */
SEC("lsm/ptrace_access_check")
int BPF_PROG(eg_guard_ptrace, struct task_struct *child, unsigned int mode, int ret)
{
	__u64 session_id = 0;

	__u64 held;
	__u32 tgid;

	if (ret != 0)
		return ret;
	tgid = BPF_CORE_READ(child, tgid);
	if ((mode & EG_PTRACE_MODE_ATTACH) && (held = eg_unanswered_hold(tgid)))
		return eg_tamper(held, EG_TAMPER_PTRACE, tgid);
	if (!eg_current_session(&session_id))
		return 0;
	/* A vetted git writes what a session's own programs may not: none of them may reach into it. */
	if (eg_is_git_writer(tgid))
		return eg_tamper(session_id, EG_TAMPER_PTRACE, tgid);
	if (eg_task_session(child) == session_id)
		return 0;
	return eg_tamper(session_id, EG_TAMPER_PTRACE, tgid);
}

/*
 * file_open (writes to cgroup and bpffs files) is guarded by eg_file_open in
 * file.bpf.c, with lib/guard.h: one program per open instead of two.
 */

static __always_inline bool eg_on_bpffs(struct dentry *dentry)
{
	return BPF_CORE_READ(dentry, d_sb, s_magic) == EG_BPF_FS_MAGIC;
}

/* Unlinking a pin releases the link it holds: that would detach enforcement. */
SEC("lsm/path_unlink")
int BPF_PROG(eg_guard_unlink, const struct path *dir, struct dentry *dentry, int ret)
{
	__u64 session_id = 0;

	if (ret != 0 || !eg_current_session(&session_id) || !eg_on_bpffs(dentry))
		return ret;
	return eg_tamper(session_id, EG_TAMPER_BPFFS, 0);
}

SEC("lsm/path_rename")
int BPF_PROG(eg_guard_rename, const struct path *old_dir, struct dentry *old_dentry,
	     const struct path *new_dir, struct dentry *new_dentry, unsigned int flags, int ret)
{
	__u64 session_id = 0;

	if (ret != 0 || !eg_current_session(&session_id) || !eg_on_bpffs(old_dentry))
		return ret;
	return eg_tamper(session_id, EG_TAMPER_BPFFS, 0);
}

/* New mounts could hide paths from rules or unmount bpffs (dropping the pins with it). */
SEC("lsm/sb_mount")
int BPF_PROG(eg_guard_mount, const char *dev_name, const struct path *path, const char *type,
	     unsigned long flags, void *data, int ret)
{
	__u64 session_id = 0;

	if (ret != 0 || !eg_current_session(&session_id))
		return ret;
	return eg_tamper(session_id, EG_TAMPER_MOUNT, 0);
}

SEC("lsm/sb_umount")
int BPF_PROG(eg_guard_umount, struct vfsmount *mnt, int flags, int ret)
{
	__u64 session_id = 0;

	if (ret != 0 || !eg_current_session(&session_id))
		return ret;
	return eg_tamper(session_id, EG_TAMPER_MOUNT, 0);
}

SEC("lsm/move_mount")
int BPF_PROG(eg_guard_mvmnt, const struct path *from_path, const struct path *to_path, int ret)
{
	__u64 session_id = 0;

	if (ret != 0 || !eg_current_session(&session_id))
		return ret;
	return eg_tamper(session_id, EG_TAMPER_MOUNT, 0);
}

/*
 * An unprivileged user namespace gives CAP_SYS_ADMIN over new mount namespaces:
 * bind mounts and chroots that rename every path a rule names.
 */
SEC("lsm/userns_create")
int BPF_PROG(eg_guard_userns, const struct cred *cred, int ret)
{
	__u64 session_id = 0;

	if (ret != 0 || !eg_current_session(&session_id))
		return ret;
	return eg_tamper(session_id, EG_TAMPER_USERNS, 0);
}
