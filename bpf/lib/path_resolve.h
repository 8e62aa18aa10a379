/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Turning what a hook holds into the absolute path rules are written against.
 *
 * Hooks that hold a struct file (file_open, mmap_file, bprm_check_security) use
 * bpf_d_path(). The path_* hooks (unlink, mkdir, rename, ...) are not in the
 * kernel's bpf_d_path allowlist (the verifier rejects it there, PLATFORM.md), so
 * eg_resolve_dentry() walks d_parent itself, crossing mount points through
 * struct mount, up to the task's root: the same answer d_path gives for a
 * connected dentry, the same bytes the rules compare against.
 *
 * Both write scratch->path[slot] NUL-terminated and return its length (no NUL),
 * or EG_RESOLVE_UNRESOLVED / EG_RESOLVE_TOO_LONG: the caller fails closed.
 */
#ifndef EG_LIB_PATH_RESOLVE_H
#define EG_LIB_PATH_RESOLVE_H

#include "path_match.h"

#ifndef ENAMETOOLONG
#define ENAMETOOLONG 36
#endif

#define EG_RESOLVE_UNRESOLVED (-1)
#define EG_RESOLVE_TOO_LONG (-2)

/* Every component costs at least 2 bytes ("/x"), so 128 levels cover any path
 * that fits; the rest is room for mount crossings, which cost no bytes. */
#define EG_WALK_STEPS 192

static __always_inline int eg_resolve_path(struct eg_path_scratch *s, int slot, const struct path *path)
{
	char *buf = s->path[slot & (EG_SLOTS - 1)];
	long n;

	n = bpf_d_path((struct path *)path, buf, EG_PATH_MAX);
	if (n == -ENAMETOOLONG)
		return EG_RESOLVE_TOO_LONG;
	if (n <= 1 || n > EG_PATH_MAX)
		return EG_RESOLVE_UNRESOLVED;
	return n - 1;
}

struct eg_walk_ctx {
	__u64 dentry;		/* struct dentry *: the next component to write */
	__u64 mnt;		/* struct mount *: the mount that dentry is seen through */
	__u64 root_dentry;	/* the task's root (fs->root) */
	__u64 root_mnt;		/* struct vfsmount * */
	__s32 pos;		/* the path so far is walk[pos, EG_PATH_MAX) */
	__s32 status;		/* 0 walking, 1 done, or EG_RESOLVE_* */
};

static __always_inline struct vfsmount *eg_vfsmount(__u64 mnt)
{
	return (struct vfsmount *)(mnt + bpf_core_field_offset(struct mount, mnt));
}

static long eg_walk_step(__u32 n, struct eg_walk_ctx *w)
{
	struct eg_path_scratch *s = eg_get_scratch();
	struct dentry *d = (struct dentry *)w->dentry;
	struct mount *m = (struct mount *)w->mnt;
	struct vfsmount *vfs = eg_vfsmount(w->mnt);
	struct dentry *parent, *mnt_root;
	struct mount *mnt_parent;
	const unsigned char *name;
	__u32 len;
	__s32 off;

	if (!s)
		goto unresolved;
	if (w->dentry == w->root_dentry && (__u64)vfs == w->root_mnt)
		goto done;
	mnt_root = BPF_CORE_READ(vfs, mnt_root);
	if (d == mnt_root) {
		mnt_parent = BPF_CORE_READ(m, mnt_parent);
		/* The top of the mount tree, above the task's root: d_path stops here too. */
		if (mnt_parent == m || !mnt_parent)
			goto done;
		w->dentry = (__u64)BPF_CORE_READ(m, mnt_mountpoint);
		w->mnt = (__u64)mnt_parent;
		return 0;
	}
	parent = BPF_CORE_READ(d, d_parent);
	/* A root that is no mount's root: a detached tree, no path to report. */
	if (!parent || parent == d)
		goto unresolved;
	len = BPF_CORE_READ(d, d_name.len);
	name = BPF_CORE_READ(d, d_name.name);
	/* Keep pos >= 1 so the result (<= EG_PATH_MAX - 1 bytes) has room for its NUL. */
	if (len == 0 || len + 1 >= (__u32)w->pos) {
		w->status = EG_RESOLVE_TOO_LONG;
		return 1;
	}
	off = w->pos - len;
	if (bpf_probe_read_kernel(s->walk + (off & (EG_PATH_MAX - 1)), len & (EG_PATH_MAX - 1), name))
		goto unresolved;
	off--;
	s->walk[off & (EG_PATH_MAX - 1)] = '/';
	w->pos = off;
	w->dentry = (__u64)parent;
	return 0;
done:
	w->status = 1;
	return 1;
unresolved:
	w->status = EG_RESOLVE_UNRESOLVED;
	return 1;
}

/* Where a walk starts. Handed over in memory: a global function takes only
 * scalars and pointers to memory, not the kernel pointers a hook holds. */
struct eg_walk_from {
	__u64 vfsmnt;	/* struct vfsmount * */
	__u64 dentry;	/* struct dentry * */
};

/*
 * The path of `from->dentry` seen through `from->vfsmnt`, as the current task
 * names it. Global, like eg_match_path, so it is verified once rather than per
 * call site.
 */
__noinline int eg_walk_path(__u32 slot, const struct eg_walk_from *from)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct eg_path_scratch *s = eg_get_scratch();
	struct eg_walk_ctx w = {};
	char *buf;
	__u32 len;

	if (!s || !from || !from->vfsmnt || !from->dentry)
		return EG_RESOLVE_UNRESOLVED;
	buf = s->path[slot & (EG_SLOTS - 1)];
	w.dentry = from->dentry;
	w.mnt = from->vfsmnt - bpf_core_field_offset(struct mount, mnt);
	w.root_dentry = (__u64)BPF_CORE_READ(task, fs, root.dentry);
	w.root_mnt = (__u64)BPF_CORE_READ(task, fs, root.mnt);
	w.pos = EG_PATH_MAX;
	bpf_loop(EG_WALK_STEPS, eg_walk_step, &w, 0);
	if (w.status == 0)
		return EG_RESOLVE_TOO_LONG;	/* deeper than EG_WALK_STEPS */
	if (w.status < 0)
		return w.status;
	if (w.pos >= EG_PATH_MAX) {		/* the root itself */
		buf[0] = '/';
		buf[1] = 0;
		return 1;
	}
	len = (EG_PATH_MAX - w.pos) & (EG_PATH_MAX - 1);
	if (bpf_probe_read_kernel(buf, len, s->walk + (w.pos & (EG_PATH_MAX - 1))))
		return EG_RESOLVE_UNRESOLVED;
	buf[len] = 0;
	return len;
}

static __always_inline int eg_resolve_dentry(struct eg_path_scratch *s, int slot, struct vfsmount *vfsmnt,
					     struct dentry *dentry)
{
	struct eg_walk_from from = { .vfsmnt = (__u64)vfsmnt, .dentry = (__u64)dentry };

	return eg_walk_path(slot, &from);
}

#endif /* EG_LIB_PATH_RESOLVE_H */
