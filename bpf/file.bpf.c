/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * File enforcement (EG_DOMAIN_FILE): path rules for read, write, create, delete,
 * rename, chmod (every metadata change) and exec, for tasks inside a session. Thin entry programs; matching
 * lives in lib/path_match.h, path resolution in lib/path_resolve.h, outcome,
 * operators' answers to asks and events in lib/path_enforce.h. Tasks outside
 * every session pay one lookup.
 */
#include "lib/path_mounts.h"
#include "lib/path_ancestor.h"
#include "lib/guard.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define EG_FMODE_READ 0x1
#define EG_FMODE_EXEC 0x20
#define EG_O_TRUNC 01000
#define EG_PROT_EXEC 0x4
#define EG_VM_EXEC 0x4
#define EG_ATTR_SIZE 8
#define EG_ATTR_ATIME 16
#define EG_ATTR_MTIME 32
#define EG_ATTR_ATIME_SET 128
#define EG_ATTR_MTIME_SET 256
#define EG_RENAME_EXCHANGE 2
#define EG_S_IFMT 0170000
#define EG_S_IFDIR 0040000
#define EG_S_IFLNK 0120000

#define EG_A(kind) (1 << EG_ACCESS_##kind)

/*
 * Decides one dentry seen through one mount (the path_* hooks). `tree`: a new name
 * that stands for a directory (a symlink), so what appears below it is new
 * content: create and write for the rules below it and the rename guards
 * (lib/path_ancestor.h; it has no other side, so no star root counts).
 */
static __always_inline int eg_file_dentry(struct vfsmount *mnt, struct dentry *dentry, __u8 mask, bool tree)
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
	if (tree) {
		v.mask = mask | EG_A(WRITE);
		eg_rules_below(s, &v, session);
		eg_rename_guards(&v, session, v.len > 0 ? v.len : 0);
		v.mask = mask;
	}
	eg_file_answered(session_id, &v);
	return eg_enforce(s, EG_EVENT_FILE, session_id, session, &v, -EACCES);
}

/*
 * Decides two paths at once (rename, link): the stronger verdict answers for both.
 * `below`: bit 0 the source, bit 1 the destination also answers for the rules
 * below its path; bit 2, both answer for the rename guards (a directory, or a
 * symlink, which stands for one, being moved: lib/path_ancestor.h); bit 3, the
 * destination alone does, with no star root (a symlink's second name); bit 4, the
 * destination is a file's rename target, where a vetted git commits its lock files
 * (eg_git_direct_name in lib/path_match.h).
 */
static __always_inline int eg_file_two(struct vfsmount *src_mnt, struct dentry *src, __u8 src_mask,
				       struct vfsmount *dst_mnt, struct dentry *dst, __u8 dst_mask, int below)
{
	struct eg_path_verdict a, b;
	struct eg_path_scratch *s;
	struct eg_session *session;
	__u64 session_id;
	__u32 common = 0;
	int len_a, len_b;

	session = eg_current_session(&session_id);
	if (!session)
		return 0;
	s = eg_get_scratch();
	if (!s)
		return -EACCES;
	/* Both paths first: a directory's rename compares them (lib/path_ancestor.h). */
	len_a = eg_resolve_dentry(s, 0, src_mnt, src);
	len_b = eg_resolve_dentry(s, 1, dst_mnt, dst);
	if ((below & 4) && len_a > 0 && len_b > 0)
		common = eg_common_prefix(len_a, len_b);
	a = eg_decide(s, 0, len_a, src->d_inode, session, EG_DOMAIN_FILE, src_mask, true);
	if (below & 1)
		eg_rules_below(s, &a, session);
	if (below & 4)
		eg_rename_guards(&a, session, common);
	s->git_rename_dst = (below & 16) != 0;
	b = eg_decide(s, 1, len_b, dst->d_inode, session, EG_DOMAIN_FILE, dst_mask, true);
	s->git_rename_dst = 0;
	if (below & 2)
		eg_rules_below(s, &b, session);
	if (below & 4)
		eg_rename_guards(&b, session, common);
	if (below & 8)	/* a new name for a symlink: no other side, so no star root counts */
		eg_rename_guards(&b, session, len_b > 0 ? len_b : 0);
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
 * destroys the contents. Opens by execve and for the ELF interpreter (FMODE_EXEC)
 * are reads and the `exec` kind, decided in the same single match.
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
	/* execve's opens carry __FMODE_EXEC in f_flags (6.1 does not copy it to f_mode). */
	if ((file->f_mode & EG_FMODE_EXEC) || (file->f_flags & EG_FMODE_EXEC))
		mask |= EG_A(EXEC);
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
	return eg_file_dentry(dir->mnt, dentry, EG_A(CREATE), false);
}

SEC("lsm/path_mkdir")
int BPF_PROG(eg_path_mkdir, const struct path *dir, struct dentry *dentry, umode_t mode, int ret)
{
	if (ret)
		return ret;
	return eg_file_dentry(dir->mnt, dentry, EG_A(CREATE), false);
}

/*
 * A symlink is a new name too; what it points to is checked when it is followed,
 * under the target's path. So a symlink is also what a directory moved to its
 * name would be: it answers, with create and write, for the rules below its path
 * and for the rename guards its path matches (lib/path_ancestor.h). A link at
 * ~/.local/lib/python3.11 to a directory holding evil.pth would otherwise put it
 * where a .pth pattern under site-packages cannot see it.
 */
SEC("lsm/path_symlink")
int BPF_PROG(eg_path_symlink, const struct path *dir, struct dentry *dentry, const char *old_name, int ret)
{
	if (ret)
		return ret;
	return eg_file_dentry(dir->mnt, dentry, EG_A(CREATE), true);
}

/* path_unlink/path_rmdir rather than inode_unlink: they carry the mount, so the path is complete. */
SEC("lsm/path_unlink")
int BPF_PROG(eg_path_unlink, const struct path *dir, struct dentry *dentry, int ret)
{
	if (ret)
		return ret;
	return eg_file_dentry(dir->mnt, dentry, EG_A(DELETE), false);
}

SEC("lsm/path_rmdir")
int BPF_PROG(eg_path_rmdir, const struct path *dir, struct dentry *dentry, int ret)
{
	if (ret)
		return ret;
	return eg_file_dentry(dir->mnt, dentry, EG_A(DELETE), false);
}

static __always_inline __u16 eg_file_type(struct dentry *dentry)
{
	return BPF_CORE_READ(dentry, d_inode, i_mode) & EG_S_IFMT;
}

/*
 * A directory carries the paths below it; a symlink to one makes them reachable
 * under its own name (path lookups follow it), so both are moved as trees.
 */
static __always_inline bool eg_stands_for_tree(struct dentry *dentry)
{
	__u16 type = eg_file_type(dentry);

	return type == EG_S_IFDIR || type == EG_S_IFLNK;
}

/*
 * path_rename: the source needs rename + delete, the destination create. Moving a
 * file gives it a path its rules no longer cover, so the source also needs read
 * and write: what may not be read or written where it is may not be moved away.
 * Replacing an existing destination deletes and rewrites it. RENAME_EXCHANGE
 * (6.1 passes the flags to the hook, once) moves both ways: each side is both.
 * RENAME_NOREPLACE and RENAME_WHITEOUT change nothing here: the same names move.
 *
 * A directory carries every path below it: the source answers for the rules
 * below it with the source's kinds, and a directory's destination for the
 * rules below the new name with create and write (what lands there is new
 * content), and both for the patterns' rename guards, lib/path_ancestor.h. A
 * symlink is moved as a directory: its name stands for what it points to.
 * Moving a mount is not a rename: it is refused as tampering (tamper.bpf.c).
 */
SEC("lsm/path_rename")
int BPF_PROG(eg_path_rename, const struct path *old_dir, struct dentry *old_dentry, const struct path *new_dir,
	     struct dentry *new_dentry, unsigned int flags, int ret)
{
	__u8 src = EG_A(RENAME) | EG_A(DELETE) | EG_A(READ) | EG_A(WRITE);
	__u8 dst = EG_A(CREATE);
	int below = 1;

	if (ret)
		return ret;
	if (flags & EG_RENAME_EXCHANGE) {
		src |= EG_A(CREATE);
		dst = src;
		below = 3;
		if (eg_stands_for_tree(old_dentry) || eg_stands_for_tree(new_dentry))
			below |= 4;
	} else {
		if (new_dentry->d_inode)
			dst |= EG_A(DELETE) | EG_A(WRITE);
		if (eg_stands_for_tree(old_dentry)) {
			dst |= EG_A(WRITE);
			below = 7;
		} else {
			below |= 16;
		}
	}
	return eg_file_two(old_dir->mnt, old_dentry, src, new_dir->mnt, new_dentry, dst, below);
}

/*
 * path_link: a hard link is the same file under a new path, which the source's
 * rules do not cover. So linking needs read and write on the source (what may
 * not be read or written where it is gets no second name) and create on the
 * destination. A link never crosses a mount: both sides use new_dir's. A second
 * name for a symlink is a new symlink (eg_path_symlink): its destination also
 * answers, with create and write, for the rules below it and the rename guards.
 */
SEC("lsm/path_link")
int BPF_PROG(eg_path_link, struct dentry *old_dentry, const struct path *new_dir, struct dentry *new_dentry,
	     int ret)
{
	bool symlink;

	if (ret)
		return ret;
	symlink = eg_file_type(old_dentry) == EG_S_IFLNK;
	return eg_file_two(new_dir->mnt, old_dentry, EG_A(READ) | EG_A(WRITE), new_dir->mnt, new_dentry,
			   symlink ? EG_A(CREATE) | EG_A(WRITE) : EG_A(CREATE), symlink ? 10 : 0);
}

SEC("lsm/path_chmod")
int BPF_PROG(eg_path_chmod, const struct path *path, umode_t mode, int ret)
{
	if (ret)
		return ret;
	return eg_file_dentry(path->mnt, path->dentry, EG_A(CHMOD), false);
}

/* truncate(2), ftruncate(2) and open(O_TRUNC) all come here in 6.1. */
SEC("lsm/path_truncate")
int BPF_PROG(eg_path_trunc, const struct path *path, int ret)
{
	if (ret)
		return ret;
	return eg_file_dentry(path->mnt, path->dentry, EG_A(WRITE), false);
}

/*
 * chown(2), fchown, lchown, fchownat: the `chmod` kind, which covers every change
 * of a file's metadata (mode, owner, timestamps, extended attributes, ACLs).
 */
SEC("lsm/path_chown")
int BPF_PROG(eg_path_chown, const struct path *path, __u32 uid, __u32 gid, int ret)	/* kuid_t, kgid_t */
{
	if (ret)
		return ret;
	return eg_file_dentry(path->mnt, path->dentry, EG_A(CHMOD), false);
}

/* Decides a dentry that came without its mount (lib/path_mounts.h). */
static __always_inline int eg_file_unmounted(struct dentry *dentry, __u8 mask)
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
	v = eg_decide_mounts(s, dentry, session, mask);
	eg_file_answered(session_id, &v);
	return eg_enforce(s, EG_EVENT_FILE, session_id, session, &v, -EACCES);
}

/*
 * inode_setattr: only timestamps are decided here (utimes, utimensat, futimens,
 * touch): no path_* hook sees them. Mode and owner changes were decided by
 * path_chmod/path_chown, size changes by path_truncate (a truncate sets the times
 * too), and the suid/sgid clearing a write triggers follows from the write.
 * Following the kernel's own permission model: setting the times to now is what
 * any writer may do and what a write does anyway, so it is `write`; setting
 * chosen times (touch -d, cp -p, tar) needs the owner, so it is `chmod`.
 */
SEC("lsm/inode_setattr")
int BPF_PROG(eg_setattr, struct dentry *dentry, struct iattr *attr, int ret)
{
	unsigned int valid;

	if (ret)
		return ret;
	valid = attr->ia_valid;
	if (!(valid & (EG_ATTR_ATIME | EG_ATTR_MTIME)) || (valid & EG_ATTR_SIZE))
		return 0;
	if (valid & (EG_ATTR_ATIME_SET | EG_ATTR_MTIME_SET))
		return eg_file_unmounted(dentry, EG_A(CHMOD));
	return eg_file_unmounted(dentry, EG_A(WRITE));
}

/* setxattr, lsetxattr, fsetxattr: user.*, trusted.*, security.* and POSIX ACLs (system.posix_acl_*). */
SEC("lsm/inode_setxattr")
int BPF_PROG(eg_setxattr, struct user_namespace *mnt_userns, struct dentry *dentry, const char *name,
	     const void *value, size_t size, int flags, int ret)
{
	if (ret)
		return ret;
	return eg_file_unmounted(dentry, EG_A(CHMOD));
}

SEC("lsm/inode_removexattr")
int BPF_PROG(eg_rmxattr, struct user_namespace *mnt_userns, struct dentry *dentry, const char *name, int ret)
{
	if (ret)
		return ret;
	return eg_file_unmounted(dentry, EG_A(CHMOD));
}

/*
 * The file domain's `exec` kind for code mapped from a file: shared libraries,
 * `ld.so /path/prog`, and a readable mapping made executable later. execve's own
 * opens carry FMODE_EXEC and were decided in eg_file_open. Only sessions whose
 * policy can refuse `exec` (EG_SESSION_FILE_EXEC: a file rule lists it, or the
 * file default is not allow) pay for a match here.
 */
static __always_inline int eg_file_mapping(struct file *file, bool d_path_allowed)
{
	struct eg_path_verdict v;
	struct eg_path_scratch *s;
	struct eg_session *session;
	__u64 session_id;
	int len;

	session = eg_current_session(&session_id);
	if (!session || !(session->flags & EG_SESSION_FILE_EXEC))
		return 0;
	s = eg_get_scratch();
	if (!s)
		return -EACCES;
	if (d_path_allowed)
		len = eg_resolve_path(s, 0, &file->f_path);
	else
		len = eg_resolve_dentry(s, 0, file->f_path.mnt, file->f_path.dentry);
	v = eg_decide(s, 0, len, file->f_inode, session, EG_DOMAIN_FILE, EG_A(EXEC), true);
	/* A library the default allows is not a decision: even observe mode skips it. */
	if (v.d.reason == EG_REASON_DEFAULT && v.d.verdict == EG_VERDICT_ALLOW)
		return 0;
	eg_file_answered(session_id, &v);
	if (eg_shadow_seen_exec(session, &v, file))
		return 0;
	return eg_enforce(s, EG_EVENT_FILE, session_id, session, &v, -EACCES);
}

SEC("lsm/mmap_file")
int BPF_PROG(eg_file_mmap, struct file *file, unsigned long reqprot, unsigned long prot, unsigned long flags,
	     int ret)
{
	if (ret)
		return ret;
	if (!file || !(prot & EG_PROT_EXEC))
		return 0;
	return eg_file_mapping(file, true);
}

/* bpf_d_path() is refused in file_mprotect: the dentry walk names the file. */
SEC("lsm/file_mprotect")
int BPF_PROG(eg_file_mprot, struct vm_area_struct *vma, unsigned long reqprot, unsigned long prot, int ret)
{
	struct file *file;

	if (ret)
		return ret;
	if (!(prot & EG_PROT_EXEC) || (vma->vm_flags & EG_VM_EXEC))
		return 0;
	file = vma->vm_file;
	if (!file)
		return 0;
	return eg_file_mapping(file, false);
}
