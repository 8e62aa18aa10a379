internal import CEbguardABI
import EbguardBPF
import EbguardPolicy
import EbguardSystem
import Foundation
import Glibc

/// Decides an exec the kernel held (SIGSTOP from the exec hook) because argv rules name its
/// binary: reads the new program's command line once it is stopped, asks the policy, and
/// resumes (SIGCONT) or kills (SIGKILL) it. `ask` acts as deny until interactive decisions land.
public enum HeldExec {
    public struct Outcome: Sendable, Equatable {
        public let pid: pid_t
        public let argv: [String]
        public let decision: Decision
        public let resumed: Bool
        /// Left stopped: the policy says ask and `holdAsks` was given; someone must answer.
        public var stillHeld: Bool = false
        /// The program's identity (stat of /proc/PID/exe), which answers are bound to.
        public var executable: FileIdentity? = nil
        /// Resumed as a vetted git, which `unless: git` rules let write (EG_HELD_GIT_WRITER): its
        /// eg_held entry stays until its next exec or its exit.
        public var gitWriter: Bool = false
    }

    /// A file as the kernel knows it: device and inode, not a path.
    public struct FileIdentity: Sendable, Hashable, Codable {
        public let device: UInt64
        public let inode: UInt64
        public init(device: UInt64, inode: UInt64) {
            self.device = device
            self.inode = inode
        }

        public static func of(path: String) -> FileIdentity? {
            var info = stat()
            guard stat(path, &info) == 0 else { return nil }
            return FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
        }
    }

    /// Resolves the hold of `pid`, which was exec'ing `path`. Fails closed: a process that
    /// can't be read, or that is found running (someone resumed it early), is killed.
    public static func resolve(pid: pid_t, path: String, policy: CompiledPolicy, answers: HoldAnswers,
                               timeout: Duration = .seconds(2), holdAsks: Bool = false) -> Outcome? {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        // The stop lands when the exec completes; until then /proc shows the old command line.
        while state(of: pid) != "T" {
            guard state(of: pid) != nil else { return nil }  // gone already
            guard clock.now < deadline else {
                answers.answer(pid: pid, allow: false)
                return Outcome(pid: pid, argv: [], decision: Decision(.deny, nil), resumed: false)
            }
            usleep(1_000)
        }
        guard let argv = commandLine(of: pid) else {
            answers.answer(pid: pid, allow: false)
            return Outcome(pid: pid, argv: [], decision: Decision(.deny, nil), resumed: false)
        }
        let decision = policy.decideExec(path: path, argv: argv)
        if holdAsks && decision.verdict == .ask {
            return Outcome(pid: pid, argv: argv, decision: decision, resumed: false, stillHeld: true,
                           executable: FileIdentity.of(path: "/proc/\(pid)/exe"))
        }
        let allowed = decision.verdict == .allow || decision.verdict == .audit
        let marks = allowed ? GitWriter.marks(pid: pid, path: path, argv: argv, policy: policy) : 0
        let resumed = answers.answer(pid: pid, allow: allowed, gitMarks: marks)
        var outcome = Outcome(pid: pid, argv: argv, decision: decision, resumed: resumed)
        outcome.gitWriter = marks != 0 && resumed
        return outcome
    }

    /// ebguard's answers to held execs, in the kernel's terms (eg_held, tamper.bpf.c).
    public struct HoldAnswers: Sendable {
        let heldMap: String

        /// `heldMap`: the pinned eg_held map.
        public init(heldMap: String) { self.heldMap = heldMap }

        /// Resumes (allow) or kills the exec held in `pid`; true when it was resumed. Goes through a
        /// pidfd, and only while eg_held still names `pid`: the kernel drops an entry when its
        /// process dies, before the pid can be reused, so an entry found after pidfd_open proves the
        /// pidfd is the held process. An allow is marked in the entry before SIGCONT: the kernel
        /// kills a held task that runs without that mark.
        ///
        /// `gitMarks` marks a vetted git (EG_HELD_GIT_WRITER, with EG_HELD_GIT_WORKTREE for a
        /// `git worktree add`) and leaves its entry in place. The marks go in only while the entry
        /// exists (BPF_EXIST): an entry the kernel dropped at the process's exit is never made
        /// again for a pid another process may then get.
        @discardableResult
        public func answer(pid: pid_t, allow: Bool, gitMarks: UInt64 = 0) -> Bool {
            let gitWriter = gitMarks != 0
            guard let map = try? BPFMap<UInt32, UInt64>(pinnedAt: heldMap),
                  let process = try? ProcessHandle(pid: pid) else { return false }
            guard let held = try? map.lookup(UInt32(pid)) else { return false }
            var resume = allow
            let mark = HeldExec.answered | gitMarks
            if resume && (try? map.update(UInt32(pid), held | mark, .replaceOnly)) == nil { resume = false }
            let sent = (try? process.signal(resume ? SIGCONT : SIGKILL)) != nil
            if !(gitWriter && resume && sent) { _ = try? map.delete(UInt32(pid)) }
            return resume && sent
        }
    }

    /// EG_HELD_ANSWERED (bpf/ebguard.h): the bit an allow sets in a held exec's eg_held value.
    static let answered = UInt64(EG_HELD_ANSWERED)
    /// EG_HELD_GIT_WRITER: set with it for a vetted git.
    static let gitWriter = UInt64(EG_HELD_GIT_WRITER)
    /// EG_HELD_GIT_WORKTREE: set with both for a vetted `git worktree add`.
    static let gitWorktree = UInt64(EG_HELD_GIT_WORKTREE)

    /// The state letter of /proc/PID/stat ("R", "S", "T"...), nil when the process is gone.
    static func state(of pid: pid_t) -> String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(after: close)...].split(separator: " ").first.map(String.init)
    }

    /// /proc/PID/cmdline split at NULs.
    static func commandLine(of pid: pid_t) -> [String]? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), !data.isEmpty else { return nil }
        var parts = data.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        if parts.last == "" { parts.removeLast() }
        return parts
    }
}
