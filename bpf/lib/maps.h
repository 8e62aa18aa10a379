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

/* Every decision event of every session. 4 MiB: ~19,000 network events, so a
 * burst of 200,000/s waits 100 ms for the daemon before anything is lost. The
 * daemon maps it (twice over, for the wrap-around), so it counts in its RSS. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} eg_events SEC(".maps");

/*
 * Events a task is stopped waiting on: an exec held for its argv. The daemon reads
 * eg_events in batches (after a sparse wake-up it leaves that ring alone for a few
 * ms), but watches this one always and reads eg_events first when it fires, so a
 * held exec waits for no batch and events keep their order. Full: eg_events.
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} eg_urgent SEC(".maps");

/*
 * Execs held for a decision in userspace (argv rules): tgid -> session. A task of
 * the session must not resume them itself (tamper.bpf.c refuses that SIGCONT);
 * ebguard removes the entry when it answers, except for a vetted git, which keeps it
 * answered and marked EG_HELD_GIT_WRITER until its next exec or its exit.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} eg_held SEC(".maps");

/*
 * The marks (EG_HELD_GIT_WRITER, EG_HELD_GIT_WORKTREE) of `tgid` if it is a git
 * ebguard vetted to write repository metadata, else 0.
 */
static __always_inline __u64 eg_git_writer_marks(__u32 tgid)
{
	const __u64 writer = EG_HELD_ANSWERED | EG_HELD_GIT_WRITER;
	__u64 *held = bpf_map_lookup_elem(&eg_held, &tgid);

	if (!held || (*held & writer) != writer)
		return 0;
	return *held & (EG_HELD_GIT_WRITER | EG_HELD_GIT_WORKTREE);
}

static __always_inline bool eg_is_git_writer(__u32 tgid)
{
	return eg_git_writer_marks(tgid) != 0;
}

/* Template of a session's own ring buffer (created by userspace, one per session). */
struct eg_session_ringbuf {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
};

/*
 * Session cgroup id -> that session's ring buffer. A standalone `ebguard run`
 * reads only its own session's events here, so concurrent sessions never
 * consume each other's; sessions without one report to eg_events.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct eg_session_ringbuf);
} eg_session_rbs SEC(".maps");

/*
 * Events dropped because their ring buffer was full, one __u64 per CPU (index 0).
 * A reader that falls behind loses events silently otherwise; this lets the daemon
 * say how many it never saw. Per CPU so the hot path never shares a cache line.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} eg_lost SEC(".maps");

/* Room for one event of `size` bytes on the session's channel; a failure is counted in eg_lost. */
static __always_inline void *eg_event_reserve(__u64 session_id, __u64 size)
{
	void *ring = bpf_map_lookup_elem(&eg_session_rbs, &session_id);
	__u32 zero = 0;
	__u64 *lost;
	void *ev;

	if (ring)
		ev = bpf_ringbuf_reserve(ring, size, 0);
	else
		ev = bpf_ringbuf_reserve(&eg_events, size, 0);
	if (!ev) {
		lost = bpf_map_lookup_elem(&eg_lost, &zero);
		/* Atomic: a program interrupting this one on the same CPU may count too. */
		if (lost)
			__sync_fetch_and_add(lost, 1);
	}
	return ev;
}

/* eg_event_reserve for an event a stopped task waits on (see eg_urgent). A session
 * with a ring of its own keeps using it: its reader does not batch. */
static __always_inline void *eg_event_reserve_urgent(__u64 session_id, __u64 size)
{
	void *ev;

	if (!bpf_map_lookup_elem(&eg_session_rbs, &session_id)) {
		ev = bpf_ringbuf_reserve(&eg_urgent, size, 0);
		if (ev)
			return ev;
	}
	return eg_event_reserve(session_id, size);
}

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

/*
 * Whether a deny or ask of the policy is carried out. In a shadow session
 * (EG_SESSION_SHADOW) every decision point reports it and lets the call through:
 * rules, defaults, the fail-closed reasons (unresolved or too long a path, a
 * policy not loaded: a shadow session learns that the enforced one would fail
 * there) and held execs alike. What keeps a session inside ebguard is not the
 * policy's to waive: tamper (lib/guard.h, tamper.bpf.c, contain.bpf.c, never
 * routed here) and another session's resolver port stay refused.
 */
static __always_inline bool eg_enforced(const struct eg_session *session, __u8 reason)
{
	return !(session->flags & EG_SESSION_SHADOW) || reason == EG_REASON_TAMPER || reason == EG_REASON_RESOLVER;
}

#endif /* EG_LIB_MAPS_H */
