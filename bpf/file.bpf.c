/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * File enforcement (EG_DOMAIN_FILE): path rules for read, write, create, delete,
 * rename and chmod, for tasks inside a session. Thin entry programs; matching
 * lives in lib/path_match.h, path resolution in lib/path_resolve.h, outcome,
 * operators' answers to asks and events in lib/path_enforce.h. Tasks outside
 * every session pay one lookup.
 */
#include "lib/path_enforce.h"
#include "lib/guard.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define EG_FMODE_READ 0x1
#define EG_O_TRUNC 01000
#define EG_RENAME_EXCHANGE 2

#define EG_A(kind) (1 << EG_ACCESS_##kind)

/* Decides one dentry seen through one mount (the path_* hooks). */
static __always_inline int eg_file_dentry(struct vfsmount *mnt, struct dentry *dentry, __u8 mask)
{
	struct eg_path_verdict v;
	struct eg_path_scratch *s;
	struct eg_session *session;
	__u64 session_id;

	session = eg_current_session(&session_id);
	if (!session)
		return 0;
	s = eg_get_scratch();
	if (!s)
		return -EACCES;
	v = eg_decide(s, 0, eg_resolve_dentry(s, 0, mnt, dentry), dentry->d_inode, session, EG_DOMAIN_FILE, mask,
		      true);
	eg_file_answered(session_id, &v);
	return eg_enforce(s, EG_EVENT_FILE, session_id, session, &v, -EACCES);
}

/* Decides two paths at once (rename, link): the stronger verdict answers for both. */
static __always_inline int eg_file_two(struct vfsmount *src_mnt, struct dentry *src, __u8 src_mask,
				       struct vfsmount *dst_mnt, struct dentry *dst, __u8 dst_mask)
{
	struct eg_path_verdict a, b;
	struct eg_path_scratch *s;
	struct eg_session *session;
	__u64 session_id;

	session = eg_current_session(&session_id);
	if (!session)
		return 0;
	s = eg_get_scratch();
	if (!s)
		return -EACCES;
	a = eg_decide(s, 0, eg_resolve_dentry(s, 0, src_mnt, src), src->d_inode, session, EG_DOMAIN_FILE, src_mask,
		      true);
	b = eg_decide(s, 1, eg_resolve_dentry(s, 1, dst_mnt, dst), dst->d_inode, session, EG_DOMAIN_FILE, dst_mask,
		      true);
	/* Each side's answer first: an allowed source must not hide an asked destination.
	 * A `once` answer spent here is gone even if the other side then denies. */
	eg_file_answered(session_id, &a);
	eg_file_answered(session_id, &b);
	a = eg_stronger(a, b);
	return eg_enforce(s, EG_EVENT_FILE, session_id, session, &a, -EACCES);
}

/*
 * file_open: every open of a path, after the lookup (symlinks, "..", relative
 * names and dirfds already resolved), with a struct file whose f_path
 * bpf_d_path() may read. O_TRUNC counts as write even with O_RDONLY: it
 * destroys the contents. Opens by execve (FMODE_EXEC) are reads here too.
 * Self-protection (lib/guard.h) decides first, so no path rule can let a
 * session write a cgroup file outside its subtree or a bpffs file.
 */
SEC("lsm/file_open")
int BPF_PROG(eg_file_open, struct file *file, int ret)
{
	struct eg_path_verdict v;
	struct eg_path_scratch *s;
	struct eg_session *session;
	__u64 session_id;
	__u8 mask = 0;

	if (ret)
		return ret;
	session = eg_current_session(&session_id);
	if (!session)
		return 0;
	ret = eg_guard_file_open(file, session_id);
	if (ret)
		return ret;
	if (file->f_mode & EG_FMODE_READ)
		mask |= EG_A(READ);
	if ((file->f_mode & EG_FMODE_WRITE) || (file->f_flags & EG_O_TRUNC))
		mask |= EG_A(WRITE);
	if (!mask)	/* O_ACCMODE 3: ioctl-only, neither reads nor writes */
		return 0;
	s = eg_get_scratch();
	if (!s)
		return -EACCES;
	v = eg_decide(s, 0, eg_resolve_path(s, 0, &file->f_path), file->f_inode, session, EG_DOMAIN_FILE, mask, true);
	eg_file_answered(session_id, &v);
	return eg_enforce(s, EG_EVENT_FILE, session_id, session, &v, -EACCES);
}

/* path_mknod: creating a regular file, open(O_CREAT) included (may_o_create), fifo, socket, device. */
SEC("lsm/path_mknod")
int BPF_PROG(eg_path_mknod, const struct path *dir, struct dentry *dentry, umode_t mode, unsigned int dev,
	     int ret)
{
	if (ret)
		return ret;
	return eg_file_dentry(dir->mnt, dentry, EG_A(CREATE));
}

SEC("lsm/path_mkdir")
int BPF_PROG(eg_path_mkdir, const struct path *dir, struct dentry *dentry, umode_t mode, int ret)
{
	if (ret)
		return ret;
	return eg_file_dentry(dir->mnt, dentry, EG_A(CREATE));
}

/* A symlink is a new name too; what it points to is checked when it is followed. */
SEC("lsm/path_symlink")
int BPF_PROG(eg_path_symlink, const struct path *dir, struct dentry *dentry, const char *old_name, int ret)
{
	if (ret)
		return ret;
	return eg_file_dentry(dir->mnt, dentry, EG_A(CREATE));
}

/* path_unlink/path_rmdir rather than inode_unlink: they carry the mount, so the path is complete. */
SEC("lsm/path_unlink")
int BPF_PROG(eg_path_unlink, const struct path *dir, struct dentry *dentry, int ret)
{
	if (ret)
		return ret;
	return eg_file_dentry(dir->mnt, dentry, EG_A(DELETE));
}

SEC("lsm/path_rmdir")
int BPF_PROG(eg_path_rmdir, const struct path *dir, struct dentry *dentry, int ret)
{
	if (ret)
		return ret;
	return eg_file_dentry(dir->mnt, dentry, EG_A(DELETE));
}

/*
 * path_rename: the source needs rename + delete, the destination create. Moving a
 * file gives it a path its rules no longer cover, so the source also needs read
 * and write: what may not be read or written where it is may not be moved away.
 * Replacing an existing destination deletes and rewrites it. RENAME_EXCHANGE
 * (6.1 passes the flags to the hook, once) moves both ways: each side is both.
 */
SEC("lsm/path_rename")
int BPF_PROG(eg_path_rename, const struct path *old_dir, struct dentry *old_dentry, const struct path *new_dir,
	     struct dentry *new_dentry, unsigned int flags, int ret)
{
	__u8 src = EG_A(RENAME) | EG_A(DELETE) | EG_A(READ) | EG_A(WRITE);
	__u8 dst = EG_A(CREATE);

	if (ret)
		return ret;
	if (flags & EG_RENAME_EXCHANGE) {
		src |= EG_A(CREATE);
		dst = src;
	} else if (new_dentry->d_inode) {
		dst |= EG_A(DELETE) | EG_A(WRITE);
	}
	return eg_file_two(old_dir->mnt, old_dentry, src, new_dir->mnt, new_dentry, dst);
}

/*
 * path_link: a hard link is the same file under a new path, which the source's
 * rules do not cover. So linking needs read and write on the source (what may
 * not be read or written where it is gets no second name) and create on the
 * destination. A link never crosses a mount: both sides use new_dir's.
 */
SEC("lsm/path_link")
int BPF_PROG(eg_path_link, struct dentry *old_dentry, const struct path *new_dir, struct dentry *new_dentry,
	     int ret)
{
	if (ret)
		return ret;
	return eg_file_two(new_dir->mnt, old_dentry, EG_A(READ) | EG_A(WRITE), new_dir->mnt, new_dentry,
			   EG_A(CREATE));
}

SEC("lsm/path_chmod")
int BPF_PROG(eg_path_chmod, const struct path *path, umode_t mode, int ret)
{
	if (ret)
		return ret;
	return eg_file_dentry(path->mnt, path->dentry, EG_A(CHMOD));
}

/* truncate(2), ftruncate(2) and open(O_TRUNC) all come here in 6.1. */
SEC("lsm/path_truncate")
int BPF_PROG(eg_path_truncate, const struct path *path, int ret)
{
	if (ret)
		return ret;
	return eg_file_dentry(path->mnt, path->dentry, EG_A(WRITE));
}
