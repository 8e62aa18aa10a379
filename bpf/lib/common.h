/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Helpers every ebguard BPF program shares: task identity and event headers. */
#ifndef EG_LIB_COMMON_H
#define EG_LIB_COMMON_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "ebguard.h"

#ifndef EACCES
#define EACCES 13
#endif
#ifndef EPERM
#define EPERM 1
#endif

static __always_inline void eg_fill_header(struct eg_event_header *hdr, __u16 type, __u32 size)
{
	hdr->type = type;
	hdr->version = EG_ABI_VERSION;
	hdr->size = size;
	hdr->time_ns = bpf_ktime_get_boot_ns();
}

static __always_inline void eg_fill_task(struct eg_task *task)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 uid_gid = bpf_get_current_uid_gid();

	task->cgroup_id = bpf_get_current_cgroup_id();
	task->pid = pid_tgid >> 32;
	task->tid = (__u32)pid_tgid;
	task->uid = (__u32)uid_gid;
	task->gid = uid_gid >> 32;
	bpf_get_current_comm(task->comm, sizeof(task->comm));
}

#endif /* EG_LIB_COMMON_H */
