#ifndef CEBGUARD_PROCESS_H
#define CEBGUARD_PROCESS_H
/*
 * Process plumbing Swift cannot do safely: code that runs in a child between
 * clone and exec must be async-signal-safe, and signal handlers must be C.
 */
#include <stddef.h>
#include <sys/types.h>

struct eg_spawn_request {
	const char *path;		/* absolute path of the program */
	char *const *argv;		/* NULL-terminated */
	char *const *envp;		/* NULL-terminated */
	const char *cwd;		/* NULL: inherit */
	int cgroup_fd;			/* the child starts life in this cgroup (CLONE_INTO_CGROUP) */
	int set_ids;			/* switch to uid/gid/groups below */
	uid_t uid;
	gid_t gid;
	const gid_t *groups;
	size_t group_count;
	int no_new_privs;		/* PR_SET_NO_NEW_PRIVS before exec */
	int limit_caps;			/* keep only keep_caps in the bounding, inheritable and ambient sets */
	unsigned long long keep_caps;	/* bit N: capability N (CAP_CHOWN is 0) */
};

/*
 * Starts the program in its cgroup from its first instruction (clone3 with
 * CLONE_INTO_CGROUP: no window where it runs elsewhere), with every descriptor
 * but 0, 1 and 2 closed and default signal dispositions. Returns the pid, or
 * -errno when clone3 or, in the child, anything up to and including exec failed.
 */
pid_t eg_spawn(const struct eg_spawn_request *request);

/* What the signal handler recorded, written whole to the notification pipe. */
struct eg_signal_note {
	int signo;
	int code;	/* si_code: SI_USER from kill(2), SI_KERNEL from the terminal... */
	pid_t pid;	/* sender for SI_USER */
};

/* Installs a handler for each signal that writes an eg_signal_note to write_fd (non-blocking pipe). */
int eg_signals_forward_to_pipe(const int *signals, size_t count, int write_fd);

/* SO_PEERCRED of a connected Unix socket (struct ucred needs _GNU_SOURCE, which
 * Swift's Glibc module does not define). Returns 0 or -errno. */
int eg_peer_credentials(int fd, pid_t *pid, uid_t *uid, gid_t *gid);

/* Hands the memory malloc holds free back to the kernel (malloc_trim(0); Swift's Glibc
 * module has no malloc.h). */
void eg_release_free_memory(void);

/* Fixes malloc's mmap and trim thresholds at `bytes` (mallopt M_MMAP_THRESHOLD and
 * M_TRIM_THRESHOLD), which turns off glibc's dynamic threshold. Returns 0, or -1 when
 * mallopt refused a value. */
int eg_fix_malloc_thresholds(size_t bytes);

/* pidfd_open(2) and pidfd_send_signal(2) (glibc 2.36 has wrappers, Swift's Glibc module does
 * not import <sys/pidfd.h>). Return a descriptor / 0, or -errno. */
int eg_pidfd_open(pid_t pid);
int eg_pidfd_send_signal(int pidfd, int sig);

#endif
