/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Deciding a dentry that comes without its mount: the inode_* hooks
 * (inode_setattr for utimes, inode_setxattr/inode_removexattr for extended
 * attributes and POSIX ACLs) get a dentry only, and on 6.1 no path_* hook
 * covers those operations (PLATFORM.md).
 *
 * A path needs a mount, and one file can be seen through several (bind mounts).
 * So the file is decided through every mount of its superblock that is in the
 * task's mount namespace and whose root holds the dentry (eg_walk_path fails on
 * the others), and the strongest verdict stands: a bind mount that puts a file
 * outside a rule's path cannot take it out of the rule. At most EG_MOUNTS_MAX
 * such mounts are examined; a superblock with more in the namespace fails closed.
 * A superblock with none in the namespace (overlayfs' upper layer, a detached
 * tree) gives the object no path a rule can name: the file default decides,
 * as for other objects without a path.
 *
 * The two path slots alternate: the strongest verdict so far keeps its slot
 * (its path is what the event reports), the next mount is resolved into the other.
 */
#ifndef EG_LIB_PATH_MOUNTS_H
#define EG_LIB_PATH_MOUNTS_H

#include "path_enforce.h"

#define EG_MOUNTS_MAX 8

static __always_inline struct eg_path_verdict eg_decide_mounts(struct eg_path_scratch *s, struct dentry *dentry,
								const struct eg_session *session, __u8 mask)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct super_block *sb = BPF_CORE_READ(dentry, d_sb);
	__u64 head = (__u64)sb + bpf_core_field_offset(struct super_block, s_mounts);
	__u64 off = bpf_core_field_offset(struct mount, mnt_instance);
	struct mnt_namespace *ns = BPF_CORE_READ(task, nsproxy, mnt_ns);
	struct eg_path_verdict best = {}, v;
	struct eg_walk_from from = { .dentry = (__u64)dentry };
	struct list_head *node;
	struct mount *m;
	bool found = false;
	int slot = 0, i;

	node = BPF_CORE_READ(sb, s_mounts.next);
	for (i = 0; i < EG_MOUNTS_MAX + 1; i++) {
		if (!node || (__u64)node == head)
			break;
		if (i == EG_MOUNTS_MAX) {
			/* More mounts than examined: fail closed, no path to show. */
			best = eg_decide(s, slot, EG_RESOLVE_UNRESOLVED, dentry->d_inode, session, EG_DOMAIN_FILE, mask,
					 true);
			return best;
		}
		m = (struct mount *)((__u64)node - off);
		node = BPF_CORE_READ(node, next);
		if (BPF_CORE_READ(m, mnt_ns) != ns)
			continue;
		from.vfsmnt = (__u64)m + bpf_core_field_offset(struct mount, mnt);
		v = eg_decide(s, slot, eg_walk_path(slot, &from), dentry->d_inode, session, EG_DOMAIN_FILE, mask, true);
		if (v.len < 0)	/* not below this mount's root */
			continue;
		if (!found || v.d.verdict > best.d.verdict) {
			best = v;
			slot ^= 1;
		}
		found = true;
	}
	if (!found) {
		/* No path in this namespace: the default, as for pipes and sockets. */
		best.d.verdict = session->default_verdict[EG_DOMAIN_FILE];
		best.d.reason = EG_REASON_DEFAULT;
		best.d.rule = EG_RULE_DEFAULT;
		best.len = EG_RESOLVE_UNRESOLVED;
		best.mask = mask;
		best.inode = (__u64)dentry->d_inode;
		if (best.d.verdict > EG_VERDICT_DENY)
			best.d.verdict = EG_VERDICT_DENY;
	}
	return best;
}

#endif /* EG_LIB_PATH_MOUNTS_H */
