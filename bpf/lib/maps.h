/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Maps shared by every enforcement object. Pinned by name under the loader's pin
 * root, so the second object to load re-uses the first one's maps, and a restarted
 * daemon re-adopts them instead of starting empty.
 */
#ifndef EG_LIB_MAPS_H
#define EG_LIB_MAPS_H

#include "common.h"

/* Session cgroup id -> its policy and defaults. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, struct eg_session);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} eg_sessions SEC(".maps");

/* Every decision event of every session. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} eg_events SEC(".maps");

/* Level of session cgroups in the cgroup2 hierarchy (ebguard's own cgroup + 1). */
const volatile __u32 eg_session_level = 0;

/*
 * The session the current task belongs to, found through its ancestor at the
 * session level, so every cgroup the agent creates below its session is governed
 * too. NULL for tasks outside every session: they cost one lookup.
 */
static __always_inline struct eg_session *eg_current_session(__u64 *session_id)
{
	__u64 id;

	if (!eg_session_level)
		return NULL;
	id = bpf_get_current_ancestor_cgroup_id(eg_session_level);
	if (!id)
		return NULL;
	*session_id = id;
	return bpf_map_lookup_elem(&eg_sessions, &id);
}

#endif /* EG_LIB_MAPS_H */
