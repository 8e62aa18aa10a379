import SystemPackage
import EbguardSystem
import Foundation
import Glibc

/// Who is at the other end of a Unix socket, as the kernel recorded it at connect time.
public struct PeerCredentials: Sendable, Equatable {
    public let pid: pid_t
    public let uid: uid_t
    public let gid: gid_t
}

/// Thin helpers over AF_UNIX stream sockets; every descriptor is owned by the caller.
public enum UnixSocket {
    private static func address(_ path: String) throws -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw SystemError("socket path \(path)", reason: "longer than \(MemoryLayout.size(ofValue: address.sun_path) - 1) bytes")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return address
    }

    /// Listens at `path` (replacing a stale socket file) with `mode` and optional group.
    public static func listen(at path: String, mode: mode_t, group: gid_t?) throws -> OwnedFileDescriptor {
        var address = try address(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw SystemError.current("creating socket for \(path)") }
        let socket = OwnedFileDescriptor(adopting: fd)
        unlink(path)
        // Bind under a restrictive umask: the socket must never exist with looser permissions.
        let previous = umask(0o177)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        umask(previous)
        guard bound == 0 else { throw SystemError.current("binding \(path)") }
        if let group, chown(path, 0, group) != 0 { throw SystemError.current("giving \(path) to group \(group)") }
        guard chmod(path, mode) == 0 else { throw SystemError.current("chmod \(path)") }
        guard Glibc.listen(fd, 64) == 0 else { throw SystemError.current("listening on \(path)") }
        return socket
    }

    /// Connects to `path`; blocking, close-on-exec.
    public static func connect(to path: String) throws -> OwnedFileDescriptor {
        var address = try address(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError.current("creating socket") }
        let socket = OwnedFileDescriptor(adopting: fd)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { throw SystemError.current("connecting to \(path)") }
        return socket
    }

    public static func peerCredentials(of fd: Int32) throws -> PeerCredentials {
        let peer = try SocketPeer.credentials(of: fd)
        return PeerCredentials(pid: peer.pid, uid: peer.uid, gid: peer.gid)
    }

    /// Room for a burst of events between two passes of the daemon's loop. Root may go past
    /// net.core.wmem_max (SO_SNDBUFFORCE); otherwise the kernel caps it.
    public static func enlargeSendBuffer(_ fd: Int32, to bytes: Int32) {
        var size = bytes
        if setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
    }

    public static func setNonBlocking(_ fd: Int32) {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }
}

/// Reads newline-terminated lines from a blocking descriptor (the client side).
public final class LineReader {
    private let fd: Int32
    private var buffer: [UInt8] = []
    private var start = 0

    public init(fd: Int32) { self.fd = fd }

    /// A whole line is already read: `next()` returns it without a read(2).
    public var hasBufferedLine: Bool { buffer[start...].contains(UInt8(ascii: "\n")) }

    /// The next line without its newline; nil at end of stream.
    public func next() throws -> [UInt8]? {
        while true {
            if let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(buffer[start..<newline])
                start = newline + 1
                if start > 65536 {
                    buffer.removeFirst(start)
                    start = 0
                }
                return line
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = read(fd, &chunk, chunk.count)
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw SystemError.current("reading from the daemon") }
            guard count > 0 else { return nil }
            buffer.append(contentsOf: chunk[0..<count])
        }
    }
}

/// Writes all of `data` to a blocking descriptor.
public func writeAll(_ fd: Int32, _ data: Data) throws {
    try data.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
            // MSG_NOSIGNAL: a daemon that hung up is an error to report, not a SIGPIPE to die of.
            let written = send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { throw SystemError.current("writing to socket") }
            offset += written
        }
    }
}
