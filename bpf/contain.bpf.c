/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Containment of what root (or a terminal) could still use to leave a session:
 * the acts below have nothing to do with a policy's rules, so they are refused
 * for every task inside a session, whatever its uid and capabilities. Like
 * tamper.bpf.c, every program only ever denies, and only inside a session.
 * None of these hooks is on the open, exec or connect path.
 */
#include "lib/guard.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define EG_TIOCSTI 0x5412
#define EG_TIOCLINUX 0x541C

#define EG_CLONE_NEWTIME 0x00000080ULL
#define EG_CLONE_NEWNS 0x00020000ULL
#define EG_CLONE_NEWCGROUP 0x02000000ULL
#define EG_CLONE_NEWUTS 0x04000000ULL
#define EG_CLONE_NEWIPC 0x08000000ULL
#define EG_CLONE_NEWPID 0x20000000ULL
#define EG_CLONE_NEWNET 0x40000000ULL
#define EG_CLONE_INTO_CGROUP 0x200000000ULL
/*
 * CLONE_NEWUSER is userns_create's (tamper.bpf.c). CLONE_INTO_CGROUP places the
 * child in any cgroup whose cgroup.procs the caller may write, which root may
 * outside the session; the kernel checks it with inode_permission (far too hot
 * to hook), so the flag itself is refused: a session nests its children by
 * writing cgroup.procs inside its own subtree, which guard.h allows.
 */
#define EG_CLONE_REFUSED (EG_CLONE_INTO_CGROUP | EG_CLONE_NEWNS | EG_CLONE_NEWCGROUP | EG_CLONE_NEWUTS | \
			  EG_CLONE_NEWIPC | EG_CLONE_NEWPID | EG_CLONE_NEWNET | EG_CLONE_NEWTIME)

/*
 * TIOCSTI pushes bytes into a terminal's input queue, and TIOCLINUX's paste
 * does the same on a console: the invoking shell would read them as typed
 * commands and run them after the session ends. No agent needs either.
 */
SEC("lsm/file_ioctl")
int BPF_PROG(eg_guard_ioctl, struct file *file, unsigned int cmd, unsigned long arg, int ret)
{
	__u64 session_id = 0;

	if (ret != 0 || (cmd != EG_TIOCSTI && cmd != EG_TIOCLINUX) || !eg_current_session(&session_id))
		return ret;
	return eg_tamper(session_id, EG_TAMPER_TTY, 0);
}

/* fork/clone/clone3: the flags are tested before any lookup, so a plain fork pays nothing more. */
SEC("lsm/task_alloc")
int BPF_PROG(eg_guard_clone, struct task_struct *task, unsigned long clone_flags, int ret)
{
	__u64 session_id = 0;

	if (ret != 0 || !(clone_flags & EG_CLONE_REFUSED) || !eg_current_session(&session_id))
		return ret;
	return eg_tamper(session_id, EG_TAMPER_CLONE, 0);
}

/* A new root renames every path a rule names (and pivot_root can drop the old root). */
SEC("lsm/path_chroot")
int BPF_PROG(eg_guard_chroot, const struct path *path, int ret)
{
	__u64 session_id = 0;

	if (ret != 0 || !eg_current_session(&session_id))
		return ret;
	return eg_tamper(session_id, EG_TAMPER_CHROOT, 0);
}

SEC("lsm/sb_pivotroot")
int BPF_PROG(eg_guard_pivot, const struct path *old_path, const struct path *new_path, int ret)
{
	__u64 session_id = 0;

	if (ret != 0 || !eg_current_session(&session_id))
		return ret;
	return eg_tamper(session_id, EG_TAMPER_CHROOT, 0);
}

/* Kernel code from a session: modules (init_module, finit_module), kexec images; firmware stays. */
SEC("lsm/kernel_read_file")
int BPF_PROG(eg_guard_kread, struct file *file, enum kernel_read_file_id id, bool contents, int ret)
{
	__u64 session_id = 0;

	if (ret != 0 || id == READING_FIRMWARE || !eg_current_session(&session_id))
		return ret;
	return eg_tamper(session_id, EG_TAMPER_KERNEL, 0);
}

SEC("lsm/kernel_load_data")
int BPF_PROG(eg_guard_kload, enum kernel_load_data_id id, bool contents, int ret)
{
	__u64 session_id = 0;

	if (ret != 0 || id == LOADING_FIRMWARE || !eg_current_session(&session_id))
		return ret;
	return eg_tamper(session_id, EG_TAMPER_KERNEL, 0);
}

/* Module autoloading (an unknown socket family, a line discipline...) widens the kernel for everyone. */
SEC("lsm/kernel_module_request")
int BPF_PROG(eg_guard_modreq, char *kmod_name, int ret)
{
	__u64 session_id = 0;

	if (ret != 0 || !eg_current_session(&session_id))
		return ret;
	return eg_tamper(session_id, EG_TAMPER_KERNEL, 0);
}

/*
 * Everything kernel lockdown guards: ioperm/iopl and /dev/port (raw I/O),
 * /dev/mem, /proc/kcore, MSRs, ACPI tables, debugfs, hibernation, perf's
 * kernel reads... A session is locked down as if the kernel were, at the
 * strictest level, whatever the host's own level.
 */
SEC("lsm/locked_down")
int BPF_PROG(eg_guard_lockdn, enum lockdown_reason what, int ret)
{
	__u64 session_id = 0;

	if (ret != 0 || what == LOCKDOWN_NONE || !eg_current_session(&session_id))
		return ret;
	return eg_tamper(session_id, EG_TAMPER_KERNEL, 0);
}

/*
 * Keys outlive the session and are shared with the user's (or root's) other
 * processes through the user and persistent keyrings: a session creates none.
 */
SEC("lsm/key_alloc")
int BPF_PROG(eg_guard_key, struct key *key, const struct cred *cred, unsigned long flags, int ret)
{
	__u64 session_id = 0;

	if (ret != 0 || !eg_current_session(&session_id))
		return ret;
	return eg_tamper(session_id, EG_TAMPER_KERNEL, 0);
}
