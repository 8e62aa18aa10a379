import CEbguardABI
import EbguardBPF
@testable import EbguardEnforcement
import EbguardSystem
import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// Interactive decisions on the network, in this host's kernel: an ask rule denies at once,
/// and an operator's answer in eg_net_answers decides the retry (lib/net_match.h).
@Suite(.enabled(if: TestEnvironment.isRoot, Comment(rawValue: TestEnvironment.rootReason)))
struct NetworkAnswerTests {
    let allowed = ["tcp/127.0.0.1/8080": "ok"]
    let refused = ["tcp/127.0.0.1/8080": "EPERM"]
    let loopback: [UInt8] = [127, 0, 0, 1]

    /// A fixture with one session whose policy asks for everything on 127.0.0.0/8.
    func asking(_ label: String) throws -> (NetFixture, Cgroup, UInt64, Answers) {
        let net = try NetFixture(label)
        let session = try net.session("asker", policy: 1)
        try net.put("127.0.0.0/8", policy: 1, [.ask(5)])
        return (net, session, try session.id(), Answers(pinRoot: net.pinRoot))
    }

    /// The events since `start`, as (verdict, reason, ret).
    func outcomes(_ net: NetFixture, from start: Int) throws -> [(UInt8, UInt8, Int32)] {
        try net.events().dropFirst(start).map { ($0.verdict, $0.reason, $0.ret) }
    }

    let ask = UInt8(EG_VERDICT_ASK.rawValue), allow = UInt8(EG_VERDICT_ALLOW.rawValue), deny = UInt8(EG_VERDICT_DENY.rawValue)
    let byRule = UInt8(EG_REASON_RULE.rawValue), answered = UInt8(EG_REASON_ANSWERED.rawValue)

    @Test func onceAnswerAllowsTheRetryThenIsSpent() throws {
        let (net, session, id, answers) = try asking("ans-once")
        try expectOutcomes(["tcp/127.0.0.1/8080"], in: session, refused)
        let asked = try #require(try net.events().last)
        #expect((asked.verdict, asked.reason, asked.ret, asked.rule) == (ask, byRule, -EPERM, 5))
        #expect((asked.family, asked.protocol, asked.port) == (UInt8(AF_INET), 6, 8080))

        // Keyed exactly as the event reported the destination.
        try answers.answerNetwork(sessionID: id, family: Int32(asked.family), protocol: asked.protocol, port: asked.port,
                                  address: withUnsafeBytes(of: asked.addr) { Array($0.prefix(4)) }, verdict: .allow, once: true)
        var start = try net.events().count
        try expectOutcomes(["tcp/127.0.0.1/8080"], in: session, allowed)
        let approved = try net.events().dropFirst(start)
        #expect(approved.map { ($0.verdict, $0.reason, $0.ret, $0.rule) }.elementsEqual([(allow, answered, 0, 5)], by: ==))
        #expect(try answers.networkAnswers(sessionID: id).isEmpty, "the hook deleted the spent answer")

        start = try net.events().count
        try expectOutcomes(["tcp/127.0.0.1/8080"], in: session, refused)
        #expect(try outcomes(net, from: start).elementsEqual([(ask, byRule, -EPERM)], by: ==))
        // Another port of the same host was never answered.
        try answers.answerNetwork(sessionID: id, family: AF_INET, protocol: 6, port: 8080, address: loopback,
                                  verdict: .allow, once: true)
        try expectOutcomes(["tcp/127.0.0.1/8081"], in: session, ["tcp/127.0.0.1/8081": "EPERM"])
    }

    @Test func sessionAnswerKeepsAllowingAndCoversUDP() throws {
        let (net, session, id, answers) = try asking("ans-session")
        try answers.answerNetwork(sessionID: id, family: AF_INET, protocol: 6, port: 8080, address: loopback,
                                  verdict: .allow, once: false)
        try answers.answerNetwork(sessionID: id, family: AF_INET, protocol: 17, port: 5353, address: loopback,
                                  verdict: .allow, once: false)
        for _ in 0..<3 {
            try expectOutcomes(["tcp/127.0.0.1/8080", "udp/127.0.0.1/5353", "udp/127.0.0.1/8080"], in: session, [
                "tcp/127.0.0.1/8080": "ok", "udp/127.0.0.1/5353": "ok", "udp/127.0.0.1/8080": "EPERM",
            ])
        }
        let events = try net.events()
        #expect(events.filter { $0.reason == answered && $0.verdict == allow }.count == 6)
        #expect(events.filter { $0.verdict == ask }.count == 3, "udp to 8080 was never answered")
        #expect(try answers.networkAnswers(sessionID: id).count == 2)
    }

    @Test func expiredAnswerIsIgnoredAndRemoved() throws {
        let (net, session, id, answers) = try asking("ans-expired")
        try answers.answerNetwork(sessionID: id, family: AF_INET, protocol: 6, port: 8080, address: loopback,
                                  verdict: .allow, once: false, expires: Answers.bootTime() - 1)
        try expectOutcomes(["tcp/127.0.0.1/8080"], in: session, refused)
        #expect(try outcomes(net, from: 0).elementsEqual([(ask, byRule, -EPERM)], by: ==))
        #expect(try answers.networkAnswers(sessionID: id).isEmpty)

        // Still in the future: it answers.
        try answers.answerNetwork(sessionID: id, family: AF_INET, protocol: 6, port: 8080, address: loopback,
                                  verdict: .allow, once: false, expires: Answers.bootTime() + 60_000_000_000)
        try expectOutcomes(["tcp/127.0.0.1/8080"], in: session, allowed)
    }

    @Test func denyAnswerDeniesAsTheOperatorsDecision() throws {
        let (net, session, id, answers) = try asking("ans-deny")
        try answers.answerNetwork(sessionID: id, family: AF_INET, protocol: 6, port: 8080, address: loopback,
                                  verdict: .deny, once: false)
        try expectOutcomes(["tcp/127.0.0.1/8080"], in: session, refused)
        try expectOutcomes(["tcp/127.0.0.1/8080"], in: session, refused)
        #expect(try outcomes(net, from: 0).elementsEqual([(deny, answered, -EPERM), (deny, answered, -EPERM)], by: ==))
        // An IPv4-mapped IPv6 destination is the same destination.
        try expectOutcomes(["tcp/::ffff:127.0.0.1/8080"], in: session, ["tcp/::ffff:127.0.0.1/8080": "EPERM"])
        #expect(try net.events().last.map { ($0.family, $0.reason) } ?? (0, 0) == (UInt8(AF_INET), answered))
    }

    @Test func answersBelongToTheirSessionAndEndWithIt() throws {
        let (net, session, id, answers) = try asking("ans-other")
        let other = try net.session("other", policy: 1)
        try answers.answerNetwork(sessionID: id, family: AF_INET, protocol: 6, port: 8080, address: loopback,
                                  verdict: .allow, once: false)
        try expectOutcomes(["tcp/127.0.0.1/8080"], in: other, refused)
        try expectOutcomes(["tcp/127.0.0.1/8080"], in: session, allowed)
        // Rules that never ask never consult answers.
        try net.put("127.0.0.9/32", policy: 1, [.deny(6), .ask(5)])
        try answers.answerNetwork(sessionID: id, family: AF_INET, protocol: 6, port: 8080, address: [127, 0, 0, 9],
                                  verdict: .allow, once: false)
        try expectOutcomes(["tcp/127.0.0.9/8080"], in: session, ["tcp/127.0.0.9/8080": "EPERM"])
        #expect(try net.events().last.map { ($0.verdict, $0.rule) } ?? (0, 0) == (deny, 6))

        answers.removeAnswers(sessionID: id)
        #expect(try answers.networkAnswers(sessionID: id).isEmpty)
        try expectOutcomes(["tcp/127.0.0.1/8080"], in: session, refused)
    }
}
