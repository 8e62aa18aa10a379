import EbguardDNS
import EbguardPolicy
import Foundation

/// A session's resolver: EbguardDNS's server on loopback, deciding each query by the session's
/// host rules (`HostGate`). The kernel sends every DNS query of the session here
/// (bpf/lib/sock_addr.h); it lives in the process that owns the session (the daemon, or a
/// standalone `ebguard run`), outside the session's cgroup, so its own upstream queries are
/// not redirected.
public final class SessionResolver: Sendable {
    public let server: DNSResolverServer
    public let gate: HostGate
    private let drops: DropReporter

    public var port: UInt16 { server.port }

    /// Starts serving. `upstream` nil: the first nameserver of /etc/resolv.conf, or, as glibc
    /// does without one, 127.0.0.1.
    public init(upstream: DNSUpstream?, gate: HostGate, limits: DNSLimits = DNSLimits()) throws {
        let upstream = upstream ?? (try? DNSUpstream.fromResolvConf()) ?? DNSUpstream(address: .loopbackV4)
        self.gate = gate
        let drops = DropReporter(gate: gate)
        self.drops = drops
        let delegate = DNSResolverDelegate(
            decide: { query in
                switch gate.decide(name: query.name, type: query.type.description) {
                case .resolve: .forward
                case .nxdomain: .nxdomain
                case .refused: .refused
                }
            },
            admit: { query, resolution in
                let decision = gate.policy.decideHost(name: query.name)
                let flags: [String] = switch decision.pattern {
                case .wildcard(let suffix): DNSTunnelHeuristics.flags(name: query.name, under: suffix)
                case .exact: []
                case .any, nil: DNSTunnelHeuristics.flags(name: query.name, under: "")
                }
                return gate.admit(name: query.name, type: query.type.description,
                                  cnames: resolution.chain.dropFirst().map(\.text),
                                  addresses: resolution.addresses.map { ($0.address.bytes, $0.ttl) }, flags: flags)
            },
            dropped: { drops.note($0) })
        server = try DNSResolverServer(upstream: upstream, limits: limits, delegate: delegate)
        server.start()
    }

    public func stop() { server.stop() }
}

/// Reports what the resolver's limits threw away without flooding the report itself: the
/// first drop of each kind, then at most one summary a second.
final class DropReporter: @unchecked Sendable {
    private let gate: HostGate
    private let lock = NSLock()
    private var counts: [String: Int] = [:]
    private var lastReport: [String: UInt64] = [:]

    init(gate: HostGate) { self.gate = gate }

    func note(_ drop: DNSDrop) {
        let kind: String
        switch drop.reason {
        case .rateLimited: kind = "rate"
        case .tooManyInFlight, .tooManyConnections: kind = "busy"
        case .malformed, .unsupported, .oversized: kind = "malformed"
        case .upstreamFailed, .notAdmitted, .response: return  // reported where they happen, or nothing to say
        }
        let now = Answers.bootTime()
        let report: Int? = lock.withLock {
            counts[kind, default: 0] += 1
            guard now >= (lastReport[kind] ?? 0) + 1_000_000_000 else { return nil }
            lastReport[kind] = now
            defer { counts[kind] = 0 }
            return counts[kind]
        }
        guard let report else { return }
        let name = drop.query?.name ?? "?"
        gate.reportDrop(kind: kind, name: name, count: report, why: drop.reason.description)
    }
}
