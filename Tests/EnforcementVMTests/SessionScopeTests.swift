import CEbguardABI
import EbguardBPF
import EbguardSystem
import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// Who is governed, by which policy, and what the decision events say.
@Suite(.enabled(if: TestEnvironment.inVM && TestEnvironment.isRoot, Comment(rawValue: TestEnvironment.vmReason)), .serialized)
struct SessionScopeTests {
    @Test func aChildCgroupOfTheSessionIsGovernedAndTheOutsideIsNot() throws {
        let f = try Fixture("scope-child") { dir in
            [.file(EG_PATH_EXACT, dir.path + "/secret", [EG_ACCESS_READ: EG_VERDICT_DENY], rule: 0)]
        }
        let secret = try f.dir.file("secret", "s\n")
        let child = try f.session.cgroup.createChild("agent-made")

        #expect(try runProcess(["/bin/cat", secret], in: child).status != 0)
        let grandchild = try child.createChild("deeper")
        #expect(try runProcess(["/bin/cat", secret], in: grandchild).status != 0)
        #expect(try runProcess(["/bin/cat", secret]).stdout == "s\n")
        let events = try f.enforcement.takeEvents()
        #expect(events.count == 2 && events.allSatisfy { $0.sessionID == f.session.id }, "\(events)")
    }

    @Test func twoSessionsWithDifferentPoliciesDoNotMix() throws {
        let first = try ScratchCgroup("scope-a")
        let second = try ScratchCgroup("scope-b")
        let enforcement = try Enforcement(level: try first.cgroup.level())
        let dir = try ScratchDirectory("scope-two")
        let a = try dir.file("a", "a\n")
        let b = try dir.file("b", "b\n")
        try enforcement.install(policy: 10, [.file(EG_PATH_EXACT, a, [EG_ACCESS_READ: EG_VERDICT_DENY], rule: 1)])
        try enforcement.install(policy: 20, [.file(EG_PATH_EXACT, b, [EG_ACCESS_READ: EG_VERDICT_DENY], rule: 2)])
        try enforcement.addSession(first.cgroup, policy: 10)
        try enforcement.addSession(second.cgroup, policy: 20)

        #expect(try runProcess(["/bin/cat", a], in: first.cgroup).status != 0)
        #expect(try runProcess(["/bin/cat", b], in: first.cgroup).stdout == "b\n")
        #expect(try runProcess(["/bin/cat", a], in: second.cgroup).stdout == "a\n")
        #expect(try runProcess(["/bin/cat", b], in: second.cgroup).status != 0)

        let events = try enforcement.takeEvents()
        #expect(events.count == 2, "\(events)")
        #expect(events.contains { $0.path == a && $0.policyID == 10 && $0.sessionID == first.id && $0.rule == 1 })
        #expect(events.contains { $0.path == b && $0.policyID == 20 && $0.sessionID == second.id && $0.rule == 2 })
    }

    @Test func aPolicyWithoutItsLoadedMarkerFailsClosed() throws {
        let session = try ScratchCgroup("scope-nomarker")
        let enforcement = try Enforcement(level: try session.cgroup.level())
        let dir = try ScratchDirectory("scope-nomarker")
        let plain = try dir.file("plain")
        try enforcement.install(policy: 3, [], markers: false)
        try enforcement.addSession(session.cgroup, policy: 3)

        #expect(try runProcess(["/bin/cat", plain], in: session.cgroup).status != 0)
        let events = try enforcement.takeEvents()
        #expect(!events.isEmpty && events.allSatisfy { $0.reason == UInt8(EG_REASON_NO_POLICY.rawValue) && $0.ret < 0 },
                "\(events)")
    }

    @Test func askDeniesAndSaysAskAuditAllowsAndReports() throws {
        let f = try Fixture("scope-verdicts") { dir in
            [.file(EG_PATH_EXACT, dir.path + "/asked", [EG_ACCESS_READ: EG_VERDICT_ASK], rule: 11),
             .file(EG_PATH_EXACT, dir.path + "/audited", [EG_ACCESS_READ: EG_VERDICT_AUDIT], rule: 12),
             .file(EG_PATH_EXACT, dir.path + "/allowed", [EG_ACCESS_READ: EG_VERDICT_ALLOW], rule: 13)]
        }
        let asked = try f.dir.file("asked", "q\n")
        let audited = try f.dir.file("audited", "a\n")
        let allowed = try f.dir.file("allowed", "ok\n")

        #expect(try f.run("/bin/cat", asked).status != 0)
        #expect(try f.run("/bin/cat", audited).stdout == "a\n")
        #expect(try f.run("/bin/cat", allowed).stdout == "ok\n")

        let events = try f.enforcement.takeEvents()
        #expect(events.count == 2, "no event for a plain allow: \(events)")
        let ask = events.first { $0.path == asked }
        #expect(ask?.verdict == UInt8(EG_VERDICT_ASK.rawValue) && ask?.ret == -EACCES && ask?.rule == 11
                    && ask?.reason == UInt8(EG_REASON_RULE.rawValue))
        let audit = events.first { $0.path == audited }
        #expect(audit?.verdict == UInt8(EG_VERDICT_AUDIT.rawValue) && audit?.ret == 0 && audit?.rule == 12)
    }

    @Test func auditAllowsReportsEveryDecision() throws {
        let f = try Fixture("scope-observe", flags: UInt8(EG_SESSION_AUDIT_ALLOWS)) { dir in
            [.file(EG_PATH_EXACT, dir.path + "/allowed", [EG_ACCESS_READ: EG_VERDICT_ALLOW], rule: 13)]
        }
        let allowed = try f.dir.file("allowed", "ok\n")
        #expect(try f.run("/bin/cat", allowed).stdout == "ok\n")
        let events = try f.enforcement.takeEvents()
        let event = events.first { $0.path == allowed }
        #expect(event?.verdict == UInt8(EG_VERDICT_ALLOW.rawValue) && event?.ret == 0 && event?.rule == 13)
        #expect(event?.comm == "cat" && event?.sessionID == f.session.id && event?.policyID == 1)
        #expect(events.contains { $0.path == "/usr/bin/cat" && $0.type == UInt16(EG_EVENT_EXEC.rawValue)
                                   && $0.reason == UInt8(EG_REASON_DEFAULT.rawValue) }, "the exec itself: \(events.prefix(5))")
    }
}
