// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Load generators for `make bench` (bench/bench.py). Built static by the harness so the
 * same binary runs on the host and, from a tmpfs copy, in the VM.
 *
 * Two ways to run it:
 *   loops CMD ARGS...   one command; prints its reply line
 *   loops serve         a worker: reads one command per line on stdin, replies one line
 *                       on stdout. The harness keeps one worker per configuration (direct,
 *                       under `ebguard run` with each policy, under strace, under bwrap) and
 *                       sends them the same commands in rotating order, so a policy is
 *                       compiled once and every round compares configurations side by side.
 *   loops listen PORT   a loopback TCP listener that accepts and closes (for `connect`).
 *   loops ulisten PATH...  Unix socket servers outside any session (for `uconnect`, `usend`):
 *                       a stream listener that accepts and closes at each PATH, but a datagram
 *                       socket that reads and drops at a PATH ending in ".dgram"
 *   loops               exits 0 at once: the static program the exec benchmarks start.
 *
 * Commands (reply "ok NS_PER_OP OPS" or "err MESSAGE"):
 *   open PATH N          open(O_RDONLY) + close, N times
 *   openfirst DIR N      open(O_RDONLY) + close of N new files in DIR, each once (made
 *                        with mknod and removed afterwards, untimed)
 *   walk DIR N           N walks of DIR: readdir + fstatat(AT_SYMLINK_NOFOLLOW) of every entry;
 *                        ns per entry
 *   exec PATH N          fork + execve(PATH) + waitpid, N times
 *   connect PORT N       TCP connect to 127.0.0.1:PORT + close with RST (no TIME_WAIT), N times
 *   udp PORT N           sendto 127.0.0.1:PORT (16 bytes, unconnected socket), N times
 *   udprate PORT N RATE  N paced sendto calls at RATE per second (0: as fast as possible);
 *                        reply "ok NS_PER_OP N ACHIEVED_PER_SECOND"
 *   uconnrate PORT N RATE  the same with connect() of a UDP socket: the connect4 hook
 *                        without sending a packet, the cheapest event source
 *   denyrate ADDR PORT N RATE [SPAN]  N connect() calls of a UDP socket to ADDR:PORT that a
 *                        policy denies (one event each), paced without spinning: the generator
 *                        sleeps until the next batch is due, so on a small machine it leaves
 *                        the CPU to the reader it measures. RATE 0: as fast as possible. SPAN:
 *                        call i goes to port PORT + i % SPAN (default 1: all to PORT), so
 *                        the denials differ and none is a repeat of another.
 *                        Reply "ok NS_PER_OP N ACHIEVED_PER_SECOND DENIED"
 *   uconnect PATH N      Unix stream connect to PATH + close, N times (lsm/unix_stream_connect)
 *   usend PATH N         sendto PATH (16 bytes, unconnected Unix datagram socket), N times
 *                        (lsm/unix_may_send)
 *   run N CMD ARGS...    fork + execvp(CMD) + waitpid, N times, output to /dev/null; any
 *                        non-zero status is an error
 *   rss                  "ok KB" (this process's VmRSS), for sanity
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ARGS 64

static char reply[512];

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int fail(const char *what)
{
	snprintf(reply, sizeof(reply), "err %s: %s", what, strerror(errno));
	return -1;
}

static int done_in(uint64_t elapsed_ns, long ops)
{
	snprintf(reply, sizeof(reply), "ok %.1f %ld", (double)elapsed_ns / (ops > 0 ? ops : 1), ops);
	return 0;
}

static int done(uint64_t start, long ops)
{
	return done_in(now_ns() - start, ops);
}

static int do_open(const char *path, long n)
{
	uint64_t start = now_ns();

	for (long i = 0; i < n; i++) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);

		if (fd < 0)
			return fail("open");
		close(fd);
	}
	return done(start, n);
}

/*
 * open+close of N files made for it (mknod, untimed, so nothing opened them yet), each
 * once: opens of dentries and inodes no earlier open has walked.
 */
static void first_path(char *path, size_t size, const char *dir, long i)
{
	snprintf(path, size, "%s/first-%d-%ld", dir, (int)getpid(), i);
}

static int do_open_first(const char *dir, long n)
{
	char path[4096];
	uint64_t start, elapsed;
	long made, i;
	int rc = 0;

	for (made = 0; made < n; made++) {
		first_path(path, sizeof(path), dir, made);
		if (mknod(path, S_IFREG | 0644, 0) < 0) {
			rc = fail("mknod");
			break;
		}
	}
	start = now_ns();
	for (i = 0; i < made && !rc; i++) {
		int fd;

		/* Naming the file is in the loop for both sides alike: a few percent of a VM open. */
		first_path(path, sizeof(path), dir, i);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			rc = fail("open");
			break;
		}
		close(fd);
	}
	elapsed = now_ns() - start;
	for (i = 0; i < made; i++) {
		first_path(path, sizeof(path), dir, i);
		unlink(path);
	}
	return rc ? rc : done_in(elapsed, n);
}

/* One recursive pass; returns the number of entries stat'ed, or -1. */
static long walk_dir(int dirfd)
{
	DIR *dir = fdopendir(dirfd);
	struct dirent *de;
	struct stat st;
	long count = 0;

	if (!dir)
		return -1;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			closedir(dir);
			return -1;
		}
		count++;
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			long inner = sub < 0 ? -1 : walk_dir(sub);

			if (inner < 0) {
				closedir(dir);
				return -1;
			}
			count += inner;
		}
	}
	closedir(dir);
	return count;
}

static int do_walk(const char *path, long n)
{
	uint64_t start = now_ns();
	long total = 0;

	for (long i = 0; i < n; i++) {
		int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		long count = fd < 0 ? -1 : walk_dir(fd);

		if (count < 0)
			return fail("walk");
		total += count;
	}
	return done(start, total);
}

static int spawn_wait(char *const argv[], int quiet)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return fail("fork");
	if (pid == 0) {
		if (quiet) {
			int null = open("/dev/null", O_WRONLY);

			dup2(null, 1);
			dup2(null, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return fail("waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		snprintf(reply, sizeof(reply), "err %s exited with status 0x%x", argv[0], status);
		return -1;
	}
	return 0;
}

static int do_exec(const char *path, long n)
{
	char *argv[] = { (char *)path, NULL };
	uint64_t start = now_ns();

	for (long i = 0; i < n; i++)
		if (spawn_wait(argv, 0) < 0)
			return -1;
	return done(start, n);
}

static int do_run(long n, char **argv)
{
	uint64_t start = now_ns();

	for (long i = 0; i < n; i++)
		if (spawn_wait(argv, 1) < 0)
			return -1;
	return done(start, n);
}

static struct sockaddr_in loopback(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sa;
}

static int do_connect(int port, long n)
{
	struct sockaddr_in sa = loopback(port);
	struct linger rst = { .l_onoff = 1, .l_linger = 0 };
	uint64_t start = now_ns();

	for (long i = 0; i < n; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return fail("socket");
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			close(fd);
			return fail("connect");
		}
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
		close(fd);
	}
	return done(start, n);
}

/*
 * rate 0: as fast as possible. Pacing spins on the clock, so it costs no syscalls.
 * use_connect: connect() the UDP socket instead of sending (the connect4 hook, no packet).
 * A receiver bound to the port in this process (never read) keeps the kernel from
 * answering every datagram with an ICMP port unreachable.
 */
static int do_udp(int port, long n, double rate, int use_connect)
{
	struct sockaddr_in sa = loopback(port);
	char payload[16] = "ebguard-bench";
	uint64_t start, gap = rate > 0 ? (uint64_t)(1e9 / rate) : 0, next;
	int small = 4096, rx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || rx < 0)
		return fail("socket");
	setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	bind(rx, (struct sockaddr *)&sa, sizeof(sa));	/* may be taken by another worker: fine */
	start = next = now_ns();
	for (long i = 0; i < n; i++) {
		if (gap) {
			while (now_ns() < next)
				;
			next += gap;
		}
		if (use_connect) {
			if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
				close(fd);
				close(rx);
				return fail("connect");
			}
			continue;
		}
		/* A full receive buffer drops the datagram after the hook ran; sendto still succeeds. */
		if (sendto(fd, payload, sizeof(payload), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
		    errno != ENOBUFS && errno != EAGAIN && errno != ECONNREFUSED) {
			close(fd);
			close(rx);
			return fail("sendto");
		}
	}
	close(fd);
	close(rx);
	{
		uint64_t elapsed = now_ns() - start;

		snprintf(reply, sizeof(reply), "ok %.1f %ld %.0f", (double)elapsed / (n ? n : 1), n,
			 elapsed ? n * 1e9 / elapsed : 0.0);
	}
	return 0;
}

/*
 * Paced in batches: before each connect the generator catches up to what the clock says is
 * due; when it is ahead it sleeps until the next event is due, at least 250 us, so a paced
 * run costs the generator little CPU (at 10,000/s: bursts of 2-3 connects every 250 us).
 */
static int do_deny(const char *addr, int port, long n, double rate, long span)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	uint64_t start, elapsed;
	long denied = 0;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return fail("socket");
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		close(fd);
		snprintf(reply, sizeof(reply), "err bad IPv4 address %s", addr);
		return -1;
	}
	start = now_ns();
	for (long i = 0; i < n; i++) {
		if (rate > 0) {
			uint64_t due = start + (uint64_t)(i * 1e9 / rate), now = now_ns();

			if (due > now) {
				uint64_t until = due > now + 250000 ? due : now + 250000;
				struct timespec ts = { .tv_sec = until / 1000000000ull, .tv_nsec = until % 1000000000ull };

				clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
			}
		}
		sa.sin_port = htons(port + (span > 1 ? i % span : 0));
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			continue;
		if (errno != EPERM && errno != EACCES) {
			close(fd);
			return fail("connect");
		}
		denied++;
	}
	close(fd);
	elapsed = now_ns() - start;
	snprintf(reply, sizeof(reply), "ok %.1f %ld %.0f %ld", (double)elapsed / (n ? n : 1), n,
		 elapsed ? n * 1e9 / elapsed : 0.0, denied);
	return 0;
}

static int unix_address(const char *path, struct sockaddr_un *sa, socklen_t *len)
{
	size_t n = strlen(path);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (n >= sizeof(sa->sun_path)) {
		snprintf(reply, sizeof(reply), "err Unix socket path too long: %s", path);
		return -1;
	}
	memcpy(sa->sun_path, path, n);
	*len = offsetof(struct sockaddr_un, sun_path) + n + 1;
	return 0;
}

static int do_uconnect(const char *path, long n)
{
	struct sockaddr_un sa;
	socklen_t len;
	uint64_t start;

	if (unix_address(path, &sa, &len) < 0)
		return -1;
	start = now_ns();
	for (long i = 0; i < n; i++) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return fail("socket");
		if (connect(fd, (struct sockaddr *)&sa, len) < 0) {
			close(fd);
			return fail("connect");
		}
		close(fd);
	}
	return done(start, n);
}

/* The receiver (loops ulisten) drains; when it falls behind, sendto waits for room. */
static int do_usend(const char *path, long n)
{
	char payload[16] = "ebguard-bench";
	struct sockaddr_un sa;
	socklen_t len;
	uint64_t start;
	int fd;

	if (unix_address(path, &sa, &len) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail("socket");
	start = now_ns();
	for (long i = 0; i < n; i++) {
		if (sendto(fd, payload, sizeof(payload), 0, (struct sockaddr *)&sa, len) < 0) {
			close(fd);
			return fail("sendto");
		}
	}
	close(fd);
	return done(start, n);
}

static int do_rss(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return fail("/proc/self/status");
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6)) {
			snprintf(reply, sizeof(reply), "ok %ld", strtol(line + 6, NULL, 10));
			fclose(f);
			return 0;
		}
	fclose(f);
	snprintf(reply, sizeof(reply), "err no VmRSS");
	return -1;
}

static int command(int argc, char **argv)
{
	const char *cmd = argc ? argv[0] : "";

	reply[0] = 0;
	if (!strcmp(cmd, "open") && argc == 3)
		return do_open(argv[1], atol(argv[2]));
	if (!strcmp(cmd, "openfirst") && argc == 3)
		return do_open_first(argv[1], atol(argv[2]));
	if (!strcmp(cmd, "walk") && argc == 3)
		return do_walk(argv[1], atol(argv[2]));
	if (!strcmp(cmd, "exec") && argc == 3)
		return do_exec(argv[1], atol(argv[2]));
	if (!strcmp(cmd, "connect") && argc == 3)
		return do_connect(atoi(argv[1]), atol(argv[2]));
	if (!strcmp(cmd, "udp") && argc == 3)
		return do_udp(atoi(argv[1]), atol(argv[2]), 0, 0);
	if (!strcmp(cmd, "udprate") && argc == 4)
		return do_udp(atoi(argv[1]), atol(argv[2]), atof(argv[3]), 0);
	if (!strcmp(cmd, "uconnrate") && argc == 4)
		return do_udp(atoi(argv[1]), atol(argv[2]), atof(argv[3]), 1);
	if (!strcmp(cmd, "denyrate") && (argc == 5 || argc == 6))
		return do_deny(argv[1], atoi(argv[2]), atol(argv[3]), atof(argv[4]), argc == 6 ? atol(argv[5]) : 1);
	if (!strcmp(cmd, "uconnect") && argc == 3)
		return do_uconnect(argv[1], atol(argv[2]));
	if (!strcmp(cmd, "usend") && argc == 3)
		return do_usend(argv[1], atol(argv[2]));
	if (!strcmp(cmd, "run") && argc >= 3)
		return do_run(atol(argv[1]), argv + 2);
	if (!strcmp(cmd, "rss") && argc == 1)
		return do_rss();
	snprintf(reply, sizeof(reply), "err unknown command or wrong arguments: %s", cmd);
	return -1;
}

static int listen_forever(int port)
{
	struct sockaddr_in sa = loopback(port);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return perror("socket"), 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4096) < 0)
		return perror("bind/listen"), 1;
	printf("listening %d\n", port);
	fflush(stdout);
	for (;;) {
		int c = accept(fd, NULL, NULL);

		if (c >= 0)
			close(c);
	}
}

#define MAX_UNIX_SERVERS 8

static int unix_listen_forever(int count, char **paths)
{
	struct pollfd fds[MAX_UNIX_SERVERS];
	char sink[256];

	if (count > MAX_UNIX_SERVERS)
		return fprintf(stderr, "ulisten: at most %d paths\n", MAX_UNIX_SERVERS), 1;
	for (int i = 0; i < count; i++) {
		size_t n = strlen(paths[i]);
		int dgram = n > 6 && !strcmp(paths[i] + n - 6, ".dgram");
		struct sockaddr_un sa;
		socklen_t len;

		if (unix_address(paths[i], &sa, &len) < 0)
			return fprintf(stderr, "%s\n", reply), 1;
		fds[i].fd = socket(AF_UNIX, (dgram ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
		fds[i].events = POLLIN;
		unlink(paths[i]);
		if (fds[i].fd < 0 || bind(fds[i].fd, (struct sockaddr *)&sa, len) < 0 ||
		    (!dgram && listen(fds[i].fd, 4096) < 0))
			return perror(paths[i]), 1;
	}
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		if (poll(fds, count, -1) < 0)
			continue;
		for (int i = 0; i < count; i++) {
			int c;

			if (!(fds[i].revents & POLLIN))
				continue;
			/* A stream listener's fd is readable when a connection waits; a datagram one's when data does. */
			c = accept4(fds[i].fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (c >= 0)
				close(c);
			else
				while (recv(fds[i].fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
					;
		}
	}
}

static int serve(void)
{
	char line[4096];

	while (fgets(line, sizeof(line), stdin)) {
		char *args[MAX_ARGS], *save = NULL, *tok;
		int argc = 0;

		for (tok = strtok_r(line, " \t\n", &save); tok && argc < MAX_ARGS - 1;
		     tok = strtok_r(NULL, " \t\n", &save))
			args[argc++] = tok;
		args[argc] = NULL;
		if (argc == 1 && !strcmp(args[0], "quit"))
			break;
		command(argc, args);
		printf("%s\n", reply);
		fflush(stdout);
	}
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc == 2 && !strcmp(argv[1], "serve"))
		return serve();
	if (argc == 3 && !strcmp(argv[1], "listen"))
		return listen_forever(atoi(argv[2]));
	if (argc >= 3 && !strcmp(argv[1], "ulisten"))
		return unix_listen_forever(argc - 2, argv + 2);
	/* No arguments: a static no-op program, for the exec benchmarks (copied as true-static, git). */
	if (argc < 2)
		return 0;
	int rc = command(argc - 1, argv + 1);

	printf("%s\n", reply);
	return rc < 0 ? 1 : 0;
}
