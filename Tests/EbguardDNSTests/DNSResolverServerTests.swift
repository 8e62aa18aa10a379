@testable import EbguardDNS
import EbguardTestSupport
import Foundation
import Testing

/// The resolver against a real upstream (dnsmasq on loopback), asked by a hand-made client and by dig.
@Suite(.serialized, needsDnsmasq) struct DNSResolverServerTests {
    @Test func forwardsAnAllowedNameAndAdmitsBeforeAnswering() throws {
        let fixture = try ResolverFixture()
        let reply = try fixture.client.ask("A.Test", .a, id: 0x1234)
        #expect(reply.header.id == 0x1234)
        #expect(reply.header.isResponse && reply.header.responseCode == .noError)
        #expect(reply.questions.first?.name.labels.first == Array("A".utf8), "the client's letter case is echoed")
        #expect(addresses(in: reply) == ["192.0.2.1"])
        let resolution = try #require(fixture.admitted.all.last)
        #expect(resolution.name.text == "a.test")
        #expect(resolution.addresses.map(\.description) == ["192.0.2.1 ttl 30"])
        #expect(fixture.decided.all.map(\.name) == ["a.test"])
        #expect(fixture.decided.all.first?.transport == .udp)
        #expect(fixture.decided.all.first?.client.address == .loopbackV4)
        #expect(fixture.upstreamNames == ["a.test"])
    }

    @Test func cnameChainAndAAAA() throws {
        let fixture = try ResolverFixture()
        let reply = try fixture.client.ask("c1.test", .aaaa)
        #expect(reply.header.responseCode == .noError && reply.answers.count == 3)
        let resolution = try #require(fixture.admitted.all.last)
        #expect(resolution.chain.map(\.text) == ["c1.test", "c2.test", "a.test"])
        #expect(resolution.addresses.map(\.description) == ["2001:db8::1 ttl 30"])
        #expect(resolution.addresses.first?.owner.text == "a.test")
        // dig sees the same answer through the resolver, over UDP and TCP.
        let udp = try fixture.dig(["+short", "c1.test", "A"])
        #expect(udp.contains("192.0.2.1"), "\(udp)")
        let tcp = try fixture.dig(["+tcp", "+noall", "+answer", "c1.test", "AAAA"])
        #expect(tcp.contains("2001:db8::1") && tcp.contains("CNAME"), "\(tcp)")
        #expect(fixture.decided.all.map(\.transport).contains(.tcp))
    }

    @Test func deniedNameGetsNXDOMAINWithoutReachingUpstream() throws {
        let fixture = try ResolverFixture()
        let reply = try fixture.client.ask("denied.test")
        #expect(reply.header.responseCode == .nameError)
        #expect(reply.questions.first?.name.text == "denied.test")
        let dig = try fixture.dig(["denied.test", "TXT"])
        #expect(dig.contains("status: NXDOMAIN"), "\(dig)")
        #expect(fixture.admitted.all.isEmpty)
        // An allowed query afterwards reaches dnsmasq, so its log is live; the denied one never did.
        _ = try fixture.client.ask("a.test")
        #expect(fixture.upstreamNames == ["a.test"])
    }

    @Test func ipv6ListenerOnTheSamePort() throws {
        let fixture = try ResolverFixture()
        guard fixture.server.listensOnIPv6 else {
            Issue.record("::1 could not be bound; this host has no IPv6 loopback")
            return
        }
        let reply = try DNSTestClient(port: fixture.server.port, address: .loopbackV6).ask("a.test", .aaaa)
        #expect(reply.header.responseCode == .noError)
        #expect(fixture.decided.all.first?.client.address == .loopbackV6)
        let connection = try DNSTCPConnection(DNSEndpoint(address: .loopbackV6, port: fixture.server.port))
        connection.send(try DNSMessage.query(id: 9, name: try DNSName("a.test"), type: .a).encoded())
        let answer = try DNSMessage(parsing: try #require(connection.receive()))
        #expect(answer.header.id == 9 && answer.answers.count == 1)
    }

    @Test func truncatedUDPAnswerSendsTheClientToTCP() throws {
        let fixture = try ResolverFixture()
        // 40 A records do not fit 512 bytes: without EDNS the upstream sets TC, and so must we.
        let udp = try fixture.client.ask("big.test")
        #expect(udp.header.truncated)
        #expect(udp.answers.count < 40)
        let connection = try fixture.client.tcpConnection()
        connection.send(try DNSMessage.query(id: 77, name: try DNSName("big.test"), type: .a).encoded())
        let tcp = try DNSMessage(parsing: try #require(connection.receive()))
        #expect(tcp.header.id == 77 && !tcp.header.truncated && tcp.answers.count == 40)
        let resolution = try #require(fixture.admitted.all.last)
        #expect(resolution.addresses.count == 40 && !resolution.truncated)
        #expect(resolution.addresses.allSatisfy { $0.ttl == 10 })
        // dig retries over TCP by itself on TC.
        let dig = try fixture.dig(["+noedns", "+noall", "+answer", "big.test"])
        #expect(dig.split(separator: "\n").filter { $0.contains("10.0.0.") }.count == 40, "\(dig)")
    }

    @Test func severalQueriesOnOneTCPConnection() throws {
        let fixture = try ResolverFixture()
        let connection = try fixture.client.tcpConnection()
        // One after another, then three pipelined.
        for (id, name) in [(1, "a.test"), (2, "denied.test"), (3, "c1.test")] {
            connection.send(try DNSMessage.query(id: UInt16(id), name: try DNSName(name), type: .a).encoded())
            let reply = try DNSMessage(parsing: try #require(connection.receive()))
            #expect(reply.header.id == UInt16(id))
            #expect(reply.header.responseCode == (name == "denied.test" ? .nameError : .noError))
        }
        for id in 10..<13 { connection.send(try DNSMessage.query(id: UInt16(id), name: try DNSName("t.test"), type: .txt).encoded()) }
        for id in 10..<13 {
            let reply = try DNSMessage(parsing: try #require(connection.receive()))
            #expect(reply.header.id == UInt16(id) && reply.answers.first?.type == .txt)
        }
        #expect(fixture.decided.all.count == 6 && fixture.decided.all.allSatisfy { $0.transport == .tcp })
    }

    @Test func theAnswerWaitsForAdmit() throws {
        // admit is where the kernel learns the addresses: the client must not see them earlier.
        let gate = DispatchSemaphore(value: 0)
        let admitting = DispatchSemaphore(value: 0)
        let dnsmasq = try DnsmasqServer(records: ResolverFixture.records)
        let server = try DNSResolverServer(
            upstream: DNSUpstream(address: DNSIPAddress(dnsmasq.address)!, port: dnsmasq.port),
            delegate: DNSResolverDelegate(decide: { _ in .forward }, admit: { _, _ in
                admitting.signal()
                gate.wait()
                return true
            }))
        server.start()
        defer { server.stop() }
        let client = try DNSSocket.udp(AF_INET)
        let endpoint = DNSEndpoint(address: .loopbackV4, port: server.port)
        try client.connect(to: endpoint, timeoutMs: 1_000)
        client.send(try DNSMessage.query(id: 31, name: try DNSName("a.test"), type: .a).encoded(), to: endpoint)
        #expect(admitting.wait(timeout: .now() + 20) == .success, "admit was called")
        #expect(client.wait(for: Int16(POLLIN), deadline: monotonicMilliseconds() + 500) == .timedOut, "no answer before admit returns")
        gate.signal()
        #expect(client.wait(for: Int16(POLLIN), deadline: monotonicMilliseconds() + 10_000) == .ready)
        var buffer = [UInt8](repeating: 0, count: 512)
        let n = recv(client.fd, &buffer, buffer.count, 0)
        let reply = try DNSMessage(parsing: Array(buffer[0..<max(0, n)]))
        #expect(reply.header.id == 31 && addresses(in: reply) == ["192.0.2.1"])
    }

    @Test func notAdmittedBecomesSERVFAIL() throws {
        let fixture = try ResolverFixture(admit: false)
        let reply = try fixture.client.ask("a.test")
        #expect(reply.header.responseCode == .serverFailure && reply.answers.isEmpty)
        #expect(fixture.drops.all.map(\.reason) == [.notAdmitted])
    }

    @Test func silentUpstreamBecomesSERVFAIL() throws {
        // A UDP socket nobody reads: the upstream never answers, two attempts time out.
        let silent = try DNSSocket.udp(AF_INET)
        try silent.bind(DNSEndpoint(address: .loopbackV4, port: 0))
        var limits = DNSLimits()
        limits.upstreamTimeout = .milliseconds(300)
        let fixture = try ResolverFixture(limits: limits, upstream: DNSUpstream(address: .loopbackV4, port: silent.localEndpoint()!.port))
        let reply = try fixture.client.ask("a.test")
        #expect(reply.header.responseCode == .serverFailure)
        #expect(fixture.drops.all.map(\.reason) == [.upstreamFailed("no matching answer in time")])
        #expect(fixture.admitted.all.isEmpty)
    }

    @Test func malformedAndUnsupportedQueries() throws {
        let fixture = try ResolverFixture()
        let client = fixture.client
        // Unparseable but with a readable header: FORMERR with the id.
        let formerr = try DNSMessage(parsing: try #require(try client.exchange([0x55, 0x66, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1])))
        #expect(formerr.header.id == 0x5566 && formerr.header.responseCode == .formatError)
        // Two questions: FORMERR; opcode STATUS: NOTIMP; class CH: REFUSED; AXFR: REFUSED.
        var two = DNSMessage.query(id: 1, name: try DNSName("a.test"), type: .a)
        two.questions.append(DNSQuestion(name: try DNSName("denied.test"), type: .a))
        #expect(try DNSMessage(parsing: try #require(try client.exchange(try two.encoded()))).header.responseCode == .formatError)
        var status = DNSMessage.query(id: 2, name: try DNSName("a.test"), type: .a)
        status.header.opcode = 2
        #expect(try DNSMessage(parsing: try #require(try client.exchange(try status.encoded()))).header.responseCode == .notImplemented)
        var chaos = DNSMessage.query(id: 3, name: try DNSName("version.bind"), type: .txt)
        chaos.questions[0].recordClass = .chaos
        #expect(try DNSMessage(parsing: try #require(try client.exchange(try chaos.encoded()))).header.responseCode == .refused)
        let axfr = DNSMessage.query(id: 4, name: try DNSName("a.test"), type: .axfr)
        #expect(try DNSMessage(parsing: try #require(try client.exchange(try axfr.encoded()))).header.responseCode == .refused)
        // A response sent to the resolver, and a runt: no answer at all.
        var response = DNSMessage.query(id: 5, name: try DNSName("a.test"), type: .a)
        response.header.isResponse = true
        #expect(try client.exchange(try response.encoded(), timeoutMs: 500) == nil)
        #expect(try client.exchange([1, 2, 3], timeoutMs: 500) == nil)
        // Oversized: dropped unread.
        #expect(try client.exchange([UInt8](repeating: 0, count: 600), timeoutMs: 500) == nil)
        #expect(fixture.decided.all.isEmpty)
        #expect(fixture.upstreamNames.isEmpty)
        let reasons = fixture.drops.all.map(\.reason)
        #expect(reasons.contains(.response) && reasons.contains(.oversized(600)))
        #expect(reasons.contains(.unsupported("CH TXT")) && reasons.contains(.unsupported("2 questions")))
        // And it still answers.
        #expect(try client.ask("a.test").header.responseCode == .noError)
    }
}
