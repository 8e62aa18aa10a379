/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Exec enforcement (EG_DOMAIN_EXEC): which programs a session may run. Thin entry
 * programs; matching lives in lib/path_match.h, outcome and events in
 * lib/path_enforce.h.
 */
#include "lib/path_enforce.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define EG_PROT_EXEC 0x4
#define EG_VM_EXEC 0x4
#define EG_SIGSTOP 19

#define EG_EXEC_MASK (1 << EG_ACCESS_EXEC)

/*
 * bprm_check_security: runs once the binary is open and before anything of the
 * new program exists, with bprm->file for bpf_d_path() (allowed here). The
 * kernel calls it again for each interpreter binfmt_script finds (#!), with
 * bprm->file the interpreter, so a script cannot run a denied interpreter. The
 * ELF interpreter (PT_INTERP) gets no bprm check: eg_exec_mmap covers it.
 *
 * A program with argv rules or an ask rule (EG_PATH_RULE_ARGV, see
 * lib/path_match.h) is held instead, whatever its path verdict: SIGSTOP and
 * allow. The task stops before the new program's first instruction, with its
 * argv already readable in /proc; userspace decides (matching argv, or asking
 * the operator) and sends SIGCONT or SIGKILL. So exec asks need no answer map.
 * A shadow session holds nothing: the exec runs, reported with EG_REASON_UNHELD.
 */
/*
 * A vetted git's mark (EG_HELD_GIT_WRITER) belongs to the program ebguard checked:
 * whatever this task runs next starts without it. An answered entry can only be a
 * previous program's: a held task is stopped before its first instruction, so an
 * unanswered one is this exec's own (a script's hold, seen again for its interpreter).
 */
static __always_inline void eg_end_git_writer(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 *held = bpf_map_lookup_elem(&eg_held, &tgid);

	if (held && (*held & EG_HELD_ANSWERED))
		bpf_map_delete_elem(&eg_held, &tgid);
}

SEC("lsm/bprm_check_security")
int BPF_PROG(eg_exec_check, struct linux_binprm *bprm, int ret)
{
	struct eg_path_verdict v;
	struct eg_path_scratch *s;
	struct eg_session *session;
	__u64 session_id;

	if (ret)
		return ret;
	session = eg_current_session(&session_id);
	if (!session)
		return 0;
	eg_end_git_writer();
	s = eg_get_scratch();
	if (!s)
		return -EPERM;
	v = eg_decide(s, 0, eg_resolve_path(s, 0, &bprm->file->f_path), bprm->file->f_inode, session, EG_DOMAIN_EXEC,
		      EG_EXEC_MASK, true);
	if ((v.d.flags & EG_PATH_RULE_ARGV) && !eg_enforced(session, EG_REASON_HELD)) {
		/* Shadow: nothing is held; userspace judges the argv of the running program. */
		v.d.reason = EG_REASON_UNHELD;
		eg_emit(s, EG_EVENT_EXEC, session_id, session, &v, 0);
		return 0;
	}
	if (v.d.flags & EG_PATH_RULE_ARGV) {
		__u32 tgid = bpf_get_current_pid_tgid() >> 32;
		struct task_struct *task = bpf_get_current_task_btf();

		/*
		 * Marked held first: from here only ebguard's answer lets it run (tamper.bpf.c).
		 * A traced task is not held: its tracer sees the SIGSTOP first and may drop it.
		 * Reported before it stops: a hold whose event found no room (a session's ring
		 * full of a flood's denials) would wait for an answer nobody can give.
		 */
		if (!BPF_CORE_READ(task, ptrace) &&
		    bpf_map_update_elem(&eg_held, &tgid, &session_id, BPF_ANY) == 0) {
			struct eg_path_verdict held = v;

			held.d.reason = EG_REASON_HELD;
			if (eg_emit_to(s, EG_EVENT_EXEC, session_id, session, &held, 0, true) &&
			    bpf_send_signal(EG_SIGSTOP) == 0)
				return 0;
			bpf_map_delete_elem(&eg_held, &tgid);
		}
		v.d.verdict = EG_VERDICT_DENY;	/* cannot hold it: fail closed */
	}
	return eg_enforce(s, EG_EVENT_EXEC, session_id, session, &v, -EPERM);
}

/*
 * What an executable mapping of `file` gets. The exec check is at bprm time, but
 * a program also runs when a loader maps it: `/lib64/ld-linux-x86-64.so.2
 * /denied/bin` execs only ld.so, which then mmaps /denied/bin PROT_EXEC.
 *
 * Only rules count here, never the exec default: every exec maps ld.so, libc
 * and friends executable, and a default of deny means "only the programs the
 * policy lists may be *started*", not "list every shared library". So a file an
 * exec rule denies (exact, subtree or name) cannot be mapped executable; one that
 * only the default would deny can be, which is safe because a loader that maps
 * it must itself have been exec'd, and the default already governed that.
 *
 * A program with argv rules: during execve (in_execve) that is the
 * kernel mapping the program bprm_check_security just held, so allow; outside
 * execve a loader is starting it with argv nobody can check: deny.
 */
static __always_inline int eg_exec_mapping(struct file *file, bool d_path_allowed)
{
	struct eg_path_verdict v;
	struct eg_path_scratch *s;
	struct eg_session *session;
	struct task_struct *task;
	__u64 session_id;
	int len;

	session = eg_current_session(&session_id);
	if (!session)
		return 0;
	s = eg_get_scratch();
	if (!s)
		return -EPERM;
	if (d_path_allowed)
		len = eg_resolve_path(s, 0, &file->f_path);
	else
		len = eg_resolve_dentry(s, 0, file->f_path.mnt, file->f_path.dentry);
	v = eg_decide(s, 0, len, file->f_inode, session, EG_DOMAIN_EXEC, EG_EXEC_MASK, false);
	if (v.d.flags & EG_PATH_RULE_ARGV) {
		task = bpf_get_current_task_btf();
		if (BPF_CORE_READ_BITFIELD_PROBED(task, in_execve))
			return 0;
		v.d.verdict = EG_VERDICT_DENY;
	}
	/* No rule spoke: a library mapping, not a decision; even observe mode skips it. */
	if (v.d.reason == EG_REASON_DEFAULT && v.d.verdict == EG_VERDICT_ALLOW)
		return 0;
	if (eg_shadow_seen_exec(session, &v, file))
		return 0;
	return eg_enforce(s, EG_EVENT_EXEC, session_id, session, &v, -EPERM);
}

/* mmap_file: every mmap of a file, before the mapping exists; bpf_d_path() is allowed here. */
SEC("lsm/mmap_file")
int BPF_PROG(eg_exec_mmap, struct file *file, unsigned long reqprot, unsigned long prot, unsigned long flags,
	     int ret)
{
	if (ret)
		return ret;
	if (!file || !(prot & EG_PROT_EXEC))
		return 0;
	return eg_exec_mapping(file, true);
}

/*
 * file_mprotect: mapping a file readable, then making it executable, is the same
 * as mapping it so. bpf_d_path() is refused here (not in the kernel's sleepable
 * set), so the path comes from the dentry walk.
 */
SEC("lsm/file_mprotect")
int BPF_PROG(eg_exec_mprot, struct vm_area_struct *vma, unsigned long reqprot, unsigned long prot, int ret)
{
	struct file *file;

	if (ret)
		return ret;
	if (!(prot & EG_PROT_EXEC) || (vma->vm_flags & EG_VM_EXEC))
		return 0;
	file = vma->vm_file;
	if (!file)
		return 0;
	return eg_exec_mapping(file, false);
}
