import EbguardDNS
import EbguardTestSupport
import Foundation
import Testing

/// A live resolver in front of a real dnsmasq: names in `allowed` are forwarded, the rest get
/// NXDOMAIN; everything the delegate sees is recorded.
final class ResolverFixture {
    static let records: [DnsmasqServer.Record] = [
        .host("a.test", v4: "192.0.2.1", v6: "2001:db8::1", ttl: 30),
        .cname("c1.test", target: "c2.test", ttl: 60),
        .cname("c2.test", target: "a.test", ttl: 45),
        .host("denied.test", v4: "192.0.2.66", v6: nil, ttl: 30),
        .txt("t.test", ["hello", "world"]),
    ] + (1...40).map { .host("big.test", v4: "10.0.0.\($0)", v6: nil, ttl: 10) }

    let dnsmasq: DnsmasqServer
    let server: DNSResolverServer
    let decided: Recorder<DNSQuery>
    let admitted: Recorder<DNSResolution>
    let drops: Recorder<DNSDrop>
    var client: DNSTestClient { DNSTestClient(port: server.port) }

    /// `decide` overrides the allow-list decision (it may block); `admit` says what admit returns.
    init(allowed: Set<String> = ["a.test", "c1.test", "big.test", "t.test"], limits: DNSLimits = DNSLimits(),
         upstream: DNSUpstream? = nil, admit: Bool = true,
         decide: (@Sendable (DNSQuery) -> DNSDecision)? = nil) throws {
        dnsmasq = try DnsmasqServer(records: Self.records, extraArguments: ["--local=/test/"])
        let decided = Recorder<DNSQuery>(), admitted = Recorder<DNSResolution>(), drops = Recorder<DNSDrop>()
        (self.decided, self.admitted, self.drops) = (decided, admitted, drops)
        let delegate = DNSResolverDelegate(
            decide: { query in
                decided.append(query)
                if let decide { return decide(query) }
                return allowed.contains(query.name) ? .forward : .nxdomain
            },
            admit: { _, resolution in
                admitted.append(resolution)
                return admit
            },
            dropped: { drops.append($0) })
        let target = upstream ?? DNSUpstream(address: DNSIPAddress(dnsmasq.address)!, port: dnsmasq.port)
        server = try DNSResolverServer(upstream: target, limits: limits, delegate: delegate)
        server.start()
    }

    deinit { server.stop() }

    /// Names dnsmasq was asked, without the harness's readiness probe.
    var upstreamNames: [String] { dnsmasq.queriedNames().filter { $0 != "ebguard-ready-probe" } }

    func dig(_ arguments: [String]) throws -> String {
        guard let dig = findExecutable("dig") else { throw TestFailure("dig is missing (bind9-dnsutils)") }
        let result = try runProcess([dig, "@127.0.0.1", "-p", "\(server.port)", "+time=5", "+tries=1"] + arguments)
        return result.stdout + result.stderr
    }
}

let needsDnsmasq = Testing.ConditionTrait.enabled(if: DnsmasqServer.executable != nil, Comment(rawValue: DnsmasqServer.missingReason))
