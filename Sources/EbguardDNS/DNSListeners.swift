import Glibc

/// The receive loops: cheap work only (read, screen, hand off), so a blocked query never stalls
/// the socket it came in on.
extension DNSServerCore {
    func serveUDP(_ socket: DNSSocket) {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while !isStopping {
            guard socket.wait(for: Int16(POLLIN), deadline: .max, wake: waker) == .ready else { return }
            guard let (length, client) = socket.receive(into: &buffer) else { continue }
            let bytes = Array(buffer[0..<min(length, buffer.count)])
            switch processor.screen(bytes, from: client, over: .udp) {
            case .drop:
                continue
            case .reply(let reply):
                socket.send(reply, to: client)
            case .process(let message, let query):
                spawn {
                    guard let reply = self.processor.answer(message, query), !self.isStopping else { return }
                    socket.send(reply, to: client)
                }
            }
        }
    }

    func acceptTCP(_ listener: DNSSocket) {
        while !isStopping {
            guard listener.wait(for: Int16(POLLIN), deadline: .max, wake: waker) == .ready else { return }
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    accept(listener.fd, $0, &length)
                }
            }
            // Glibc's module has no accept4; as elsewhere in the daemon, close-on-exec right after.
            if fd >= 0 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            guard fd >= 0 else {
                // Out of descriptors: the pending connection stays readable, so pause instead of spinning.
                if errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM { usleep(100_000) }
                continue
            }
            let connection = DNSSocket(adopting: fd)
            guard let client = DNSEndpoint(storage) else { continue }
            guard connections.acquire() else {
                processor.delegate.dropped(DNSDrop(reason: .tooManyConnections, client: client, query: nil))
                continue   // `connection` closes here
            }
            spawn {
                defer { self.connections.release() }
                self.serveTCP(connection, client: client)
            }
        }
    }

    /// RFC 1035 §4.2.2 / RFC 7766: each message behind a two-byte length; several per connection,
    /// answered in order. Closed when idle for `tcpIdleTimeout`, on any framing error, and on stop.
    private func serveTCP(_ connection: DNSSocket, client: DNSEndpoint) {
        let idle = UInt64(limits.tcpIdleTimeout.milliseconds)
        while !isStopping {
            guard let prefix = connection.receive(exactly: 2, deadline: monotonicMilliseconds() + idle, wake: waker) else { return }
            let length = Int(prefix[0]) << 8 | Int(prefix[1])
            guard length <= limits.maxQuerySize else {
                // Reading it would be the work the limit exists to avoid; the stream cannot resync, so close.
                processor.delegate.dropped(DNSDrop(reason: .oversized(length), client: client, query: nil))
                return
            }
            guard let body = connection.receive(exactly: length, deadline: monotonicMilliseconds() + idle, wake: waker) else { return }
            let reply: [UInt8]?
            switch processor.screen(body, from: client, over: .tcp) {
            case .drop: reply = nil
            case .reply(let bytes): reply = bytes
            case .process(let message, let query): reply = processor.answer(message, query)
            }
            guard let reply, reply.count <= 0xFFFF, !isStopping else { continue }
            let framed = [UInt8(reply.count >> 8), UInt8(reply.count & 0xFF)] + reply
            guard connection.sendAll(framed, deadline: monotonicMilliseconds() + idle, wake: waker) else { return }
        }
    }
}
