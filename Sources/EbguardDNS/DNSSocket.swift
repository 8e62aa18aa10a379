import Dispatch
import EbguardSystem
import Glibc
import SystemPackage

/// A socket this module owns: closed exactly once, in `deinit`. Threads that may still send on it
/// (a worker answering after `stop()`) hold a reference, so the number is never reused under them.
final class DNSSocket: Sendable {
    let fd: Int32

    init(family: Int32, type: Int32) throws(SystemError) {
        let fd = socket(family, type | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError.current("socket") }
        self.fd = fd
    }

    init(adopting fd: Int32) {
        precondition(fd >= 0, "adopting an invalid socket")
        self.fd = fd
    }

    deinit { close(fd) }

    static func udp(_ family: Int32) throws(SystemError) -> DNSSocket { try DNSSocket(family: family, type: Int32(SOCK_DGRAM.rawValue)) }
    static func tcp(_ family: Int32) throws(SystemError) -> DNSSocket { try DNSSocket(family: family, type: Int32(SOCK_STREAM.rawValue)) }

    func bind(_ endpoint: DNSEndpoint) throws(SystemError) {
        if endpoint.address.isIPv6 { setOption(Int32(IPPROTO_IPV6), IPV6_V6ONLY, 1) }
        let rc = endpoint.withSockaddr { Glibc.bind(fd, $0, $1) }
        guard rc == 0 else { throw SystemError.current("binding \(endpoint)") }
    }

    func listen(backlog: Int32) throws(SystemError) {
        guard Glibc.listen(fd, backlog) == 0 else { throw SystemError.current("listen") }
    }

    func localEndpoint() -> DNSEndpoint? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return rc == 0 ? DNSEndpoint(storage) : nil
    }

    func setOption(_ level: Int32, _ name: Int32, _ value: Int32) {
        var v = value
        _ = setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size))
    }

    /// `connect(2)`, bounded by `timeoutMs` (non-blocking connect, then poll for writability).
    func connect(to endpoint: DNSEndpoint, timeoutMs: Int) throws(SystemError) {
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        defer { _ = fcntl(fd, F_SETFL, flags) }
        let rc = endpoint.withSockaddr { Glibc.connect(fd, $0, $1) }
        if rc == 0 { return }
        guard errno == EINPROGRESS else { throw SystemError.current("connecting to \(endpoint)") }
        var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        guard poll(&p, 1, Int32(clamping: timeoutMs)) == 1 else {
            throw SystemError("connecting to \(endpoint)", errno: .timedOut)
        }
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
        guard error == 0 else { throw SystemError("connecting to \(endpoint)", errno: .init(rawValue: error)) }
    }

    /// One datagram to `endpoint`; false if the kernel refused it (the client is gone, buffers full).
    @discardableResult
    func send(_ bytes: [UInt8], to endpoint: DNSEndpoint) -> Bool {
        endpoint.withSockaddr { address, length in
            bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT), address, length) }
        } == bytes.count
    }

    /// One datagram and its sender, or nil (errors and non-IP senders alike: the caller polls again).
    func receive(into buffer: inout [UInt8]) -> (Int, DNSEndpoint)? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let n = buffer.withUnsafeMutableBytes { raw in
            withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    recvfrom(fd, raw.baseAddress, raw.count, Int32(MSG_DONTWAIT), $0, &length)
                }
            }
        }
        guard n >= 0, let sender = DNSEndpoint(storage) else { return nil }
        return (n, sender)
    }

    /// Writes all of `bytes` (a stream socket) before `deadline`; false on error or timeout.
    func sendAll(_ bytes: [UInt8], deadline: UInt64, wake: Waker? = nil) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
            if n > 0 { sent += n; continue }
            guard n < 0, errno == EAGAIN || errno == EINTR else { return false }
            guard wait(for: Int16(POLLOUT), deadline: deadline, wake: wake) == .ready else { return false }
        }
        return true
    }

    /// Reads exactly `count` bytes (a stream socket) before `deadline`; nil on EOF, error or timeout.
    func receive(exactly count: Int, deadline: UInt64, wake: Waker? = nil) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            guard wait(for: Int16(POLLIN), deadline: deadline, wake: wake) == .ready else { return nil }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, count - got, Int32(MSG_DONTWAIT)) }
            if n > 0 { got += n; continue }
            guard n < 0, errno == EAGAIN || errno == EINTR else { return nil }
        }
        return buffer
    }

    enum WaitResult { case ready, timedOut, woken }

    /// Polls for `events` until `deadline` (monotonic ms, `.max` for none) or until `wake` fires.
    func wait(for events: Int16, deadline: UInt64, wake: Waker? = nil) -> WaitResult {
        while true {
            var fds = [pollfd(fd: fd, events: events, revents: 0)]
            if let wake { fds.append(pollfd(fd: wake.readFD, events: Int16(POLLIN), revents: 0)) }
            let now = monotonicMilliseconds()
            guard deadline == .max || now < deadline else { return .timedOut }
            let timeout = deadline == .max ? -1 : Int32(clamping: deadline - now)
            let rc = poll(&fds, nfds_t(fds.count), timeout)
            if rc < 0 { if errno == EINTR { continue }; return .timedOut }
            if fds.count > 1 && fds[1].revents != 0 { return .woken }
            if rc > 0 { return .ready }
        }
    }
}

/// A socket pair whose read end becomes readable, for good, when `fire()` is called: every thread
/// polling it wakes up at once, which is how `stop()` reaches threads blocked in poll. (A socket
/// pair rather than a pipe because `socketpair` takes SOCK_CLOEXEC and Glibc's module has no pipe2.)
final class Waker: Sendable {
    let readFD: Int32
    private let writeFD: Int32

    init() throws(SystemError) {
        var fds: [Int32] = [0, 0]
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
        guard socketpair(AF_UNIX, type, 0, &fds) == 0 else { throw SystemError.current("socketpair") }
        readFD = fds[0]
        writeFD = fds[1]
    }

    func fire() { var byte: UInt8 = 1; _ = write(writeFD, &byte, 1) }

    deinit {
        close(readFD)
        close(writeFD)
    }
}

/// CLOCK_MONOTONIC in milliseconds, for deadlines.
func monotonicMilliseconds() -> UInt64 { DispatchTime.now().uptimeNanoseconds / 1_000_000 }
