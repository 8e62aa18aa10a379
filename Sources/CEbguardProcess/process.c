#define _GNU_SOURCE
#include "CEbguardProcess.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <malloc.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

/*
 * Leaves the capabilities not in `keep` out of every set a later exec draws from:
 * the bounding set (what a root exec gets), the inheritable and the ambient sets.
 * Runs before the ids change, while the child still holds CAP_SETPCAP.
 */
static int eg_limit_capabilities(unsigned long long keep)
{
	struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2];

	for (int cap = 0; cap < 64; cap++) {
		if (keep & (1ULL << cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
			if (errno == EINVAL)
				break;	/* past the kernel's last capability */
			return -1;
		}
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
		return -1;
	if (syscall(SYS_capget, &header, data) != 0)
		return -1;
	data[0].inheritable &= (unsigned int)keep;
	data[1].inheritable &= (unsigned int)(keep >> 32);
	return syscall(SYS_capset, &header, data) == 0 ? 0 : -1;
}

/* Runs in the child: only async-signal-safe calls from here to exec. */
static void eg_child(const struct eg_spawn_request *request, int report_fd)
{
	sigset_t none;
	int err;

	for (int signo = 1; signo < NSIG; signo++)
		signal(signo, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	if (request->cwd && chdir(request->cwd) != 0)
		goto fail;
	if (request->limit_caps && eg_limit_capabilities(request->keep_caps) != 0)
		goto fail;
	/*
	 * Raw system calls, not glibc's wrappers: those apply an id change to every thread
	 * glibc knows of (__nptl_setxid), and a child of clone3 inherits the parent's list
	 * of threads without the threads. A parent thread that was still starting when we
	 * cloned (another thread of ebguard run: the event printer) is waited for forever.
	 * This child has one thread, so the raw calls are the whole change.
	 */
	if (request->set_ids) {
		if (syscall(SYS_setgroups, request->group_count, request->groups) != 0)
			goto fail;
		if (syscall(SYS_setresgid, request->gid, request->gid, request->gid) != 0)
			goto fail;
		if (syscall(SYS_setresuid, request->uid, request->uid, request->uid) != 0)
			goto fail;
	}
	if (request->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		goto fail;
	/* Nothing but the terminal's three descriptors crosses into the agent. */
	if (report_fd > 3)
		syscall(SYS_close_range, 3, report_fd - 1, 0);
	syscall(SYS_close_range, report_fd + 1, ~0U, 0);
	execve(request->path, request->argv, request->envp);
fail:
	err = errno;
	(void)!write(report_fd, &err, sizeof(err));
	_exit(127);
}

pid_t eg_spawn(const struct eg_spawn_request *request)
{
	struct clone_args args;
	int report[2];
	int child_errno = 0;
	ssize_t got;
	pid_t pid;

	if (pipe2(report, O_CLOEXEC) != 0)
		return -errno;
	memset(&args, 0, sizeof(args));
	args.flags = CLONE_INTO_CGROUP;
	args.exit_signal = SIGCHLD;
	args.cgroup = (uint64_t)request->cgroup_fd;
	pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid < 0) {
		int err = errno;
		close(report[0]);
		close(report[1]);
		return -err;
	}
	if (pid == 0) {
		close(report[0]);
		eg_child(request, report[1]);
	}
	close(report[1]);
	/* EOF means exec succeeded (the pipe closed on exec); 4 bytes are the child's errno. */
	do {
		got = read(report[0], &child_errno, sizeof(child_errno));
	} while (got < 0 && errno == EINTR);
	close(report[0]);
	if (got == sizeof(child_errno)) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return -child_errno;
	}
	return pid;
}

static int eg_signal_fd = -1;

static void eg_signal_handler(int signo, siginfo_t *info, void *context)
{
	struct eg_signal_note note = { .signo = signo, .code = info->si_code, .pid = info->si_pid };
	int saved = errno;

	(void)context;
	(void)!write(eg_signal_fd, &note, sizeof(note));
	errno = saved;
}

int eg_signals_forward_to_pipe(const int *signals, size_t count, int write_fd)
{
	struct sigaction action;

	eg_signal_fd = write_fd;
	memset(&action, 0, sizeof(action));
	action.sa_sigaction = eg_signal_handler;
	action.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&action.sa_mask);
	for (size_t i = 0; i < count; i++) {
		if (sigaction(signals[i], &action, NULL) != 0)
			return -errno;
	}
	return 0;
}

int eg_peer_credentials(int fd, pid_t *pid, uid_t *uid, gid_t *gid)
{
	struct ucred credentials;
	socklen_t length = sizeof(credentials);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0)
		return -errno;
	*pid = credentials.pid;
	*uid = credentials.uid;
	*gid = credentials.gid;
	return 0;
}

void eg_release_free_memory(void)
{
	malloc_trim(0);
}

int eg_fix_malloc_thresholds(size_t bytes)
{
	/* Either call alone sets glibc's no_dyn_threshold; both, so that a threshold already
	 * raised by an earlier free keeps neither value. */
	int mmap_ok = mallopt(M_MMAP_THRESHOLD, (int)bytes);
	int trim_ok = mallopt(M_TRIM_THRESHOLD, (int)bytes);

	return mmap_ok == 1 && trim_ok == 1 ? 0 : -1;
}

int eg_pidfd_open(pid_t pid)
{
	long fd = syscall(SYS_pidfd_open, pid, 0);

	return fd < 0 ? -errno : (int)fd;
}

int eg_pidfd_send_signal(int pidfd, int sig)
{
	return syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0 ? -errno : 0;
}
