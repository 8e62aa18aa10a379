import CEbguardABI
import EbguardBPF
import EbguardSystem
import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// Runs attack scripts (Python, whose ctypes reaches any syscall) inside a real `bin/ebguard run`
/// session in the BPF-LSM VM, as root or as an unprivileged user (what `sudo ebguard run` does).
struct ContainedSession {
    let binary = TestEnvironment.projectRoot + "/bin/ebguard"
    /// nil: a root session (no SUDO_USER); a name: `--user NAME`.
    let user: String?

    /// A directory both the test and the session's user can write (the guest's /tmp).
    func scratch(_ tag: String) throws -> String {
        let directory = "/tmp/ebguard-\(tag)-\(getpid())-\(user ?? "root")"
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        chmod(directory, 0o777)
        return directory
    }

    func command(_ script: String, _ arguments: [String], policy: String) throws -> [String] {
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build bin/ebguard first (make)")
        var command = [binary, "run", "--policy", policy]
        if let user { command += ["--user", user] }
        return command + ["--", "/usr/bin/python3", "-c", script] + arguments
    }

    /// Runs `script` in a session of an open policy (plus `rules`) and waits for it.
    func run(_ script: String, _ arguments: [String] = [], rules: String = "") throws -> ProcessResult {
        let policy = try writePolicy(rules)
        defer { unlink(policy) }
        return try runProcess(try command(script, arguments, policy: policy))
    }

    func writePolicy(_ rules: String) throws -> String {
        let policy = "/tmp/ebguard-contain-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).yaml"
        try ("version: 1\nname: open\ndefaults: { exec: allow, file: allow, network: allow }\n" + rules)
            .write(toFile: policy, atomically: true, encoding: .utf8)
        return policy
    }
}

/// Every generation's pinned eg_held map (the test marks a task held as the exec hook does).
func heldMaps() throws -> [BPFMap<UInt32, UInt64>] {
    let generations = try FileManager.default.contentsOfDirectory(atPath: "/sys/fs/bpf/ebguard")
    return generations.compactMap { try? BPFMap<UInt32, UInt64>(pinnedAt: "/sys/fs/bpf/ebguard/\($0)/eg_held") }
}

/// Waits up to `seconds` for `path` to hold a line, and returns it.
/// 90 s by default: the first session of a fresh VM loads and verifies every program under TCG
/// first, 29-37 s on a loaded 2-core host, and a suite's first case can be that session.
func awaitLine(_ path: String, seconds: Double = 90) -> String? {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if let text = try? String(contentsOfFile: path, encoding: .utf8), text.hasSuffix("\n") {
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        usleep(20_000)
    }
    return nil
}

/// The id (inode) of the cgroup at `path` (as /proc/PID/cgroup names it) under the v2 mount.
func cgroupID(_ path: String) throws -> UInt64 {
    var info = stat()
    let full = try Cgroup.mountPoint() + path
    guard stat(full, &info) == 0 else { throw SystemError.current("stat \(full)") }
    return UInt64(info.st_ino)
}

/// Alive and not a zombie.
func isAlive(_ pid: pid_t) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return false }
    return !stat[stat.index(after: close)...].hasPrefix(" Z")
}
