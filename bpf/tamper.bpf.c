/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Self-protection: a governed session must not leave its cgroup, switch ebguard
 * off, or reach outside itself. Each hook below closes one way out; all of them
 * only ever deny, and only for tasks inside a session.
 */
#include "lib/guard.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define EG_SIGCONT 18

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

/* Signals may only stay inside the session: the agent can't kill ebguard or anyone else. */
SEC("lsm/task_kill")
int BPF_PROG(eg_guard_kill, struct task_struct *target, struct kernel_siginfo *info, int sig,
	     const struct cred *cred, int ret)
{
	__u64 session_id = 0;
	__u32 tgid;

	if (ret != 0 || !eg_current_session(&session_id))
		return ret;
	tgid = BPF_CORE_READ(target, tgid);
	/* A held exec waits for ebguard's answer; resuming it from inside would skip the argv check. */
	if (sig == EG_SIGCONT && bpf_map_lookup_elem(&eg_held, &tgid))
		return eg_tamper(session_id, EG_TAMPER_SIGNAL, tgid);
	if (eg_task_session(target) == session_id)
		return 0;
	return eg_tamper(session_id, EG_TAMPER_SIGNAL, tgid);
}

/* ptrace_access_check also guards /proc/PID/mem, process_vm_readv and pidfd_getfd. */
SEC("lsm/ptrace_access_check")
int BPF_PROG(eg_guard_ptrace, struct task_struct *child, unsigned int mode, int ret)
{
	__u64 session_id = 0;

	if (ret != 0 || !eg_current_session(&session_id))
		return ret;
	if (eg_task_session(child) == session_id)
		return 0;
	return eg_tamper(session_id, EG_TAMPER_PTRACE, BPF_CORE_READ(child, tgid));
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
int BPF_PROG(eg_guard_mvmount, const struct path *from_path, const struct path *to_path, int ret)
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
