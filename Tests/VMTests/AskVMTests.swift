import EbguardDaemon
import EbguardSystem
import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// Interactive decisions end to end, with full enforcement: held execs, file asks answered into
/// the kernel, scopes, the overlay, coalescing, refusal of governed answers, the prompt in a
/// real terminal, and a daemon killed while an exec is held. Serialized with one daemon at a time.
extension DaemonVMSuites {
    @Suite(.enabled(if: TestEnvironment.inVM && TestEnvironment.isRoot, "needs BPF-LSM, which this host's kernel refuses; `make test` runs it in the VM (scripts/vmtest)"), .serialized)
    struct AskVMTests {
        func daemon(_ label: String) throws -> DaemonHarness {
            let daemon = try DaemonHarness(label: label)
            daemon.extraArguments = ["--overlay-dir", daemon.scratch + "/overlays"]
            try daemon.start()
            return daemon
        }

        func policy(_ daemon: DaemonHarness, timeout: Int = 60, onTimeout: String = "deny", extra: String = "") throws -> String {
            try daemon.write("ask.yaml", """
            version: 1
            name: asking
            ask_timeout: \(timeout)
            on_timeout: \(onTimeout)
            defaults: { exec: allow, file: allow, network: allow }
            exec:
              - { action: ask, path: /usr/bin/touch }
            file:
              - { action: ask, path: "\(daemon.scratch)/guarded/**", access: [read] }
            \(extra)
            """)
        }

        func pending(_ daemon: DaemonHarness) -> [PendingRequest] {
            guard let result = try? daemon.ebguard(["pending", "--json"]), result.status == 0 else { return [] }
            return (try? JSONDecoder().decode([PendingRequest].self, from: Data(result.stdout.utf8))) ?? []
        }

        func waitForPending(_ daemon: DaemonHarness, count: Int = 1, timeout: Double = 20) -> [PendingRequest] {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                let list = pending(daemon)
                if list.count >= count { return list }
                usleep(100_000)
            }
            return pending(daemon)
        }

        @Test func aHeldExecRunsWhenAllowedAndDiesWhenDenied() throws {
            let daemon = try daemon("ask-exec")
            let file = try policy(daemon)
            let allowed = try daemon.spawn(["run", "--policy", file, "--name", "allowme", "--", "/bin/sh", "-c",
                                            "/usr/bin/touch \(daemon.scratch)/made && echo touched=$?"], name: "allowed")
            let request = try #require(waitForPending(daemon).first, "no pending request; \(allowed.stderr)")
            #expect(request.kind == "exec")
            #expect(request.argv == ["/usr/bin/touch", "\(daemon.scratch)/made"])
            #expect(request.rule == "exec[0]")
            #expect(request.tree.count >= 2, "the process and its shell parent")
            #expect(allowed.stderr.contains("waiting for approval #\(request.id): exec /usr/bin/touch"), "\(allowed.stderr)")
            #expect(!FileManager.default.fileExists(atPath: daemon.scratch + "/made"), "held before its first instruction")
            let answer = try daemon.ebguard(["allow", "\(request.id)"])
            #expect(answer.status == 0, "\(answer.stderr)")
            #expect(allowed.wait(timeout: 30) == 0)
            #expect(allowed.stdout.contains("touched=0"))
            #expect(FileManager.default.fileExists(atPath: daemon.scratch + "/made"))

            let denied = try daemon.spawn(["run", "--policy", file, "--name", "denyme", "--", "/bin/sh", "-c",
                                           "/usr/bin/touch \(daemon.scratch)/never; echo status=$?"], name: "denied")
            let second = try #require(waitForPending(daemon).first)
            #expect(try daemon.ebguard(["deny", "#\(second.id)"]).status == 0)
            #expect(denied.wait(timeout: 30) == 0)
            #expect(denied.stdout.contains("status=137"), "killed by SIGKILL: \(denied.stdout)")
            #expect(denied.stderr.contains("blocked by the operator"), "\(denied.stderr)")
            #expect(!FileManager.default.fileExists(atPath: daemon.scratch + "/never"))
        }

        @Test(arguments: ["deny", "allow"])
        func anUnansweredExecTakesThePolicysTimeoutVerdict(onTimeout: String) throws {
            let daemon = try daemon("ask-timeout-\(onTimeout)")
            let file = try policy(daemon, timeout: 2, onTimeout: onTimeout)
            let run = try daemon.ebguard(["run", "--policy", file, "--name", "nobody", "--", "/bin/sh", "-c",
                                          "/usr/bin/touch \(daemon.scratch)/t; echo status=$?"])
            #expect(run.stdout.contains(onTimeout == "allow" ? "status=0" : "status=137"), "\(run.stdout) \(run.stderr)")
            #expect(run.stderr.contains("no answer in time"), "\(run.stderr)")
            #expect(pending(daemon).isEmpty)
        }

        @Test func aFileAskIsAnsweredIntoTheKernelForThatFileOnly() throws {
            let daemon = try daemon("ask-file")
            let guarded = daemon.scratch + "/guarded"
            try FileManager.default.createDirectory(atPath: guarded, withIntermediateDirectories: true)
            try "one\n".write(toFile: guarded + "/one.txt", atomically: true, encoding: .utf8)
            try "two\n".write(toFile: guarded + "/two.txt", atomically: true, encoding: .utf8)
            let file = try policy(daemon)
            let script = """
            cat \(guarded)/one.txt; echo first=$?
            while [ ! -e \(daemon.scratch)/answered ]; do sleep 0.05; done
            cat \(guarded)/one.txt; echo retry=$?
            cat \(guarded)/two.txt; echo other=$?
            """
            let session = try daemon.spawn(["run", "--policy", file, "--name", "files", "--", "/bin/sh", "-c", script], name: "files")
            let request = try #require(waitForPending(daemon).first, "\(session.stderr)")
            #expect(session.waitFor { $0.contains("first=1") }, "the first open fails at once")
            #expect(request.kind == "file" && request.object == guarded + "/one.txt" && request.detail == "read")
            #expect(try daemon.ebguard(["allow", "\(request.id)", "--scope", "session"]).status == 0)
            FileManager.default.createFile(atPath: daemon.scratch + "/answered", contents: nil)
            #expect(session.wait(timeout: 30) == 0)
            #expect(session.stdout.contains("one\nretry=0"), "\(session.stdout)")
            #expect(session.stdout.contains("other=1"), "another file under the same ask rule is still denied")
        }

        @Test func alwaysWritesTheOverlayAndANewSessionHonoursIt() throws {
            let daemon = try daemon("ask-always")
            let guarded = daemon.scratch + "/guarded"
            try FileManager.default.createDirectory(atPath: guarded, withIntermediateDirectories: true)
            try "kept\n".write(toFile: guarded + "/notes.txt", atomically: true, encoding: .utf8)
            let file = try policy(daemon)
            // Pending requests end with their session: this one stays until it is answered.
            let first = try daemon.spawn(["run", "--policy", file, "--name", "teach", "--", "/bin/sh", "-c",
                                          "cat \(guarded)/notes.txt; echo first=$?; "
                                            + "while [ ! -e \(daemon.scratch)/answered ]; do sleep 0.05; done"], name: "teach")
            let request = try #require(waitForPending(daemon).first)
            #expect(try daemon.ebguard(["allow", "\(request.id)", "--scope", "always"]).status == 0)
            FileManager.default.createFile(atPath: daemon.scratch + "/answered", contents: nil)
            #expect(first.wait(timeout: 30) == 0)
            let overlay = try String(contentsOfFile: daemon.scratch + "/overlays/asking.yaml", encoding: .utf8)
            #expect(overlay.contains("{ action: allow, path: \(guarded)/notes.txt, access: [read] }"), "\(overlay)")
            let later = try daemon.ebguard(["run", "--policy", file, "--name", "later", "--", "/bin/sh", "-c",
                                            "cat \(guarded)/notes.txt; echo later=$?"])
            #expect(later.stdout.contains("kept\nlater=0"), "\(later.stdout) \(later.stderr)")
            #expect(pending(daemon).isEmpty, "no prompt for what was approved always")
        }

        @Test func aHundredIdenticalRequestsAreOnePendingRequest() throws {
            let daemon = try daemon("ask-flood")
            let guarded = daemon.scratch + "/guarded"
            try FileManager.default.createDirectory(atPath: guarded, withIntermediateDirectories: true)
            try "x\n".write(toFile: guarded + "/f", atomically: true, encoding: .utf8)
            let file = try policy(daemon)
            let run = try daemon.spawn(["run", "--quiet", "--policy", file, "--name", "loop", "--", "/bin/sh", "-c",
                                        "for i in $(seq 100); do cat \(guarded)/f 2>/dev/null; done; echo done; "
                                          + "while [ ! -e \(daemon.scratch)/counted ]; do sleep 0.05; done"], name: "loop")
            // A hundred forks and execs under TCG: seconds, many more on a busy host.
            #expect(run.waitFor(timeout: 120) { $0.contains("done") }, "\(run.stderr)")
            var list: [PendingRequest] = []
            for _ in 0..<100 {
                list = pending(daemon)
                if list.first?.hits == 100 { break }
                usleep(100_000)
            }
            #expect(list.count == 1, "\(list.map(\.summary))")
            #expect(list.first?.hits == 100)
            FileManager.default.createFile(atPath: daemon.scratch + "/counted", contents: nil)
            #expect(run.wait(timeout: 30) == 0)
        }

        @Test func aGovernedProcessCannotAnswerItsOwnRequest() throws {
            let daemon = try daemon("ask-self")
            let file = try policy(daemon)
            let session = try daemon.spawn(["run", "--policy", file, "--name", "sneaky", "--", "/bin/sh", "-c",
                                            "/usr/bin/touch \(daemon.scratch)/x & sleep 1; \(daemon.binary) allow 1; echo allow=$?; wait"],
                                           name: "sneaky")
            #expect(session.waitFor { $0.contains("allow=") })
            #expect(session.stdout.contains("allow=125"))
            #expect(session.stderr.contains("governed session"), "\(session.stderr)")
            let list = pending(daemon)
            #expect(list.count == 1, "the request stays pending")
            #expect(try daemon.ebguard(["deny", "\(try #require(list.first).id)"]).status == 0)
            #expect(session.wait(timeout: 30) == 0)
        }

        @Test func thePromptAnswersAHeldExecWithOneKey() throws {
            let daemon = try daemon("ask-prompt")
            let file = try policy(daemon)
            let tmux = "ebguard-test-\(getpid())"
            defer { _ = try? runProcess(["/usr/bin/tmux", "kill-session", "-t", tmux]) }
            // The tmux server outlives this call and daemonizes from the client: started with
            // posix_spawn and /dev/null for stdio, so nothing waits on descriptors it keeps.
            let status = spawnDetachedAndWait(["/usr/bin/tmux", "new-session", "-d", "-s", tmux, "-x", "160", "-y", "40",
                                       "EBGUARD_SOCKET=\(daemon.socket) \(daemon.binary) prompt"],
                                      environment: daemon.environment)
            try #require(status == 0, "tmux new-session failed: wait status \(status)")
            let session = try daemon.spawn(["run", "--policy", file, "--name", "prompted", "--", "/bin/sh", "-c",
                                            "/usr/bin/touch \(daemon.scratch)/by-key && echo touched"], name: "prompted")
            let request = try #require(waitForPending(daemon).first)
            var screen = ""
            for _ in 0..<100 {
                screen = (try? runProcess(["/usr/bin/tmux", "capture-pane", "-p", "-t", tmux]))?.stdout ?? ""
                if screen.contains("#\(request.id)") && screen.contains("/usr/bin/touch") { break }
                usleep(100_000)
            }
            #expect(screen.contains("exec /usr/bin/touch"), "\(screen)")
            #expect(screen.contains("process tree"))
            _ = try runProcess(["/usr/bin/tmux", "send-keys", "-t", tmux, "a"])
            #expect(session.wait(timeout: 30) == 0)
            #expect(session.stdout.contains("touched"))
            #expect(pending(daemon).isEmpty)
        }

        @Test func aHoldLeftByAKilledDaemonIsResolvedByTheTimeoutRuleOnRestart() throws {
            let daemon = try daemon("ask-restart")
            let file = try policy(daemon, timeout: 600, onTimeout: "deny")
            let session = try daemon.spawn(["run", "--policy", file, "--name", "orphan", "--", "/bin/sh", "-c",
                                            "/usr/bin/touch \(daemon.scratch)/orphan; echo status=$?"], name: "orphan")
            try #require(waitForPending(daemon).first != nil)
            daemon.killHard()
            try daemon.start()
            #expect(session.wait(timeout: 30) == 0)
            #expect(session.stdout.contains("status=137"), "\(session.stdout) \(session.stderr)")
            #expect(!FileManager.default.fileExists(atPath: daemon.scratch + "/orphan"))
        }
    }
}
