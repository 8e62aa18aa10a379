import EbguardDaemon
import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// Host rules in the daemon's sessions (issue 15): the resolver's upstream from ebguard.yaml,
/// an `ask` on a name answered with `ebguard allow`, and the name shown next to the address in
/// events and the audit trail.
@Suite(.enabled(if: TestEnvironment.isRoot, "needs root (cgroups, BPF); `make test` runs it as root"),
       .enabled(if: DnsmasqServer.executable != nil, "needs dnsmasq (Debian package dnsmasq-base; `make deps` installs it)"), .serialized)
struct DaemonHostTests {
    static let address = "127.0.0.\(Int.random(in: 100...199))"

    @Test func anAskOnANameIsAnsweredAndTheNameFollowsTheAddress() throws {
        let dns = try DnsmasqServer(records: [
            .host("asked.test", v4: Self.address, v6: nil, ttl: 300),
            .host("audited.test", v4: Self.address, v6: nil, ttl: 300),
        ], extraArguments: ["--local=/test/"])
        let daemon = try DaemonHarness(label: "hosts")
        try daemon.start(config: """
        audit:
          path: \(daemon.auditLogPath)
          forward_state_dir: \(daemon.scratch)/forward
        resolver:
          upstream: \(dns.address):\(dns.port)
        """)
        defer { daemon.stop() }
        let policy = try daemon.write("hosts.yaml", """
        version: 1
        name: hosts
        defaults: { exec: allow, file: allow, network: deny }
        network:
          - { action: audit, host: audited.test, protocol: tcp }
          - { action: ask, host: "*" }
        """)
        let script = #"""
        import socket, sys
        def attempt(name):
            try:
                address = socket.getaddrinfo(name, 80, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
            except socket.gaierror as e:
                return 'gaierror:%d' % e.errno
            server = socket.socket(); server.bind((address, 0)); server.listen(1)
            client = socket.socket()
            try:
                client.connect((address, server.getsockname()[1])); return 'ok:%d' % server.getsockname()[1]
            except OSError as e:
                return 'errno:%d' % e.errno
        print('audited=' + attempt('audited.test'), flush=True)
        print('asked=' + attempt('asked.test'), flush=True)
        """#
        let session = try daemon.spawn(["run", "--policy", policy, "--name", "hosts", "--", "/usr/bin/python3", "-c", script],
                                       name: "hosts")
        var pending: [PendingRequest] = []
        for _ in 0..<200 where pending.isEmpty {
            pending = (try? JSONDecoder().decode([PendingRequest].self,
                                                 from: Data(try daemon.ebguard(["pending", "--json"]).stdout.utf8))) ?? []
            usleep(50_000)
        }
        let request = try #require(pending.first, "no pending request: \(session.stderr)\n\(daemon.log())")
        #expect(request.kind == "network" && request.object == "asked.test" && request.detail == "dns", "\(request)")
        #expect(request.summary == "resolve asked.test (A)")
        #expect(try daemon.ebguard(["allow", "#\(request.id)", "--scope", "session"]).status == 0)
        #expect(session.wait(timeout: 30) == 0, "\(session.stderr)")
        #expect(session.stdout.contains("asked=ok:"), "the held query resolved once approved: \(session.stdout)\n\(session.stderr)")
        let audited = try #require(session.stdout.split(separator: "\n").first { $0.hasPrefix("audited=ok:") },
                                   "\(session.stdout)\n\(session.stderr)")
        let port = audited.dropFirst("audited=ok:".count)

        // The connect the host rule decided carries the name, in the stream and the audit trail.
        let events = try daemon.ebguard(["events", "--since", "5m", "-o", "json"]).stdout
        let connect = events.split(separator: "\n").first { $0.contains("\"object\":\"\(Self.address):\(port)\"") }
        #expect(connect?.contains("\"host\":\"audited.test\"") == true, "\(events)")
        #expect(connect?.contains("\"reason\":\"host\"") == true, "\(events)")
        #expect(events.contains("\"action\":\"resolve\"") && events.contains("\"addresses\":[\"\(Self.address)\"]"), "\(events)")
        daemon.stop()
        let trail = (try? String(contentsOfFile: daemon.auditLogPath, encoding: .utf8)) ?? ""
        #expect(trail.contains("\"hostname\":\"audited.test\""), "\(trail)")
        #expect(try daemon.ebguard(["audit", "verify", daemon.auditLogPath]).status == 0)
        // OCSF: the connect's destination endpoint names the host next to its address.
        let ocsf = try daemon.ebguard(["audit", "export", "--format", "ocsf", daemon.auditLogPath]).stdout
        let endpoint = ocsf.split(separator: "\n").first { $0.contains("\"port\":\(port)") && $0.contains("\"dst_endpoint\"") }
        #expect(endpoint?.contains("\"hostname\":\"audited.test\"") == true, "\(ocsf)")
        #expect(endpoint?.contains("\"ip\":\"\(Self.address)\"") == true, "\(ocsf)")
    }
}
