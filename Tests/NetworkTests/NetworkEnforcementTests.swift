import CEbguardABI
import EbguardBPF
import EbguardSystem
import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// net.bpf.o in this host's kernel: maps filled by hand, real sockets in fresh network
/// namespaces, outcomes asserted by errno and by the events on eg_events.
@Suite(.enabled(if: TestEnvironment.isRoot, Comment(rawValue: TestEnvironment.rootReason)))
struct NetworkEnforcementTests {
    @Test func ipv4AllowAndDenyByCIDR() throws {
        let net = try NetFixture("net-cidr")
        let denyLoopback = try net.session("deny-loopback", policy: 1)
        try net.put("127.0.0.0/8", policy: 1, [.deny(0)])
        let onlyTen = try net.session("only-ten", policy: 2, default: EG_VERDICT_DENY)
        try net.put("10.0.0.0/8", policy: 2, [.allow(0)])

        let attempts = ["tcp/127.0.0.1/8080", "tcp/127.9.9.9/8080", "tcp/10.1.2.3/8080", "tcp/192.168.7.1/8080"]
        try expectOutcomes(attempts, in: denyLoopback, [
            "tcp/127.0.0.1/8080": "EPERM", "tcp/127.9.9.9/8080": "EPERM",
            "tcp/10.1.2.3/8080": "ok", "tcp/192.168.7.1/8080": "ok",
        ])
        try expectOutcomes(attempts, in: onlyTen, [
            "tcp/127.0.0.1/8080": "EPERM", "tcp/127.9.9.9/8080": "EPERM",
            "tcp/10.1.2.3/8080": "ok", "tcp/192.168.7.1/8080": "EPERM",
        ])
    }

    @Test func longestPrefixWins() throws {
        let net = try NetFixture("net-lpm")
        let session = try net.session("s", policy: 7)
        // As the compiler writes them: each entry carries the shorter prefixes' rules too.
        try net.put("127.0.0.0/8", policy: 7, [.deny(0)])
        try net.put("127.0.0.2/32", policy: 7, [.allow(1), .deny(0)])
        try net.put("10.0.0.0/8", policy: 7, [.deny(2)])
        try net.put("10.1.0.0/16", policy: 7, [.allow(3), .deny(2)])
        try expectOutcomes(["tcp/127.0.0.1/80", "tcp/127.0.0.2/80", "tcp/127.0.0.3/80",
                           "tcp/10.1.2.3/80", "tcp/10.2.0.1/80"], in: session, [
            "tcp/127.0.0.1/80": "EPERM", "tcp/127.0.0.2/80": "ok", "tcp/127.0.0.3/80": "EPERM",
            "tcp/10.1.2.3/80": "ok", "tcp/10.2.0.1/80": "EPERM",
        ])
        let rules = try net.events().filter { $0.verdict == UInt8(EG_VERDICT_DENY.rawValue) }.map(\.rule).sorted()
        #expect(rules == [0, 0, 2])
    }

    @Test func portListsAndRanges() throws {
        let net = try NetFixture("net-ports")
        let session = try net.session("s", policy: 3, default: EG_VERDICT_DENY)
        try net.put("127.0.0.0/8", policy: 3, [.allow(0, ports: 443...443), .allow(0, ports: 8000...8099), .deny(1, ports: 22...22)])
        try expectOutcomes(["tcp/127.0.0.1/443", "tcp/127.0.0.1/8000", "tcp/127.0.0.1/8099", "tcp/127.0.0.1/8100",
                           "tcp/127.0.0.1/7999", "tcp/127.0.0.1/22", "tcp/127.0.0.1/444"], in: session, [
            "tcp/127.0.0.1/443": "ok", "tcp/127.0.0.1/8000": "ok", "tcp/127.0.0.1/8099": "ok",
            "tcp/127.0.0.1/8100": "EPERM", "tcp/127.0.0.1/7999": "EPERM", "tcp/127.0.0.1/22": "EPERM",
            "tcp/127.0.0.1/444": "EPERM",
        ])
        let events = try net.events()
        let ssh = try #require(events.first { $0.port == 22 })
        #expect((ssh.rule, ssh.reason) == (1, UInt8(EG_REASON_RULE.rawValue)))
        let unlisted = try #require(events.first { $0.port == 8100 })
        #expect((unlisted.rule, unlisted.reason) == (UInt16(EG_RULE_DEFAULT), UInt8(EG_REASON_DEFAULT.rawValue)))
    }

    @Test func protocolTCPVersusUDP() throws {
        let net = try NetFixture("net-proto")
        let noTCP = try net.session("no-tcp", policy: 1)
        try net.put("127.0.0.0/8", policy: 1, [.deny(0, proto: tcp)])
        let noUDP = try net.session("no-udp", policy: 2)
        try net.put("127.0.0.0/8", policy: 2, [.deny(0, proto: udp)])
        let attempts = ["tcp/127.0.0.1/9000", "udp/127.0.0.1/9000", "udpc/127.0.0.1/9001"]
        try expectOutcomes(attempts, in: noTCP, ["tcp/127.0.0.1/9000": "EPERM", "udp/127.0.0.1/9000": "ok", "udpc/127.0.0.1/9001": "ok"])
        try expectOutcomes(attempts, in: noUDP, ["tcp/127.0.0.1/9000": "ok", "udp/127.0.0.1/9000": "EPERM", "udpc/127.0.0.1/9001": "EPERM"])
    }

    @Test func ipv6AllowAndDeny() throws {
        let net = try NetFixture("net-v6")
        let session = try net.session("s", policy: 4, default: EG_VERDICT_DENY)
        try net.put("fd00::/8", policy: 4, [.allow(0)])
        try net.put("::1/128", policy: 4, [.deny(1, ports: 22...22), .allow(2)])
        try expectOutcomes(["tcp/::1/8080", "tcp/::1/22", "tcp/fd00::7/8080", "udp/::1/53", "udp/::1/22",
                           "tcp/::/22"], in: session, [
            "tcp/::1/8080": "ok", "tcp/::1/22": "EPERM", "tcp/fd00::7/8080": "ok", "udp/::1/53": "ok", "udp/::1/22": "EPERM",
            "tcp/::/22": "EPERM",  // :: reaches ::1: matched as ::1
        ])
        let event = try #require(try net.events().first { $0.port == 22 && $0.protocol == tcp })
        #expect(event.family == UInt8(AF_INET6))
        #expect(withUnsafeBytes(of: event.addr) { Array($0) } == (try addressBytes("::1")))
    }

    @Test func ipv4MappedIPv6IsCheckedAsIPv4() throws {
        let net = try NetFixture("net-mapped")
        let session = try net.session("s", policy: 5)
        try net.put("127.0.0.0/8", policy: 5, [.deny(0)])
        // Nothing in the v6 map: a mapped address must not fall through to the v6 default.
        try expectOutcomes(["tcp/::ffff:127.0.0.1/8080", "udp/::ffff:127.0.0.1/8081", "udpc/::ffff:127.0.0.1/8082",
                           "tcp/::ffff:10.1.2.3/8080", "tcp/::1/8080"], in: session, [
            "tcp/::ffff:127.0.0.1/8080": "EPERM", "udp/::ffff:127.0.0.1/8081": "EPERM", "udpc/::ffff:127.0.0.1/8082": "EPERM",
            "tcp/::ffff:10.1.2.3/8080": "ok", "tcp/::1/8080": "ok",
        ])
        let events = try net.events()
        #expect(events.count >= 3)
        for event in events {
            #expect(event.family == UInt8(AF_INET))
            #expect(withUnsafeBytes(of: event.addr) { Array($0) } == [127, 0, 0, 1] + Array(repeating: 0, count: 12))
        }
    }

    @Test func inaddrAnyCannotDodgeALoopbackDeny() throws {
        let net = try NetFixture("net-any")
        let session = try net.session("s", policy: 6)
        try net.put("127.0.0.0/8", policy: 6, [.deny(0)])
        try expectOutcomes(["tcp/0.0.0.0/8080", "udp/0.0.0.0/8081", "tcp/::ffff:0.0.0.0/8082"], in: session, [
            "tcp/0.0.0.0/8080": "EPERM", "udp/0.0.0.0/8081": "EPERM", "tcp/::ffff:0.0.0.0/8082": "EPERM",
        ])
    }

    @Test func tcpFastOpenWithoutConnectIsDenied() throws {
        let net = try NetFixture("net-tfo")
        let session = try net.session("s", policy: 12)
        try net.put("127.0.0.0/8", policy: 12, [.deny(0, ports: 8080...8080)])
        try net.put("::1/128", policy: 12, [.deny(1, ports: 8080...8080)])
        try expectOutcomes(["tfo/127.0.0.1/8080", "tfo/127.0.0.1/8081", "tfo/::1/8080", "tfo/::ffff:127.0.0.1/8080"], in: session, [
            "tfo/127.0.0.1/8080": "EPERM", "tfo/127.0.0.1/8081": "ok", "tfo/::1/8080": "EPERM", "tfo/::ffff:127.0.0.1/8080": "EPERM",
        ])
    }

    @Test func multipathTCPIsGovernedByTCPRules() throws {
        let net = try NetFixture("net-mptcp")
        let session = try net.session("s", policy: 13)
        try net.put("127.0.0.0/8", policy: 13, [.deny(0, ports: 8080...8080, proto: tcp)])
        try expectOutcomes(["mptcp/127.0.0.1/8080", "mptcp/127.0.0.1/8081", "mptcp/::ffff:127.0.0.1/8080"], in: session, [
            "mptcp/127.0.0.1/8080": "EPERM", "mptcp/127.0.0.1/8081": "ok", "mptcp/::ffff:127.0.0.1/8080": "EPERM",
        ])
        #expect(try net.events().map(\.protocol) == [tcp, tcp])
    }

    @Test func udpSendtoWithoutConnectIsDenied() throws {
        let net = try NetFixture("net-sendto")
        let session = try net.session("s", policy: 8)
        try net.put("127.0.0.0/8", policy: 8, [.deny(0, ports: 5353...5353, proto: udp)])
        try net.put("::1/128", policy: 8, [.deny(1, ports: 5353...5353, proto: udp)])
        try expectOutcomes(["udp/127.0.0.1/5353", "udp/127.0.0.1/5354", "udp/::1/5353", "udp/::1/5354"], in: session, [
            "udp/127.0.0.1/5353": "EPERM", "udp/127.0.0.1/5354": "ok", "udp/::1/5353": "EPERM", "udp/::1/5354": "ok",
        ])
        let events = try net.events()
        #expect(events.map(\.protocol) == [udp, udp])
        #expect(events.map(\.port) == [5353, 5353])
    }

    @Test func defaultVerdictWhenNothingMatches() throws {
        let net = try NetFixture("net-default")
        let session = try net.session("s", policy: 9, default: EG_VERDICT_DENY)
        try net.put("127.0.0.2/32", policy: 9, [.allow(0, ports: 80...80)])
        try expectOutcomes(["tcp/127.0.0.1/80", "tcp/127.0.0.2/80", "tcp/127.0.0.2/81", "udp/::1/53"], in: session, [
            "tcp/127.0.0.1/80": "EPERM", "tcp/127.0.0.2/80": "ok", "tcp/127.0.0.2/81": "EPERM", "udp/::1/53": "EPERM",
        ])
        let events = try net.events()
        #expect(events.count == 3)
        #expect(events.allSatisfy { $0.rule == UInt16(EG_RULE_DEFAULT) && $0.reason == UInt8(EG_REASON_DEFAULT.rawValue) })
    }

    @Test func processesOutsideEverySessionAreUnaffected() throws {
        let net = try NetFixture("net-outside")
        _ = try net.session("s", policy: 10, default: EG_VERDICT_DENY)
        try net.put("0.0.0.0/0", policy: 10, [.deny(0)])
        let stranger = try net.bystander("stranger")  // under the attach point, in no session
        let attempts = ["tcp/127.0.0.1/8080", "udp/127.0.0.1/53", "tcp/::1/8080", "tcp/::ffff:127.0.0.1/8081"]
        let allOK = Dictionary(uniqueKeysWithValues: attempts.map { ($0, "ok") })
        try expectOutcomes(attempts, in: stranger, allOK)
        try expectOutcomes(attempts, in: nil, allOK)  // the test runner's own cgroup
        #expect(try net.events().isEmpty)
    }

    @Test func childCgroupsOfASessionAreGoverned() throws {
        let net = try NetFixture("net-child")
        let session = try net.session("s", policy: 11)
        try net.put("127.0.0.0/8", policy: 11, [.deny(0)])
        let child = try session.createChild("agent-made")
        let grandchild = try child.createChild("deeper")
        try expectOutcomes(["tcp/127.0.0.1/8080"], in: grandchild, ["tcp/127.0.0.1/8080": "EPERM"])
        let event = try #require(try net.events().first)
        #expect(event.session_id == (try session.id()))
        #expect(event.task.cgroup_id == (try grandchild.id()))
    }

    @Test func sessionsWithDifferentPoliciesDoNotAffectEachOther() throws {
        let net = try NetFixture("net-two")
        let a = try net.session("a", policy: 21)
        let b = try net.session("b", policy: 22, default: EG_VERDICT_DENY)
        try net.put("127.0.0.0/8", policy: 21, [.deny(0)])
        try net.put("127.0.0.1/32", policy: 22, [.allow(5)])
        try net.put("::1/128", policy: 21, [.deny(1)])
        let attempts = ["tcp/127.0.0.1/8080", "tcp/127.0.0.2/8080", "tcp/10.1.2.3/8080", "tcp/::1/8080"]
        try expectOutcomes(attempts, in: a, [
            "tcp/127.0.0.1/8080": "EPERM", "tcp/127.0.0.2/8080": "EPERM", "tcp/10.1.2.3/8080": "ok", "tcp/::1/8080": "EPERM",
        ])
        try expectOutcomes(attempts, in: b, [
            "tcp/127.0.0.1/8080": "ok", "tcp/127.0.0.2/8080": "EPERM", "tcp/10.1.2.3/8080": "EPERM", "tcp/::1/8080": "EPERM",
        ])
        let events = try net.events()
        #expect(Set(events.filter { $0.session_id == (try? a.id()) }.map(\.policy_id)) == [21])
        #expect(Set(events.filter { $0.session_id == (try? b.id()) }.map(\.policy_id)) == [22])
    }

    @Test func eventsCarryTheDecision() throws {
        let net = try NetFixture("net-events")
        let session = try net.session("s", policy: 31)
        try net.put("127.0.0.0/8", policy: 31, [.deny(3, ports: 22...22, proto: tcp), .ask(4, ports: 23...23),
                                                .audit(5, ports: 8080...8080), .allow(6)])
        try expectOutcomes(["tcp/127.0.0.5/22", "tcp/127.0.0.1/23", "tcp/127.0.0.1/8080", "tcp/127.0.0.1/9090"], in: session, [
            "tcp/127.0.0.5/22": "EPERM", "tcp/127.0.0.1/23": "EPERM", "tcp/127.0.0.1/8080": "ok", "tcp/127.0.0.1/9090": "ok",
        ])
        let events = try net.events()
        #expect(events.count == 3)  // plain allows are not reported
        let sessionID = try session.id()
        for event in events {
            #expect(event.hdr.type == UInt16(EG_EVENT_NET.rawValue))
            #expect(event.hdr.version == UInt16(EG_ABI_VERSION))
            #expect(Int(event.hdr.size) == MemoryLayout<eg_net_event>.size)
            #expect(event.session_id == sessionID)
            #expect(event.task.cgroup_id == sessionID)
            #expect(event.policy_id == 31)
            #expect(event.family == UInt8(AF_INET))
            #expect(event.protocol == tcp)
            #expect(event.reason == UInt8(EG_REASON_RULE.rawValue))
            #expect(string(fromCArray: event.task.comm) == "python3")
            #expect(event.task.pid != 0)
        }
        let deny = try #require(events.first { $0.port == 22 })
        #expect((deny.verdict, deny.rule, deny.ret) == (UInt8(EG_VERDICT_DENY.rawValue), 3, -EPERM))
        #expect(withUnsafeBytes(of: deny.addr) { Array($0.prefix(4)) } == [127, 0, 0, 5])
        let ask = try #require(events.first { $0.port == 23 })
        #expect((ask.verdict, ask.rule, ask.ret) == (UInt8(EG_VERDICT_ASK.rawValue), 4, -EPERM))
        let audit = try #require(events.first { $0.port == 8080 })
        #expect((audit.verdict, audit.rule, audit.ret) == (UInt8(EG_VERDICT_AUDIT.rawValue), 5, 0))
    }

    @Test func auditAllowsReportsAllowedConnects() throws {
        let net = try NetFixture("net-observe")
        let session = try net.session("s", policy: 32, auditAllows: true)
        try expectOutcomes(["tcp/127.0.0.1/8080", "udp/::1/53"], in: session, ["tcp/127.0.0.1/8080": "ok", "udp/::1/53": "ok"])
        let events = try net.events()
        #expect(events.map(\.verdict) == [UInt8(EG_VERDICT_ALLOW.rawValue), UInt8(EG_VERDICT_ALLOW.rawValue)])
        #expect(events.map(\.ret) == [0, 0])
        #expect(events.map(\.family) == [UInt8(AF_INET), UInt8(AF_INET6)])
    }

    @Test func malformedEntriesFailClosed() throws {
        let net = try NetFixture("net-corrupt")
        let session = try net.session("s", policy: 33)
        try net.put("127.0.0.1/32", policy: 33, [NetRule(verdict: eg_verdict(rawValue: 9), rule: 0)])
        var tooMany = eg_net_rules.make([.allow(0)])
        tooMany.count = UInt32(EG_NET_RULES_MAX) + 1
        var key = eg_net4_key()
        key.prefixlen = 64
        key.policy_id = 33
        key.addr = (127, 0, 0, 2)
        try net.rules4.update(key, tooMany)
        try expectOutcomes(["tcp/127.0.0.1/80", "tcp/127.0.0.2/80", "tcp/127.0.0.3/80"], in: session, [
            "tcp/127.0.0.1/80": "EPERM", "tcp/127.0.0.2/80": "EPERM", "tcp/127.0.0.3/80": "ok",
        ])
        #expect(try net.events().map(\.reason) == [UInt8(EG_REASON_NO_POLICY.rawValue), UInt8(EG_REASON_NO_POLICY.rawValue)])
    }
}

/// Runs the attempts (see `Probe`) and expects exactly these outcomes; on failure the
/// message shows what really happened.
func expectOutcomes(_ attempts: [String], in cgroup: Cgroup?, _ expected: [String: String],
                    sourceLocation: SourceLocation = #_sourceLocation) throws {
    let outcomes = try Probe.run(attempts, in: cgroup)
    #expect(outcomes == expected, sourceLocation: sourceLocation)
}
