@testable import EbguardDNS
import EbguardTestSupport
import Foundation
import Testing

/// Random, truncated and bit-flipped messages: through the parser (no trap, and whatever parses
/// encodes and parses again), then at a live resolver over UDP and TCP, after which it must still
/// answer and the upstream must have seen no name the delegate denied.
@Suite(.serialized) struct DNSFuzzTests {
    /// A deterministic generator, so a failure can be replayed from the printed seed.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// EBGUARD_FUZZ_SEED replays a run; otherwise a fresh seed, printed with any failure.
    static func seed() -> UInt64 {
        ProcessInfo.processInfo.environment["EBGUARD_FUZZ_SEED"].flatMap { UInt64($0) } ?? .random(in: 0...UInt64.max)
    }

    static func seeds() throws -> [[UInt8]] {
        let query = DNSMessage.query(id: 1, name: try DNSName("a.test"), type: .a)
        let denied = DNSMessage.query(id: 2, name: try DNSName("secret-data.denied.test"), type: .txt)
        var edns = DNSMessage.query(id: 3, name: try DNSName("c1.test"), type: .aaaa)
        edns.additionals = [DNSRecord(name: .root, type: .opt, recordClass: DNSClass(rawValue: 1232), ttl: 0, data: .opaque([0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]))]
        return [try query.encoded(), try denied.encoded(), try edns.encoded(), try DNSMessageTests.sampleResponse().encoded()]
    }

    static func corpus(count: Int, seed: UInt64) throws -> [[UInt8]] {
        var rng = SplitMix(state: seed)
        let seeds = try seeds()
        return (0..<count).map { i in
            var bytes = seeds[i % seeds.count]
            switch i % 4 {
            case 0:   // random bytes, often with a plausible header
                bytes = (0..<Int.random(in: 0...80, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                if bytes.count >= 12 && Bool.random(using: &rng) { bytes[2] = 0x01; bytes[4] = 0; bytes[5] = 1 }
            case 1:   // truncated
                bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &rng)))
            case 2:   // bit flips
                for _ in 0..<Int.random(in: 1...6, using: &rng) {
                    bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= 1 << UInt8.random(in: 0...7, using: &rng)
                }
            default:  // random bytes overwritten or spliced in
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                if Bool.random(using: &rng) { bytes[at] = UInt8.random(in: 0...255, using: &rng) }
                else { bytes.insert(contentsOf: [0xC0, UInt8.random(in: 0...255, using: &rng)], at: at) }
            }
            return bytes
        }
    }

    @Test func parserSurvivesAndRoundTrips() throws {
        let seed = Self.seed()
        var parsed = 0
        for bytes in try Self.corpus(count: 20_000, seed: seed) {
            guard let message = try? DNSMessage(parsing: bytes) else { continue }
            parsed += 1
            let again = try DNSMessage(parsing: try message.encoded())
            #expect(again == message, "seed \(seed): \(bytes)")
        }
        // Bit flips in counts and lengths reject most; some flips (in ids, TTLs, letters) parse.
        #expect(parsed > 100, "seed \(seed)")
    }

    @Test(needsDnsmasq) func liveResolverSurvivesAndLeaksNoDeniedName() throws {
        var limits = DNSLimits()
        limits.queriesPerSecond = 1_000_000
        limits.burst = 1_000_000
        limits.tcpIdleTimeout = .seconds(2)
        // Only a.test may go upstream; everything else, whatever the flips made of it, is denied.
        let fixture = try ResolverFixture(allowed: ["a.test"], limits: limits)
        let seed = Self.seed()
        let corpus = try Self.corpus(count: 4_000, seed: seed)
        let udp = try DNSSocket.udp(AF_INET)
        try udp.connect(to: fixture.client.server, timeoutMs: 1_000)
        var buffer = [UInt8](repeating: 0, count: 65_536)
        for bytes in corpus {
            if !udp.send(bytes, to: fixture.client.server) { usleep(1_000) }
            while recv(udp.fd, &buffer, buffer.count, Int32(MSG_DONTWAIT)) > 0 {}
        }
        var connection = try fixture.client.tcpConnection()
        for (index, bytes) in corpus.enumerated() {
            // Half with a correct length prefix, half raw: a desynchronised stream is an attack too.
            let sent = index % 2 == 0 ? connection.send(bytes) : connection.sendRaw(bytes.isEmpty ? [0] : bytes)
            if !sent || index % 200 == 199 { connection = try fixture.client.tcpConnection() }
        }
        // Queries the fuzz made (forwarded, some over TCP) may still be finishing on a loaded
        // machine: allow the server a generous while to answer again, then say what it was doing.
        var reply: DNSMessage?
        let deadline = monotonicMilliseconds() + 60_000
        while reply == nil && monotonicMilliseconds() < deadline { reply = try? fixture.client.ask("a.test", timeoutMs: 2_000, attempts: 5) }
        guard let reply else {
            let denied = try? fixture.client.ask("denied.test")
            let direct = try? DNSTestClient(port: fixture.dnsmasq.port, address: DNSIPAddress(fixture.dnsmasq.address)!).ask("a.test")
            Issue.record("""
                seed \(seed): no answer after the fuzz; denied.test: \(String(describing: denied?.header.responseCode)), \
                dnsmasq directly: \(String(describing: direct?.header.responseCode)), in flight \(fixture.server.queriesInFlight), \
                TCP connections \(fixture.server.tcpConnections), last drops \(fixture.drops.all.suffix(5).map(\.reason)); \(threadStates())
                """)
            return
        }
        #expect(reply.header.responseCode == .noError, "seed \(seed)")
        let tcp = try fixture.client.tcpConnection()
        tcp.send(try DNSMessage.query(id: 4242, name: try DNSName("a.test"), type: .a).encoded())
        #expect(try DNSMessage(parsing: try #require(tcp.receive())).header.id == 4242)
        let leaked = fixture.upstreamNames.filter { $0 != "a.test" }
        #expect(leaked.isEmpty, "seed \(seed): names the delegate denied reached the upstream: \(leaked)")
        #expect(fixture.decided.all.contains { $0.name != "a.test" }, "the corpus exercised denials")
    }
}
