@testable import EbguardDNS
import Foundation
import Synchronization
import Testing

/// The forwarder against a hostile upstream path: answers with the wrong id, for another
/// question, or from another port must be ignored, and only the matching answer admitted.
@Suite(.serialized) struct DNSUpstreamSpoofingTests {
    /// A fake upstream that answers each query with `replies(query, queryBytes)` (sent in order),
    /// each from `socket` or, when the flag is set, from a second socket on another port.
    final class FakeUpstream: @unchecked Sendable {
        let socket: DNSSocket
        let other: DNSSocket
        var port: UInt16 { socket.localEndpoint()!.port }
        private let replies: @Sendable (DNSMessage) -> [(DNSMessage, fromOtherPort: Bool)]
        private let done = Atomic(false)

        init(replies: @escaping @Sendable (DNSMessage) -> [(DNSMessage, fromOtherPort: Bool)]) throws {
            socket = try DNSSocket.udp(AF_INET)
            try socket.bind(DNSEndpoint(address: .loopbackV4, port: 0))
            other = try DNSSocket.udp(AF_INET)
            try other.bind(DNSEndpoint(address: .loopbackV4, port: 0))
            self.replies = replies
            Thread { [self] in serve() }.start()
        }

        private func serve() {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while !done.load(ordering: .relaxed) {
                guard socket.wait(for: Int16(POLLIN), deadline: monotonicMilliseconds() + 100) == .ready,
                      let (n, sender) = socket.receive(into: &buffer),
                      let query = try? DNSMessage(parsing: Array(buffer[0..<n])) else { continue }
                for (reply, fromOther) in replies(query) {
                    guard let bytes = try? reply.encoded() else { continue }
                    (fromOther ? other : socket).send(bytes, to: sender)
                }
            }
        }

        func stop() { done.store(true, ordering: .relaxed) }
    }

    static func answer(to query: DNSMessage, id: UInt16? = nil, name: String? = nil, address: String) -> DNSMessage {
        var reply = DNSMessage.reply(to: query, code: .noError)
        reply.header.id = id ?? query.header.id
        let owner = name.map { try! DNSName($0) } ?? query.questions[0].name
        if name != nil { reply.questions = [DNSQuestion(name: owner, type: .a)] }
        reply.answers = [DNSRecord(name: owner, type: .a, ttl: 60, data: .address(DNSIPAddress(address)!))]
        return reply
    }

    static func resolve(through upstream: FakeUpstream, timeoutMs: Int = 2_000) -> Result<DNSForwarder.Answer, DNSForwardError> {
        let forwarder = DNSForwarder(upstream: DNSUpstream(address: .loopbackV4, port: upstream.port), timeoutMs: timeoutMs, attempts: 2)
        return forwarder.forward(DNSMessage.query(id: 7, name: try! DNSName("api.example.com"), type: .a), over: .udp)
    }

    @Test func onlyTheMatchingAnswerCounts() throws {
        let upstream = try FakeUpstream { query in
            [(Self.answer(to: query, id: query.header.id &+ 1, address: "203.0.113.1"), false),          // wrong id
             (Self.answer(to: query, name: "evil.example", address: "203.0.113.2"), false),              // other question
             (Self.answer(to: query, address: "203.0.113.3"), true),                                     // other port
             (Self.answer(to: query, address: "192.0.2.55"), false)]
        }
        defer { upstream.stop() }
        let answer = try Self.resolve(through: upstream).get()
        let resolution = DNSResolution(answer: answer.message, for: try DNSName("api.example.com"))
        #expect(resolution.addresses.map(\.address.description) == ["192.0.2.55"])
        // The id sent upstream is the forwarder's own, not the client's 7.
        #expect(answer.message.header.id == UInt16(answer.bytes[0]) << 8 | UInt16(answer.bytes[1]))
    }

    @Test func onlyMismatchedAnswersFailTheQuery() throws {
        let seen = Recorder<UInt16>()
        let upstream = try FakeUpstream { query in
            seen.append(query.header.id)
            return [(Self.answer(to: query, id: query.header.id &+ 1, address: "203.0.113.1"), false),
                    (Self.answer(to: query, address: "203.0.113.3"), true)]
        }
        defer { upstream.stop() }
        guard case .failure(let error) = Self.resolve(through: upstream, timeoutMs: 300) else {
            Issue.record("a spoofed answer was accepted")
            return
        }
        #expect(error.description == "no matching answer in time")
        // Two attempts, each with its own id.
        #expect(seen.all.count == 2)
    }

    @Test func theUpstreamSeesOnlyTheQuestion() throws {
        let received = Recorder<DNSMessage>()
        let upstream = try FakeUpstream { query in
            received.append(query)
            return [(Self.answer(to: query, address: "192.0.2.1"), false)]
        }
        defer { upstream.stop() }
        var query = DNSMessage.query(id: 9, name: try DNSName("Api.Example.com"), type: .a)
        // EDNS with a client-subnet option and a DO bit, and an extra record smuggled in.
        query.additionals = [
            DNSRecord(name: try DNSName("smuggled.example"), type: .txt, ttl: 0, data: .opaque([4] + Array("data".utf8))),
            DNSRecord(name: .root, type: .opt, recordClass: DNSClass(rawValue: 8000), ttl: 0x8000, data: .opaque([0, 8, 0, 4, 0, 1, 24, 0])),
        ]
        let forwarder = DNSForwarder(upstream: DNSUpstream(address: .loopbackV4, port: upstream.port), timeoutMs: 2_000, attempts: 1)
        _ = try forwarder.forward(query, over: .udp).get()
        let sent = try #require(received.all.first)
        #expect(sent.questions == query.questions && sent.questions[0].name.labels[0] == Array("Api".utf8))
        #expect(sent.answers.isEmpty && sent.authorities.isEmpty)
        #expect(sent.additionals == [DNSRecord(name: .root, type: .opt, recordClass: DNSClass(rawValue: 4096), ttl: 0x8000, data: .opaque([]))])
    }
}
