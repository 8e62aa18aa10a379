import EbguardAudit
@testable import EbguardDaemon
import Foundation
import Testing

/// `ebguard.yaml`: what it configures, and errors that point at file:line:column.
struct DaemonConfigTests {
    func errors(_ yaml: String) -> [String] {
        do {
            _ = try DaemonConfigFile.parse(yaml, file: "/etc/ebguard/ebguard.yaml")
            return []
        } catch {
            guard case .invalid(let diagnostics) = error else { return ["\(error)"] }
            return diagnostics.map(\.description)
        }
    }

    @Test func theShippedExampleParses() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path + "/packaging/ebguard.yaml"
        let config = try DaemonConfigFile.load(path, required: true)
        #expect(config.audit.log.path == AuditLogConfiguration.defaultPath)
    }

    @Test func emptyAndMissingDefaultFilesAreTheDefaults() throws {
        #expect(try DaemonConfigFile.parse("# nothing yet\n", file: "x") == DaemonConfigFile())
        #expect(try DaemonConfigFile.load("/nonexistent/ebguard.yaml", required: false) == DaemonConfigFile())
        #expect(throws: DaemonConfigError.unreadable(path: "/nonexistent/ebguard.yaml", errno: ENOENT)) {
            try DaemonConfigFile.load("/nonexistent/ebguard.yaml", required: true)
        }
    }

    @Test func everyKeyIsRead() throws {
        let config = try DaemonConfigFile.parse("""
            version: 1
            audit:
              path: /srv/audit/ebguard.jsonl
              max_file_size: 16MiB
              max_files: 3
              flush_interval_ms: 50
              queue_size: 1000
              forward_state_dir: /srv/audit/forward
              forward:
                - name: siem
                  batch_size: 20
                  syslog: { host: 10.0.0.5, port: 6514, facility: 10, settle_ms: 500,
                            tls: { ca_file: /etc/ebguard/ca.pem, server_name: siem.example } }
                - name: otel
                  otlp:
                    url: https://otel.example:4318/v1/logs
                    headers: { Authorization: "Bearer x" }
                    timeout_ms: 2000
            """, file: "t.yaml")
        let audit = config.audit
        #expect(audit.log.path == "/srv/audit/ebguard.jsonl" && audit.log.maxFileBytes == 16 << 20 && audit.log.maxRotatedFiles == 3)
        #expect(audit.log.flushInterval == .milliseconds(50) && audit.queueCapacity == 1000)
        try #require(audit.forwarders.count == 2)
        let siem = audit.forwarders[0]
        #expect(siem.name == "siem" && siem.batchSize == 20 && siem.statePath == "/srv/audit/forward/siem.state")
        #expect(siem.destination == .syslog(SyslogDestination(host: "10.0.0.5", port: 6514,
            tls: ForwarderTLS(caFile: "/etc/ebguard/ca.pem", serverName: "siem.example"), facility: 10, settle: .milliseconds(500))))
        guard case .otlp(let otlp) = audit.forwarders[1].destination else { Issue.record("not otlp"); return }
        #expect(otlp.host == "otel.example" && otlp.port == 4318 && otlp.path == "/v1/logs" && otlp.tls != nil)
        #expect(otlp.headers == ["Authorization": "Bearer x"] && otlp.timeout == .milliseconds(2000))
        #expect(AuditSink.describe(siem.destination) == "syslog+tls://10.0.0.5:6514")
        #expect(AuditSink.describe(audit.forwarders[1].destination) == "https://otel.example:4318/v1/logs")
    }

    @Test(arguments: [
        ("audit:\n  pth: /x\n", "/etc/ebguard/ebguard.yaml:2:3: unknown key 'pth' in audit"),
        ("audit:\n  path: relative.jsonl\n", "/etc/ebguard/ebguard.yaml:2:9: 'audit.path' must be an absolute path"),
        ("audit:\n  max_file_size: 12 parsecs\n", "/etc/ebguard/ebguard.yaml:2:18: 'audit.max_file_size' must be a size"),
        ("audit:\n  max_files: -1\n", "/etc/ebguard/ebguard.yaml:2:14: 'audit.max_files' must be a whole number from 0 to 1000"),
        ("version: 2\n", "/etc/ebguard/ebguard.yaml:1:10: 'version' must be a whole number from 1 to 1"),
        ("audit:\n  forward: siem\n", "/etc/ebguard/ebguard.yaml:2:12: 'audit.forward' must be a list"),
        ("audit:\n  forward:\n    - syslog: { host: h }\n", "/etc/ebguard/ebguard.yaml:3:7: a forward destination needs a 'name'"),
        ("audit:\n  forward:\n    - { name: a, syslog: { host: h, port: 70000 } }\n",
         "/etc/ebguard/ebguard.yaml:3:43: 'syslog.port' must be a whole number from 1 to 65535"),
        ("audit:\n  forward:\n    - { name: a, otlp: { url: 'ftp://x' } }\n",
         "/etc/ebguard/ebguard.yaml:3:31: 'ftp://x' is not an http:// or https:// URL"),
        ("audit:\n  forward:\n    - { name: a, syslog: { host: h } }\n    - { name: a, syslog: { host: i } }\n",
         "/etc/ebguard/ebguard.yaml:4:7: two destinations are named 'a'"),
        ("audit:\n  forward:\n    - { name: a, syslog: { host: h }, otlp: { url: 'http://x' } }\n",
         "/etc/ebguard/ebguard.yaml:3:7: destination 'a' has both 'syslog' and 'otlp'"),
        ("audit:\n  forward:\n    - { name: a, syslog: { host: h, tls: { cert_file: /c.pem } } }\n",
         "/etc/ebguard/ebguard.yaml:3:42: 'tls' needs both 'cert_file' and 'key_file'"),
        ("audit: [\n", "/etc/ebguard/ebguard.yaml:2:1: YAML syntax error"),
    ])
    func errorsNameFileLineAndColumn(yaml: String, expected: String) {
        let found = errors(yaml)
        #expect(found.contains { $0.hasPrefix(expected) }, "expected \(expected), got \(found)")
    }

    @Test func everyProblemIsReportedAtOnce() {
        let found = errors("audit:\n  max_files: many\n  queue_size: 1\n  colour: blue\n")
        #expect(found.count == 3, "\(found)")
    }
}
