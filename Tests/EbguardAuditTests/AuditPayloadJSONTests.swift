import Foundation
import Testing
@testable import EbguardAudit

/// The payloads' hand-built JSON (what the log writes) against their `Codable` conformances
/// (what reads them back): same keys, same values, absent optionals left out by both.
@Suite("audit payload JSON")
struct AuditPayloadJSONTests {
    static let events: [AuditEvent] = [
        .decision(AuditDecision(session: "s-1", pid: 42, comm: "cat", kind: .file, object: "/etc/\"shadow\"",
                                access: "read", rule: "file[0]", verdict: .deny)),
        .decision(AuditDecision(session: "s-1", pid: 7, comm: "curl", kind: .network, object: "10.0.0.1:443/tcp",
                                access: "connect", rule: "default", verdict: .ask, uid: 1000, exe: "/usr/bin/curl",
                                argv: ["curl", "-s", "é"], network: AuditNetworkTarget(address: "10.0.0.1", port: 443,
                                                                                     transport: "tcp", hostname: "x"),
                                askID: 9)),
        .decision(AuditDecision(session: "s", pid: 1, comm: "c", kind: .network, object: "o", access: "sendmsg",
                                rule: "r", verdict: .audit, network: AuditNetworkTarget(address: nil, port: 53, transport: "udp"))),
        .decision({
            var summary = AuditDecision(session: "s", pid: 5, comm: "bash", kind: .network, object: "127.0.0.3:80/tcp",
                                        access: "connect", rule: "network[1]", verdict: .deny)
            summary.repeats = 9_999
            summary.firstTime = "2026-11-23T22:00:00.000001Z"
            summary.lastTime = "2026-11-23T22:00:00.999999Z"
            return summary
        }()),
        .askAnswer(AuditAskAnswer(session: "s", kind: .exec, object: "/usr/bin/git", answer: .allow, scope: .once,
                                  answeredBy: "timeout", timedOut: true)),
        .askAnswer(AuditAskAnswer(session: "s", askID: 3, kind: .file, object: "/x", answer: .deny, scope: .always,
                                  answeredBy: "alice")),
        .sessionStart(AuditSession(session: "s", policy: "agent", policySHA256: "ab")),
        .sessionStop(AuditSession(session: "s", policy: "agent", policySHA256: "ab", policyPath: "/p.yaml",
                                  command: ["a", "b"], user: "bob", exitStatus: -9)),
        .policyChange(AuditPolicyChange(policy: "p", newSHA256: "cd")),
        .policyChange(AuditPolicyChange(session: "s", policy: "p", policyPath: "/p", oldSHA256: "ab", newSHA256: "cd",
                                        changedBy: "root")),
        .daemonStart(AuditDaemon(version: "1", pid: 1)),
        .daemonStop(AuditDaemon(version: "1", pid: 1, reason: "SIGTERM")),
        .lostEvents(AuditLostEvents(source: "ringbuf", count: UInt64(Int64.max), session: "s")),
        .lostEvents(AuditLostEvents(source: "audit", count: 0)),
        .recovery(AuditRecovery(file: "/var/log/a", line: 3, tornBytes: 17, tornSHA256: "ef")),
    ]

    @Test(arguments: events)
    func handBuiltJSONIsWhatTheEncoderWrites(_ event: AuditEvent) throws {
        let encoded = try JSONValue.parse(Array(try JSONEncoder().encode(event.payload)))
        #expect(event.data == encoded)
        #expect(AuditEvent(type: event.typeName, data: event.data) == event, "reads back as the same event")
    }

    @Test(arguments: events)
    func theRecordLineIsTheCanonicalFormOfItsJSON(_ event: AuditEvent) throws {
        let host = HostIdentity(name: "web-\"1\"", machineID: "0123456789abcdef0123456789abcdef")
        let record = AuditRecord(seq: 12_345, time: AuditTime(nanoseconds: 1_779_000_000_123_456_789), host: host,
                                 prev: AuditHash.genesis, event: event)
        #expect(record.line == record.json.canonicalBytes)
        // The log's own path writes the payload's fields in their listed order: that order
        // must be the canonical one.
        #expect(AuditRecord.line(seq: 12_345, time: AuditTime(nanoseconds: 1_779_000_000_123_456_789), host: host,
                                 prev: AuditHash.genesis, event: event) == record.line)
        #expect(try AuditRecord(line: record.line, requireCanonical: true) == record)
    }
}
