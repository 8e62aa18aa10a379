/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The open memo: an open, a program start or an executable mapping that was
 * allowed, remembered on the inode, so that doing it again by the same name costs
 * a few loads instead of bpf_d_path(), the hashing scan and the rule lookups. A
 * busy program opens the same files over and over (headers, config, a git tree's
 * index and objects), and every exec maps the same loader and libraries.
 *
 * A memo answers only while everything a fresh decision reads is provably what
 * it was when the memo was made; anything else is a miss, and a miss decides
 * exactly as if there were no memo.
 *   Rules: the same policy id (a policy's rules never change while its id is
 *     in use) and the same rules epoch (eg_memo_epoch[EG_EPOCH_RULES], which
 *     ebguard rewrites after removing a policy, so a policy id drawn again later
 *     never meets the old policy's memos).
 *   The path bpf_d_path() prints: the same struct path and task root (pointers),
 *     no d_move() since (rename_lock's sequence), no change to the mount tree
 *     (mount_lock's sequence: mounts, moves, umounts, namespace copies), the
 *     dentry still hashed (an unlinked one prints " (deleted)"). The kernel's own
 *     d_path() checks the same two sequences to know its answer is consistent.
 *   The name is the inode's only one, so a dentry freed and reallocated at the
 *     same address for another name of the inode cannot meet the memo: a regular
 *     file with one link, or a directory (one alias). A new name needs link(2) or
 *     rename(2); eg_memo_names (file.bpf.c) bumps eg_memo_epoch[EG_EPOCH_NAMES]
 *     for each, whoever makes it, and 64 bits never wrap where a hostile loop of
 *     renames could wrap rename_lock's 32. The dentry's parent and name hash are
 *     compared too.
 *   A file system that changes names only through the VFS (ext2-4, xfs, btrfs,
 *     f2fs, tmpfs, overlayfs): network and pseudo file systems (NFS, FUSE,
 *     sysfs, proc) can give an inode a new name behind the VFS's back.
 * Only an allow by a rule or by the default is remembered: never audit, ask, an
 * operator's answer, or a session that reports allows, so a hit has no event
 * to skip. The tamper guard runs before the memo is consulted.
 *
 * The sequences are read without the seqlock's read barrier: x86 keeps loads in
 * order (ebguard's BPF objects are built for x86 only). Where the kernel lacks
 * the symbols (no CONFIG_KALLSYMS_ALL) the memo is off and every open decides.
 */
#ifndef EG_LIB_OPEN_MEMO_H
#define EG_LIB_OPEN_MEMO_H

#include "path_match.h"

extern const void rename_lock __ksym __weak;
extern const void mount_lock __ksym __weak;

#define EG_S_IFMT 0170000
#define EG_S_IFDIR 0040000
#define EG_S_IFREG 0100000

#define EG_EXT4_SUPER_MAGIC 0xEF53
#define EG_XFS_SUPER_MAGIC 0x58465342
#define EG_BTRFS_SUPER_MAGIC 0x9123683E
#define EG_F2FS_SUPER_MAGIC 0xF2F52010
#define EG_TMPFS_MAGIC 0x01021994
#define EG_OVERLAYFS_SUPER_MAGIC 0x794c7630

/* Epochs: [EG_EPOCH_NAMES] counted here, [EG_EPOCH_RULES] written by ebguard (ebguard.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, EG_EPOCHS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} eg_memo_epoch SEC(".maps");

/* Pinned: exec.bpf.c and file.bpf.c remember on the same inodes. */
struct {
	__uint(type, BPF_MAP_TYPE_INODE_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct eg_open_memo);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} eg_open_memos SEC(".maps");

/* A seqlock's sequence; false while a writer holds it or when the kernel has no such symbol. */
static __always_inline bool eg_memo_seq(const void *lock, __u32 *seq)
{
	if (!lock || bpf_core_read(seq, sizeof(*seq), &((const seqlock_t *)lock)->seqcount.seqcount.sequence))
		return false;
	return !(*seq & 1);
}

static __always_inline __u64 eg_memo_epoch_now(__u32 slot)
{
	__u64 *epoch = bpf_map_lookup_elem(&eg_memo_epoch, &slot);

	return epoch ? *epoch : 0;
}

/* The file systems whose names change only through vfs_rename/vfs_link/d_move. */
static __always_inline bool eg_memo_fs(unsigned long magic)
{
	return magic == EG_EXT4_SUPER_MAGIC || magic == EG_XFS_SUPER_MAGIC || magic == EG_BTRFS_SUPER_MAGIC ||
	       magic == EG_F2FS_SUPER_MAGIC || magic == EG_TMPFS_MAGIC || magic == EG_OVERLAYFS_SUPER_MAGIC;
}

/*
 * Fills `k` with what a decision on `file` now depends on besides the path's
 * rules; false when it cannot be memoized (then no lookup either).
 */
static __always_inline bool eg_memo_begin(struct file *file, const struct eg_session *session, struct eg_memo_key *k)
{
	struct dentry *dentry = file->f_path.dentry;
	struct inode *inode = file->f_inode;
	struct task_struct *task;
	__u32 nlink;
	umode_t mode;

	if (session->flags & EG_SESSION_AUDIT_ALLOWS)
		return false;
	if (!inode || !dentry || !eg_memo_fs(inode->i_sb->s_magic))
		return false;
	mode = inode->i_mode & EG_S_IFMT;
	nlink = inode->i_nlink;
	if (!(mode == EG_S_IFDIR || (mode == EG_S_IFREG && nlink == 1)))
		return false;
	if (!dentry->d_hash.pprev)	/* d_unhashed(): unlinked, or a root no name leads to */
		return false;
	if (!eg_memo_seq(&rename_lock, &k->rename_seq) || !eg_memo_seq(&mount_lock, &k->mount_seq))
		return false;
	task = bpf_get_current_task_btf();
	k->names_epoch = eg_memo_epoch_now(EG_EPOCH_NAMES);
	k->rules_epoch = eg_memo_epoch_now(EG_EPOCH_RULES);
	k->dentry = (__u64)dentry;
	k->mnt = (__u64)file->f_path.mnt;
	k->parent = (__u64)dentry->d_parent;
	/* hash and len apart: the verifier takes hash_len's union for the {hash, len} struct. */
	k->name_hash_len = (__u64)dentry->d_name.len << 32 | dentry->d_name.hash;
	k->root_dentry = (__u64)BPF_CORE_READ(task, fs, root.dentry);
	k->root_mnt = (__u64)BPF_CORE_READ(task, fs, root.mnt);
	k->policy_id = session->policy_id;
	k->_pad = 0;
	return true;
}

static __always_inline bool eg_memo_same(const struct eg_memo_key *a, const struct eg_memo_key *b)
{
	return a->names_epoch == b->names_epoch && a->rules_epoch == b->rules_epoch && a->dentry == b->dentry &&
	       a->mnt == b->mnt && a->parent == b->parent && a->root_dentry == b->root_dentry &&
	       a->root_mnt == b->root_mnt && a->name_hash_len == b->name_hash_len && a->policy_id == b->policy_id &&
	       a->rename_seq == b->rename_seq && a->mount_seq == b->mount_seq;
}

/* Whether `inode` remembers everything in `mask` (eg_open_memo's `allowed` bits) allowed under `k`. */
static __always_inline bool eg_memo_hit(struct inode *inode, const struct eg_memo_key *k, __u8 mask)
{
	struct eg_open_memo *memo = bpf_inode_storage_get(&eg_open_memos, inode, 0, 0);
	bool hit;

	if (!memo)
		return false;
	bpf_spin_lock(&memo->lock);
	hit = !(mask & ~memo->allowed) && eg_memo_same(&memo->key, k);
	bpf_spin_unlock(&memo->lock);
	return hit;
}

/*
 * Remembers that `mask` was allowed under `k`, if nothing `k` names moved while
 * the decision was made (a rename, link, mount or chroot meanwhile may have
 * changed the path it was made on).
 */
static __always_inline void eg_memo_store(struct inode *inode, const struct eg_memo_key *k, __u8 mask)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct eg_open_memo *memo;
	__u32 rename_seq, mount_seq;

	if (!eg_memo_seq(&rename_lock, &rename_seq) || rename_seq != k->rename_seq ||
	    !eg_memo_seq(&mount_lock, &mount_seq) || mount_seq != k->mount_seq ||
	    eg_memo_epoch_now(EG_EPOCH_NAMES) != k->names_epoch)
		return;
	/* Another thread sharing this task's fs_struct may have chrooted meanwhile. */
	if ((__u64)BPF_CORE_READ(task, fs, root.dentry) != k->root_dentry ||
	    (__u64)BPF_CORE_READ(task, fs, root.mnt) != k->root_mnt)
		return;
	memo = bpf_inode_storage_get(&eg_open_memos, inode, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!memo)
		return;
	bpf_spin_lock(&memo->lock);
	if (eg_memo_same(&memo->key, k)) {
		memo->allowed |= mask;
	} else {
		memo->key = *k;
		memo->allowed = mask;
	}
	bpf_spin_unlock(&memo->lock);
}

/* What may be remembered: an allow by a rule or by the default, with nothing to hold. */
static __always_inline bool eg_memo_worthy(const struct eg_decision *d)
{
	return d->verdict == EG_VERDICT_ALLOW && !d->flags && (d->reason == EG_REASON_RULE || d->reason == EG_REASON_DEFAULT);
}

/* A new name for an existing inode, anywhere on the host: every memo is out of date. */
static __always_inline void eg_memo_names_changed(void)
{
	__u32 slot = EG_EPOCH_NAMES;
	__u64 *epoch = bpf_map_lookup_elem(&eg_memo_epoch, &slot);

	if (epoch)
		__sync_fetch_and_add(epoch, 1);
}

#endif /* EG_LIB_OPEN_MEMO_H */
