import EbguardTestSupport
import Foundation
import Testing
@testable import EbguardAudit

/// Forwarding to a real rsyslogd on loopback, started and stopped by each test.
@Suite("forwarding: syslog to rsyslog", .serialized)
struct SyslogForwardingTests {
    func forwarder(_ dir: TempDir, port: Int, tls: ForwarderTLS? = nil, name: String = "syslog") -> AuditForwarder {
        let destination = SyslogDestination(host: "127.0.0.1", port: port, tls: tls, settle: .milliseconds(500))
        return AuditForwarder(logPath: dir.file("audit.jsonl"),
                              configuration: ForwarderConfiguration(name: name, destination: .syslog(destination),
                                                                    stateDirectory: dir.file("state"), batchSize: 20,
                                                                    pollInterval: .milliseconds(50),
                                                                    initialBackoff: .milliseconds(100), maxBackoff: .seconds(1)),
                              logger: quietLogger)
    }

    /// Runs `forwarder` while `body` runs, then cancels it.
    func whileRunning(_ forwarder: AuditForwarder, _ body: () async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await forwarder.run() }
            try await body()
            group.cancelAll()
            try await group.waitForAll()
        }
    }

    func deliver(tls: Bool) async throws {
        let certs = tls ? try TestCertificates() : nil
        defer { certs?.dir.remove() }
        let rsyslog = try Rsyslog(tls: certs)
        try await rsyslog.start()
        let dir = TempDir("fwd")
        defer { dir.remove() }
        let log = try openLog(dir)
        try await log.append(.sessionStart(AuditSession(session: "s-1", policy: "agent", policySHA256: "ab")))
        try await writeRecords(log, 48)
        try await log.append(sampleDecision(0, kind: .network, verdict: .audit))
        try await log.flush()
        let f = forwarder(dir, port: rsyslog.port, tls: certs.map { ForwarderTLS(caFile: $0.caFile) })
        try await whileRunning(f) {
            try await expectEventually(90, "acked \(f.status.ackedSeq), error \(f.status.lastError ?? "-")") { f.status.ackedSeq == 50 }
        }
        #expect(f.status.lag == 0 && f.status.lastError == nil)
        rsyslog.stop()
        let received = try rsyslog.received()
        try expectCompleteInOrder(received.map(\.line), sdSeqs: received.map(\.sdSeq), last: 50, log: dir.file("audit.jsonl"))
        // What rsyslog received, checked by an independent RFC 5424 parser (BOM before MSG included).
        let validation = try AuditValidator.run(["syslog-lines"], file: rsyslog.output)
        #expect(validation.ok && validation.output.contains("ok: 50 syslog messages"), "\(validation.output)")
        // The RFC 5424 header and structured data of a deny decision.
        let raw = readLines(rsyslog.output)
        let second = try #require(raw.dropFirst().first)
        #expect(second.hasPrefix("<108>1 "), "facility 13 (log audit), severity 4 (warning) for a deny")
        #expect(second.contains(" test-host ebguard - decision [ebguard@32473 seq=\"2\" type=\"decision\" "))
        #expect(second.contains(" verdict=\"deny\"") && second.contains(" session=\"s-1\"") && second.contains(" kind=\"file\""))
        #expect(raw.first!.hasPrefix("<110>1 "), "a session start is informational")
        #expect(try ForwarderState.load(dir.file("state/syslog.state")).ackedSeq == 50)
    }

    @Test func recordsArriveCompleteOverTCP() async throws {
        try await deliver(tls: false)
    }

    @Test func recordsArriveCompleteOverTLS() async throws {
        try await deliver(tls: true)
    }

    @Test func aCollectorWithAnUntrustedCertificateGetsNothing() async throws {
        let certs = try TestCertificates()
        let other = try TestCertificates()
        defer { certs.dir.remove(); other.dir.remove() }
        let rsyslog = try Rsyslog(tls: certs)
        try await rsyslog.start()
        let dir = TempDir("fwd")
        defer { dir.remove() }
        let log = try openLog(dir)
        try await writeRecords(log, 5)
        let f = forwarder(dir, port: rsyslog.port, tls: ForwarderTLS(caFile: other.caFile))
        try await whileRunning(f) {
            // The default window: a failed TLS handshake is reported after connect, backoff and
            // retry, which took more than 5 s once when the host suites ran alongside.
            try await expectEventually { f.status.lastError != nil }
        }
        #expect(f.status.ackedSeq == 0 && f.status.lag == 5)
        #expect(f.status.lastError?.lowercased().contains("certificate") == true, "\(f.status.lastError ?? "")")
    }

    /// The daemon's clean stop: after `finish(through:)`, `run()` returns once the last record
    /// settled, so a SIGTERM loses nothing at the collector.
    @Test func finishDeliversThroughTheLastRecordAndReturns() async throws {
        let rsyslog = try Rsyslog(tls: nil)
        try await rsyslog.start()
        let dir = TempDir("fwd")
        defer { dir.remove() }
        let log = try openLog(dir)
        try await writeRecords(log, 45)
        let f = forwarder(dir, port: rsyslog.port)
        f.finish(through: 45)
        try await f.run()
        #expect(f.status.ackedSeq == 45)
        rsyslog.stop()
        let received = try rsyslog.received()
        try expectCompleteInOrder(received.map(\.line), sdSeqs: received.map(\.sdSeq), last: 45, log: dir.file("audit.jsonl"))
    }

    @Test func collectorOutageLosesNothingAndKeepsOrder() async throws {
        let rsyslog = try Rsyslog(tls: nil)
        try await rsyslog.start()
        let dir = TempDir("fwd")
        defer { dir.remove() }
        let log = try AuditLog(configuration: AuditLogConfiguration(path: dir.file("audit.jsonl"),
                                                                   flushInterval: .milliseconds(20)),
                               host: testHost, logger: quietLogger)
        let f = forwarder(dir, port: rsyslog.port)
        let total: UInt64 = 300
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await log.run() }
            try await whileRunning(f) {
                for n in 1...Int(total) {
                    try await log.append(sampleDecision(n))
                    if n == 100 {
                        try await expectEventually { f.status.ackedSeq >= 60 }
                        rsyslog.stop()  // the collector goes away mid-stream ...
                    }
                    if n == 200 {
                        #expect(f.status.lastError != nil, "the outage was noticed")
                        try await rsyslog.start()  // ... and comes back
                    }
                    try await Task.sleep(for: .milliseconds(10))
                }
                try await expectEventually(30, "acked \(f.status.ackedSeq), error \(f.status.lastError ?? "-")") { f.status.ackedSeq == total }
            }
            group.cancelAll()
        }
        rsyslog.stop()
        let received = try rsyslog.received()
        try expectCompleteInOrder(received.map(\.line), sdSeqs: received.map(\.sdSeq), last: total, log: dir.file("audit.jsonl"))
    }
}
