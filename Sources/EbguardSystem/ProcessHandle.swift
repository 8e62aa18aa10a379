import CEbguardProcess
import Glibc
import SystemPackage

/// A process held by a pidfd (`pidfd_open(2)`): signals sent through it reach that process or
/// nobody, never a newer one that reused its pid.
public final class ProcessHandle {
    public let pid: pid_t
    private let descriptor: OwnedFileDescriptor

    /// Fails with ESRCH when no process has `pid` now.
    public init(pid: pid_t) throws {
        let fd = eg_pidfd_open(pid)
        guard fd >= 0 else { throw SystemError("pidfd_open(\(pid))", errno: Errno(rawValue: -fd)) }
        self.pid = pid
        descriptor = OwnedFileDescriptor(adopting: fd)
    }

    /// `pidfd_send_signal(2)`; ESRCH once the process has exited.
    public func signal(_ signal: Int32) throws {
        let result = eg_pidfd_send_signal(descriptor.rawValue, signal)
        guard result == 0 else { throw SystemError("pidfd_send_signal(\(pid), \(signal))", errno: Errno(rawValue: -result)) }
    }
}
