import EbguardTestSupport
import EbguardVersion
import Foundation
import Testing
@testable import EbguardAudit

/// Forwarding to an OTLP/HTTP receiver (Fixtures/otlp_receiver.py) on loopback.
@Suite("forwarding: OTLP/HTTP", .serialized)
struct OTLPForwardingTests {
    func forwarder(_ dir: TempDir, port: Int, batch: Int = 10) -> AuditForwarder {
        let destination = OTLPDestination(url: "http://127.0.0.1:\(port)/v1/logs")!
        return AuditForwarder(logPath: dir.file("audit.jsonl"),
                              configuration: ForwarderConfiguration(name: "otlp", destination: .otlp(destination),
                                                                    stateDirectory: dir.file("state"), batchSize: batch,
                                                                    pollInterval: .milliseconds(50),
                                                                    initialBackoff: .milliseconds(100), maxBackoff: .seconds(1)),
                              logger: quietLogger)
    }

    func whileRunning(_ forwarder: AuditForwarder, _ body: () async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await forwarder.run() }
            try await body()
            group.cancelAll()
            try await group.waitForAll()
        }
    }

    func logRecords(_ requests: [JSONValue]) throws -> [JSONValue] {
        try requests.flatMap { request in
            let resourceLogs = try #require(request["resourceLogs"]?.arrayValue)
            return try resourceLogs.flatMap { rl in
                try #require(rl["scopeLogs"]?.arrayValue).flatMap { $0["logRecords"]?.arrayValue ?? [] }
            }
        }
    }

    func attribute(_ item: JSONValue, _ key: String) -> JSONValue? {
        item["attributes"]?.arrayValue?.first { $0["key"]?.stringValue == key }?["value"]
    }

    @Test func payloadHasTheOTLPShape() async throws {
        let receiver = try OTLPReceiver()
        try await receiver.start()
        let dir = TempDir("otlp-fwd")
        defer { dir.remove() }
        let log = try openLog(dir)
        try await log.append(.daemonStart(AuditDaemon(version: "0.1.0", pid: 7)))
        try await writeRecords(log, 24)
        try await log.append(sampleDecision(0, kind: .exec))
        for e in OCSFTests.everyRecord { try await log.append(e) }  // every record type, in the last batches
        try await log.flush()
        let total = 26 + UInt64(OCSFTests.everyRecord.count)
        let f = forwarder(dir, port: receiver.port)
        try await whileRunning(f) {
            try await expectEventually(90, "error \(f.status.lastError ?? "-")") { f.status.ackedSeq == total }
        }
        // Every body is an ExportLogsServiceRequest by OpenTelemetry's own protobuf definitions.
        let validation = try AuditValidator.run(["otlp"], file: receiver.output)
        #expect(validation.ok, "\(validation.output)")
        // Delivery is at least once: a batch whose answer is lost or late (a loaded host) is sent
        // again, whole. The receiver keeps every request it got; the batches are the distinct ones.
        let received = try receiver.requests()
        var requests: [JSONValue] = []
        for request in received where !requests.contains(request) { requests.append(request) }
        #expect(validation.output.contains("\(try logRecords(received).count) log records"), "\(validation.output)")
        // One version everywhere: the daemon's, OTLP's service.version, the User-Agent.
        #expect(AuditProduct.version == EbguardVersion.string)
        #expect(!receiver.agents.isEmpty && receiver.agents.allSatisfy { $0 == "ebguard/\(EbguardVersion.string)" }, "\(receiver.agents)")
        #expect(requests.count == Int((total + 9) / 10), "batches of 10 (\(received.count) requests received)")
        for request in requests {
            let resource = try #require(request["resourceLogs"]?.arrayValue?.first?["resource"])
            #expect(attribute(resource, "host.name")?["stringValue"]?.stringValue == "test-host")
            #expect(attribute(resource, "host.id")?["stringValue"]?.stringValue == testHost.machineID)
            #expect(attribute(resource, "service.name")?["stringValue"]?.stringValue == "ebguard")
            #expect(attribute(resource, "service.version")?["stringValue"]?.stringValue == EbguardVersion.string)
            let scope = try #require(request["resourceLogs"]?.arrayValue?.first?["scopeLogs"]?.arrayValue?.first?["scope"])
            #expect(scope["name"]?.stringValue == "ebguard.audit")
        }
        let items = try logRecords(requests)
        #expect(items.count == Int(total))
        for item in items {
            let nanos = try #require(item["timeUnixNano"]?.stringValue)
            #expect(!nanos.isEmpty && nanos.allSatisfy(\.isNumber), "int64 as a decimal string")
            #expect(item["severityText"]?.stringValue != nil && item["severityNumber"]?.intValue != nil)
            let body = try #require(item["body"]?["stringValue"]?.stringValue)
            let record = try AuditRecord(line: Array(body.utf8), requireCanonical: true)
            #expect(attribute(item, "ebguard.seq")?["intValue"]?.stringValue == String(record.seq))
            #expect(attribute(item, "ebguard.type")?["stringValue"]?.stringValue == record.type)
            #expect(String(record.time.nanoseconds) == nanos)
        }
        let deny = items[1]
        #expect(deny["severityText"]?.stringValue == "WARN" && deny["severityNumber"]?.intValue == 13)
        #expect(attribute(deny, "ebguard.verdict")?["stringValue"]?.stringValue == "deny")
        #expect(attribute(deny, "ebguard.pid")?["intValue"]?.stringValue == "1000")
        #expect(attribute(items[25], "ebguard.argv")?["arrayValue"]?["values"]?.arrayValue?.count == 3)
        try expectCompleteInOrder(items.map { $0["body"]!["stringValue"]!.stringValue! }, last: total, log: dir.file("audit.jsonl"))
    }

    @Test func errorsOutagesAndRestartsLoseNothing() async throws {
        let receiver = try OTLPReceiver(failFirst: 3)  // three 503s first
        try await receiver.start()
        let dir = TempDir("otlp-fwd")
        defer { dir.remove() }
        let log = try openLog(dir)
        try await writeRecords(log, 30)
        let first = forwarder(dir, port: receiver.port)
        try await whileRunning(first) {
            try await expectEventually(90, "error \(first.status.lastError ?? "-")") { first.status.ackedSeq == 30 }
            receiver.stop()  // outage: records keep coming, nothing is acknowledged
            try await writeRecords(log, 20, from: 30)
            // The default window: on a 2-CPU host busy with other suites, 5 s was once too short.
            try await expectEventually { first.status.lastError != nil }
            #expect(first.status.ackedSeq == 30 && first.status.lag == 20)
        }
        // The daemon restarts during the outage; the collector comes back; a new forwarder
        // resumes from the state file.
        try await writeRecords(log, 10, from: 50)
        try await receiver.start()
        let second = forwarder(dir, port: receiver.port)
        try await whileRunning(second) {
            try await expectEventually(90, "error \(second.status.lastError ?? "-")") { second.status.ackedSeq == 60 }
        }
        let bodies = try logRecords(try receiver.requests()).map { $0["body"]!["stringValue"]!.stringValue! }
        try expectCompleteInOrder(bodies, last: 60, log: dir.file("audit.jsonl"))
        #expect(bodies.count == 60, "2xx answers acknowledge exactly: nothing was sent twice")
    }

    @Test func onlyDurableRecordsAreSent() async throws {
        let receiver = try OTLPReceiver()
        try await receiver.start()
        let dir = TempDir("otlp-fwd")
        defer { dir.remove() }
        let log = try AuditLog(configuration: AuditLogConfiguration(path: dir.file("audit.jsonl"), flushRecords: 1000),
                               host: testHost, logger: quietLogger)
        try await writeRecords(log, 5)
        for n in 5..<10 { try await log.append(sampleDecision(n)) }  // buffered, not durable
        let f = forwarder(dir, port: receiver.port)
        try await whileRunning(f) {
            try await expectEventually { f.status.ackedSeq == 5 }
            try await Task.sleep(for: .milliseconds(300))
            #expect(f.status.ackedSeq == 5)
            #expect(f.status.lag(lastAppended: await log.status().lastSeq) == 5)
            try await log.flush()
            try await expectEventually { f.status.ackedSeq == 10 }
        }
    }

    /// The daemon's clean stop: after `finish(through:)`, `run()` delivers through that record
    /// and returns by itself, nothing left behind.
    @Test func finishDeliversThroughTheLastRecordAndReturns() async throws {
        let receiver = try OTLPReceiver()
        try await receiver.start()
        let dir = TempDir("otlp-fwd")
        defer { dir.remove() }
        let log = try openLog(dir)
        try await writeRecords(log, 35)
        let f = forwarder(dir, port: receiver.port)
        f.finish(through: 35)
        try await f.run()
        #expect(f.status.ackedSeq == 35)
        #expect(try ForwarderState.load(dir.file("state/otlp.state")).ackedSeq == 35)
        let bodies = try logRecords(try receiver.requests()).map { $0["body"]!["stringValue"]!.stringValue! }
        try expectCompleteInOrder(bodies, last: 35, log: dir.file("audit.jsonl"))
    }

    @Test func urlParsing() {
        let d = OTLPDestination(url: "https://otel.example.com:4318/v1/logs")!
        #expect(d.host == "otel.example.com" && d.port == 4318 && d.path == "/v1/logs" && d.tls != nil)
        let v6 = OTLPDestination(url: "http://[::1]:4318")!
        #expect(v6.host == "::1" && v6.port == 4318 && v6.path == "/v1/logs" && v6.tls == nil)
        #expect(OTLPDestination(url: "ftp://x") == nil)
        #expect(OTLPDestination(url: "http://x:port/") == nil)
    }
}
