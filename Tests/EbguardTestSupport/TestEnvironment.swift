import EbguardSystem
import Foundation
import Glibc

/// Where a test runs, so privileged and VM tests can skip with a reason instead of passing silently.
public enum TestEnvironment {
    public static var isRoot: Bool { geteuid() == 0 }
    /// Set by scripts/vmtest inside the BPF-LSM VM.
    public static var inVM: Bool { ProcessInfo.processInfo.environment["EBGUARD_IN_VM"] == "1" }

    public static let rootReason = "needs root (BPF and cgroups); `make test` runs it as root"
    public static let vmReason = "needs BPF-LSM, which this host's kernel refuses; `make test` runs it in the VM (scripts/vmtest)"

    /// The project's root directory (this file is Tests/EbguardTestSupport/TestEnvironment.swift).
    public static var projectRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }
}

/// A scratch cgroup under the cgroup2 mount, removed (with whatever runs in it) on `deinit`.
public final class ScratchCgroup {
    public let cgroup: Cgroup

    public init(_ label: String) throws {
        let root = Cgroup(path: try Cgroup.mountPoint())
        cgroup = try root.createChild("ebguard-test-\(label)-\(getpid())-\(UInt32.random(in: 0..<1_000_000))")
    }

    public var id: UInt64 { (try? cgroup.id()) ?? 0 }

    deinit { try? cgroup.destroy() }
}

/// What a finished child process said.
public struct ProcessResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String

    public init(status: Int32, stdout: String, stderr: String) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }
}

/// Runs `arguments` to completion; when `cgroup` is given, the child moves itself there
/// (through a shell) before it execs, so the measured program runs wholly inside it; without
/// `environment`, the child gets this process's.
public func runProcess(_ arguments: [String], in cgroup: Cgroup? = nil,
                       environment: [String: String]? = nil) throws -> ProcessResult {
    let process = Process()
    if let environment { process.environment = environment }
    let quoted = arguments.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
    if let cgroup {
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "echo $$ > '\(cgroup.path)/cgroup.procs' && exec \(quoted)"]
    } else {
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
    }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Both pipes drain at once: read one after the other, a command that fills the other's
    // 64 KiB (an `ebguard run` printing thousands of audit lines on stderr) blocks writing it
    // while we wait for the first to end, and neither ever does.
    let stderrBox = DataBox()
    let stderrRead = DispatchSemaphore(value: 0)
    DispatchQueue.global().async {
        stderrBox.data = err.fileHandleForReading.readDataToEndOfFile()
        stderrRead.signal()
    }
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    stderrRead.wait()
    let stderr = stderrBox.data
    process.waitUntilExit()
    return ProcessResult(status: process.terminationStatus,
                         stdout: String(decoding: stdout, as: UTF8.self),
                         stderr: String(decoding: stderr, as: UTF8.self))
}

private final class DataBox: @unchecked Sendable {
    var data = Data()
}
