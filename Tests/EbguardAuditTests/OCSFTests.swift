import Foundation
import Testing
@testable import EbguardAudit

@Suite("OCSF export")
struct OCSFTests {
    func event(_ e: AuditEvent) throws -> JSONValue {
        let r = AuditRecord(seq: 12, time: AuditTime(rfc3339: "2026-05-04T09:12:33.482113Z")!, host: testHost,
                            prev: AuditHash.genesis, event: e)
        return try #require(OCSFMapping.event(for: r))
    }

    /// The base event's required attributes, with their OCSF types.
    func expectBase(_ e: JSONValue, classUID: Int64, category: Int64) {
        #expect(e["class_uid"]?.intValue == classUID)
        #expect(e["category_uid"]?.intValue == category)
        let activity = e["activity_id"]?.intValue
        #expect(activity != nil)
        #expect(e["type_uid"]?.intValue == classUID * 100 + (activity ?? 0))
        #expect(e["time"]?.intValue == 1_777_885_953_482, "timestamp_t: milliseconds since the epoch")
        #expect(e["severity_id"]?.intValue != nil)
        #expect(e["metadata"]?["version"]?.stringValue == "1.3.0")
        #expect(e["metadata"]?["product"]?["name"]?.stringValue == "ebguard")
        #expect(e["metadata"]?["product"]?["vendor_name"]?.stringValue == "ebguard")
        #expect(e["metadata"]?["product"]?["version"]?.stringValue == AuditProduct.version)
        #expect(e["metadata"]?["sequence"]?.intValue == 12)
        #expect(e["actor"]?["process"]?["pid"]?.intValue != nil)
        #expect(e["actor"]?["process"]?["name"]?.stringValue != nil)
        #expect(e["device"]?["hostname"]?.stringValue == "test-host")
        #expect(e["device"]?["uid"]?.stringValue == testHost.machineID)
        #expect(e["device"]?["type_id"]?.intValue == 0)
        #expect(e["status_id"]?.intValue != nil && e["disposition_id"]?.intValue != nil)
    }

    @Test func execIsProcessActivity() throws {
        let e = try event(sampleDecision(1, kind: .exec, verdict: .deny))
        expectBase(e, classUID: 1007, category: 1)
        #expect(e["activity_id"]?.intValue == 1)  // Launch
        #expect(e["process"]?["file"]?["path"]?.stringValue == "/usr/bin/curl")
        #expect(e["process"]?["name"]?.stringValue == "curl")
        #expect(e["process"]?["cmd_line"]?.stringValue == "curl -s https://example.com")
        #expect(e["actor"]?["process"]?["file"]?["path"]?.stringValue == "/usr/bin/bash")
        #expect(e["disposition_id"]?.intValue == 2 && e["disposition"]?.stringValue == "Blocked")
        #expect(e["status_id"]?.intValue == 2)
        #expect(e["severity_id"]?.intValue == 3)
    }

    @Test func fileIsFileSystemActivity() throws {
        let e = try event(sampleDecision(1, kind: .file, verdict: .audit))
        expectBase(e, classUID: 1001, category: 1)
        #expect(e["activity_id"]?.intValue == 2)  // Read
        #expect(e["file"]?["path"]?.stringValue == "/home/u/.ssh/id_1")
        #expect(e["file"]?["name"]?.stringValue == "id_1")
        #expect(e["file"]?["type_id"]?.intValue == 1)
        #expect(e["disposition_id"]?.intValue == 1 && e["status_id"]?.intValue == 1)
        #expect(e["severity_id"]?.intValue == 1)
    }

    @Test func networkIsNetworkActivity() throws {
        let e = try event(sampleDecision(1, kind: .network, verdict: .deny))
        expectBase(e, classUID: 4001, category: 4)
        #expect(e["activity_id"]?.intValue == 5)  // Refuse
        #expect(e["dst_endpoint"]?["ip"]?.stringValue == "93.184.216.34")
        #expect(e["dst_endpoint"]?["port"]?.intValue == 443)
        #expect(e["dst_endpoint"]?["hostname"]?.stringValue == "example.com")
        #expect(e["connection_info"]?["protocol_num"]?.intValue == 6)
        #expect(e["connection_info"]?["direction_id"]?.intValue == 2)
    }

    @Test func networkEndpointIsParsedFromTheObjectWhenNotGiven() throws {
        let d = AuditDecision(session: "s", pid: 5, comm: "dig", kind: .network, object: "[2001:db8::1]:53/udp",
                              access: "sendmsg", rule: "network.allow[1]", verdict: .audit)
        let e = try event(.decision(d))
        #expect(e["activity_id"]?.intValue == 1)
        #expect(e["dst_endpoint"]?["ip"]?.stringValue == "2001:db8::1")
        #expect(e["dst_endpoint"]?["port"]?.intValue == 53)
        #expect(e["connection_info"]?["protocol_num"]?.intValue == 17)
    }

    @Test func aSummaryOfRepeatsIsAnAggregateWithCountAndTimes() throws {
        var d = AuditDecision(session: "s", pid: 5, comm: "bash", kind: .network, object: "127.0.0.3:80/tcp",
                              access: "connect", rule: "network[1]", verdict: .deny)
        #expect(try event(.decision(d))["count"] == nil, "a single decision is no aggregate")
        d.repeats = 41
        d.firstTime = "2026-05-04T09:12:32.000500Z"
        d.lastTime = "2026-05-04T09:12:33.250000Z"
        let e = try event(.decision(d))
        #expect(e["count"]?.intValue == 41)
        #expect(e["start_time"]?.intValue == 1_777_885_952_000)
        #expect(e["end_time"]?.intValue == 1_777_885_953_250)
    }

    @Test func recordsWithoutAClassAreLeftOut() {
        for e: AuditEvent in [.daemonStart(AuditDaemon(version: "1", pid: 1)), sampleDecision(1, kind: .unix)] {
            let r = AuditRecord(seq: 1, time: .now(), host: testHost, prev: AuditHash.genesis, event: e)
            #expect(OCSFMapping.event(for: r) == nil)
        }
    }

    @Test func exportFiltersBySessionAndTime() async throws {
        let dir = TempDir("export")
        defer { dir.remove() }
        let log = try openLog(dir)
        let t0 = AuditTime(rfc3339: "2026-01-01T00:00:00Z")!
        let t1 = AuditTime(rfc3339: "2026-02-01T00:00:00Z")!
        try await log.append(.sessionStart(AuditSession(session: "a", policy: "agent", policySHA256: "00")), at: t0)
        try await log.append(sampleDecision(1, kind: .exec, session: "a"), at: t0)
        try await log.append(sampleDecision(2, kind: .network, session: "b"), at: t1)
        try await log.append(sampleDecision(3, kind: .file, session: "a"), at: t1)
        try await log.close()
        let files = AuditLogFiles(path: dir.file("audit.jsonl")).existing()
        var out: [String] = []
        var summary = try AuditExport.run(files: files, filter: .init(session: "a"), format: .jsonl) { out.append($0) }
        #expect(out.count == 3 && summary.exported == 3 && summary.read == 4)
        #expect(out == Array(readLines(files[0]))[0..<4].filter { $0.contains("\"session\":\"a\"") })
        out = []
        summary = try AuditExport.run(files: files, filter: .init(since: t1), format: .ocsf) { out.append($0) }
        #expect(out.count == 2)
        let classes = try out.map { try JSONValue.parse(Array($0.utf8))["class_uid"]?.intValue }
        #expect(classes == [4001, 1001])
        out = []
        summary = try AuditExport.run(files: files, filter: .init(session: "a"), format: .ocsf) { out.append($0) }
        #expect(out.count == 2 && summary.unmapped == 1)
    }
}
