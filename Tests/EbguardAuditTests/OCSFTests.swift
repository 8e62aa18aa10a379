import EbguardTestSupport
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
        #expect(e["metadata"]?["version"]?.stringValue == "1.8.0")
        #expect(e["metadata"]?["product"]?["name"]?.stringValue == "ebguard")
        #expect(e["metadata"]?["product"]?["vendor_name"]?.stringValue == "ebguard")
        #expect(e["metadata"]?["product"]?["version"]?.stringValue == AuditProduct.version)
        #expect(e["metadata"]?["sequence"]?.intValue == 12)
        #expect(e["actor"]?["process"]?["pid"]?.intValue != nil)
        #expect(e["actor"]?["process"]?["name"]?.stringValue != nil)
        #expect(e["device"]?["hostname"]?.stringValue == "test-host")
        #expect(e["device"]?["uid"]?.stringValue == testHost.machineID)
        #expect(e["device"]?["type_id"]?.intValue == 0)
        #expect(e["device"]?["os"]?["type_id"]?.intValue == 200, "OCSF: 200 is Linux (100 is Windows)")
        #expect(e["status_id"]?.intValue != nil && e["disposition_id"]?.intValue != nil)
    }

    @Test func execIsProcessActivity() throws {
        let e = try event(sampleDecision(1, kind: .exec, verdict: .deny))
        expectBase(e, classUID: 1007, category: 1)
        #expect(e["activity_id"]?.intValue == 1)  // Launch
        #expect(e["process"]?["file"]?["path"]?.stringValue == "/usr/bin/curl")
        #expect(e["process"]?["name"]?.stringValue == "curl")
        #expect(e["process"]?["pid"]?.intValue == 1001, "an exec keeps its pid")
        #expect(e["process"]?["cmd_line"]?.stringValue == "curl -s https://example.com")
        #expect(e["actor"]?["process"]?["file"]?["path"]?.stringValue == "/usr/bin/bash")
        #expect(e["policy"]?["name"]?.stringValue == "exec.deny[0]")
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

    /// One record of every type (and every kind of decision and answer) as the log writes it.
    static let everyRecord: [AuditEvent] = {
        var summary = AuditDecision(session: "s-1", pid: 7, comm: "bash", kind: .network, object: "127.0.0.3:80/tcp",
                                    access: "connect", rule: "network[1]", verdict: .deny, uid: 1000, exe: "/usr/bin/bash",
                                    network: AuditNetworkTarget(address: "127.0.0.3", port: 80, transport: "tcp"))
        summary.repeats = 41
        summary.firstTime = "2026-05-04T09:12:32.000500Z"
        summary.lastTime = "2026-05-04T09:12:33.250000Z"
        return [
            .daemonStart(AuditDaemon(version: AuditProduct.version, pid: 99)),
            .sessionStart(AuditSession(session: "s-1", policy: "agent", policySHA256: String(repeating: "a", count: 64),
                                       policyPath: "/etc/ebguard/agent.yaml", command: ["/usr/bin/make", "test"], user: "root")),
            sampleDecision(1, kind: .exec, verdict: .deny), sampleDecision(2, kind: .file, verdict: .audit),
            sampleDecision(3, kind: .network, verdict: .ask), .decision(summary),
            .decision(AuditDecision(session: "s-1", pid: 8, comm: "nc", kind: .network, object: "[2001:db8::1]:53/udp",
                                    access: "sendmsg", rule: "default", verdict: .deny)),
            .decision(AuditDecision(session: "s-1", pid: 9, comm: "socat", kind: .unix, object: "/run/docker.sock",
                                    access: "connect", rule: "network[3]", verdict: .deny)),
            .decision(AuditDecision(session: "s-1", pid: 10, comm: "kill", kind: .tamper, object: "signal to pid 99",
                                    access: "tamper", rule: "tamper", verdict: .deny)),
            .decision(AuditDecision(session: "s-1", pid: 11, comm: "bpftool", kind: .tamper, object: "bpf()",
                                    access: "tamper", rule: "tamper", verdict: .deny)),
            .askAnswer(AuditAskAnswer(session: "s-1", askID: 3, kind: .network, object: "93.184.216.34:443/tcp", answer: .allow,
                                      scope: .session, answeredBy: "alice", pid: 1003, comm: "curl")),
            .askAnswer(AuditAskAnswer(session: "s-1", askID: 4, kind: .file, object: "/home/u/.aws/credentials", answer: .deny,
                                      scope: .once, answeredBy: "timeout", timedOut: true, pid: 1004, comm: "cat")),
            .askAnswer(AuditAskAnswer(session: "s-1", askID: 5, kind: .exec, object: "git reset --hard", answer: .deny,
                                      scope: .always, answeredBy: "root", pid: 1005, comm: "bash")),
            .askAnswer(AuditAskAnswer(session: "s-1", askID: 6, kind: .exec, object: "git push", answer: .allow,
                                      scope: .once, answeredBy: "root")),
            .policyChange(AuditPolicyChange(session: "s-1", policy: "wide", policyPath: "/etc/ebguard/wide.yaml",
                                            oldSHA256: String(repeating: "a", count: 64), newSHA256: String(repeating: "b", count: 64),
                                            changedBy: "root (pid 4242)")),
            .policyChange(AuditPolicyChange(policy: "host", newSHA256: String(repeating: "c", count: 64))),
            .lostEvents(AuditLostEvents(source: "ringbuf", count: 12)),
            .lostEvents(AuditLostEvents(source: "audit", count: 3, session: "s-1")),
            .recovery(AuditRecovery(file: "/var/log/ebguard/audit.jsonl", line: 7, tornBytes: 40,
                                    tornSHA256: String(repeating: "d", count: 64))),
            .sessionStop(AuditSession(session: "s-1", policy: "agent", policySHA256: String(repeating: "a", count: 64),
                                      policyPath: "/etc/ebguard/agent.yaml", command: ["/usr/bin/make", "test"], user: "root",
                                      exitStatus: 2)),
            .sessionStop(AuditSession(session: "s-2", policy: "agent", policySHA256: "")),
            .daemonStop(AuditDaemon(version: AuditProduct.version, pid: 99, reason: "SIGTERM")),
        ]
    }()

    /// Every record type, exported through `audit export --format ocsf`, is valid against the
    /// official OCSF schema of the version it declares (PyPI ocsf-json-schema, strict:
    /// no attribute the class does not define, enums and required attributes checked).
    @Test func everyRecordTypeIsAValidOCSFEventOfTheDeclaredVersion() async throws {
        let dir = TempDir("ocsf")
        defer { dir.remove() }
        let log = try openLog(dir)
        for e in Self.everyRecord { try await log.append(e) }
        try await log.close()
        var out: [String] = []
        let summary = try AuditExport.run(files: [dir.file("audit.jsonl")], filter: .init(), format: .ocsf) { out.append($0) }
        #expect(summary.unmapped == 0 && out.count == Self.everyRecord.count, "every record type has a class")
        let result = try AuditValidator.run(["ocsf", OCSFMapping.schemaVersion], lines: out)
        #expect(result.ok, "\(result.output)")
        #expect(result.output.contains("ok: \(Self.everyRecord.count) OCSF"), "\(result.output)")
        let classes = try out.map { try #require(JSONValue.parse(Array($0.utf8))["class_uid"]?.intValue) }
        #expect(Set(classes) == [1001, 1007, 3004, 4001, 6002, 6008])
    }

    /// The validator is no rubber stamp: the attributes 1.3.0 lacked, an undefined OS type id, and a
    /// process without pid or uid are each refused.
    @Test func theSchemaValidatorRefusesWhatStrictOCSFRefuses() throws {
        let good = try event(sampleDecision(1, kind: .exec, verdict: .deny))
        var declared130 = good.objectValue!
        var metadata = declared130["metadata"]!.objectValue!
        metadata["version"] = "1.3.0"
        declared130["metadata"] = .object(metadata)
        var windows = good.objectValue!
        windows["device"] = ["hostname": "h", "type_id": 0, "os": ["name": "Linux", "type_id": 999]]
        var noPid = good.objectValue!
        noPid["process"] = ["name": "curl"]
        for (bad, why) in [(declared130, "policy is not a 1.3.0 attribute"), (windows, "an os.type_id OCSF does not define"), (noPid, "process without pid")] {
            let mode = ["ocsf", bad["metadata"]!["version"]!.stringValue!]
            let result = try AuditValidator.run(mode, lines: [JSONValue.object(bad).canonicalString])
            #expect(result.status == 1, "\(why): \(result.output)")
        }
        #expect(try AuditValidator.run(["ocsf", OCSFMapping.schemaVersion], lines: [good.canonicalString]).ok)
    }

    @Test func sessionsCarryTheirCommandExitStatusAndPolicy() throws {
        let stop = try event(Self.everyRecord.first { if case .sessionStop = $0 { true } else { false } }!)
        #expect(stop["class_uid"]?.intValue == 1007 && stop["activity_id"]?.intValue == 2)
        #expect(stop["exit_code"]?.intValue == 2)
        #expect(stop["process"]?["cmd_line"]?.stringValue == "/usr/bin/make test")
        #expect(stop["process"]?["uid"]?.stringValue == "s-1")
        #expect(stop["policy"]?["name"]?.stringValue == "agent")
        let daemon = try event(.daemonStop(AuditDaemon(version: "0.2.0", pid: 5, reason: "SIGTERM")))
        #expect(daemon["class_uid"]?.intValue == 6002 && daemon["activity_id"]?.intValue == 4)
        #expect(daemon["app"]?["version"]?.stringValue == "0.2.0" && daemon["status_detail"]?.stringValue == "SIGTERM")
    }

    @Test func anAnswerIsInTheClassOfTheDecisionItAnswersWithTheSameObject() throws {
        let decision = try event(sampleDecision(3, kind: .network, verdict: .ask))
        let answer = try event(.askAnswer(AuditAskAnswer(session: "s-1", askID: 3, kind: .network, object: "93.184.216.34:443/tcp",
                                                         answer: .allow, scope: .once, answeredBy: "alice", pid: 1003, comm: "curl")))
        #expect(answer["class_uid"] == decision["class_uid"])
        #expect(answer["dst_endpoint"]?["ip"] == decision["dst_endpoint"]?["ip"] && answer["dst_endpoint"]?["port"] == decision["dst_endpoint"]?["port"])
        #expect(answer["connection_info"] == decision["connection_info"])
        #expect(answer["unmapped"]?["ebguard_object"] == decision["unmapped"]?["ebguard_object"])
        #expect(answer["disposition_id"]?.intValue == 1 && answer["actor"]?["user"]?["name"]?.stringValue == "alice")
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
        #expect(out.count == 3 && summary.unmapped == 0, "the session start is an event too")
    }
}
