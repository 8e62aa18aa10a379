import EbguardPolicy
import EbguardTestSupport
import Foundation
import Glibc

/// `ebguard run` (bin/ebguard, the real binary with its embedded programs) with a policy, the
/// session running a Python probe that prints one `name=OK` or `name=ERRNO` line per attempt.
/// As `sudo ebguard run` starts it for a user (`--user nobody`), or as a root session.
struct ContainmentRun {
    static let binary = TestEnvironment.projectRoot + "/bin/ebguard"
    static let python = "/usr/bin/python3"

    enum Who: String, CaseIterable { case nobody, root }

    /// The probe's verdicts by name, plus what ebguard printed.
    struct Outcome: CustomStringConvertible {
        let results: [String: String]
        let result: ProcessResult
        subscript(_ name: String) -> String { results[name] ?? "missing" }
        var description: String { "\(results) stderr: \(result.stderr)" }
    }

    /// Python that defines `attempt(name, fn)`: runs fn, prints name=OK or name=<errno name>.
    static let prelude = """
    import errno, os, socket, sys
    def attempt(name, fn):
        try:
            fn()
            print(name + "=OK", flush=True)
        except OSError as e:
            print(name + "=" + errno.errorcode.get(e.errno, str(e.errno)), flush=True)

    """

    /// Runs `script` (after `prelude`) in a session of `policy` as `who`, from `workspace`. A root
    /// session keeps every capability (`capabilities:`), so what it is refused is ebguard's doing,
    /// not a dropped capability's.
    static func run(_ policy: String, as who: Who, workspace: String, _ script: String) throws -> Outcome {
        let policyPath = workspace + "/policy-\(UInt32.random(in: 0..<UInt32.max)).yaml"
        let kept = who == .root ? "capabilities: [\(Capability.names.joined(separator: ", "))]\n" : ""
        try (kept + policy).write(toFile: policyPath, atomically: true, encoding: .utf8)
        defer { unlink(policyPath) }
        var environment = ProcessInfo.processInfo.environment
        environment["SUDO_USER"] = nil
        let user = who == .nobody ? ["--user", "nobody"] : []
        let result = try runProcess(["/bin/sh", "-c", "cd '\(workspace)' && exec \"$@\"", "sh", binary, "run"] + user
                                    + ["--policy", policyPath, "--", python, "-c", prelude + script],
                                    environment: environment)
        var results: [String: String] = [:]
        for line in result.stdout.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { results[String(parts[0])] = String(parts[1]) }
        }
        return Outcome(results: results, result: result)
    }

    /// A scratch directory that `nobody` may use (the session's user must own what it changes,
    /// so that only ebguard, not the file mode, can refuse it).
    static func workspace(_ label: String) throws -> String {
        let path = "/tmp/eg-contain-\(label)-\(getpid())-\(UInt32.random(in: 0..<1_000_000))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        chmod(path, 0o777)
        return path
    }

    /// Gives `path` (and what is below it) to nobody.
    static func giveToNobody(_ path: String) throws {
        let result = try runProcess(["/bin/chown", "-R", "nobody:nogroup", path])
        guard result.status == 0 else { throw SystemFailure(message: "chown \(path): \(result.stderr)") }
    }

    struct SystemFailure: Error { let message: String }
}
