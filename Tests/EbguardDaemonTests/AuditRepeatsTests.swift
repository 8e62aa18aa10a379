import EbguardAudit
import Testing
@testable import EbguardDaemon

@Suite("audit repeats")
struct AuditRepeatsTests {
    static func denial(pid: Int32 = 7, object: String = "127.0.0.3:80/tcp", session: String = "s-1") -> AuditDecision {
        AuditDecision(session: session, pid: pid, comm: "bash", kind: .network, object: object, access: "connect",
                      rule: "network[1]", verdict: .deny)
    }

    static func at(_ milliseconds: Int64) -> AuditTime { AuditTime(nanoseconds: 1_800_000_000_000_000_000 + milliseconds * 1_000_000) }

    /// `AuditRepeats` with the answers as values (`#expect` cannot call a mutating member).
    final class Folder {
        var repeats: AuditRepeats
        init(capacity: Int = 4096) { repeats = AuditRepeats(capacity: capacity) }
        func written(_ decision: AuditDecision, at ms: Int64) -> Bool { repeats.admit(decision, at: AuditRepeatsTests.at(ms)) }
        func drain(at ms: Int64, session: String? = nil, all: Bool = false) -> [AuditDecision] {
            repeats.drain(at: AuditRepeatsTests.at(ms), session: session, forgetAll: all)
        }
        var tracked: Int { repeats.tracked }
    }

    @Test func theFirstOccurrenceIsWrittenAndItsRepeatsBecomeOneSummary() {
        let folder = Folder()
        #expect(folder.written(Self.denial(), at: 0))
        #expect((1...999).allSatisfy { !folder.written(Self.denial(), at: Int64($0)) })
        let summaries = folder.drain(at: 1000)
        #expect(summaries.count == 1)
        let summary = summaries.first
        #expect(summary?.repeats == 999)
        #expect(summary?.firstTime == Self.at(1).rfc3339 && summary?.lastTime == Self.at(999).rfc3339)
        var plain = summary
        plain?.repeats = nil; plain?.firstTime = nil; plain?.lastTime = nil
        #expect(plain == Self.denial(), "the summary is the same decision, with the count and times added")
        #expect(folder.drain(at: 1001).isEmpty, "a count is written once")
    }

    @Test func differentObjectsPidsSessionsAndVerdictsAreNeverFolded() {
        let folder = Folder()
        var asked = Self.denial()
        asked.verdict = .ask
        for decision in [Self.denial(), Self.denial(object: "127.0.0.3:81/tcp"), Self.denial(pid: 8),
                         Self.denial(session: "s-2"), asked] {
            #expect(folder.written(decision, at: 1))
        }
        #expect(folder.drain(at: 5).isEmpty)
    }

    @Test func aKeyIdleForASecondIsForgottenSoItsNextOccurrenceIsWrittenInFull() {
        let folder = Folder()
        #expect(folder.written(Self.denial(), at: 0))
        #expect(!folder.written(Self.denial(), at: 10))
        #expect(folder.drain(at: 1000).count == 1)
        #expect(folder.tracked == 1, "kept while it repeats")
        #expect(folder.drain(at: 1009).isEmpty && folder.tracked == 1, "its last repeat (at 10 ms) is not a second old yet")
        #expect(folder.drain(at: 1010).isEmpty && folder.tracked == 0)
        #expect(folder.written(Self.denial(), at: 1020))
    }

    @Test func aSessionsEndWritesItsCountsAndForgetsOnlyIt() {
        let folder = Folder()
        for session in ["s-1", "s-2"] {
            #expect(folder.written(Self.denial(session: session), at: 0))
            #expect(!folder.written(Self.denial(session: session), at: 1))
        }
        let ended = folder.drain(at: 2, session: "s-1")
        #expect(ended.map(\.session) == ["s-1"] && ended.first?.repeats == 1)
        #expect(folder.tracked == 1)
        #expect(folder.written(Self.denial(session: "s-1"), at: 3), "nothing is folded across a session's end")
        #expect(folder.drain(at: 4, all: true).map(\.session) == ["s-2"])
        #expect(folder.tracked == 0)
    }

    @Test func pastItsCapacityNewDecisionsAreWrittenUntracked() {
        let folder = Folder(capacity: 2)
        #expect(folder.written(Self.denial(pid: 1), at: 0))
        #expect(folder.written(Self.denial(pid: 2), at: 0))
        #expect(folder.written(Self.denial(pid: 3), at: 0))
        #expect(folder.written(Self.denial(pid: 3), at: 1), "untracked: every occurrence is written")
        #expect(!folder.written(Self.denial(pid: 1), at: 1))
        #expect(folder.tracked == 2)
    }

    @Test func summariesComeOutInTheOrderTheirRepeatsBegan() {
        let folder = Folder()
        for pid: Int32 in [3, 1, 2] { #expect(folder.written(Self.denial(pid: pid), at: 0)) }
        for (ms, pid): (Int64, Int32) in [(5, 2), (6, 3), (7, 1), (8, 2)] { #expect(!folder.written(Self.denial(pid: pid), at: ms)) }
        #expect(folder.drain(at: 10).map(\.pid) == [2, 3, 1])
    }
    /// The event's fast path: a retry (the same event, another number and time) is counted with
    /// no record built; anything else still goes through the record.
    @Test func anEventEqualToTheLastAdmittedOneButForItsNumberAndTimeIsCountedWithoutARecord() throws {
        var repeats = AuditRepeats()
        let first = AuditMappingTests.event(.file, action: "open")
        guard case .decision(let decision)? = AuditMapping.record(for: first, context: nil) else {
            Issue.record("a denial is a decision record"); return
        }
        var retry = first
        let early = repeats.countRepeat(of: &retry, at: Self.at(0))
        #expect(!early, "nothing admitted yet")
        let written = repeats.admit(decision, at: Self.at(0), from: first)
        #expect(written)
        retry.seq = 8
        retry.time = "2026-11-23T16:01:02.124Z"
        let counted = repeats.countRepeat(of: &retry, at: Self.at(1))
        #expect(counted)
        #expect(retry.seq == 8 && retry.time == "2026-11-23T16:01:02.124Z", "handed back as it came")
        for change in [{ (e: inout GovernedEvent) in e.pid = 4243 }, { $0.rule = "file[3]" }, { $0.verdict = .ask },
                       { $0.subject = .kernel(.file, .path("/home/u/.ssh/id_rsa"), accessMask: 1) }] {
            var other = first
            change(&other)
            let folded = repeats.countRepeat(of: &other, at: Self.at(2))
            #expect(!folded)
        }
        let summary = try #require(repeats.drain(at: Self.at(1000)).first)
        #expect(summary.repeats == 1 && summary.firstTime == Self.at(1).rfc3339)
        let afterDrain = repeats.countRepeat(of: &retry, at: Self.at(1001))
        #expect(!afterDrain, "a drain forgets the last event")
    }
}
