@testable import EbguardDNS
import EbguardTestSupport
import Foundation
import Testing

/// The protections: rate limit, in-flight bound with a blocking delegate, TCP connection limits,
/// and a flood. Timeouts here are generous functional bounds, never measurements.
@Suite(.serialized, needsDnsmasq) struct DNSResolverLimitsTests {
    @Test func rateLimitRefusesAndReports() throws {
        var limits = DNSLimits()
        limits.queriesPerSecond = 0.1
        limits.burst = 5
        let fixture = try ResolverFixture(limits: limits)
        var codes: [DNSResponseCode] = []
        for id in 0..<20 { codes.append(try fixture.client.ask("a.test", id: UInt16(id)).header.responseCode) }
        let refused = codes.filter { $0 == .refused }.count
        #expect(codes.prefix(5).allSatisfy { $0 == .noError })
        #expect(refused >= 14, "\(codes)")
        #expect(fixture.drops.all.filter { $0.reason == .rateLimited }.count == refused)
        #expect(fixture.drops.all.first?.query?.name == "a.test")
        #expect(fixture.decided.all.count == 20 - refused)
    }

    @Test func blockingDecisionsHoldOnlyTheirOwnSlots() throws {
        var limits = DNSLimits()
        limits.maxInFlight = 4
        let gate = DispatchSemaphore(value: 0)
        let fixture = try ResolverFixture(limits: limits) { query in
            if query.name.hasPrefix("hold") { gate.wait() }
            return query.name == "a.test" ? .forward : .nxdomain
        }
        defer { for _ in 0..<8 { gate.signal() } }
        // Three queries a human has not answered yet, from clients that keep waiting.
        let waiting = try (0..<3).map { i -> DNSSocket in
            let socket = try DNSSocket.udp(AF_INET)
            try socket.connect(to: fixture.client.server, timeoutMs: 1_000)
            socket.send(try DNSMessage.query(id: UInt16(100 + i), name: try DNSName("hold\(i).test"), type: .a).encoded(), to: fixture.client.server)
            return socket
        }
        try waitUntil("3 queries in flight") { fixture.server.queriesInFlight == 3 }
        // Below the bound, everyone else is answered, over UDP and TCP.
        #expect(try fixture.client.ask("a.test").header.responseCode == .noError)
        let connection = try fixture.client.tcpConnection()
        connection.send(try DNSMessage.query(id: 5, name: try DNSName("a.test"), type: .a).encoded())
        #expect(try DNSMessage(parsing: try #require(connection.receive())).header.responseCode == .noError)
        // A fourth held query fills the bound: the next query is refused at once.
        let fourth = try DNSSocket.udp(AF_INET)
        try fourth.connect(to: fixture.client.server, timeoutMs: 1_000)
        fourth.send(try DNSMessage.query(id: 103, name: try DNSName("hold3.test"), type: .a).encoded(), to: fixture.client.server)
        try waitUntil("4 queries in flight") { fixture.server.queriesInFlight == 4 }
        #expect(try fixture.client.ask("a.test").header.responseCode == .refused)
        #expect(fixture.drops.all.contains { $0.reason == .tooManyInFlight })
        // The human answers: each held client gets its answer, and the slots come back.
        for _ in 0..<4 { gate.signal() }
        for (index, socket) in (waiting + [fourth]).enumerated() {
            #expect(socket.wait(for: Int16(POLLIN), deadline: monotonicMilliseconds() + 10_000) == .ready)
            var buffer = [UInt8](repeating: 0, count: 512)
            let n = recv(socket.fd, &buffer, buffer.count, 0)
            let reply = try DNSMessage(parsing: Array(buffer[0..<max(0, n)]))
            #expect(reply.header.id == UInt16(100 + index) && reply.header.responseCode == .nameError)
        }
        try waitUntil("no query in flight") { fixture.server.queriesInFlight == 0 }
        #expect(try fixture.client.ask("a.test").header.responseCode == .noError)
    }

    @Test func tcpConnectionLimitAndIdleTimeout() throws {
        var limits = DNSLimits()
        limits.maxTCPConnections = 2
        limits.tcpIdleTimeout = .seconds(1)
        let fixture = try ResolverFixture(limits: limits)
        let first = try fixture.client.tcpConnection()
        let second = try fixture.client.tcpConnection()
        try waitUntil("two connections held") { fixture.server.tcpConnections == 2 }
        let third = try fixture.client.tcpConnection()
        #expect(third.closedByPeer(timeoutMs: 10_000))
        try waitUntil("the refused connection reported") { fixture.drops.all.contains { $0.reason == .tooManyConnections } }
        // Idle connections are closed, which frees their slots.
        #expect(first.closedByPeer(timeoutMs: 10_000) && second.closedByPeer(timeoutMs: 10_000))
        try waitUntil("slots free") { fixture.server.tcpConnections == 0 }
        let fourth = try fixture.client.tcpConnection()
        fourth.send(try DNSMessage.query(id: 8, name: try DNSName("a.test"), type: .a).encoded())
        #expect(try DNSMessage(parsing: try #require(fourth.receive())).header.id == 8)
        // A frame over the size limit closes the connection unread.
        let fifth = try fixture.client.tcpConnection()
        #expect(fifth.sendRaw([0xFF, 0xFF] + [UInt8](repeating: 0, count: 100)))
        #expect(fifth.closedByPeer(timeoutMs: 10_000))
    }

    @Test func floodOf20000QueriesLeavesTheServerAnswering() throws {
        let fixture = try ResolverFixture()
        let socket = try DNSSocket.udp(AF_INET)
        try socket.connect(to: fixture.client.server, timeoutMs: 1_000)
        var buffer = [UInt8](repeating: 0, count: 65_536)
        for i in 0..<20_000 {
            let name = i % 2 == 0 ? "a.test" : "flood\(i).denied.test"
            let query = try DNSMessage.query(id: UInt16(truncatingIfNeeded: i), name: try DNSName(name), type: i % 3 == 0 ? .aaaa : .a).encoded()
            while !socket.send(query, to: fixture.client.server) {
                _ = socket.wait(for: Int16(POLLOUT), deadline: monotonicMilliseconds() + 100)
            }
            // Drain answers as they come so our own receive buffer never matters.
            while recv(socket.fd, &buffer, buffer.count, Int32(MSG_DONTWAIT)) > 0 {}
        }
        #expect(fixture.drops.all.contains { $0.reason == .rateLimited })
        // Once the bucket refills, a new client is answered normally. It retransmits like a stub
        // resolver (2 s, 5 tries): the flood's tail can fill the socket's queue and lose one datagram.
        let deadline = monotonicMilliseconds() + 60_000
        var code: DNSResponseCode?
        while code != .noError && monotonicMilliseconds() < deadline {
            code = (try? fixture.client.ask("a.test", timeoutMs: 2_000, attempts: 5))?.header.responseCode
            if code != .noError { usleep(200_000) }
        }
        #expect(code == .noError, "in flight \(fixture.server.queriesInFlight); \(threadStates())")
        #expect(Set(fixture.upstreamNames) == ["a.test"])
    }
}

/// Polls `condition` for up to 20 s.
func waitUntil(_ what: String, _ condition: () -> Bool) throws {
    let deadline = monotonicMilliseconds() + 20_000
    while !condition() {
        guard monotonicMilliseconds() < deadline else { throw TestFailure("timed out waiting for \(what)") }
        usleep(10_000)
    }
}

/// What this process's threads are blocked in (from /proc), for failure messages.
func threadStates() -> String {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
    var counts: [String: Int] = [:]
    for task in tasks {
        let wchan = (try? String(contentsOfFile: "/proc/self/task/\(task)/wchan", encoding: .utf8)) ?? "?"
        counts[wchan, default: 0] += 1
    }
    return "\(tasks.count) threads: " + counts.map { "\($0.key) x\($0.value)" }.sorted().joined(separator: ", ")
}
