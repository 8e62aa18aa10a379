#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed system call on an audit file: the operation, the file, and the errno.
public struct AuditIOError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was being done, e.g. `writing`, `fsync of`, `opening`.
    public var operation: String
    public var path: String
    public var errno: Int32

    public init(_ operation: String, _ path: String, errno: Int32) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    /// The disk (or the user's quota) is full: the records wait in memory until there is room.
    public var isDiskFull: Bool { errno == ENOSPC || errno == EDQUOT }

    public var description: String { "\(operation) \(path): \(String(cString: strerror(errno)))" }
}

/// Why the audit log refused or could not do something.
public enum AuditError: Error, Sendable, CustomStringConvertible {
    /// A system call failed.
    case io(AuditIOError)
    /// Records could not be written (`cause`) and the in-memory backlog reached its limit:
    /// this record was not kept; a `lost_events` record will count it once writing resumes.
    case backlogFull(limit: Int, cause: AuditIOError?)
    /// The log was closed.
    case closed
    /// An existing log file cannot be continued (not a torn last line: something worse).
    case unusableLog(path: String, line: Int, reason: String)

    public var description: String {
        switch self {
        case .io(let e): e.description
        case .backlogFull(let limit, let cause):
            "audit backlog full (\(limit) records not yet written)" + (cause.map { ": \($0)" } ?? "")
        case .closed: "the audit log is closed"
        case .unusableLog(let path, let line, let reason): "cannot continue \(path):\(line): \(reason)"
        }
    }
}
