/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Self-protection shared by tamper.bpf.c (its own hooks) and file.bpf.c, which
 * runs the file_open share of it: one program per open, so a governed open pays
 * one trampoline entry and one session lookup, not two. Everything here only
 * ever denies, and only for tasks inside a session.
 */
#ifndef EG_LIB_GUARD_H
#define EG_LIB_GUARD_H

#include "maps.h"

#define EG_CGROUP2_SUPER_MAGIC 0x63677270
#define EG_CGROUP_SUPER_MAGIC 0x27e0eb
#define EG_BPF_FS_MAGIC 0xcafe4a11
#define EG_FMODE_WRITE 0x2
/* Deeper cgroup trees than this are treated as outside the session: fail closed. */
#define EG_CGROUP_DEPTH_MAX 32

/* Reports a tamper attempt and refuses it. */
static __always_inline int eg_tamper(__u64 session_id, __u32 what, __u32 target_pid)
{
	struct eg_tamper_event *ev;

	ev = eg_event_reserve(session_id, sizeof(*ev));
	if (ev) {
		eg_fill_header(&ev->hdr, EG_EVENT_TAMPER, sizeof(*ev));
		eg_fill_task(&ev->task);
		ev->session_id = session_id;
		ev->what = what;
		ev->ret = -EPERM;
		ev->target_pid = target_pid;
		ev->_pad = 0;
		bpf_ringbuf_submit(ev, 0);
	}
	return -EPERM;
}

/*
 * file_open by a task of session `session_id`: 0, or -EPERM with a tamper event.
 * Writing a bpffs file or a cgroup v1 file is refused. Moving a task between
 * cgroups is a write to cgroup.procs: writes to cgroup2 files are allowed only
 * inside the session's own subtree (so an agent can still organise its children
 * in nested cgroups), found by walking up from the file to the session cgroup's
 * directory, whose inode number is the cgroup id.
 */
static __always_inline int eg_guard_file_open(struct file *file, __u64 session_id)
{
	struct dentry *dentry, *parent;
	unsigned long magic;

	if (!(BPF_CORE_READ(file, f_mode) & EG_FMODE_WRITE))
		return 0;
	magic = BPF_CORE_READ(file, f_inode, i_sb, s_magic);
	if (magic == EG_BPF_FS_MAGIC || magic == EG_CGROUP_SUPER_MAGIC)
		return eg_tamper(session_id, magic == EG_BPF_FS_MAGIC ? EG_TAMPER_BPFFS : EG_TAMPER_CGROUP, 0);
	if (magic != EG_CGROUP2_SUPER_MAGIC)
		return 0;
	dentry = BPF_CORE_READ(file, f_path.dentry);
	for (int i = 0; i < EG_CGROUP_DEPTH_MAX; i++) {
		if (!dentry)
			break;
		if (BPF_CORE_READ(dentry, d_inode, i_ino) == session_id)
			return 0;
		parent = BPF_CORE_READ(dentry, d_parent);
		if (parent == dentry)
			break;
		dentry = parent;
	}
	return eg_tamper(session_id, EG_TAMPER_CGROUP, 0);
}

#endif /* EG_LIB_GUARD_H */
