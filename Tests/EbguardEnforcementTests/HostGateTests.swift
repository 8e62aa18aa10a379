import EbguardBPF
@testable import EbguardEnforcement
import EbguardPolicy
import Foundation
import Synchronization
import Testing

/// The resolver's policy side without sockets or kernel maps: what each query gets, what an
/// answer opens, and the limits.
struct HostGateTests {
    static let policy = try! Policy.parse(yaml: """
    version: 1
    name: t
    defaults: { network: deny }
    network:
      - { action: allow, host: "*.example.com", ports: [443], protocol: tcp }
      - { action: deny, host: bad.example.com }
      - { action: ask, host: "*.asked.test" }
      - { action: audit, host: audited.test, ports: [80, 443] }
    """, file: "t.yaml").compile(in: try! PolicyContext(home: "/home/u", workspace: "/home/u/w"))

    final class Reports: Sendable {
        let events = Mutex<[HostEvent]>([])
        var all: [HostEvent] { events.withLock { $0 } }
        func add(_ event: HostEvent) { events.withLock { $0.append(event) } }
    }

    func gate(ask: (@Sendable (String, String, RuleID?) -> HostGate.AskAnswer)? = nil,
              limits: HostAllowances.Limits = .init()) -> (HostGate, Reports) {
        let reports = Reports()
        let gate = HostGate(policy: Self.policy.hostRulesOnly, hosts: HostAllowances(sessionID: 7, map: nil, limits: limits),
                            ask: ask) { reports.add($0) }
        return (gate, reports)
    }

    @Test func queriesGetWhatTheirNamesRulesSay() {
        let (gate, reports) = gate()
        #expect(gate.decide(name: "API.Example.com.", type: "A") == .resolve)
        #expect(gate.decide(name: "bad.example.com", type: "A") == .nxdomain)
        #expect(gate.decide(name: "example.com", type: "A") == .nxdomain, "the bare suffix falls to the default")
        #expect(gate.decide(name: "x.asked.test", type: "A") == .nxdomain, "no one can answer an ask here")
        #expect(gate.decide(name: "api.example.com", type: "TXT") == .resolve, "a host rule serves data records")
        let denied = reports.all.filter(\.blocked).map(\.name)
        #expect(denied == ["bad.example.com", "example.com", "x.asked.test"])
        #expect(reports.all.first { $0.name == "bad.example.com" }?.rule == RuleID(.network, 1))
        #expect(reports.all.first { $0.name == "example.com" }?.reason == "default")
        #expect(reports.all.first { $0.name == "x.asked.test" }?.verdict == .ask, "ask, no one to answer")
    }

    @Test func dataQueriesWithoutAHostRuleAreRefused() throws {
        let open = try Policy.parse(yaml: "version: 1\nname: o\ndefaults: { network: allow }\n", file: "o.yaml")
            .compile(in: try PolicyContext(home: "/home/u", workspace: "/home/u/w"))
        let reports = Reports()
        let gate = HostGate(policy: open, hosts: HostAllowances(sessionID: 1, map: nil), ask: nil) { reports.add($0) }
        #expect(gate.decide(name: "anything.test", type: "A") == .resolve)
        for type in ["TXT", "NULL", "ANY"] { #expect(gate.decide(name: "anything.test", type: type) == .refused) }
        #expect(reports.all.count == 3 && reports.all.allSatisfy { $0.reason == "type" })
    }

    @Test func anAnswerOpensItsAddressesWithTheNamesRules() {
        let (gate, reports) = gate()
        #expect(gate.admit(name: "api.example.com", type: "A", cnames: [], addresses: [([1, 2, 3, 4], 60)]))
        #expect(gate.hosts.liveNames(for: [1, 2, 3, 4]) == ["api.example.com"])
        #expect(gate.hosts.liveNames(for: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4]) == ["api.example.com"],
                "an IPv4-mapped address is the IPv4 one")
        #expect(reports.all.isEmpty, "a plain allow is not reported")
        #expect(gate.admit(name: "audited.test", type: "A", cnames: ["cdn.test"], addresses: [([1, 2, 3, 4], 60)]))
        #expect(gate.hosts.liveNames(for: [1, 2, 3, 4]) == ["api.example.com", "audited.test"], "two names share the address")
        #expect(reports.all.last?.message == "resolved audited.test (A) via cdn.test: 1.2.3.4")
        #expect(HostAllowances.kernelRules(Self.policy.decideHost(name: "audited.test").rules, ipv4: true).map(\.port_lo) == [80, 443])
    }

    @Test func answersExpireAfterTheTTLAndTheGrace() {
        var limits = HostAllowances.Limits()
        limits.graceSeconds = 5
        let hosts = HostAllowances(sessionID: 1, map: nil, limits: limits)
        let rules = Self.policy.decideHost(name: "api.example.com").rules
        try? hosts.grant(name: "api.example.com", addresses: [([9, 9, 9, 9], 10)], rules: rules, now: 0)
        #expect(hosts.liveNames(for: [9, 9, 9, 9], now: 14_999_999_999) == ["api.example.com"])
        #expect(hosts.liveNames(for: [9, 9, 9, 9], now: 15_000_000_000).isEmpty)
        hosts.sweep(now: 15_000_000_000)
        #expect(hosts.liveNames(for: [9, 9, 9, 9], now: 0).isEmpty, "swept")
    }

    @Test func expiredAnswersFreeTheirPlaceUnderTheLimits() throws {
        var limits = HostAllowances.Limits()
        limits.names = 1
        limits.addresses = 1
        limits.graceSeconds = 0
        let hosts = HostAllowances(sessionID: 1, map: nil, limits: limits)
        let rules = Self.policy.decideHost(name: "api.example.com").rules
        let first = try hosts.grant(name: "a.example.com", addresses: [([1, 1, 1, 1], 10)], rules: rules, now: 0)
        #expect(throws: HostAllowances.LimitReached.self) {
            try hosts.grant(name: "b.example.com", addresses: [([2, 2, 2, 2], 10)], rules: rules, now: 5_000_000_000)
        }
        let second = try hosts.grant(name: "b.example.com", addresses: [([2, 2, 2, 2], 10)], rules: rules, now: 10_000_000_000)
        #expect(second != first, "ids are never reused")
        #expect(hosts.name(ofID: first) == nil && hosts.name(ofID: second) == "b.example.com")
    }

    @Test func pastItsLimitsASessionGetsNoMoreAddresses() {
        var limits = HostAllowances.Limits()
        limits.addresses = 2
        limits.names = 2
        let (gate, reports) = gate(limits: limits)
        #expect(gate.admit(name: "a.example.com", type: "A", cnames: [], addresses: [([1, 0, 0, 1], 60), ([1, 0, 0, 2], 60)]))
        #expect(!gate.admit(name: "b.example.com", type: "A", cnames: [], addresses: [([1, 0, 0, 3], 60)]))
        #expect(gate.hosts.liveNames(for: [1, 0, 0, 3]).isEmpty)
        #expect(reports.all.last?.reason == "limit")
        #expect(gate.admit(name: "b.example.com", type: "A", cnames: [], addresses: [([1, 0, 0, 2], 60)]), "a known address still fits")
        #expect(!gate.admit(name: "c.example.com", type: "A", cnames: [], addresses: [([1, 0, 0, 1], 60)]), "a third name does not")
    }

    @Test func anAskWaitsForItsAnswerAndALateOneServesTheRetry() {
        let asked = Mutex<[String]>([])
        let (gate, reports) = gate(ask: { name, _, _ in
            asked.withLock { $0.append(name) }
            return HostGate.AskAnswer(allow: name != "no.asked.test", remembered: name == "keep.asked.test")
        })
        #expect(gate.decide(name: "yes.asked.test", type: "A") == .resolve)
        #expect(gate.admit(name: "yes.asked.test", type: "A", cnames: [], addresses: [([5, 5, 5, 5], 60)]))
        #expect(gate.hosts.liveNames(for: [5, 5, 5, 5]) == ["yes.asked.test"], "approved: opened like an allow")
        #expect(gate.decide(name: "no.asked.test", type: "A") == .nxdomain)
        #expect(reports.all.last?.reason == "answered" && reports.all.last?.verdict == .deny)
        // A once answer also serves the next query (the client's retry), then asks again.
        #expect(gate.decide(name: "yes.asked.test", type: "A") == .resolve)
        #expect(gate.decide(name: "yes.asked.test", type: "A") == .resolve)
        #expect(asked.withLock { $0 } == ["yes.asked.test", "no.asked.test", "yes.asked.test"])
        // A remembered answer is never asked again.
        for _ in 0..<3 { #expect(gate.decide(name: "keep.asked.test", type: "A") == .resolve) }
        #expect(asked.withLock { $0 }.filter { $0 == "keep.asked.test" }.count == 1)
    }
}
