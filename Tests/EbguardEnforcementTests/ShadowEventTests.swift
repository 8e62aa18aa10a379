import CEbguardABI
import EbguardBPF
@testable import EbguardEnforcement
import EbguardPolicy
import Foundation
import Synchronization
import Testing

/// Shadow mode's userspace side (issue 19) without a kernel: the session flag a shadow policy
/// compiles to, how a deny or ask the kernel let through (ret 0) decodes and renders, the
/// execs left unheld judged from their argv, and the session resolver forwarding what it
/// would have refused.
@Suite struct ShadowEventTests {
    static let context = try! PolicyContext(home: "/home/u", workspace: "/home/u/w")

    static func compiled(_ yaml: String) throws -> CompiledPolicy {
        try Policy.parse(yaml: yaml, file: "s.yaml").compile(in: context)
    }

    @Test func shadowPoliciesSetTheSessionFlagAndNothingElseChanges() throws {
        let body = "file:\n  - { action: deny, path: /etc/shadow }\n"
        let enforced = try PolicyMaps(Self.compiled("version: 1\nname: s\n" + body), policyID: 3)
        let shadow = try PolicyMaps(Self.compiled("version: 1\nname: s\nmode: shadow\n" + body), policyID: 3)
        #expect(enforced.session.flags & UInt8(EG_SESSION_SHADOW) == 0)
        #expect(shadow.session.flags & UInt8(EG_SESSION_SHADOW) != 0)
        #expect(shadow.session.flags & ~UInt8(EG_SESSION_SHADOW) == enforced.session.flags)
        #expect(shadow.paths.map(\.key.hash) == enforced.paths.map(\.key.hash), "same rules: only the flag differs")
        var flagged = try Self.compiled("version: 1\nname: s\n" + body)
        flagged.mode = .shadow  // what `ebguard run --shadow` does to an enforcing policy
        #expect(try PolicyMaps(flagged, policyID: 3).session.flags & UInt8(EG_SESSION_SHADOW) != 0)
    }

    func pathEvent(type: eg_event_type = EG_EVENT_FILE, ret: Int32, verdict: eg_verdict, reason: eg_reason,
                   rule: UInt16 = 2, path: String = "/home/u/.ssh/id_rsa") -> DecisionEvent? {
        var event = eg_path_event()
        event.hdr = eg_event_header(type: UInt16(type.rawValue), version: UInt16(EG_ABI_VERSION),
                                    size: UInt32(MemoryLayout<eg_path_event>.size), time_ns: 1)
        event.session_id = 3
        event.task.pid = 77
        event.access = type == EG_EVENT_EXEC ? 1 << EG_ACCESS_EXEC.rawValue : 1 << EG_ACCESS_READ.rawValue
        event.ret = ret
        event.rule = rule
        event.verdict = UInt8(verdict.rawValue)
        event.reason = UInt8(reason.rawValue)
        let bytes = Array(path.utf8) + [0]
        withUnsafeMutableBytes(of: &event.path) { $0.copyBytes(from: bytes) }
        event.path_len = UInt32(bytes.count)
        return withUnsafeBytes(of: event) { DecisionEvent(record: $0) }
    }

    func netEvent(ret: Int32, verdict: eg_verdict) -> DecisionEvent? {
        var event = eg_net_event()
        event.hdr = eg_event_header(type: UInt16(EG_EVENT_NET.rawValue), version: UInt16(EG_ABI_VERSION),
                                    size: UInt32(MemoryLayout<eg_net_event>.size), time_ns: 1)
        event.session_id = 3
        event.ret = ret
        event.rule = 1
        event.verdict = UInt8(verdict.rawValue)
        event.reason = UInt8(EG_REASON_RULE.rawValue)
        event.family = UInt8(AF_INET)
        event.protocol = 6
        event.port = 443
        withUnsafeMutableBytes(of: &event.addr) { $0.copyBytes(from: [169, 254, 169, 254]) }
        return withUnsafeBytes(of: event) { DecisionEvent(record: $0) }
    }

    func unixEvent(ret: Int32, verdict: eg_verdict) -> DecisionEvent? {
        var event = eg_net_event()
        event.hdr = eg_event_header(type: UInt16(EG_EVENT_UNIX.rawValue), version: UInt16(EG_ABI_VERSION),
                                    size: UInt32(MemoryLayout<eg_net_event>.size), time_ns: 1)
        event.session_id = 3
        event.ret = ret
        event.rule = 2
        event.verdict = UInt8(verdict.rawValue)
        event.reason = UInt8(EG_REASON_RULE.rawValue)
        event.family = UInt8(AF_UNIX)
        withUnsafeMutableBytes(of: &event.unix_path) { $0.copyBytes(from: Array("/run/docker.sock".utf8)) }
        event.unix_len = UInt32("/run/docker.sock".utf8.count)
        return withUnsafeBytes(of: event) { DecisionEvent(record: $0) }
    }

    @Test func unixSocketsToo() throws {
        let would = try #require(unixEvent(ret: 0, verdict: EG_VERDICT_DENY))
        #expect(would.kind == .unix && would.verdict == .wouldDeny)
        #expect(would.message(home: nil) == "would deny (shadow, not enforced) connect /run/docker.sock (unix) by rule network[2]")
        let denied = try #require(unixEvent(ret: -EPERM, verdict: EG_VERDICT_DENY))
        #expect(denied.message(home: nil) == "denied connect /run/docker.sock (unix) by rule network[2]")
    }

    @Test func aDenyOrAskTheKernelLetThroughIsWouldDenyOrWouldAsk() throws {
        let wouldDeny = try #require(pathEvent(ret: 0, verdict: EG_VERDICT_DENY, reason: EG_REASON_RULE))
        #expect(wouldDeny.verdict == .wouldDeny && !wouldDeny.blocked)
        #expect(wouldDeny.rule == RuleID(.file, 2))
        #expect(wouldDeny.line(home: "/home/u") == "ebguard: would deny (shadow, not enforced) open ~/.ssh/id_rsa (read) by rule file[2]")
        let wouldAsk = try #require(netEvent(ret: 0, verdict: EG_VERDICT_ASK))
        #expect(wouldAsk.verdict == .wouldAsk && !wouldAsk.blocked)
        #expect(wouldAsk.message(home: nil) == "would ask (shadow, not enforced) connect 169.254.169.254:443 (tcp) by rule network[1]")
        // The same decisions carried out.
        let denied = try #require(pathEvent(ret: -EACCES, verdict: EG_VERDICT_DENY, reason: EG_REASON_RULE))
        #expect(denied.verdict == .deny && denied.blocked)
        #expect(denied.message(home: nil) == "denied open /home/u/.ssh/id_rsa (read) by rule file[2]")
        let asked = try #require(netEvent(ret: -EPERM, verdict: EG_VERDICT_ASK))
        #expect(asked.verdict == .ask && asked.blocked)
        // A fail-closed reason the shadow session let through says so without "fail closed".
        let long = try #require(pathEvent(ret: 0, verdict: EG_VERDICT_DENY, reason: EG_REASON_TOO_LONG, rule: UInt16(EG_RULE_DEFAULT)))
        #expect(long.verdict == .wouldDeny)
        #expect(long.message(home: nil) == "would deny (shadow, not enforced) open /home/u/.ssh/id_rsa (read) (path too long)")
    }

    @Test func heldAndUnheldExecsAreNotOutcomes() throws {
        // A held exec allows (ret 0) with its path's ask: it is held, not shadowed.
        let held = try #require(pathEvent(type: EG_EVENT_EXEC, ret: 0, verdict: EG_VERDICT_ASK, reason: EG_REASON_HELD,
                                          path: "/usr/bin/git"))
        #expect(held.isHeld && !held.isUnheld)
        #expect(held.verdict == .ask)
        let unheld = try #require(pathEvent(type: EG_EVENT_EXEC, ret: 0, verdict: EG_VERDICT_ALLOW, reason: EG_REASON_UNHELD,
                                            path: "/usr/bin/git"))
        #expect(unheld.isUnheld && !unheld.isHeld)
        #expect(unheld.reason.rawValue == "unheld")
    }

    func processExec(pid: UInt32, argv: [String]) throws -> ProcessEvent {
        var event = eg_process_exec_event()
        event.hdr = eg_event_header(type: UInt16(EG_EVENT_PROCESS_EXEC.rawValue), version: UInt16(EG_ABI_VERSION),
                                    size: UInt32(MemoryLayout<eg_process_exec_event>.size), time_ns: 2)
        event.task.pid = pid
        event.session_id = 3
        event.argc = UInt32(argv.count)
        var bytes: [UInt8] = []
        for arg in argv { bytes += Array(arg.utf8) + [0] }
        withUnsafeMutableBytes(of: &event.argv) { $0.copyBytes(from: bytes) }
        event.argv_len = UInt32(bytes.count)
        return try #require(withUnsafeBytes(of: event) { ProcessEvent(record: $0) })
    }

    @Test func unheldExecsAreJudgedFromTheirCommittedArgv() throws {
        let policy = try Self.compiled("""
        version: 1
        name: s
        mode: shadow
        exec:
          - { action: deny, path: /usr/bin/git, argv: [push, --force] }
          - { action: ask, path: /usr/bin/curl }
        """)
        let unheld = UnheldExecs()
        let gitEvent = try #require(pathEvent(type: EG_EVENT_EXEC, ret: 0, verdict: EG_VERDICT_ALLOW, reason: EG_REASON_UNHELD,
                                              rule: UInt16(EG_RULE_DEFAULT), path: "/usr/bin/git"))
        unheld.note(gitEvent)
        // Another pid's exec, and a fork, leave it pending.
        #expect(unheld.judge(try processExec(pid: 78, argv: ["git", "push", "--force"]), policy: policy) == nil)
        let push = try processExec(pid: 77, argv: ["git", "push", "--force"])
        let judged = try #require(unheld.judge(push, policy: policy))
        #expect(judged.decision == Decision(.deny, RuleID(.exec, 0)))
        #expect(UnheldExecs.message(argv: judged.argv, path: judged.path, decision: judged.decision)
                == "would deny (shadow, not enforced) exec git push --force by rule exec[0]")
        #expect(unheld.judge(try processExec(pid: 77, argv: ["git", "push", "--force"]), policy: policy) == nil,
                "judged once")
        // An argv the rules allow: nothing to say.
        unheld.note(gitEvent)
        let status = try processExec(pid: 77, argv: ["git", "status"])
        let fine = try #require(unheld.judge(status, policy: policy))
        #expect(UnheldExecs.message(argv: fine.argv, path: fine.path, decision: fine.decision) == nil)
        // An ask rule's exec.
        unheld.note(try #require(pathEvent(type: EG_EVENT_EXEC, ret: 0, verdict: EG_VERDICT_ASK, reason: EG_REASON_UNHELD,
                                           rule: 1, path: "/usr/bin/curl")))
        let curl = try processExec(pid: 77, argv: ["curl", "x"])
        let asked = try #require(unheld.judge(curl, policy: policy))
        #expect(UnheldExecs.message(argv: asked.argv, path: asked.path, decision: asked.decision)
                == "would ask (shadow, not enforced) exec curl x by rule exec[1]")
        // Events that are not unheld execs are not remembered.
        unheld.note(try #require(pathEvent(ret: 0, verdict: EG_VERDICT_DENY, reason: EG_REASON_RULE)))
        #expect(unheld.judge(try processExec(pid: 77, argv: ["x"]), policy: policy) == nil)
    }

    final class Reports: Sendable {
        let events = Mutex<[HostEvent]>([])
        var all: [HostEvent] { events.withLock { $0 } }
        func add(_ event: HostEvent) { events.withLock { $0.append(event) } }
    }

    @Test func aShadowResolverForwardsWhatItWouldRefuseAndSaysSo() throws {
        let policy = try Self.compiled("""
        version: 1
        name: s
        mode: shadow
        defaults: { network: deny }
        network:
          - { action: allow, host: "*.example.com", ports: [443], protocol: tcp }
          - { action: deny, host: bad.example.com }
          - { action: ask, host: "*.asked.test" }
        """)
        let reports = Reports()
        let asks = Mutex(0)
        let gate = HostGate(policy: policy.hostRulesOnly, hosts: HostAllowances(sessionID: 7, map: nil),
                            ask: { _, _, _ in asks.withLock { $0 += 1 }; return HostGate.AskAnswer(allow: false, remembered: false) }) {
            reports.add($0)
        }
        #expect(gate.shadow)
        for name in ["api.example.com", "bad.example.com", "x.asked.test", "elsewhere.test"] {
            #expect(gate.decide(name: name, type: "A") == .resolve, "\(name) is forwarded")
        }
        #expect(gate.decide(name: "elsewhere.test", type: "TXT") == .resolve)
        #expect(asks.withLock { $0 } == 0, "a shadow session asks no one")
        let byName = Dictionary(reports.all.map { ($0.name + " " + $0.queryType, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(reports.all.allSatisfy { !$0.blocked })
        #expect(byName["api.example.com A"] == nil, "an allowed name is not reported")
        let bad = try #require(byName["bad.example.com A"])
        #expect(bad.reportedVerdict == .wouldDeny && bad.rule == RuleID(.network, 1))
        #expect(bad.message == "would deny lookup of bad.example.com by network[1] (host bad.example.com) (shadow, not enforced)")
        let asked = try #require(byName["x.asked.test A"])
        #expect(asked.reportedVerdict == .wouldAsk && asked.rule == RuleID(.network, 2))
        let other = try #require(byName["elsewhere.test A"])
        #expect(other.reportedVerdict == .wouldDeny && other.rule == nil && other.reason == "default")
        #expect(byName["elsewhere.test TXT"]?.reportedVerdict == .wouldDeny, "a data query for a denied name: the name's verdict")
        // The answer for a denied name opens it with its deny rule: the connect is then reported
        // by the kernel (would_deny, with the host), not silently allowed.
        #expect(gate.admit(name: "bad.example.com", type: "A", cnames: [], addresses: [([5, 6, 7, 8], 60)]))
        #expect(gate.hosts.liveNames(for: [5, 6, 7, 8]) == ["bad.example.com"])
        // An asked name's rules stay ask (nobody approved them).
        #expect(gate.admit(name: "x.asked.test", type: "A", cnames: [], addresses: [([5, 6, 7, 9], 60)]))
        let kernel = HostAllowances.kernelRules(policy.decideHost(name: "x.asked.test").rules, ipv4: true)
        #expect(kernel.allSatisfy { $0.verdict == UInt8(EG_VERDICT_ASK.rawValue) })
        // Blocked host events keep their verdict.
        var refused = bad
        refused.blocked = true
        #expect(refused.reportedVerdict == .deny)
    }
}
