/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ebguard's kernel/userspace ABI: every struct the BPF programs and the Swift
 * daemon share lives here, once. BPF code sees it after vmlinux.h; Swift
 * imports it through the CEbguardABI module. Fixed-width types, explicit
 * padding, sizes pinned by _Static_assert (and by a Swift test on offsets).
 *
 * Event type numbers are explicit and never reused: retire a number, don't
 * recycle it. Bump EG_ABI_VERSION when a layout changes.
 */
#ifndef EBGUARD_ABI_H
#define EBGUARD_ABI_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define EG_ABI_VERSION 1

#define EG_COMM_LEN 16
/* Longest resolved path an event or a rule carries. Longer paths fail closed. */
#define EG_PATH_MAX 256

/* Event types. Explicit numbers, never reused. */
enum eg_event_type {
	EG_EVENT_PROBE = 1,	/* doctor's ring-buffer round trip */
	EG_EVENT_EXEC = 2,	/* an exec was decided */
	EG_EVENT_FILE = 3,	/* a file access was decided */
	EG_EVENT_NET = 4,	/* a connect/sendmsg was decided */
	EG_EVENT_SELFTEST = 5,	/* the foundation's VM self-test deny */
};

/* Verdicts, ordered so that on a precedence tie the larger one wins. */
enum eg_verdict {
	EG_VERDICT_ALLOW = 0,
	EG_VERDICT_AUDIT = 1,
	EG_VERDICT_ASK = 2,
	EG_VERDICT_DENY = 3,
};

/* First in every event: lets a reader skip types it does not know. */
struct eg_event_header {
	__u16 type;	/* enum eg_event_type */
	__u16 version;	/* EG_ABI_VERSION of the writer */
	__u32 size;	/* whole event, header included */
	__u64 time_ns;	/* bpf_ktime_get_boot_ns() */
};

/* Who did it. */
struct eg_task {
	__u64 cgroup_id;	/* the task's own cgroup */
	__u32 pid;		/* thread group id, as userspace means "pid" */
	__u32 tid;
	__u32 uid;
	__u32 gid;
	char comm[EG_COMM_LEN];
};

/* EG_EVENT_PROBE: emitted by the doctor's tracepoint when it sees the magic call. */
struct eg_probe_event {
	struct eg_event_header hdr;
	struct eg_task task;
	__u64 cookie;
};

/* EG_EVENT_SELFTEST: the self-test LSM program denied an open. */
struct eg_selftest_event {
	struct eg_event_header hdr;
	struct eg_task task;
	__s32 ret;		/* what the hook returned */
	__u32 path_len;		/* bytes of path used, including the NUL; 0 if unresolved */
	char path[EG_PATH_MAX];
};

/* Key of the self-test's deny map: one inode on one device. */
struct eg_inode_key {
	__u64 ino;
	__u32 dev;		/* kernel dev_t encoding (MAJOR << 20 | MINOR) */
	__u32 _pad;
};

#ifndef __cplusplus
_Static_assert(sizeof(struct eg_event_header) == 16, "eg_event_header layout");
_Static_assert(sizeof(struct eg_task) == 40, "eg_task layout");
_Static_assert(sizeof(struct eg_probe_event) == 64, "eg_probe_event layout");
_Static_assert(sizeof(struct eg_selftest_event) == 320, "eg_selftest_event layout");
_Static_assert(sizeof(struct eg_inode_key) == 16, "eg_inode_key layout");
#endif

#endif /* EBGUARD_ABI_H */
