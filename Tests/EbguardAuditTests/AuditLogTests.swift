import Foundation
import Testing
@testable import EbguardAudit

@Suite("audit log: chain, restart, rotation, torn lines")
struct AuditLogTests {
    @Test func recordsChainBySequenceAndHash() async throws {
        let dir = TempDir()
        defer { dir.remove() }
        let log = try openLog(dir)
        let seqs = try await writeRecords(log, 5)
        #expect(seqs == [1, 2, 3, 4, 5])
        let lines = readLines(dir.file("audit.jsonl"))
        #expect(lines.count == 5)
        var prev = AuditHash.genesis
        for (i, line) in lines.enumerated() {
            let r = try AuditRecord(line: Array(line.utf8), requireCanonical: true)
            #expect(r.seq == UInt64(i + 1))
            #expect(r.prev == prev)
            #expect(r.host == testHost)
            prev = AuditHash.sha256Hex(Array(line.utf8))
        }
        #expect(AuditHead.read(dir.file("audit.jsonl.head")) == AuditHead(seq: 5, sha256: prev))
        let status = await log.status()
        #expect(status.lastSeq == 5 && status.durableSeq == 5 && status.pending == 0 && status.lastError == nil)
        #expect(try verify(dir).isIntact)
    }

    @Test func appendBuffersUntilFlushOrBatch() async throws {
        let dir = TempDir()
        defer { dir.remove() }
        let log = try AuditLog(configuration: AuditLogConfiguration(path: dir.file("audit.jsonl"), flushRecords: 4),
                               host: testHost, logger: quietLogger)
        for n in 0..<3 { try await log.append(sampleDecision(n)) }
        #expect(readLines(dir.file("audit.jsonl")).isEmpty)
        #expect(await log.status().pending == 3)
        try await log.append(sampleDecision(3))  // the 4th fills a batch
        #expect(readLines(dir.file("audit.jsonl")).count == 4)
        try await log.append(sampleDecision(4))
        try await log.close()
        #expect(readLines(dir.file("audit.jsonl")).count == 5)
        await #expect(throws: AuditError.self) { try await log.append(sampleDecision(5)) }
    }

    @Test func runFlushesOnItsTimerAndWhenCancelled() async throws {
        let dir = TempDir()
        defer { dir.remove() }
        let log = try AuditLog(configuration: AuditLogConfiguration(path: dir.file("audit.jsonl"),
                                                                   flushInterval: .milliseconds(20)),
                               host: testHost, logger: quietLogger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await log.run() }
            try await log.append(sampleDecision(0))
            var waited = 0
            while readLines(dir.file("audit.jsonl")).isEmpty, waited < 100 {
                try await Task.sleep(for: .milliseconds(10))
                waited += 1
            }
            #expect(readLines(dir.file("audit.jsonl")).count == 1)
            try await log.append(sampleDecision(1))
            group.cancelAll()
        }
        #expect(readLines(dir.file("audit.jsonl")).count == 2)
    }

    @Test func restartContinuesTheChainAndSequence() async throws {
        let dir = TempDir()
        defer { dir.remove() }
        do {
            let log = try openLog(dir)
            try await writeRecords(log, 3)
            try await log.close()
        }
        let log = try openLog(dir)
        #expect(try await log.append(sampleDecision(9)) == 4)
        try await log.flush()
        let lines = readLines(dir.file("audit.jsonl"))
        #expect(try record(lines[3]).prev == AuditHash.sha256Hex(Array(lines[2].utf8)))
        let report = try verify(dir)
        #expect(report.isIntact && report.records == 4 && report.notes.isEmpty)
    }

    @Test func rotationKeepsTheChainAcrossFiles() async throws {
        let dir = TempDir()
        defer { dir.remove() }
        let log = try openLog(dir, maxFileBytes: 2000, maxRotatedFiles: 3)
        try await writeRecords(log, 10)
        try await writeRecords(log, 10, from: 10)
        try await writeRecords(log, 10, from: 20)
        let files = AuditLogFiles(path: dir.file("audit.jsonl"))
        #expect(files.rotatedNumbers() == [3, 2, 1], "the oldest beyond three were removed")
        var last: (seq: UInt64, hash: String)?
        for path in files.existing() {
            let lines = readLines(path)
            #expect(!lines.isEmpty)
            let size = try #require(try SystemHost.fileSize(path))
            #expect(size <= 2000 || lines.count == 1)
            let first = try record(lines[0])
            if let last {  // the first record of each file chains to the last of the one before
                #expect(first.seq == last.seq + 1)
                #expect(first.prev == last.hash)
            }
            last = (try record(lines.last!).seq, AuditHash.sha256Hex(Array(lines.last!.utf8)))
        }
        #expect(last?.seq == 30)
        let report = try verify(dir)
        #expect(report.isIntact, "\(report.rendered)")
        #expect(report.lastSeq == 30)
        #expect(report.notes.contains { $0.contains("older records are not in these files") })
        // After a restart, rotation goes on from where it was.
        try await log.close()
        let again = try openLog(dir, maxFileBytes: 2000, maxRotatedFiles: 3)
        try await writeRecords(again, 10, from: 30)
        #expect(try verify(dir).isIntact)
    }

    @Test func tornLastLineIsReportedThenRecoveredWithoutLosingRecords() async throws {
        let dir = TempDir()
        defer { dir.remove() }
        let path = dir.file("audit.jsonl")
        do {
            let log = try openLog(dir)
            try await writeRecords(log, 4)
            try await log.close()
        }
        // A crash in the middle of a write: part of a fifth record, no newline.
        var lines = readLines(path)
        let fifth = AuditRecord(seq: 5, time: .now(), host: testHost,
                                prev: AuditHash.sha256Hex(Array(lines[3].utf8)), event: sampleDecision(5)).line
        let torn = String(decoding: fifth.prefix(70), as: UTF8.self)
        writeLines(path, lines + [torn], trailingNewline: false)
        // Verify before any restart: intact, with a note naming the torn line.
        let before = try verify(dir)
        #expect(before.isIntact, "\(before.rendered)")
        #expect(before.records == 4)
        #expect(before.notes.contains { $0.contains("audit.jsonl:5: torn last line") })

        let log = try openLog(dir)
        #expect(await log.status().lastSeq == 5, "the recovery record took seq 5")
        #expect(try await log.append(sampleDecision(6)) == 6)
        try await log.flush()
        lines = readLines(path)
        #expect(lines.count == 7)
        #expect(lines[4] == torn, "the torn bytes stay, as evidence")
        let recovery = try record(lines[5])
        #expect(recovery.prev == AuditHash.sha256Hex(Array(lines[3].utf8)), "chains to the last whole record")
        guard case .recovery(let r) = recovery.event else { Issue.record("not a recovery record"); return }
        #expect(r.line == 5 && r.tornBytes == 71)
        let after = try verify(dir)
        #expect(after.isIntact, "\(after.rendered)")
        #expect(after.records == 6)
        #expect(after.notes.contains { $0.contains("torn by a crash, recovered by seq 5") })
        // A torn line that no recovery record accounts for is tampering.
        lines[4] = "{\"seq\":99"
        writeLines(path, lines)
        let edited = try verify(dir)
        #expect(edited.problem?.kind == .malformed)
        #expect(edited.problem?.location.line == 5)
    }

    @Test func aWholeButUnparseableLastLineIsRecoveredToo() async throws {
        let dir = TempDir()
        defer { dir.remove() }
        do {
            let log = try openLog(dir)
            try await writeRecords(log, 2)
            try await log.close()
        }
        let path = dir.file("audit.jsonl")
        // Power loss can leave a block of zeros where the last write was.
        writeLines(path, readLines(path) + [String(repeating: "\0", count: 30)])
        let log = try openLog(dir)
        try await writeRecords(log, 1)
        let report = try verify(dir)
        #expect(report.isIntact, "\(report.rendered)")
        #expect(report.lastSeq == 4)
    }

    @Test func lostRecordsAreNotRenumbered() async throws {
        let dir = TempDir()
        defer { dir.remove() }
        do {
            let log = try openLog(dir)
            try await writeRecords(log, 5)
            try await log.close()
        }
        let path = dir.file("audit.jsonl")
        writeLines(path, Array(readLines(path).prefix(3)))  // records 4 and 5 vanish
        let log = try openLog(dir)
        #expect(try await log.append(sampleDecision(0)) == 6, "seq 4 and 5 may already be at a collector")
        try await log.flush()
        #expect(try verify(dir).problem?.kind == .deleted)
    }
}
