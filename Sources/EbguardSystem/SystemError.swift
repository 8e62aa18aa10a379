import Glibc
import SystemPackage

/// A failed system operation, naming what was attempted and the errno.
public struct SystemError: Error, CustomStringConvertible, Sendable, Equatable {
    public let operation: String
    public let errno: Errno?
    public let reason: String?

    public init(_ operation: String, errno: Errno? = nil, reason: String? = nil) {
        self.operation = operation
        self.errno = errno
        self.reason = reason
    }

    /// Captures the thread's errno right after a failed call.
    public static func current(_ operation: String) -> SystemError {
        SystemError(operation, errno: Errno(rawValue: Glibc.errno))
    }

    public var description: String {
        operation + ": " + (reason ?? errno.map { "\($0)" } ?? "failed")
    }
}
