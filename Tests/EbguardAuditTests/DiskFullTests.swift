import Foundation
import Testing
@testable import EbguardAudit

/// A real full filesystem: a 256 KiB tmpfs, filled up.
@Suite("audit log: disk full", .serialized, .enabled(if: geteuid() == 0, "mounts a small tmpfs to fill it up: needs root"))
struct DiskFullTests {
    func withTinyFilesystem(_ body: (TempDir) async throws -> Void) async throws {
        let dir = TempDir("full")
        guard mount("tmpfs", dir.path, "tmpfs", 0, "size=256k,mode=0700") == 0 else {
            Issue.record("mount tmpfs: \(String(cString: strerror(errno)))")
            return
        }
        defer {
            umount2(dir.path, Int32(MNT_DETACH))
            dir.remove()
        }
        try await body(dir)
    }

    /// Fills the filesystem with `filler` until write fails with ENOSPC.
    func fill(_ path: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        defer { close(fd) }
        let chunk = [UInt8](repeating: 0x41, count: 512)
        while chunk.withUnsafeBytes({ write(fd, $0.baseAddress!, $0.count) }) > 0 {}
    }

    @Test func fullDiskIsReportedRecordsWaitAndWritingResumes() async throws {
        try await withTinyFilesystem { dir in
            let log = try AuditLog(configuration: AuditLogConfiguration(path: dir.file("audit.jsonl"), flushRecords: 1000,
                                                                       maxPendingRecords: 50),
                                   host: testHost, logger: quietLogger)
            try await writeRecords(log, 3)
            fill(dir.file("filler"))
            for n in 3..<39 { try await log.append(sampleDecision(n)) }
            await #expect {
                try await log.flush()
            } throws: { error in
                guard case AuditError.io(let io) = error else { return false }
                return io.isDiskFull && io.description.contains("audit.jsonl: No space left on device")
            }
            var status = await log.status()
            #expect(status.lastError?.isDiskFull == true)
            #expect(status.durableSeq == 3 && status.lastSeq == 39 && status.pending == 36)
            // No half line was left behind by the partial write.
            #expect(try verify(dir, head: false).isIntact)
            // The backlog limit: records past it are refused, and counted later.
            for n in 39..<53 { try await log.append(sampleDecision(n)) }  // up to the limit: 50 waiting
            await #expect(throws: AuditError.self) { try await log.append(sampleDecision(90)) }
            await #expect(throws: AuditError.self) { try await log.append(sampleDecision(91)) }
            #expect(await log.status().refused == 2)

            unlink(dir.file("filler"))
            try await log.flush()
            status = await log.status()
            #expect(status.lastError == nil && status.pending == 0 && status.durableSeq == 53)
            let seq = try await log.append(sampleDecision(92))
            try await log.flush()
            #expect(seq == 55, "seq 54 is the lost_events record")
            let lines = readLines(dir.file("audit.jsonl"))
            #expect(lines.count == 55)
            #expect(try record(lines[53]).event == .lostEvents(AuditLostEvents(source: "audit", count: 2)))
            let report = try verify(dir)
            #expect(report.isIntact, "\(report.rendered)")
        }
    }
}
