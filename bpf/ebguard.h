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

#define EG_ABI_VERSION 3

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
	EG_EVENT_UNIX = 6,	/* a Unix socket connect was decided */
	EG_EVENT_TAMPER = 7,	/* a session reached for ebguard itself or outside itself */
	EG_EVENT_PROCESS_EXEC = 8,	/* a governed task exec'd (observation, no verdict) */
	EG_EVENT_PROCESS_FORK = 9,	/* a governed task forked a new process */
	EG_EVENT_PROCESS_EXIT = 10,	/* a governed process exited (its last thread) */
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

/* ---- Enforcement (policy v1) ---------------------------------------------- */

/* No rule for this access: fall through to a less specific match or the default. */
#define EG_VERDICT_NONE 0xff
/* Rule index meaning "the domain's default decided"; so a domain holds at most
 * 65,535 rules (0..65,534), which the policy compiler checks. */
#define EG_RULE_DEFAULT 0xffff

/* Map capacities (keys), all sessions together. Here so the policy compiler can
 * refuse a policy that alone would not fit, naming the limit. */
#define EG_PATH_RULES_MAX 65536		/* eg_path_rules */
#define EG_NET_MAX_PREFIXES 65536	/* eg_net4_rules and eg_net6_rules, each */
#define EG_UNIX_RULES_MAX 16384		/* eg_unix_rules */

/* Access kinds, as bit numbers; masks are (1 << kind). */
enum eg_access {
	EG_ACCESS_READ = 0,
	EG_ACCESS_WRITE = 1,	/* open for writing, truncate */
	EG_ACCESS_CREATE = 2,
	EG_ACCESS_DELETE = 3,	/* unlink, rmdir, the source of a rename */
	EG_ACCESS_RENAME = 4,
	EG_ACCESS_CHMOD = 5,
	EG_ACCESS_EXEC = 6,
	EG_ACCESS_KINDS = 7,
};

enum eg_domain {
	EG_DOMAIN_EXEC = 0,
	EG_DOMAIN_FILE = 1,
	EG_DOMAIN_NET = 2,
	/* `unix:` patterns, as path rules in eg_path_rules (lib/unix_match.h); only a key's
	 * domain: their default is default_verdict[EG_DOMAIN_NET], which has no [3]. */
	EG_DOMAIN_UNIX = 3,
	/* Rename guards: patterns a directory rename is also judged by, never an open or an
	 * exec (lib/path_ancestor.h); keyed like file patterns, no default. */
	EG_DOMAIN_RENAME = 4,
};
/* The access kind of a Unix connect or datagram send in EG_DOMAIN_UNIX keys: the kernel
 * asks for write permission on a socket's inode to connect to it. (An enum: Swift imports
 * it, not a macro naming another constant.) */
enum { EG_UNIX_ACCESS = EG_ACCESS_WRITE };

/* Why a decision came out as it did. */
enum eg_reason {
	EG_REASON_RULE = 0,		/* a rule matched */
	EG_REASON_DEFAULT = 1,		/* no rule: the domain's default */
	EG_REASON_UNRESOLVED = 2,	/* path could not be resolved: fail closed */
	EG_REASON_TOO_LONG = 3,		/* path longer than EG_PATH_MAX: fail closed */
	EG_REASON_NO_POLICY = 4,	/* session without policy entry: fail closed */
	EG_REASON_TAMPER = 5,		/* the session tried to leave or disarm ebguard */
	EG_REASON_HELD = 6,		/* exec allowed but stopped (SIGSTOP): userspace checks argv */
	EG_REASON_OBSERVED = 7,		/* seen by a tracepoint on a degraded kernel: not decided */
	EG_REASON_ANSWERED = 8,		/* an operator's answer to an ask rule decided (eg_*_answers) */
	EG_REASON_SOCKET = 9,		/* a socket no address rule can judge (raw, packet, SCTP, ...): EG_UNIX_LEN_SOCKETS */
	EG_REASON_HOST = 10,		/* a host rule decided, through a live answer of the session's resolver (host_id) */
	EG_REASON_RESOLVER = 11,	/* another session's resolver port: a session talks to its own only */
	EG_REASON_UNHELD = 12,		/* shadow mode: an exec argv/ask rules would hold, left running; userspace judges its argv */
	EG_REASON_VETTED_GIT = 13,	/* a `unless: git` deny yielded to a git ebguard vetted (EG_HELD_GIT_WRITER): audited */
};

/* Value of eg_sessions, keyed by the session cgroup's id (a __u64). */
struct eg_session {
	__u32 policy_id;
	__u8 default_verdict[3];	/* indexed by enum eg_domain */
	__u8 flags;			/* EG_SESSION_* */
	__u16 dns_port;			/* the session's resolver on 127.0.0.1 and ::1 (host order); 0: none */
	__u16 _pad[3];
};
#define EG_SESSION_AUDIT_ALLOWS 0x1	/* also report allowed accesses (observe mode) */
#define EG_SESSION_PROCESS_EVENTS 0x2	/* report process life (process.bpf.c): the daemon's sessions */
#define EG_SESSION_FILE_EXEC 0x4	/* file `exec` kind can refuse: judge executable mappings (file.bpf.c) */
/* Shadow mode: a policy's deny and ask are reported (verdict deny/ask, ret 0), not carried
 * out; self-protection stays enforced (lib/maps.h eg_enforced). */
#define EG_SESSION_SHADOW 0x8
/* The policy has `unix:` patterns: after eg_unix_rules (exact names, subtrees), the path
 * matcher looks them up in eg_path_rules, domain EG_DOMAIN_UNIX (lib/unix_match.h). */
#define EG_SESSION_UNIX_PATTERNS 0x10
/* The policy's file patterns have rename guards, star roots or guard roots: directory
 * and symlink renames, symlinks and links to them consult them (lib/path_ancestor.h);
 * the EG_DOMAIN_RENAME marker must then exist. */
#define EG_SESSION_RENAME_GUARDS 0x20

enum eg_path_kind {
	EG_PATH_EXACT = 1,	/* /etc/shadow */
	EG_PATH_SUBTREE = 2,	/* "/dir/ **": /dir and all below; "" (len 0) is the root */
	EG_PATH_NAME = 3,	/* a final component: .env */
	EG_PATH_LOADED = 4,	/* marker, path "" (len 0): every rule of this (policy, domain) is in */
	EG_PATH_ANCESTOR = 5,	/* a directory with exact/subtree file rules below it: their verdicts, for renames */
	EG_PATH_GLOB_DIR = 6,	/* a pattern's literal directory ("" the root); value struct eg_path_glob */
	EG_PATH_GLOB_NAME = 7,	/* a literal component after a pattern's `**`; value struct eg_path_glob */
	EG_PATH_GLOB_PREFIX = 8,	/* the literal start of a pattern's final `pre*suf` ("id_" of id_*) */
	EG_PATH_GLOB_SUFFIX = 9,	/* its literal end (".pem" of *.pem), hashed backwards */
	EG_PATH_STAR_ROOT = 10,	/* a pattern's head where a `**` follows it: for directory renames across it */
	EG_PATH_GUARD_ROOT = 11,	/* a head whose rename guards had no room: for every directory rename below it */
};

/*
 * Key of eg_path_rules: one path string of one kind, for one policy and domain,
 * named by its length and hash; the string itself is in the value. The map hashes
 * the whole key on every lookup and a matcher looks up several per decision, so the
 * key stays 16 bytes rather than carrying the path (264 bytes cost ~5x the hook).
 */
struct eg_path_key {
	__u32 policy_id;
	__u8 domain;		/* EG_DOMAIN_EXEC, _FILE, _UNIX or _RENAME */
	__u8 kind;		/* enum eg_path_kind */
	__u16 len;		/* bytes of the path */
	__u64 hash;		/* eg_path_hash() of those bytes */
};

/*
 * Value of eg_path_rules: the merged verdict per access kind for that key, and the
 * key's path. The kernel compares the path on every hit, so a path whose hash
 * collides with a rule's (the governed program names its own files) costs a
 * compare, never a verdict. Two keys of one policy cannot collide: the policy
 * compiler refuses them.
 */
struct eg_path_rule {
	__u8 verdict[8];	/* by enum eg_access; EG_VERDICT_NONE where no rule */
	__u16 rule[8];		/* rule index within its domain (file[N], exec[N]) */
	__u32 flags;		/* EG_PATH_RULE_* */
	__u32 _pad;
	char path[EG_PATH_MAX];	/* the key's len bytes, no NUL; the rest is zero */
};
#define EG_PATH_RULE_ARGV 0x1	/* hold the exec for userspace (argv rules and ask rules) */
/*
 * In eg_path_rule.verdict only (file rules with `unless: git`): deny, except to a
 * process ebguard vetted at exec as git with a command line that cannot write a
 * setting which runs code (EG_HELD_GIT_WRITER); that process is audited instead.
 * Weaker than a plain deny of the same rank, stronger than ask.
 */
#define EG_VERDICT_DENY_UNLESS_GIT 4

/*
 * Value of an EG_PATH_LOADED marker (it shares eg_path_rules, so it has the layout
 * of an eg_path_rule): bit L is set when the (policy, domain) has a key of any kind
 * whose path is L bytes long. The matcher looks up only lengths with a key: a
 * policy has keys at a few dozen lengths, while a path's prefixes, its exact form
 * and its name are looked up at up to a dozen, most of which then cost nothing.
 */
struct eg_path_lengths {
	__u64 bits[EG_PATH_MAX / 64];		/* EXACT, SUBTREE and NAME keys */
	__u64 glob_dir_bits[EG_PATH_MAX / 64];	/* EG_PATH_GLOB_DIR keys */
	__u64 glob_name_bits[EG_PATH_MAX / 64];	/* EG_PATH_GLOB_NAME keys */
	__u64 glob_prefix_bits;			/* EG_PATH_GLOB_PREFIX keys (lengths 1..EG_AFFIX_MAX) */
	__u64 glob_suffix_bits;			/* EG_PATH_GLOB_SUFFIX keys */
	char _unused[EG_PATH_MAX - 80];		/* never read */
};

/*
 * Patterns (`*` within a component, `**` as a whole component): lib/path_match.h.
 * A pattern is its literal head (the components before the first one with a
 * wildcard, text[0, head)), then at most EG_GLOB_TOKENS component tests. Several
 * patterns on one anchor key take the key's hash + 0, + 1, ... (EG_GLOB_CHAIN).
 */
#define EG_GLOB_TOKENS 16
#define EG_GLOB_TEXT 188
#define EG_GLOB_CHAIN 8
/*
 * A pattern whose final component is `pre*suf` may be keyed by pre (GLOB_PREFIX) or by suf
 * (GLOB_SUFFIX, its bytes hashed last to first) instead: the kernel hashes the path's final
 * component from each end once and looks up only the lengths some key has. At most
 * EG_AFFIX_LENGTHS lengths per side and domain, each at most EG_AFFIX_MAX bytes.
 */
#define EG_AFFIX_MAX 63
#define EG_AFFIX_LENGTHS 8
#define EG_RANK_EXACT 511	/* above any count of literal bytes (paths are < EG_PATH_MAX) */
enum eg_glob_kind {
	EG_GLOB_LIT = 1,	/* the component is text[off, off + pre) */
	EG_GLOB_STAR = 2,	/* >= pre + suf bytes: text[off, off + pre) then anything then text[off + pre, off + pre + suf) */
	EG_GLOB_ANY = 3,	/* `**`: zero or more components; pre: 1 when the segment after it is the last, suf: its tokens */
};
struct eg_glob_tok {
	__u8 kind;		/* enum eg_glob_kind */
	__u8 off;
	__u8 pre;
	__u8 suf;
};
/* Value of GLOB_* keys; shares eg_path_rules, so the first 28 bytes are an eg_path_rule's. */
struct eg_path_glob {
	__u8 verdict[8];
	__u16 rule[8];
	__u32 flags;		/* EG_PATH_RULE_* */
	__u16 rank;		/* precedence: bytes before the first '*' (0 for `name:`) */
	__u8 head;		/* bytes of the literal head at text[0] ("" or "/a/b") */
	__u8 ntok;		/* tokens after the head */
	struct eg_glob_tok tok[EG_GLOB_TOKENS];
	__u8 hdepth;		/* components in the head */
	__u8 _pad[3];
	char text[EG_GLOB_TEXT];
};

/*
 * The hash in struct eg_path_key: 64-bit FNV-1a over the path's bytes. One byte per
 * step, so the kernel gets the hash of every prefix of a path in one pass
 * (path_match.h); userspace calls eg_path_hash() (Swift too, through this header).
 * The unit tests pin known vectors; the VM suites fail if the kernel disagrees.
 */
#define EG_PATH_HASH_SEED 0xcbf29ce484222325ULL
#define EG_PATH_HASH_PRIME 0x100000001b3ULL

#ifndef __bpf__
static inline __u64 eg_path_hash(const void *path, __u32 len)
{
	const unsigned char *p = (const unsigned char *)path;
	__u64 h = EG_PATH_HASH_SEED;
	__u32 i;

	for (i = 0; i < len; i++)
		h = (h ^ p[i]) * EG_PATH_HASH_PRIME;
	return h;
}
#endif

/* Network: LPM keys; the policy id is matched in full (32 bits) before the address bits. */
struct eg_net4_key {
	__u32 prefixlen;	/* 32 + CIDR prefix length */
	__u32 policy_id;
	__u8 addr[4];
};

struct eg_net6_key {
	__u32 prefixlen;	/* 32 + CIDR prefix length */
	__u32 policy_id;
	__u8 addr[16];
};

struct eg_net_rule {
	__u16 port_lo;		/* host order; 0-65535 for "any port" */
	__u16 port_hi;
	__u8 protocol;		/* 0 any, 6 tcp, 17 udp */
	__u8 verdict;
	__u16 rule;		/* network[N] */
};

#define EG_NET_RULES_MAX 16
/* Value of the LPM maps: every rule whose CIDR covers this prefix, most specific first,
 * then by verdict (deny > ask > audit > allow). Userspace pushes shorter prefixes' rules
 * down into longer ones, so one LPM lookup finds every candidate. */
struct eg_net_rules {
	__u32 count;
	__u32 _pad;
	struct eg_net_rule rules[EG_NET_RULES_MAX];
};

#define EG_UNIX_PATH_MAX 108
/* eg_unix_key.len flags. SUBTREE: path is a directory, the key matches every socket
 * below it ("" is the root). SOCKETS: the one key per policy (path empty) whose value
 * decides sockets no address rule can judge (lib/sock_match.h). */
#define EG_UNIX_LEN_SUBTREE 0x80000000u
#define EG_UNIX_LEN_SOCKETS 0x40000000u
struct eg_unix_key {
	__u32 policy_id;
	__u32 len;
	char path[EG_UNIX_PATH_MAX];
};

/* EG_EVENT_EXEC, EG_EVENT_FILE: a decision on a path. */
struct eg_path_event {
	struct eg_event_header hdr;
	struct eg_task task;
	__u64 session_id;	/* the session cgroup's id */
	__u32 policy_id;
	__u32 access;		/* mask of (1 << enum eg_access) */
	__s32 ret;		/* what the hook returned: 0 or -errno */
	__u16 rule;		/* rule index, or EG_RULE_DEFAULT */
	__u8 verdict;		/* enum eg_verdict */
	__u8 reason;		/* enum eg_reason */
	__u32 path_len;		/* bytes of path, NUL included; 0 if unresolved */
	__u32 device;		/* the object's inode: its sb->s_dev (see eg_file_answer_key) */
	char path[EG_PATH_MAX];
	__u64 inode;		/* i_ino; 0 when the object does not exist yet (create) */
};

/*
 * Answers to `ask` rules (interactive decisions), written by the daemon when an operator
 * answers, read by the file and network hooks whenever a rule says ask: the retry gets
 * the human's verdict instead of the ask. Exec asks are held (SIGSTOP) and answered in
 * userspace, so they need no map.
 */
struct eg_answer {
	__u8 verdict;		/* EG_VERDICT_ALLOW or EG_VERDICT_DENY */
	__u8 once;		/* 1: the first access it decides consumes it (the hook deletes it) */
	__u8 _pad[6];
	__u64 expires_ns;	/* bpf_ktime_get_boot_ns() deadline; 0: until the session ends */
};

/* Bound to the object the kernel resolved, not to a path: a symlink swapped after the
 * answer gains nothing. `device` is the kernel's internal dev_t, MKDEV(major, minor) =
 * major << 20 | minor (stat(2)'s st_dev encodes it differently). */
struct eg_file_answer_key {
	__u64 session_id;
	__u64 inode;
	__u32 device;
	__u32 access;		/* one enum eg_access (a bit number, not a mask) */
};

struct eg_net_answer_key {
	__u64 session_id;
	__u8 family;		/* AF_INET (IPv4-mapped IPv6 included) or AF_INET6 */
	__u8 protocol;		/* 6 tcp, 17 udp */
	__u16 port;		/* host order */
	__u32 _pad;
	__u8 addr[16];		/* v4 in the first 4 bytes, the rest zero */
};

/*
 * eg_hosts: the addresses a session's resolver answered for names its host rules allow,
 * with those rules (lib/sock_addr.h). Written by userspace before the answer reaches the
 * client; an entry past expires_ns is ignored (userspace sweeps it).
 */
#define EG_HOSTS_MAX 65536
struct eg_host_key {
	__u64 session_id;
	__u8 family;		/* AF_INET (mapped v6 included) or AF_INET6 */
	__u8 _pad[7];
	__u8 addr[16];		/* v4 in the first 4 bytes, the rest zero */
};

struct eg_host_allowance {
	__u64 expires_ns;	/* bpf_ktime_get_boot_ns() deadline: TTL plus grace */
	__u32 host_id;		/* the name answered last, for the event */
	__u32 _pad;
	struct eg_net_rules rules;	/* the names' rules, deny > ask > audit > allow, then rule index */
};

/* eg_dns_origins: where a redirected DNS socket meant to go, so replies seem to come from there. */
struct eg_dns_origin {
	__u32 addr[4];		/* as the caller gave it: user_ip4 in addr[0], or user_ip6 */
	__u16 port;		/* network order, as the caller gave it */
	__u16 resolver_port;	/* network order: the resolver it was sent to */
	__u32 _pad;
};

/* EG_EVENT_NET, EG_EVENT_UNIX: a decision on a destination. */
struct eg_net_event {
	struct eg_event_header hdr;
	struct eg_task task;
	__u64 session_id;
	__u32 policy_id;
	__s32 ret;
	__u16 rule;
	__u8 verdict;
	__u8 reason;
	__u8 family;		/* AF_INET, AF_INET6 (mapped v4 reported as AF_INET), AF_UNIX */
	__u8 protocol;		/* 6 tcp, 17 udp */
	__u16 port;		/* host order */
	__u8 addr[16];		/* v4 in the first 4 bytes */
	/* AF_UNIX: the peer's name, unix_len bytes of it, with no NUL after a name that fills
	 * sun_path; an abstract name's leading NUL is written '@' (its other bytes as bound). */
	char unix_path[EG_UNIX_PATH_MAX];
	__u32 host_id;		/* EG_REASON_HOST: the session resolver's id of the name answered last */
	__u32 unix_len;		/* bytes of unix_path that are the name (abstract: as the address length says); 0: unread */
	__u32 _pad;
};

/* What a session tried that would let it escape or disarm ebguard. */
enum eg_tamper {
	EG_TAMPER_BPF = 1,	/* the bpf() syscall */
	EG_TAMPER_SIGNAL = 2,	/* a signal to a task outside the session */
	EG_TAMPER_PTRACE = 3,	/* ptrace or /proc/PID/mem of a task outside the session */
	EG_TAMPER_CGROUP = 4,	/* writing cgroup files outside the session's subtree */
	EG_TAMPER_BPFFS = 5,	/* removing or renaming pins in bpffs */
	EG_TAMPER_MOUNT = 6,	/* mount, umount, move_mount */
	EG_TAMPER_USERNS = 7,	/* creating a user namespace */
	EG_TAMPER_SIGIO = 8,	/* a file's owner signal (F_SETOWN, SIOCSPGRP, FIOASYNC) to a task outside */
	EG_TAMPER_RESUMED = 9,	/* a held exec resumed without ebguard's answer: killed */
	EG_TAMPER_TTY = 10,	/* TIOCSTI/TIOCLINUX: typing into a terminal */
	EG_TAMPER_CHROOT = 11,	/* chroot, pivot_root */
	EG_TAMPER_KERNEL = 12,	/* module/kexec loading, raw I/O and other lockdown-guarded acts, keys */
	EG_TAMPER_CLONE = 13,	/* clone into another cgroup or into new namespaces */
};

/*
 * eg_held values are the session id; ebguard sets this bit once it has answered
 * "allow", just before SIGCONT. A held task found running without it is killed.
 */
#define EG_HELD_ANSWERED (1ULL << 63)
/*
 * Set with EG_HELD_ANSWERED when the held exec is a vetted git (`unless: git` file
 * rules). ebguard then leaves the entry in place: it marks the process as a git
 * writer until its next exec (eg_exec_check drops answered entries) or its exit.
 */
#define EG_HELD_GIT_WRITER (1ULL << 62)
/*
 * Set with EG_HELD_GIT_WRITER for a vetted `git worktree add`, which writes the new
 * worktree's `commondir` itself, not through a lock file: only such a git may open a
 * protected file of that name (lib/path_match.h, eg_git_direct_name).
 */
#define EG_HELD_GIT_WORKTREE (1ULL << 61)

/* EG_EVENT_TAMPER: always denied. */
struct eg_tamper_event {
	struct eg_event_header hdr;
	struct eg_task task;
	__u64 session_id;
	__u32 what;		/* enum eg_tamper */
	__s32 ret;
	__u32 target_pid;	/* signal/ptrace target; 0 otherwise */
	__u32 _pad;
};

/* ---- Process lifecycle (observation, every kernel) ------------------------- */

/* Bytes of argv an exec event carries; longer command lines are cut (EG_PROCESS_ARGV_TRUNCATED). */
#define EG_ARGV_MAX 512

#define EG_PROCESS_ARGV_TRUNCATED 0x1		/* argv holds only the first EG_ARGV_MAX bytes */
#define EG_PROCESS_FILENAME_TRUNCATED 0x2	/* filename longer than EG_PATH_MAX - 1 */

/* EG_EVENT_PROCESS_EXEC: the new program is committed; task is the process after the exec. */
struct eg_process_exec_event {
	struct eg_event_header hdr;
	struct eg_task task;
	__u64 session_id;
	__u32 ppid;		/* real parent's thread group id */
	__u32 argc;		/* the exec's whole argc, even when argv is truncated */
	__u32 filename_len;	/* bytes of filename, NUL included; 0 if unreadable */
	__u32 argv_len;		/* bytes of argv used */
	__u32 flags;		/* EG_PROCESS_* */
	__u32 _pad;
	/* The name execve() was given (bprm->filename): absolute, or relative to the cwd. */
	char filename[EG_PATH_MAX];
	/* The new program's argv strings, each NUL-terminated (the last one not when truncated). */
	char argv[EG_ARGV_MAX];
};

/* EG_EVENT_PROCESS_FORK: a new process (not a thread); task is the forking thread. */
struct eg_process_fork_event {
	struct eg_event_header hdr;
	struct eg_task task;
	__u64 session_id;
	__u32 parent_pid;	/* the child's real parent (differs from task.pid with CLONE_PARENT) */
	__u32 child_pid;
};

/* EG_EVENT_PROCESS_EXIT: the last thread of a process exited; task is that thread. */
struct eg_process_exit_event {
	struct eg_event_header hdr;
	struct eg_task task;
	__u64 session_id;
	__u32 ppid;
	__s32 exit_code;	/* as wait() reports it: status << 8, or the killing signal */
};

#ifndef __cplusplus
_Static_assert(sizeof(struct eg_tamper_event) == 80, "eg_tamper_event layout");
_Static_assert(sizeof(struct eg_session) == 16, "eg_session layout");
_Static_assert(sizeof(struct eg_host_key) == 32, "eg_host_key layout");
_Static_assert(sizeof(struct eg_host_allowance) == 152, "eg_host_allowance layout");
_Static_assert(sizeof(struct eg_dns_origin) == 24, "eg_dns_origin layout");
_Static_assert(sizeof(struct eg_path_key) == 16, "eg_path_key layout");
_Static_assert(sizeof(struct eg_path_rule) == 288, "eg_path_rule layout");
_Static_assert(sizeof(struct eg_path_lengths) == sizeof(struct eg_path_rule), "the loaded marker's value is an eg_path_rule");
_Static_assert(sizeof(struct eg_path_glob) == sizeof(struct eg_path_rule), "a pattern's value is an eg_path_rule's size");
_Static_assert(__builtin_offsetof(struct eg_path_glob, flags) == __builtin_offsetof(struct eg_path_rule, flags), "pattern values begin as rules do");
_Static_assert(sizeof(struct eg_net4_key) == 12, "eg_net4_key layout");
_Static_assert(sizeof(struct eg_net6_key) == 24, "eg_net6_key layout");
_Static_assert(sizeof(struct eg_net_rules) == 136, "eg_net_rules layout");
_Static_assert(sizeof(struct eg_unix_key) == 116, "eg_unix_key layout");
_Static_assert(sizeof(struct eg_path_event) == 352, "eg_path_event layout");
_Static_assert(sizeof(struct eg_answer) == 16, "eg_answer layout");
_Static_assert(sizeof(struct eg_file_answer_key) == 24, "eg_file_answer_key layout");
_Static_assert(sizeof(struct eg_net_answer_key) == 32, "eg_net_answer_key layout");
_Static_assert(sizeof(struct eg_net_event) == 216, "eg_net_event layout");
_Static_assert(sizeof(struct eg_process_exec_event) == 856, "eg_process_exec_event layout");
_Static_assert(sizeof(struct eg_process_fork_event) == 72, "eg_process_fork_event layout");
_Static_assert(sizeof(struct eg_process_exit_event) == 72, "eg_process_exit_event layout");
#endif

#ifndef __cplusplus
_Static_assert(sizeof(struct eg_event_header) == 16, "eg_event_header layout");
_Static_assert(sizeof(struct eg_task) == 40, "eg_task layout");
_Static_assert(sizeof(struct eg_probe_event) == 64, "eg_probe_event layout");
_Static_assert(sizeof(struct eg_selftest_event) == 320, "eg_selftest_event layout");
_Static_assert(sizeof(struct eg_inode_key) == 16, "eg_inode_key layout");
#endif

#endif /* EBGUARD_ABI_H */
