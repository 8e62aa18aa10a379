import CEbguardABI
import EbguardBPF
@testable import EbguardEnforcement
import EbguardPolicy
import Glibc
import Testing

/// The shared first stages of every session's events (standalone and daemon): what is set aside
/// as a held exec, what is routed, and what `ebguard run` prints a line for.
@Suite struct SessionEventTests {
    func execRecord(reason: eg_reason, verdict: eg_verdict, ret: Int32) -> eg_path_event {
        var event = eg_path_event()
        event.hdr = eg_event_header(type: UInt16(EG_EVENT_EXEC.rawValue), version: UInt16(EG_ABI_VERSION),
                                    size: UInt32(MemoryLayout<eg_path_event>.size), time_ns: 5)
        event.session_id = 9
        event.task.pid = 77
        let path = Array("/usr/bin/git".utf8) + [0]
        withUnsafeMutableBytes(of: &event.path) { $0.copyBytes(from: path) }
        event.path_len = UInt32(path.count)
        event.rule = 3
        event.reason = UInt8(reason.rawValue)
        event.verdict = UInt8(verdict.rawValue)
        event.ret = ret
        return event
    }

    @Test func heldExecsAreSetAsideAndDecisionsRouted() throws {
        var consulted = false
        let held = withUnsafeBytes(of: execRecord(reason: EG_REASON_HELD, verdict: EG_VERDICT_ALLOW, ret: 0)) {
            SessionEvent(record: $0, hosts: { _ in consulted = true; return nil })
        }
        guard case .held(let event)? = held else { Issue.record("not held: \(String(describing: held))"); return }
        #expect(event.path == "/usr/bin/git" && event.pid == 77 && event.sessionID == 9)
        #expect(!consulted, "no host id: the resolver's names are not looked up")

        let denied = withUnsafeBytes(of: execRecord(reason: EG_REASON_RULE, verdict: EG_VERDICT_DENY, ret: -EACCES)) {
            SessionEvent(record: $0, hosts: { _ in nil })
        }
        guard case .decision(let decision)? = denied else { Issue.record("not a decision"); return }
        #expect(decision.rule == RuleID(.exec, 3) && decision.blocked && decision.verdict == .deny)
        #expect(decision.line(home: nil) == "ebguard: denied exec /usr/bin/git by rule exec[3]")

        var fork = eg_process_fork_event()
        fork.hdr = eg_event_header(type: UInt16(EG_EVENT_PROCESS_FORK.rawValue), version: UInt16(EG_ABI_VERSION),
                                   size: UInt32(MemoryLayout<eg_process_fork_event>.size), time_ns: 6)
        fork.child_pid = 78
        guard case .process(let process)? = withUnsafeBytes(of: fork, { SessionEvent(record: $0, hosts: { _ in nil }) }) else {
            Issue.record("not process life"); return
        }
        #expect(process.kind == .fork && process.pid == 78)

        var short = execRecord(reason: EG_REASON_RULE, verdict: EG_VERDICT_DENY, ret: -EACCES)
        short.hdr.size -= 8  // a record of another layout is never misread
        #expect(withUnsafeBytes(of: short) { SessionEvent(record: $0, hosts: { _ in nil }) } == nil)
    }

    @Test func runPrintsRefusalsAuditsAndAsksButNotAllowsOrObservations() {
        #expect(RunLine.shows(verdict: .deny, blocked: true, reason: .rule))
        #expect(RunLine.shows(verdict: .ask, blocked: true, reason: .rule))
        #expect(RunLine.shows(verdict: .audit, blocked: false, reason: .rule))
        #expect(RunLine.shows(verdict: .wouldDeny, blocked: false, reason: .rule))
        #expect(RunLine.shows(verdict: .allow, blocked: true, reason: .answered), "a refusal whatever the verdict says")
        #expect(!RunLine.shows(verdict: .allow, blocked: false, reason: .rule))
        #expect(!RunLine.shows(verdict: .audit, blocked: false, reason: .observed), "a degraded kernel's exec is no decision")
    }
}

extension SessionEvent: Equatable {
    public static func == (lhs: SessionEvent, rhs: SessionEvent) -> Bool {
        switch (lhs, rhs) {
        case (.decision(let a), .decision(let b)), (.held(let a), .held(let b)): a == b
        case (.process(let a), .process(let b)): a == b
        default: false
        }
    }
}
