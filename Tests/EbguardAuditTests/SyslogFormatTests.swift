import EbguardTestSupport
import Foundation
import Testing
@testable import EbguardAudit

/// Syslog frames of every record type, checked by an independent RFC 5424 parser (PyPI
/// syslog-rfc5424-parser) and RFC 6587 octet counting (Fixtures/audit_validate.py).
@Suite("syslog format")
struct SyslogFormatTests {
    func stored(_ events: [AuditEvent]) -> [AuditStoredRecord] {
        var prev = AuditHash.genesis
        return events.enumerated().map { n, event in
            let record = AuditRecord(seq: UInt64(n + 1), time: AuditTime(rfc3339: "2026-05-04T09:12:33.482113Z")!,
                                     host: testHost, prev: prev, event: event)
            prev = AuditHash.sha256Hex(record.line)
            return AuditStoredRecord(file: "audit.jsonl", line: n + 1, bytes: record.line, record: record)
        }
    }

    /// RFC 5424 §6.4: a UTF-8 MSG MUST start with the BOM. ebguard's MSG is always UTF-8 JSON
    /// (non-ASCII raw), so every message has it; the record's line follows byte for byte.
    @Test func everyMessageIsRFC5424WithTheBOMBeforeTheRecordsLine() throws {
        let unicode = AuditEvent.decision(AuditDecision(session: "s-1", pid: 5, comm: "cät", kind: .file,
                                                        object: "/home/u/Überweisung ✓ \"quoted\" ]bracket\\.pdf",
                                                        access: "read", rule: "file[0]", verdict: .deny))
        let records = stored(OCSFTests.everyRecord + [unicode])
        var stream: [UInt8] = []
        for r in records {
            let message = SyslogFormat.message(r, facility: 13)
            let at = try #require(message.indices.first { message[$0...].starts(with: SyslogFormat.bom) }, "no BOM")
            #expect(Array(message[(at + 3)...]) == r.bytes, "MSG after the BOM is the record's exact line")
            stream += SyslogFormat.frame(message)
        }
        let result = try AuditValidator.run(["syslog-frames"], bytes: stream)
        #expect(result.ok, "\(result.output)")
        #expect(result.output.contains("ok: \(records.count) syslog messages"), "\(result.output)")
    }

    /// The validator is strict: a message without the BOM, or with a broken frame length, fails.
    @Test func theParserRefusesAMessageWithoutTheBOM() throws {
        let r = stored([sampleDecision(1)])[0]
        var message = SyslogFormat.message(r, facility: 13)
        let at = try #require(message.indices.first { message[$0...].starts(with: SyslogFormat.bom) })
        message.removeSubrange(at..<(at + 3))
        #expect(try AuditValidator.run(["syslog-frames"], bytes: SyslogFormat.frame(message)).status == 1)
        #expect(try AuditValidator.run(["syslog-frames"], bytes: Array("999 <110>1 - - - - - -".utf8)).status == 1)
    }
}
