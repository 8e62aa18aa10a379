import EbguardTestSupport
import Foundation
import Testing
@testable import EbguardAudit

/// A shadow session's decisions (issue 19) in the audit trail and OCSF: `would_deny` and
/// `would_ask` are allowed outcomes (action, disposition and status say so, and a network
/// one is an Open, not a Refuse), with the would-be verdict where the schema lets a producer
/// put its own facts (`unmapped`, `message`), and valid against the official OCSF schema.
@Suite("Shadow decisions in OCSF")
struct ShadowOCSFTests {
    static let records: [AuditEvent] = [AuditObjectKind.exec, .file, .network, .unix].flatMap { kind in
        [sampleDecision(1, kind: kind, verdict: .wouldDeny), sampleDecision(2, kind: kind, verdict: .wouldAsk)]
    }

    func ocsf(_ e: AuditEvent) throws -> JSONValue {
        let r = AuditRecord(seq: 3, time: AuditTime(rfc3339: "2026-05-04T09:12:33.482113Z")!, host: testHost,
                            prev: AuditHash.genesis, event: e)
        return try #require(OCSFMapping.event(for: r))
    }

    @Test func wouldBeDenialsAreAllowedOutcomesThatSayWhatEnforcingWouldHaveDone() throws {
        for record in Self.records {
            guard case .decision(let d) = record else { continue }
            let e = try ocsf(record)
            #expect(e["action_id"]?.intValue == 1 && e["action"]?.stringValue == "Allowed", "\(d.kind) \(d.verdict)")
            #expect(e["disposition_id"]?.intValue == 1 && e["disposition"]?.stringValue == "Allowed")
            #expect(e["status_id"]?.intValue == 1)
            #expect(e["unmapped"]?["ebguard_verdict"]?.stringValue == d.verdict.rawValue)
            #expect(e["message"]?.stringValue?.hasPrefix(d.verdict.rawValue + " ") == true, "\(e["message"] ?? .null)")
            #expect(e["policy"]?["name"]?.stringValue == d.rule, "the rule that would have decided")
            if d.kind == .network || d.kind == .unix {
                #expect(e["activity_id"]?.intValue == 1, "the connect happened: Open, not Refuse")
            }
        }
    }

    @Test func shadowDecisionsAreValidOCSFEvents() async throws {
        let dir = TempDir("ocsf-shadow")
        defer { dir.remove() }
        let log = try openLog(dir)
        for e in Self.records { try await log.append(e) }
        try await log.close()
        var out: [String] = []
        let summary = try AuditExport.run(files: [dir.file("audit.jsonl")], filter: .init(), format: .ocsf) { out.append($0) }
        #expect(summary.unmapped == 0 && out.count == Self.records.count)
        let result = try AuditValidator.run(["ocsf", OCSFMapping.schemaVersion], lines: out)
        #expect(result.ok, "\(result.output)")
        #expect(result.output.contains("ok: \(Self.records.count) OCSF"), "\(result.output)")
        // The audit record itself keeps the verdict as the event said it.
        let raw = try String(contentsOfFile: dir.file("audit.jsonl"), encoding: .utf8)
        #expect(raw.contains("\"verdict\":\"would_deny\"") && raw.contains("\"verdict\":\"would_ask\""))
    }
}
