import EbguardAudit
import EbguardEnforcement
import Testing
@testable import EbguardDaemon

@Suite("repeated records")
struct RepeatCacheTests {
    /// A ring record as the kernel writes one: type, version, size, then the time (bytes 8..<16).
    static func record(time: UInt64, payload: [UInt8] = Array(1...40)) -> [UInt8] {
        var bytes: [UInt8] = [3, 0, 1, 0]
        withUnsafeBytes(of: UInt32(16 + payload.count).littleEndian) { bytes += $0 }
        withUnsafeBytes(of: time.littleEndian) { bytes += $0 }
        return bytes + payload
    }

    static let tag = EventTag(GovernedEvent(seq: 9, time: "", kind: .network, action: "connect", session: "s-1", sessionID: 4,
                                            pid: 7, ppid: nil, uid: 0, user: nil, comm: "bash", exe: nil, argv: nil,
                                            verdict: .deny, blocked: true, object: "127.0.0.3:80", detail: "tcp", rule: nil,
                                            ruleLocation: nil, reason: .default, exitCode: nil, message: "denied"))

    @Test func aRecordEqualButForItsTimeRepeatsTheLastOne() {
        var cache = RepeatCache()
        let first = Self.record(time: 1_000)
        let line = Array("{head,tail}".utf8)
        first.withUnsafeBytes { cache.remember($0, line: line, tailStart: 5, tag: Self.tag, trail: .notRecorded) }
        let again = Self.record(time: 2_000).withUnsafeBytes { cache.repeats($0) }
        #expect(again.map { String(decoding: $0.tail, as: UTF8.self) } == ",tail}")
        #expect(again?.tag.seq == 9 && again?.tag.numbered(10).seq == 10 && again?.trail == .notRecorded)
        #expect(Self.record(time: 2_000).withUnsafeBytes { RepeatedRecord.time(of: $0) } == 2_000)
    }

    @Test func anyOtherByteOrLengthOrAForgetIsAMiss() {
        var cache = RepeatCache()
        Self.record(time: 1).withUnsafeBytes { cache.remember($0, line: [1, 2], tailStart: 1, tag: Self.tag, trail: .notRecorded) }
        for index in [0, 4, 7, 16, 30, 55] {  // header fields around the time, payload bytes, the last byte
            var other = Self.record(time: 1)
            other[index] ^= 0x40
            #expect(other.withUnsafeBytes { cache.repeats($0) } == nil, "byte \(index)")
        }
        #expect(Self.record(time: 1, payload: Array(1...41)).withUnsafeBytes { cache.repeats($0) } == nil, "a longer record")
        #expect(Self.record(time: 1, payload: Array(1...39)).withUnsafeBytes { cache.repeats($0) } == nil, "a shorter record")
        cache.forget()
        #expect(Self.record(time: 1).withUnsafeBytes { cache.repeats($0) } == nil, "nothing after forget")
        var empty = RepeatCache()
        [UInt8](repeating: 0, count: 8).withUnsafeBytes { empty.remember($0, line: [], tailStart: 0, tag: Self.tag, trail: .notRecorded) }
        #expect([UInt8](repeating: 0, count: 8).withUnsafeBytes { empty.repeats($0) } == nil, "a record too short for a time")
    }

    @Test func repeatsAreCountedOnTheLatestDecisionOnlyWhileItStaysTheLatest() {
        var repeats = AuditRepeats()
        let denial = AuditRepeatsTests.denial()
        let written = repeats.admit(denial, at: AuditRepeatsTests.at(0))
        #expect(written && repeats.admittedIsLatest)
        let generation = repeats.latestGeneration
        for ms in 1...5 { repeats.countLatest(at: AuditRepeatsTests.at(Int64(ms))) }
        #expect(repeats.latestGeneration == generation, "counting does not change the latest decision")
        let other = AuditRepeatsTests.denial(object: "127.0.0.3:81/tcp")
        let otherWritten = repeats.admit(other, at: AuditRepeatsTests.at(6))
        #expect(otherWritten)
        #expect(repeats.latestGeneration != generation && repeats.admittedIsLatest)
        let beforeDrain = repeats.latestGeneration
        let summaries = repeats.drain(at: AuditRepeatsTests.at(1000))
        #expect(summaries.map(\.repeats) == [5] && summaries.first?.object == denial.object,
                "five repeats of the first, first at 1 ms and last at 5 ms: \(summaries)")
        #expect(summaries.first?.firstTime == AuditRepeatsTests.at(1).rfc3339 && summaries.first?.lastTime == AuditRepeatsTests.at(5).rfc3339)
        #expect(repeats.latestGeneration != beforeDrain, "a drain ends the latest decision: its next repeat is looked up again")
        var full = AuditRepeats(capacity: 1)
        _ = full.admit(denial, at: AuditRepeatsTests.at(0))
        let untracked = full.admit(other, at: AuditRepeatsTests.at(1))
        #expect(untracked && !full.admittedIsLatest, "past capacity a decision is written untracked, and is not the latest")
    }
}
