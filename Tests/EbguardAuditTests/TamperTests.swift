import Foundation
import Testing
@testable import EbguardAudit

/// Each kind of tampering is caught, and verify names the record that is wrong.
@Suite("verify: tampering")
struct TamperTests {
    /// A log of `count` records; returns the directory and the active file's lines.
    func makeLog(_ count: Int = 8, maxFileBytes: Int64 = 64 << 20) async throws -> (TempDir, [String]) {
        let dir = TempDir("tamper")
        let log = try openLog(dir, maxFileBytes: maxFileBytes)
        try await writeRecords(log, count)
        try await log.close()
        return (dir, readLines(dir.file("audit.jsonl")))
    }

    /// Re-encodes a record with a change, canonically (as a careful forger would).
    func forge(_ line: String, _ change: (inout AuditRecord) -> Void) throws -> String {
        var r = try record(line)
        change(&r)
        return String(decoding: r.line, as: UTF8.self)
    }

    @Test func intactLogVerifies() async throws {
        let (dir, _) = try await makeLog()
        defer { dir.remove() }
        let report = try verify(dir)
        #expect(report.isIntact && report.records == 8 && report.firstSeq == 1 && report.lastSeq == 8)
        #expect(report.rendered.first == "ok: 8 records (seq 1–8) in 1 file, chain intact")
    }

    @Test func editedRecordIsNamed() async throws {
        let (dir, lines) = try await makeLog()
        defer { dir.remove() }
        var edited = lines
        edited[3] = try forge(lines[3]) { $0.data = .object($0.data.objectValue!.merging(["verdict": "allow"]) { $1 }) }
        writeLines(dir.file("audit.jsonl"), edited)
        let problem = try #require(try verify(dir).problem)
        #expect(problem.kind == .edited)
        #expect(problem.location.line == 4 && problem.location.seq == 4)
        #expect(problem.location.file == dir.file("audit.jsonl"))
        #expect(problem.message.contains("seq 5"))
    }

    @Test func sloppyEditThatBreaksCanonicalFormIsNamed() async throws {
        let (dir, lines) = try await makeLog()
        defer { dir.remove() }
        var edited = lines
        edited[7] = edited[7].replacingOccurrences(of: "\"deny\"", with: "\"allow\"").replacingOccurrences(of: ",", with: ", ")
        writeLines(dir.file("audit.jsonl"), edited)
        let problem = try #require(try verify(dir, head: false).problem)
        #expect(problem.kind == .edited && problem.location.line == 8)
    }

    @Test func editedLastRecordIsCaughtByTheHead() async throws {
        let (dir, lines) = try await makeLog()
        defer { dir.remove() }
        var edited = lines
        edited[7] = try forge(lines[7]) { $0.data = .object($0.data.objectValue!.merging(["pid": 1]) { $1 }) }
        writeLines(dir.file("audit.jsonl"), edited)
        let problem = try #require(try verify(dir).problem)
        #expect(problem.kind == .edited && problem.location.seq == 8)
    }

    @Test func deletedRecordIsNamed() async throws {
        let (dir, lines) = try await makeLog()
        defer { dir.remove() }
        var edited = lines
        edited.remove(at: 4)  // seq 5
        writeLines(dir.file("audit.jsonl"), edited)
        let problem = try #require(try verify(dir).problem)
        #expect(problem.kind == .deleted)
        #expect(problem.location.line == 5 && problem.location.seq == 6)
        #expect(problem.message.contains("seq 5 is missing"))
    }

    @Test func insertedRecordIsNamed() async throws {
        let (dir, lines) = try await makeLog()
        defer { dir.remove() }
        // A forged record that chains correctly to seq 3 and takes seq 4.
        let forged = try forge(lines[3]) { $0.data = .object($0.data.objectValue!.merging(["comm": "innocent"]) { $1 }) }
        var edited = lines
        edited.insert(forged, at: 3)
        writeLines(dir.file("audit.jsonl"), edited)
        let problem = try #require(try verify(dir).problem)
        #expect(problem.kind == .inserted)
        #expect(problem.location.line == 4)
        // ... and one that does not chain at all.
        var second = lines
        second.insert(try forge(lines[3]) { $0.seq = 40; $0.prev = AuditHash.genesis }, at: 6)
        writeLines(dir.file("audit.jsonl"), second)
        let p2 = try #require(try verify(dir).problem)
        #expect(p2.kind == .inserted && p2.location.line == 7 && p2.location.seq == 40)
    }

    @Test func reorderedRecordsAreNamed() async throws {
        let (dir, lines) = try await makeLog()
        defer { dir.remove() }
        var edited = lines
        edited.swapAt(2, 3)  // seq 4 before seq 3
        writeLines(dir.file("audit.jsonl"), edited)
        let problem = try #require(try verify(dir).problem)
        #expect(problem.kind == .reordered)
        #expect(problem.location.line == 3 && problem.location.seq == 4)
        #expect(problem.message.contains("chains to seq 3"))
    }

    @Test func truncatedLogIsCaughtByTheHead() async throws {
        let (dir, lines) = try await makeLog()
        defer { dir.remove() }
        writeLines(dir.file("audit.jsonl"), Array(lines.prefix(5)))
        let problem = try #require(try verify(dir).problem)
        #expect(problem.kind == .truncated)
        #expect(problem.location.seq == 5 && problem.location.line == 5)
        #expect(problem.message.contains("seq 8"))
        // Cutting the last record in half is the same truncation, not a crash.
        writeLines(dir.file("audit.jsonl"), Array(lines.prefix(7)) + [String(lines[7].prefix(40))], trailingNewline: false)
        #expect(try verify(dir).problem?.kind == .truncated)
    }

    @Test func truncatedRotatedFileIsCaughtByTheNextFile() async throws {
        let (dir, _) = try await makeLog(20, maxFileBytes: 2500)
        defer { dir.remove() }
        let files = AuditLogFiles(path: dir.file("audit.jsonl"))
        let rotated = files.rotatedPath(1)
        let lines = readLines(rotated)
        #expect(lines.count > 2)
        writeLines(rotated, Array(lines.dropLast()))
        let problem = try #require(try verify(dir).problem)
        #expect(problem.kind == .deleted)
        #expect(problem.location.file == files.path && problem.location.line == 1)
    }

    @Test func garbageLineInTheMiddleIsNamed() async throws {
        let (dir, lines) = try await makeLog()
        defer { dir.remove() }
        var edited = lines
        edited[2] = "not a record"
        writeLines(dir.file("audit.jsonl"), edited)
        let problem = try #require(try verify(dir).problem)
        #expect(problem.kind == .malformed && problem.location.line == 3)
    }

    @Test func renderedVerdictNamesFileLineAndSeq() async throws {
        let (dir, lines) = try await makeLog()
        defer { dir.remove() }
        var edited = lines
        edited.remove(at: 1)
        writeLines(dir.file("audit.jsonl"), edited)
        let report = try verify(dir)
        #expect(report.exitStatus == 1)
        #expect(report.rendered.first == "TAMPERED: \(dir.file("audit.jsonl")):2 (seq 3): deleted: follows seq 1: seq 2 is missing (deleted)")
    }

    @Test func unreadableFileThrows() {
        #expect(throws: AuditIOError.self) { try AuditVerifier.verify(files: ["/nonexistent/audit.jsonl"], head: nil) }
    }
    /// "N records checked before it" counts the records before the one named, which is the one
    /// before the broken link when that record is the edited one; one is "1 record".
    @Test func theCountIsOfTheRecordsBeforeTheNamedOneInTheRightNumber() async throws {
        let (dir, lines) = try await makeLog()
        defer { dir.remove() }
        var edited = lines
        edited[3] = try forge(lines[3]) { $0.data = .object($0.data.objectValue!.merging(["verdict": "allow"]) { $1 }) }
        writeLines(dir.file("audit.jsonl"), edited)
        let report = try verify(dir)
        #expect(report.problem?.location.seq == 4 && report.recordsBefore == 3)
        #expect(report.rendered.dropFirst().first == "  3 records checked before it, in 1 file", "\(report.rendered)")
        edited = lines
        edited[1] = try forge(lines[1]) { $0.data = .object($0.data.objectValue!.merging(["verdict": "allow"]) { $1 }) }
        writeLines(dir.file("audit.jsonl"), edited)
        #expect(try verify(dir).rendered.dropFirst().first == "  1 record checked before it, in 1 file")
        writeLines(dir.file("audit.jsonl"), [lines[0]])
        #expect(try verify(dir, head: false).rendered.first == "ok: 1 record (seq 1–1) in 1 file, chain intact")
    }

    /// The last record's own `prev` edited: the head checkpoint shows the last record changed,
    /// so it, not the intact record before it, is named.
    @Test func anEditedPrevOfTheLastRecordNamesTheLastRecord() async throws {
        let (dir, lines) = try await makeLog()
        defer { dir.remove() }
        var edited = lines
        edited[7] = try forge(lines[7]) { $0.prev = String(repeating: "1", count: 64) }
        writeLines(dir.file("audit.jsonl"), edited)
        let report = try verify(dir)
        #expect(report.problem?.kind == .edited && report.problem?.location.seq == 8, "\(report.rendered)")
        #expect(report.recordsBefore == 7)
        // When seq 7 itself changed, the head vouches for seq 8: seq 7 is named.
        edited = lines
        edited[6] = try forge(lines[6]) { $0.data = .object($0.data.objectValue!.merging(["pid": 1]) { $1 }) }
        writeLines(dir.file("audit.jsonl"), edited)
        #expect(try verify(dir).problem?.location.seq == 7)
    }
}
