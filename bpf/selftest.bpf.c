/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Self-test programs: prove end to end (Swift loader -> kernel hook -> ring
 * buffer -> Swift) that a denial really happens, for one cgroup only.
 */
#include "lib/common.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Only tasks in this cgroup are affected; 0 affects nobody. */
const volatile __u64 eg_st_cgroup = 0;
/* connect4 to this port (host order) is denied in that cgroup. */
const volatile __u16 eg_st_port = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct eg_inode_key);
	__type(value, __u32);
} eg_st_deny SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} eg_st_rb SEC(".maps");

static __always_inline bool eg_st_in_scope(void)
{
	return eg_st_cgroup != 0 && bpf_get_current_cgroup_id() == eg_st_cgroup;
}

/* file_open sees every open after path resolution, with a struct file we can name by inode. */
SEC("lsm/file_open")
int BPF_PROG(eg_st_file_open, struct file *file, int ret)
{
	struct eg_inode_key key = {};
	struct eg_selftest_event *ev;
	long len;

	if (ret != 0 || !eg_st_in_scope())
		return ret;
	key.ino = BPF_CORE_READ(file, f_inode, i_ino);
	key.dev = BPF_CORE_READ(file, f_inode, i_sb, s_dev);
	if (!bpf_map_lookup_elem(&eg_st_deny, &key))
		return 0;

	ev = bpf_ringbuf_reserve(&eg_st_rb, sizeof(*ev), 0);
	if (ev) {
		eg_fill_header(&ev->hdr, EG_EVENT_SELFTEST, sizeof(*ev));
		eg_fill_task(&ev->task);
		ev->ret = -EACCES;
		len = bpf_d_path((struct path *)&file->f_path, ev->path, sizeof(ev->path));
		ev->path_len = len > 0 ? len : 0;
		bpf_ringbuf_submit(ev, 0);
	}
	return -EACCES;
}

SEC("cgroup/connect4")
int eg_st_connect4(struct bpf_sock_addr *ctx)
{
	struct eg_selftest_event *ev;

	if (!eg_st_in_scope() || bpf_ntohs(ctx->user_port) != eg_st_port)
		return 1;
	ev = bpf_ringbuf_reserve(&eg_st_rb, sizeof(*ev), 0);
	if (ev) {
		eg_fill_header(&ev->hdr, EG_EVENT_SELFTEST, sizeof(*ev));
		eg_fill_task(&ev->task);
		ev->ret = -EPERM;
		ev->path_len = 0;
		ev->path[0] = 0;
		bpf_ringbuf_submit(ev, 0);
	}
	return 0;
}
