import Glibc
import SystemPackage

/// A failed BPF operation: what was attempted, on what, and the kernel's answer.
///
/// The description reads like `attaching lsm/file_open eg_file_open: Operation not permitted`,
/// followed by the tail of libbpf's log (the verifier's last lines) when there is one.
public struct BPFError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What was attempted, naming the object: "loading doctor", "attaching cgroup/connect4 eg_probe_conn4".
    public let operation: String
    /// The errno the kernel or libbpf returned, if the failure came from a system call.
    public let errno: Errno?
    /// Why, when the failure is ebguard's own check rather than an errno.
    public let reason: String?
    /// What libbpf printed while the operation ran (often the verifier's log); may be empty.
    public let log: String

    public init(_ operation: String, errno: Errno? = nil, reason: String? = nil, log: String = "") {
        self.operation = operation
        self.errno = errno
        self.reason = reason
        self.log = log
    }

    /// Builds an error from a libbpf return code (negative errno) or the thread's errno.
    static func libbpf(_ operation: String, code: Int32? = nil) -> BPFError {
        let value = code.map { $0 < 0 ? -$0 : $0 } ?? Glibc.errno
        return BPFError(operation, errno: Errno(rawValue: value), log: LibBPFLog.take())
    }

    public var description: String {
        var text = operation + ": " + (reason ?? errno.map { "\($0)" } ?? "failed")
        let tail = log.split(separator: "\n").suffix(12).joined(separator: "\n")
        if !tail.isEmpty { text += "\n" + tail }
        return text
    }
}
