import EbguardPolicy
import Foundation
import Glibc

/// Whether a held exec is a git that `unless: git` rules may let write repository metadata:
/// the system's git binary, run as `git` (argv[0]), with a command line and environment
/// `GitWriteVetting` grants. Read from /proc while the process is stopped at its exec.
enum GitWriter {
    /// Where Debian installs git: root's files, which a session's programs cannot replace.
    static let systemBinaries: Set<String> = ["/usr/bin/git", "/usr/lib/git-core/git"]

    static func isVetted(pid: pid_t, path: String, argv: [String]) -> Bool {
        guard systemBinaries.contains(path), isRootOwnedAndSealed(path), runs(pid: pid, path),
              let environment = environment(of: pid) else { return false }
        if case .granted = GitWriteVetting.vet(argv: argv, environment: environment) { return true }
        return false
    }

    /// Owned by root and writable by no one else: what the process runs is what was checked.
    private static func isRootOwnedAndSealed(_ path: String) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0 else { return false }
        return info.st_uid == 0 && info.st_mode & (S_IWGRP | S_IWOTH) == 0
    }

    /// The stopped process's program is that file (the same inode), not one renamed over it since.
    private static func runs(pid: pid_t, _ path: String) -> Bool {
        guard let running = HeldExec.FileIdentity.of(path: "/proc/\(pid)/exe") else { return false }
        return running == HeldExec.FileIdentity.of(path: path)
    }

    /// /proc/PID/environ as `KEY=value` strings; nil when it cannot be read.
    private static func environment(of pid: pid_t) -> [String]? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return nil }
        return data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }
}
