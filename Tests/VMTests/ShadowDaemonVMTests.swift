import EbguardDaemon
import EbguardSystem
import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// Shadow mode through the daemon (issue 19): `ebguard run --shadow` asks the daemon for a
/// shadow session over its control protocol; `ebguard sessions` (text and JSON) says it is
/// not enforcing, and the event stream carries each would-be denial as `would_deny` /
/// `would_ask`, not blocked, with the rule and where it is written.
extension DaemonVMSuites {
    @Suite(.enabled(if: TestEnvironment.inVM && TestEnvironment.isRoot, "needs BPF-LSM, which this host's kernel refuses; `make test` runs it in the VM (scripts/vmtest)"), .serialized)
    struct ShadowDaemonVMTests {
        @Test func shadowSessionIsListedAsNotEnforcingAndReportsWouldDeny() throws {
            let daemon = try DaemonHarness(label: "vm-shadow")
            try daemon.start()
            let secret = try daemon.write("secret.txt", "top secret\n")
            let file = try daemon.write("policy.yaml", """
            version: 1
            name: vm-shadow
            defaults: { exec: allow, file: allow, network: allow }
            file:
              - { action: deny, path: \(secret), access: [read] }
            network:
              - { action: ask, cidr: 127.0.0.3/32 }
            exec:
              - { action: deny, path: /usr/bin/id, argv: [-u] }
              - { action: ask, path: /usr/bin/true }
            """)
            let events = try #require(try daemon.followEvents(), "ebguard events never subscribed")
            let go = daemon.scratch + "/go"
            let script = "echo READY; while [ ! -e \(go) ]; do sleep 0.05; done; cat \(secret); echo cat=$?; "
                + "(exec 3<>/dev/tcp/127.0.0.3/9) 2>/dev/null; echo connect-tried=1; /usr/bin/id -u; echo id=$?; /usr/bin/true; echo true=$?"
            let session = try daemon.spawn(["run", "--shadow", "--policy", file, "--name", "shadowed", "--",
                                            "/bin/bash", "-c", script], name: "shadowed")
            try #require(session.waitFor { $0.contains("READY") }, "\(session.stderr)")

            let listed = try daemon.ebguard(["sessions", "--json"])
            let infos = try JSONDecoder().decode([SessionInfo].self, from: Data(listed.stdout.utf8))
            let info = try #require(infos.first { $0.name == "shadowed" }, "\(listed.stdout)")
            #expect(info.mode == "shadow")
            let table = try daemon.ebguard(["sessions"]).stdout
            #expect(table.contains("SHADOW (NOT ENFORCING)"), "\(table)")
            #expect(table.contains("WARNING: \(info.key) is in SHADOW mode"), "\(table)")
            let status = try daemon.ebguard(["status"]).stdout
            #expect(status.contains("SHADOW (NOT ENFORCING)"), "\(status)")

            FileManager.default.createFile(atPath: go, contents: nil)
            #expect(session.wait(timeout: 60) == 0)
            #expect(session.stdout.contains("top secret"), "the read worked: \(session.stdout) \(session.stderr)")
            #expect(session.stdout.contains("cat=0"), "\(session.stdout)")
            #expect(session.stderr.contains("SHADOW MODE"), "the banner: \(session.stderr)")
            #expect(session.stderr.contains("would deny (shadow, not enforced) open \(secret) (read) by rule file[0]"),
                    "\(session.stderr)")

            events.waitFor { jsonLines($0).contains { $0["action"] as? String == "end" && ($0["session"] as? String)?.hasPrefix("shadowed-") == true } }
            let mine = jsonLines(events.stdout).filter { ($0["session"] as? String)?.hasPrefix("shadowed-") == true }
            let open = try #require(mine.first { $0["kind"] as? String == "file" }, "\(mine)")
            #expect(open["verdict"] as? String == "would_deny")
            #expect(open["blocked"] as? Bool == false)
            #expect(open["object"] as? String == secret)
            #expect(open["rule"] as? String == "file[0]")
            #expect(open["rule_location"] as? String == file + ":5:5")
            let connect = try #require(mine.first { $0["kind"] as? String == "network" && $0["object"] as? String == "127.0.0.3:9" },
                                       "\(mine)")
            #expect(connect["verdict"] as? String == "would_ask")
            #expect(connect["blocked"] as? Bool == false)
            #expect(connect["rule"] as? String == "network[0]")
            #expect(connect["rule_location"] as? String == file + ":7:5")
            // Execs argv and ask rules would hold run unheld and are judged from their argv.
            #expect(session.stdout.contains("id=0") && session.stdout.contains("true=0"), "\(session.stdout)")
            let id = try #require(mine.first { $0["kind"] as? String == "exec" && $0["object"] as? String == "/usr/bin/id" }, "\(mine)")
            #expect(id["verdict"] as? String == "would_deny")
            #expect(id["argv"] as? [String] == ["/usr/bin/id", "-u"])
            #expect(id["rule"] as? String == "exec[0]")
            #expect(id["rule_location"] as? String == file + ":9:5")
            let asked = try #require(mine.first { $0["kind"] as? String == "exec" && $0["object"] as? String == "/usr/bin/true" }, "\(mine)")
            #expect(asked["verdict"] as? String == "would_ask")
            #expect(asked["rule"] as? String == "exec[1]")
            #expect(session.stderr.contains("would deny (shadow, not enforced) exec /usr/bin/id -u by rule exec[0]"), "\(session.stderr)")
            #expect(mine.filter { $0["blocked"] as? Bool == true }.isEmpty, "nothing refused: \(mine)")
            #expect(!mine.contains { $0["kind"] as? String == "decision" && $0["action"] as? String == "ask" },
                    "a shadow session raises no ask: \(mine)")

            // The audit trail has them too, as decisions with the would-be verdict.
            let audit = (try? String(contentsOfFile: daemon.auditLogPath, encoding: .utf8)) ?? ""
            #expect(audit.contains("would_deny"), "\(audit.suffix(2000))")
        }
    }
}
