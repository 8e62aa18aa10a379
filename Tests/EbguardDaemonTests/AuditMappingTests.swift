import EbguardAudit
@testable import EbguardDaemon
import EbguardEnforcement
import EbguardPolicy
import Glibc
import Testing

/// Which published events reach the audit trail, and as what.
struct AuditMappingTests {
    /// An event as the daemon publishes it. The audit record is made from `subject` alone (the
    /// typed facts); `object` and `detail` get text no mapping may read meaning from.
    static func event(_ kind: GovernedEvent.Kind, action: String, verdict: EventVerdict = .deny, blocked: Bool = true,
                      subject: EventSubject? = .kernel(.file, .path("/home/u/.ssh/id_ed25519"), accessMask: 1),
                      rule: String? = "file[2]", reason: EventReason = .rule, argv: [String]? = nil) -> GovernedEvent {
        var event = GovernedEvent(
            seq: 7, time: "2026-11-23T16:01:02.123Z", kind: kind, action: action, session: "claude-1a2b",
            sessionID: 42, pid: 4242, ppid: 1, uid: 1000, user: "u", comm: "cat", exe: "/usr/bin/cat", argv: argv,
            verdict: verdict, blocked: blocked, object: "(text the mapping must not read)", detail: "(nor this)", rule: rule,
            ruleLocation: nil, reason: reason, exitCode: nil, message: "m")
        event.subject = subject
        return event
    }

    static func destination(_ family: Int32, _ address: [UInt8], port: UInt16, protocolNumber: UInt8 = 6) -> EventDestination {
        EventDestination(family: UInt8(family), protocolNumber: protocolNumber, port: port,
                         address: address + Array(repeating: 0, count: 16 - address.count))
    }
    static let v6: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1]

    static let facts = AuditSessionFacts(policy: "agent", policySHA256: String(repeating: "ab", count: 32),
                                         policyPath: "/etc/ebguard/policies/agent.yaml", user: "u")

    @Test func answersAreAskAnswerRecordsWithWhoAndScope() throws {
        var answer = Self.event(.decision, action: "answer", verdict: .allow, blocked: false, subject: .heldExec(path: "/usr/bin/git"),
                                reason: .answered, argv: ["git", "reset", "--hard"])
        answer.askID = 7
        answer.answeredBy = "alice"
        answer.scope = .session
        guard case .askAnswer(let record)? = AuditMapping.record(for: answer, context: nil) else {
            Issue.record("not an ask_answer record"); return
        }
        #expect(record.askID == 7 && record.answer == .allow && record.scope == .session && record.answeredBy == "alice")
        #expect(record.kind == .exec && record.object == "git reset --hard" && !record.timedOut)

        var timeout = Self.event(.decision, action: "answer", verdict: .deny,
                                 subject: .file(path: "/home/u/.aws/credentials", accessMask: 1), reason: .timeout)
        timeout.answeredBy = "timeout"
        guard case .askAnswer(let expired)? = AuditMapping.record(for: timeout, context: nil) else {
            Issue.record("timeout not recorded"); return
        }
        #expect(expired.timedOut && expired.answer == .deny && expired.kind == .file && expired.scope == .once)

        var asked = Self.event(.file, action: "open", verdict: .ask)
        asked.askID = 3
        guard case .decision(let decision)? = AuditMapping.record(for: asked, context: nil) else {
            Issue.record("ask not recorded"); return
        }
        #expect(decision.askID == 3 && decision.verdict == .ask)
    }

    @Test func aFileDenialIsADecisionWithItsAccessBits() throws {
        let record = try #require(AuditMapping.record(for: Self.event(.file, action: "open"), context: nil))
        guard case .decision(let d) = record else { Issue.record("\(record)"); return }
        #expect(d == AuditDecision(session: "claude-1a2b", pid: 4242, comm: "cat", kind: .file, object: "/home/u/.ssh/id_ed25519",
                                   access: "read", rule: "file[2]", verdict: .deny, uid: 1000, exe: "/usr/bin/cat"))
    }

    @Test func aNetworkDenialNamesItsEndpointAndTransport() throws {
        let event = Self.event(.network, action: "connect",
                               subject: .kernel(.network, .destination(Self.destination(AF_INET, [127, 0, 0, 3], port: 80)), accessMask: 0),
                               rule: nil, reason: .default)
        guard case .decision(let d) = AuditMapping.record(for: event, context: nil) else { Issue.record("no decision"); return }
        #expect(d.kind == .network && d.object == "127.0.0.3:80/tcp" && d.access == "connect" && d.rule == "default")
        #expect(d.network == AuditNetworkTarget(address: "127.0.0.3", port: 80, transport: "tcp"))
        let v6 = Self.event(.network, action: "connect",
                            subject: .kernel(.network, .destination(Self.destination(AF_INET6, Self.v6, port: 443, protocolNumber: 17)),
                                             accessMask: 0))
        guard case .decision(let d6) = AuditMapping.record(for: v6, context: nil) else { Issue.record("no decision"); return }
        #expect(d6.network == AuditNetworkTarget(address: "2001:db8::1", port: 443, transport: "udp"))
        let unix = Self.event(.network, action: "connect", subject: .kernel(.unix, .unixPath("/run/docker.sock"), accessMask: 0))
        guard case .decision(let du) = AuditMapping.record(for: unix, context: nil) else { Issue.record("no decision"); return }
        #expect(du.kind == .unix && du.object == "/run/docker.sock" && du.network == nil)
    }

    @Test func allowedEventsAreNotWrittenButAskAuditAndTamperAre() {
        #expect(AuditMapping.record(for: Self.event(.file, action: "open", verdict: .allow, blocked: false), context: nil) == nil)
        #expect(AuditMapping.record(for: Self.event(.exec, action: "exec", verdict: .allow, blocked: false,
                                                    subject: .kernel(.exec, .path("/bin/ls"), accessMask: 0)), context: nil) == nil)
        #expect(AuditMapping.record(for: Self.event(.process, action: "fork", verdict: .allow, blocked: false, subject: nil),
                                    context: nil) == nil)
        // A degraded kernel's tracepoint reports execs with a placeholder `audit`: not a decision.
        let observed = Self.event(.exec, action: "exec", verdict: .audit, blocked: false,
                                  subject: .kernel(.exec, .path("/bin/bash"), accessMask: 0), rule: nil, reason: .observed)
        #expect(AuditMapping.record(for: observed, context: nil) == nil)
        for verdict in [EventVerdict.audit, .ask] {
            let record = AuditMapping.record(for: Self.event(.file, action: "open", verdict: verdict, blocked: verdict == .ask), context: nil)
            guard case .decision(let d)? = record else { Issue.record("\(verdict) not written"); continue }
            #expect(d.verdict == verdict)
        }
        let tamper = Self.event(.tamper, action: "tamper", subject: .kernel(.tamper, .tamper(what: 2, targetPID: 1), accessMask: 0),
                                rule: nil, reason: .tamper)
        guard case .decision(let t)? = AuditMapping.record(for: tamper, context: nil) else { Issue.record("tamper not written"); return }
        #expect(t.kind == .tamper && t.access == "tamper" && t.rule == "tamper")
        #expect(t.object == DecisionEvent.text(of: .tamper(what: 2, targetPID: 1)) && t.object.hasSuffix(" pid 1"), "\(t.object)")
    }

    @Test func aHeldExecDecidedFromItsArgvIsAnExecDecision() throws {
        let denied = Self.event(.decision, action: "exec", subject: .heldExec(path: "/usr/bin/git"), rule: "exec[3]", reason: .argv,
                                argv: ["git", "push", "--force"])
        guard case .decision(let d)? = AuditMapping.record(for: denied, context: nil) else { Issue.record("not written"); return }
        #expect(d.kind == .exec && d.access == "exec" && d.argv == ["git", "push", "--force"] && d.rule == "exec[3]")
        let allowed = Self.event(.decision, action: "exec", verdict: .allow, blocked: false, subject: .heldExec(path: "/usr/bin/git"),
                                 rule: nil, reason: .argv, argv: ["git", "status"])
        #expect(AuditMapping.record(for: allowed, context: nil) == nil)
    }

    @Test func sessionStartStopAndPolicyChangeCarryThePolicyHash() {
        var start = Self.event(.session, action: "start", verdict: .allow, blocked: false, subject: .session(.start), rule: nil,
                               reason: EventReason("start"))
        start.object = "agent"
        start.detail = "/etc/ebguard/policies/agent.yaml"
        let session = AuditSession(session: "claude-1a2b", policy: "agent", policySHA256: Self.facts.policySHA256,
                                   policyPath: "/etc/ebguard/policies/agent.yaml", user: "u")
        #expect(AuditMapping.record(for: start, context: AuditContext(facts: Self.facts)) == .sessionStart(session))
        var end = start
        end.subject = .session(.end)
        #expect(AuditMapping.record(for: end, context: AuditContext(facts: Self.facts)) == .sessionStop(session))
        var change = start
        change.subject = .session(.policy)
        let context = AuditContext(facts: Self.facts, previousSHA256: "00", changedBy: "root (pid 9)")
        #expect(AuditMapping.record(for: change, context: context) == .policyChange(AuditPolicyChange(
            session: "claude-1a2b", policy: "agent", policyPath: "/etc/ebguard/policies/agent.yaml", oldSHA256: "00",
            newSHA256: Self.facts.policySHA256, changedBy: "root (pid 9)")))
        // Daemon notes are written by the sink (daemon_start/stop), not mapped from events.
        var note = start
        note.subject = .daemon
        #expect(AuditMapping.record(for: note, context: nil) == nil)
    }

    /// An answer to a network ask names the same `addr:port/tcp` as the decision it answers.
    @Test func aNetworkAnswersObjectMatchesItsDecisionsObject() throws {
        let destination = Self.destination(AF_INET6, Self.v6, port: 443)
        var asked = Self.event(.network, action: "connect", verdict: .ask, subject: .kernel(.network, .destination(destination), accessMask: 0),
                               rule: "network[2]")
        asked.askID = 9
        guard case .decision(let decision)? = AuditMapping.record(for: asked, context: nil) else {
            Issue.record("ask not recorded"); return
        }
        var answer = Self.event(.decision, action: "answer", verdict: .allow, blocked: false, subject: .destination(destination),
                                reason: .answered)
        answer.askID = 9
        answer.answeredBy = "alice"
        guard case .askAnswer(let a)? = AuditMapping.record(for: answer, context: nil) else {
            Issue.record("answer not recorded"); return
        }
        #expect(a.kind == .network && a.object == decision.object && a.object == "[2001:db8::1]:443/tcp", "\(a.object)")
        #expect(a.pid == 4242 && a.comm == "cat" && a.askID == decision.askID)
    }

    /// A name a session looked up (a host rule's ask or refusal) is a network decision about
    /// that name, and its answer names the same name.
    @Test func aLookupAndItsAnswerAreNetworkRecordsOfTheName() throws {
        var asked = Self.event(.decision, action: "ask", verdict: .ask, subject: .lookup(name: "evil.example", queryType: "A"),
                               rule: "network[4]", reason: .ask)
        asked.askID = 5
        guard case .decision(let d)? = AuditMapping.record(for: asked, context: nil) else { Issue.record("ask not recorded"); return }
        #expect(d.kind == .network && d.object == "evil.example/A" && d.access == "resolve" && d.askID == 5)
        #expect(d.network == AuditNetworkTarget(address: nil, port: 53, transport: "dns", hostname: "evil.example"))
        var answer = Self.event(.decision, action: "answer", verdict: .deny, subject: .lookup(name: "evil.example", queryType: "dns"),
                                reason: .answered)
        answer.askID = 5
        answer.answeredBy = "alice"
        guard case .askAnswer(let a)? = AuditMapping.record(for: answer, context: nil) else { Issue.record("no answer"); return }
        #expect(a.kind == .network && a.object == "evil.example/dns" && a.answer == .deny && a.askID == 5)
    }

    /// `session_start` and `session_stop` say what ran; `session_stop` how it exited.
    @Test func sessionsCarryTheirCommandAndTheStopItsExitStatus() {
        var facts = Self.facts
        facts.command = ["/usr/bin/make", "-j4", "test"]
        var start = Self.event(.session, action: "start", verdict: .allow, blocked: false, subject: .session(.start), rule: nil,
                               reason: EventReason("start"))
        start.exitCode = 3  // not an exit: a start never carries one
        guard case .sessionStart(let s)? = AuditMapping.record(for: start, context: AuditContext(facts: facts)) else {
            Issue.record("no session_start"); return
        }
        #expect(s.command == ["/usr/bin/make", "-j4", "test"] && s.exitStatus == nil)
        var end = start
        end.subject = .session(.end)
        end.exitCode = 2
        guard case .sessionStop(let stop)? = AuditMapping.record(for: end, context: AuditContext(facts: facts)) else {
            Issue.record("no session_stop"); return
        }
        #expect(stop.command == facts.command && stop.exitStatus == 2)
    }
}
