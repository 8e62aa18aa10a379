import EbguardDaemon
import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// `ebguard run --learn` on this host (issue 19): the real daemon and binary, the host kernel's
/// cgroup connect programs (exec and file need BPF-LSM: LearnVMTests). A learning session over a
/// base that allows one loopback port and denies another reaches both; the trail records the
/// allowed connect as `audit` and the other as `would_deny`; `ebguard sessions` says LEARNING;
/// the run prints the would-deny and no audit line; `policy suggest` allows the one and
/// withholds the other with the base's rule. Bad arguments are refused before anything starts.
extension DaemonHostSuites {
    @Suite(.enabled(if: TestEnvironment.isRoot, "needs root (cgroups, BPF); `make test` runs it as root"), .serialized)
    struct LearnRunTests {
        typealias A = DaemonAuditTests

        static func decisions(_ path: String, session: String) -> [[String: Any]] {
            A.records(path).filter { $0["type"] as? String == "decision" }.compactMap { $0["data"] as? [String: Any] }
                .filter { ($0["session"] as? String)?.hasPrefix(session + "-") == true }
        }

        @Test func learningSessionRecordsAllowsAndWouldDenies() throws {
            let daemon = try DaemonHarness(label: "learn-run")
            let allowed = try TCPListener(), refused = try TCPListener()
            try daemon.start()
            defer { daemon.stop() }
            let base = try daemon.write("base.yaml", """
            version: 1
            name: learn-base
            defaults: { exec: allow, file: allow, network: deny }
            network:
              - { action: allow, cidr: 127.0.0.1/32, ports: [\(allowed.port)], protocol: tcp }
              - { action: deny,  cidr: 127.0.0.1/32, ports: [\(refused.port)], protocol: tcp }
            """)
            let go = daemon.scratch + "/go"
            let script = "echo READY; while [ ! -e \(go) ]; do sleep 0.05; done; "
                + "(exec 3<>/dev/tcp/127.0.0.1/\(allowed.port)) && echo allowed=ok; (exec 3<>/dev/tcp/127.0.0.1/\(refused.port)) && echo refused=ok"
            let session = try daemon.spawn(["run", "--learn", "--base", base, "--name", "learner", "--", "/bin/bash", "-c", script],
                                           name: "learner")
            try #require(session.waitFor { $0.contains("READY") }, "\(session.stderr)")
            let listed = try daemon.ebguard(["sessions", "--json"])
            let infos = try JSONDecoder().decode([SessionInfo].self, from: Data(listed.stdout.utf8))
            let info = try #require(infos.first { $0.name == "learner" }, "\(listed.stdout)")
            #expect(info.mode == "learn")
            let table = try daemon.ebguard(["sessions"]).stdout
            #expect(table.contains("LEARNING (NOT ENFORCING)") && table.contains("WARNING: \(info.key) is LEARNING"), "\(table)")
            FileManager.default.createFile(atPath: go, contents: nil)
            #expect(session.wait(timeout: 60) == 0, "\(session.stderr)")
            // Nothing of the base is enforced: both connects went through.
            #expect(session.stdout.contains("allowed=ok") && session.stdout.contains("refused=ok"), "\(session.stdout)\(session.stderr)")
            #expect(session.stderr.contains("LEARNING: session \(info.key) is NOT ENFORCING its base policy \(base)"), "\(session.stderr)")
            #expect(session.stderr.contains("would deny (shadow, not enforced) connect 127.0.0.1:\(refused.port)"), "\(session.stderr)")
            #expect(!session.stderr.contains("audited"), "a learning run prints what enforcing would refuse, not every audit: \(session.stderr)")

            #expect(A.waitUntil { A.types(A.records(daemon.auditLogPath), session: "learner").last == "session_stop" })
            let mine = Self.decisions(daemon.auditLogPath, session: "learner").filter { $0["kind"] as? String == "network" }
            let byObject = Dictionary(mine.map { ($0["object"] as? String ?? "", $0["verdict"] as? String ?? "") }) { a, _ in a }
            #expect(byObject["127.0.0.1:\(allowed.port)/tcp"] == "audit", "\(mine)")
            #expect(byObject["127.0.0.1:\(refused.port)/tcp"] == "would_deny", "\(mine)")

            let out = daemon.scratch + "/learned.yaml"
            let suggest = try daemon.ebguard(["policy", "suggest", "--session", "learner", "--log", daemon.auditLogPath,
                                              "--base", base, "--workspace", daemon.scratch, "--home", "/home/nobody", "-o", out])
            #expect(suggest.status == 0, "\(suggest.stderr)")
            let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
            #expect(text.contains(#"- { action: allow, cidr: "127.0.0.0/8", ports: [\#(allowed.port)], protocol: tcp }"#), "\(text)")
            #expect(text.contains("# - { action: allow, cidr: \"127.0.0.0/8\", ports: [\(refused.port)]") && text.contains("base.yaml:6"),
                    "\(text)")
        }

        /// Refused before any session exists: `--base` without `--learn`, `--learn` with
        /// `--policy` (its policy is the base, never enforced) or `--standalone` (no trail), no
        /// daemon to record it, a base that is not a policy (its file:line:column).
        @Test func badArgumentsAreRefusedAndStartNothing() throws {
            let daemon = try DaemonHarness(label: "learn-args")
            try daemon.start()
            defer { daemon.stop() }
            let bad = try daemon.write("bad.yaml", "version: 1\nname: bad\nfile:\n  - { action: maybe, path: /x }\n")
            let cases: [([String], Int32, String)] = [
                (["--base", bad], 64, "--base names the policy --learn learns over"),
                (["--learn", "--policy", bad], 64, "--learn takes its base policy as --base POLICY, not --policy"),
                (["--learn", "--standalone"], 64, "--learn records the session in the daemon's audit trail"),
                (["--learn", "--base", bad], 125, bad + ":4:"),
                (["--learn", "--base", daemon.scratch + "/missing.yaml"], 125, daemon.scratch + "/missing.yaml"),
            ]
            for (arguments, status, message) in cases {
                let result = try daemon.ebguard(["run"] + arguments + ["--", "/bin/touch", daemon.scratch + "/ran"])
                #expect(result.status == status, "\(arguments): \(result.stderr)")
                #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
            }
            let none = try daemon.ebguard(["run", "--learn", "--", "/bin/touch", daemon.scratch + "/ran"],
                                          environment: ["EBGUARD_SOCKET": daemon.scratch + "/no-daemon.sock"])
            #expect(none.status == 125 && none.stderr.contains("no daemon is listening at \(daemon.scratch)/no-daemon.sock"), "\(none.stderr)")
            #expect(!FileManager.default.fileExists(atPath: daemon.scratch + "/ran"))
            let listed = try daemon.ebguard(["sessions", "--json"])
            #expect(try JSONDecoder().decode([SessionInfo].self, from: Data(listed.stdout.utf8)).isEmpty, "\(listed.stdout)")
        }
    }
}
