import EbguardPolicy
import Foundation
import Glibc

/// Whether a held exec is a git that `unless: git` rules may let write repository metadata:
/// the system's git binary, run as `git` (argv[0]), with a command line and environment
/// `GitWriteVetting` grants. Read from /proc while the process is stopped at its exec.
enum GitWriter {
    /// Where Debian installs git: root's files, which a session's programs cannot replace.
    static let systemBinaries: Set<String> = ["/usr/bin/git", "/usr/lib/git-core/git"]

    /// The eg_held marks a held git gets: none unless vetted; EG_HELD_GIT_WRITER, with
    /// EG_HELD_GIT_WORKTREE for a `git worktree add` (which writes a commondir itself).
    ///
    /// Paths are looked at as the process sees them, through /proc/PID/root: the daemon's own
    /// mount namespace may differ (the unit's PrivateTmp).
    static func marks(pid: pid_t, path: String, argv: [String], policy: CompiledPolicy) -> UInt64 {
        guard systemBinaries.contains(path), isRootOwnedAndSealed(path), runs(pid: pid, path),
              let environment = environment(of: pid) else { return 0 }
        let root = "/proc/\(pid)/root"
        let guarded = { (directory: String) in
            policy.guardsGitMetadata(of: directory) && !leadsThroughSymlink(directory, under: root)
        }
        let verdict = GitWriteVetting.vet(argv: argv, environment: environment, guardsGitDirectory: guarded) { changes in
            guard let cwd = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/cwd") else { return false }
            return repository(from: cwd, after: changes, under: root).map(guarded) ?? false
        }
        guard case .granted(let subcommand) = verdict else { return 0 }
        return HeldExec.gitWriter | (subcommand == "worktree add" ? HeldExec.gitWorktree : 0)
    }

    /// The git directory git finds from `start` (the working directory) after `-C` changes, as
    /// git's discovery does: the nearest `.git` up the tree. Nil where that is not plainly a git
    /// directory of a work tree: a gitfile (a linked worktree's, a submodule's), a `.git` that is
    /// no repository (git would look further up), a directory on the way that is a bare one, or a
    /// working directory reached through a symbolic link (`-C link`). `root` is prefixed to every
    /// path looked at.
    static func repository(from start: String, after changes: [String], under root: String = "") -> String? {
        guard start.hasPrefix("/") else { return nil }
        // Component by component, as chdir goes: a link on the way, even one a later `..` leaves, is refused.
        var components: [Substring] = []
        for change in [start] + changes {
            if change.hasPrefix("/") { components = [] }
            for component in change.split(separator: "/") where component != "." {
                if component == ".." {
                    _ = components.popLast()
                    continue
                }
                components.append(component)
                var info = stat()
                if lstat(root + "/" + components.joined(separator: "/"), &info) == 0, info.st_mode & S_IFMT == S_IFLNK {
                    return nil
                }
            }
        }
        while true {
            let dotGit = components.isEmpty ? "/.git" : "/" + components.joined(separator: "/") + "/.git"
            var info = stat()
            if lstat(root + dotGit, &info) == 0 {
                return info.st_mode & S_IFMT == S_IFDIR && isGitDirectory(root + dotGit) ? dotGit : nil
            }
            if components.isEmpty || isGitDirectory(root + "/" + components.joined(separator: "/")) { return nil }
            components.removeLast()
        }
    }

    /// What git takes for a git directory: HEAD, objects/ and refs/ (setup.c, is_git_directory).
    static func isGitDirectory(_ path: String) -> Bool {
        var info = stat()
        return lstat(path + "/HEAD", &info) == 0 && stat(path + "/objects", &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
            && stat(path + "/refs", &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }

    /// Whether a component of `path` that exists (under `root`) is a symbolic link: the kernel
    /// judges the file a write reaches, so a guarded-looking path through a link may end where the
    /// policy guards nothing.
    static func leadsThroughSymlink(_ path: String, under root: String = "") -> Bool {
        var prefix = ""
        for component in path.split(separator: "/") {
            prefix += "/" + component
            var info = stat()
            guard lstat(root + prefix, &info) == 0 else { return false }  // the rest is to be made
            if info.st_mode & S_IFMT == S_IFLNK { return true }
        }
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
