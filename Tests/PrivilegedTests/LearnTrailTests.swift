import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// `policy suggest`, `replay` and `review` on a trail the real daemon recorded: a session under
/// observe.yaml (every connect audited) connects to two loopback ports; the suggestion allows
/// exactly those, passes `policy check`, replays clean against its own session, and strict.yaml
/// replays with exit 1. Bad input names the place and writes nothing. `review` is driven through
/// a pipe and through tmux, as a person at a terminal would.
extension DaemonHostSuites {
    @Suite(.enabled(if: TestEnvironment.isRoot, "needs root (cgroups, BPF); `make test` runs it as root"), .serialized)
    struct LearnTrailTests {
        typealias A = DaemonAuditTests
        static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path

        /// Records a session that connects to two listeners, and stops the daemon.
        static func recordSession(_ label: String) throws -> (DaemonHarness, [UInt16]) {
            let daemon = try DaemonHarness(label: label)
            let a = try TCPListener(), b = try TCPListener()
            try daemon.start()
            let script = "for p in \(a.port) \(b.port) \(b.port); do (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; done; exit 0"
            let result = try run([daemon.binary, "run", "--policy", root + "/policies/observe.yaml", "--name", "learnt", "--",
                                  "/bin/bash", "-c", script], environment: daemon.environment)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(A.waitUntil { A.types(A.records(daemon.auditLogPath), session: "learnt").last == "session_stop" })
            daemon.stop()
            return (daemon, [a.port, b.port])
        }

        static func context(_ daemon: DaemonHarness) -> [String] {
            ["--session", "learnt", "--log", daemon.auditLogPath, "--home", "/home/nobody", "--workspace", daemon.scratch,
             "--base", root + "/policies/agent.yaml"]
        }

        @Test func suggestCheckAndReplayARealTrail() throws {
            let (daemon, seen) = try Self.recordSession("learn-trail")
            let out = daemon.scratch + "/learned.yaml"
            let suggest = try daemon.ebguard(["policy", "suggest"] + Self.context(daemon) + ["-o", out])
            #expect(suggest.status == 0, "\(suggest.stderr)")
            let text = try String(contentsOfFile: out, encoding: .utf8)
            let ports = seen.sorted()
            #expect(text.contains(#"- { action: allow, cidr: "127.0.0.0/8", ports: [\#(ports[0]), \#(ports[1])], protocol: tcp }   # used 3 times by bash (3)"#),
                    "\(text)")
            let check = try daemon.ebguard(["policy", "check", out, "--home", "/home/nobody", "--workspace", daemon.scratch])
            #expect(check.status == 0, "\(check.stderr)")
            let replaySelf = try daemon.ebguard(["policy", "replay", out, "--session", "learnt", "--log", daemon.auditLogPath,
                                                 "--home", "/home/nobody", "--workspace", daemon.scratch])
            #expect(replaySelf.status == 0, "\(replaySelf.stdout)\(replaySelf.stderr)")
            #expect(replaySelf.stdout.contains("3 operations replayed: 3 decided the same, 0 would be refused"), "\(replaySelf.stdout)")
            let strict = try daemon.ebguard(["policy", "replay", Self.root + "/policies/strict.yaml", "--session", "learnt",
                                             "--log", daemon.auditLogPath, "--home", "/home/nobody", "--workspace", daemon.scratch, "--json"])
            #expect(strict.status == 1, "\(strict.stdout)\(strict.stderr)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(strict.stdout.utf8)) as? [String: Any])
            let denied = (json["would_deny"] as? [[String: Any]] ?? []).compactMap { $0["object"] as? String }.sorted()
            #expect(denied == ports.map { "connect 127.0.0.1:\($0)/tcp" }, "\(json)")
        }

        @Test func badInputIsNamedAndNothingIsWritten() throws {
            let (daemon, _) = try Self.recordSession("learn-bad")
            let out = daemon.scratch + "/never.yaml"
            let unknown = try daemon.ebguard(["policy", "suggest", "--session", "nobody", "--log", daemon.auditLogPath, "-o", out,
                                              "--base", Self.root + "/policies/agent.yaml"])
            #expect(unknown.status == 1 && unknown.stderr.contains("no session 'nobody'"), "\(unknown.stderr)")
            let missing = try daemon.ebguard(["policy", "suggest", "--session", "learnt", "--from-audit", daemon.scratch + "/nope.jsonl",
                                              "-o", out, "--base", Self.root + "/policies/agent.yaml"])
            #expect(missing.status == 1 && missing.stderr.contains(daemon.scratch + "/nope.jsonl: no such file"), "\(missing.stderr)")
            // One record cut short in a copy of the real trail.
            var lines = try String(contentsOfFile: daemon.auditLogPath, encoding: .utf8).split(separator: "\n").map(String.init)
            lines[2] = String(lines[2].prefix(40))
            let copy = try daemon.write("corrupt.jsonl", lines.joined(separator: "\n") + "\n")
            let corrupt = try daemon.ebguard(["policy", "suggest", "--session", "learnt", "--from-audit", copy, "-o", out,
                                              "--base", Self.root + "/policies/agent.yaml"])
            #expect(corrupt.status == 1 && corrupt.stderr.contains(copy + ":3: not a JSON record"), "\(corrupt.stderr)")
            let badPolicy = try daemon.write("bad.yaml", "version: 1\nname: bad\nfile:\n  - { action: maybe, path: /x }\n")
            let replay = try daemon.ebguard(["policy", "replay", badPolicy, "--session", "learnt", "--log", daemon.auditLogPath])
            #expect(replay.status == 1 && replay.stderr.contains(badPolicy + ":4:"), "\(replay.stderr)")
            let badBase = try daemon.ebguard(["policy", "suggest", "--session", "learnt", "--log", daemon.auditLogPath, "-o", out,
                                              "--base", badPolicy])
            #expect(badBase.status == 1 && badBase.stderr.contains(badPolicy + ":4:"), "\(badBase.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out))
        }

        @Test func reviewThroughAPipeAndInTmux() throws {
            let (daemon, ports) = try Self.recordSession("learn-review")
            // Piped: allow the one suggested rule.
            let piped = daemon.scratch + "/piped.yaml"
            let cmd = "printf 'a\\n' | '\(daemon.binary)' policy review " + Self.context(daemon).map { "'\($0)'" }.joined(separator: " ")
                + " -o '\(piped)'"
            let result = try run(["/bin/sh", "-c", cmd], environment: daemon.environment)
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
            #expect(result.stdout.contains("[1/1] network: { action: allow, cidr: \"127.0.0.0/8\""), "\(result.stdout)")
            #expect(try String(contentsOfFile: piped, encoding: .utf8).contains("ports: [\(ports.sorted().map(String.init).joined(separator: ", "))]"))
            // Piped input that ends early writes nothing.
            let cut = daemon.scratch + "/cut.yaml"
            let early = try run(["/bin/sh", "-c", "'\(daemon.binary)' policy review " + Self.context(daemon).map { "'\($0)'" }.joined(separator: " ")
                                 + " -o '\(cut)' < /dev/null"], environment: daemon.environment)
            #expect(early.status == 1 && !FileManager.default.fileExists(atPath: cut))
            // In a terminal: deny it with one key and Enter.
            let tmux = "ebguard-review-\(getpid())"
            defer { _ = try? runProcess(["/usr/bin/tmux", "kill-session", "-t", tmux]) }
            let typed = daemon.scratch + "/typed.yaml"
            let status = spawnDetachedAndWait(["/usr/bin/tmux", "new-session", "-d", "-s", tmux, "-x", "200", "-y", "40",
                                               "'\(daemon.binary)' policy review " + Self.context(daemon).map { "'\($0)'" }.joined(separator: " ")
                                                + " -o '\(typed)'; sleep 30"],
                                              environment: daemon.environment)
            try #require(status == 0, "tmux new-session failed: wait status \(status)")
            var screen = ""
            for _ in 0..<100 where !screen.contains("(q)uit: ") {
                usleep(100_000)
                screen = (try? runProcess(["/usr/bin/tmux", "capture-pane", "-p", "-t", tmux]))?.stdout ?? ""
            }
            #expect(screen.contains("[1/1] network: { action: allow, cidr: \"127.0.0.0/8\""), "\(screen)")
            _ = try runProcess(["/usr/bin/tmux", "send-keys", "-t", tmux, "d", "Enter"])
            #expect(A.waitUntil { FileManager.default.fileExists(atPath: typed) })
            #expect((try? String(contentsOfFile: typed, encoding: .utf8))?.contains("- { action: deny, cidr: \"127.0.0.0/8\"") == true)
        }
    }
}
