@testable import EbguardDNS
import Foundation
import Glibc

/// A stub client for the tests: UDP exchanges and a TCP connection speaking the length framing.
struct DNSTestClient {
    let server: DNSEndpoint

    init(port: UInt16, address: DNSIPAddress = .loopbackV4) {
        server = DNSEndpoint(address: address, port: port)
    }

    /// Sends `bytes` and returns the first reply (nil after `timeoutMs`). With `attempts` > 1 it
    /// sends again after each timeout, as stub resolvers do: UDP may lose a datagram under a flood.
    func exchange(_ bytes: [UInt8], timeoutMs: Int = 10_000, attempts: Int = 1) throws -> [UInt8]? {
        let socket = try DNSSocket.udp(server.address.family)
        try socket.connect(to: server, timeoutMs: timeoutMs)
        for _ in 0..<attempts {
            socket.send(bytes, to: server)
            guard socket.wait(for: Int16(POLLIN), deadline: monotonicMilliseconds() + UInt64(timeoutMs)) == .ready else { continue }
            var buffer = [UInt8](repeating: 0, count: 65_536)
            let n = buffer.withUnsafeMutableBytes { recv(socket.fd, $0.baseAddress, $0.count, 0) }
            return n >= 0 ? Array(buffer[0..<n]) : nil
        }
        return nil
    }

    /// A query for `name`/`type` over UDP, parsed; fails the caller when there is no answer.
    func ask(_ name: String, _ type: DNSType = .a, id: UInt16 = .random(in: 0...UInt16.max), edns: Bool = false,
             timeoutMs: Int = 10_000, attempts: Int = 1) throws -> DNSMessage {
        var query = DNSMessage.query(id: id, name: try DNSName(name), type: type)
        if edns { query.additionals = [DNSRecord(name: .root, type: .opt, recordClass: DNSClass(rawValue: 1232), ttl: 0, data: .opaque([]))] }
        guard let reply = try exchange(try query.encoded(), timeoutMs: timeoutMs, attempts: attempts) else {
            throw TestFailure("no UDP answer for \(name) from \(server)")
        }
        return try DNSMessage(parsing: reply)
    }

    func tcpConnection() throws -> DNSTCPConnection { try DNSTCPConnection(server) }
}

final class DNSTCPConnection {
    let socket: DNSSocket

    init(_ server: DNSEndpoint) throws {
        socket = try DNSSocket.tcp(server.address.family)
        try socket.connect(to: server, timeoutMs: 5_000)
    }

    @discardableResult
    func send(_ message: [UInt8]) -> Bool {
        socket.sendAll([UInt8(message.count >> 8), UInt8(message.count & 0xFF)] + message, deadline: monotonicMilliseconds() + 5_000)
    }

    func sendRaw(_ bytes: [UInt8]) -> Bool { socket.sendAll(bytes, deadline: monotonicMilliseconds() + 5_000) }

    /// The next framed message, nil on EOF or after `timeoutMs`.
    func receive(timeoutMs: Int = 10_000) -> [UInt8]? {
        let deadline = monotonicMilliseconds() + UInt64(timeoutMs)
        guard let prefix = socket.receive(exactly: 2, deadline: deadline) else { return nil }
        return socket.receive(exactly: Int(prefix[0]) << 8 | Int(prefix[1]), deadline: deadline)
    }

    /// True once the server closed the connection (within `timeoutMs`).
    func closedByPeer(timeoutMs: Int) -> Bool {
        guard socket.wait(for: Int16(POLLIN), deadline: monotonicMilliseconds() + UInt64(timeoutMs)) == .ready else { return false }
        var byte: UInt8 = 0
        return recv(socket.fd, &byte, 1, Int32(MSG_DONTWAIT)) <= 0
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Values the delegate saw, for assertions; safe from the resolver's threads.
final class Recorder<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [T] = []

    func append(_ item: T) { lock.lock(); items.append(item); lock.unlock() }
    var all: [T] { lock.lock(); defer { lock.unlock() }; return items }
}

/// The A/AAAA addresses in a message's answer section, as text.
func addresses(in message: DNSMessage) -> [String] {
    message.answers.compactMap { record -> String? in
        guard case .address(let address) = record.data else { return nil }
        return address.description
    }
}
