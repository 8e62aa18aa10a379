import CEbguardABI
import EbguardDaemon
import EbguardSystem
import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// The daemon as an operator runs it: the real binary, real sessions, real sockets on loopback.
/// On this host only network rules are enforced (BPF-LSM is refused); the VM suite covers
/// exec and file events through the daemon. Serialized: one daemon at a time reads the shared
/// event ring.
extension DaemonHostSuites {
    @Suite(.enabled(if: TestEnvironment.isRoot, "needs root (cgroups, BPF); `make test` runs it as root"), .serialized)
    struct DaemonTests {
        static let policy = """
        version: 1
        name: loopback-web
        defaults: { exec: allow, file: allow, network: deny }
        network:
          - { action: allow, cidr: 127.0.0.1/32, ports: [1-1023] }
          - { action: deny, cidr: 127.0.0.3/32 }
        """

        /// Asks before any loopback connection.
        static let askLoopback = """
        version: 1
        name: ask-network
        defaults: { exec: allow, file: allow, network: deny }
        network:
          - { action: ask, cidr: 127.0.0.1/32 }
        """

        /// Connects every 0.1 s, up to `times` times; stops after 3 successes (the listener never accepts).
        static func connectLoop(port: UInt16, times: Int) -> String {
            "ok=0; for i in $(seq \(times)); do if (exec 3<>/dev/tcp/127.0.0.1/\(port)) 2>/dev/null; then echo CONNECTED; "
                + "ok=$((ok+1)); [ $ok -ge 3 ] && break; else echo DENIED; fi; sleep 0.1; done; echo FINISHED"
        }

        @Test func twoSessionsStreamTheirExactEvents() throws {
            let daemon = try DaemonHarness(label: "two")
            try daemon.start()
            let file = try daemon.write("policy.yaml", Self.policy)
            let events = try daemon.spawn(["events", "--follow", "-o", "json"], name: "events")
            try #require(waitForSubscribers(daemon, 1))

            var pids: [String: Int] = [:]
            for name in ["alpha", "beta"] {
                let result = try daemon.ebguard(["run", "--policy", file, "--name", name, "--",
                                                  "/bin/bash", "-c", "echo PID=$$; exec 3<>/dev/tcp/127.0.0.3/80"])
                #expect(result.status != 0, "the denied connect makes bash fail")
                #expect(result.stderr.contains("denied connect 127.0.0.3:80 (tcp) by rule network[1]"), "\(result.stderr)")
                let line = try #require(result.stdout.split(separator: "\n").first { $0.hasPrefix("PID=") })
                pids[name] = Int(line.dropFirst(4))
            }
            events.waitFor { text in jsonLines(text).filter { ($0["action"] as? String) == "end" }.count >= 2 }
            let all = jsonLines(events.stdout)
            for name in ["alpha", "beta"] {
                let mine = all.filter { ($0["session"] as? String)?.hasPrefix(name + "-") == true }
                let denial = try #require(mine.first { $0["kind"] as? String == "network" && $0["blocked"] as? Bool == true },
                                          "no denial for \(name) in \(events.stdout)")
                #expect(denial["schema_version"] as? Int == 1)
                #expect(denial["pid"] as? Int == pids[name])
                #expect(denial["comm"] as? String == "bash")
                #expect(denial["object"] as? String == "127.0.0.3:80")
                #expect(denial["verdict"] as? String == "deny")
                #expect(denial["rule"] as? String == "network[1]")
                #expect(denial["rule_location"] as? String == file + ":6:5")
                #expect(denial["user"] as? String == "root")
                let exec = try #require(mine.first { $0["kind"] as? String == "process" && $0["action"] as? String == "exec"
                                                      && $0["pid"] as? Int == pids[name] }, "no exec event for \(name)")
                #expect((exec["argv"] as? [String])?.prefix(2) == ["/bin/bash", "-c"])
                #expect(exec["exe"] as? String == "/bin/bash")
                #expect(mine.contains { $0["kind"] as? String == "process" && $0["action"] as? String == "exit"
                                        && $0["pid"] as? Int == pids[name] && $0["exit_code"] as? Int == 1 })
                let actions = mine.compactMap { $0["kind"] as? String == "session" ? $0["action"] as? String : nil }
                #expect(actions == ["start", "end"])
                let sequence = mine.compactMap { $0["seq"] as? Int }
                #expect(sequence == sequence.sorted(), "events of a session arrive in order")
            }
            // The other session's denial never carries this one's name.
            #expect(all.filter { $0["kind"] as? String == "network" }.count == 2)

            let status = try daemon.ebguard(["status", "--json"])
            let report = try JSONDecoder().decode(StatusReport.self, from: Data(status.stdout.utf8))
            #expect(report.sessions.isEmpty)
            #expect(report.eventsTotal >= 4)
            let connect = try #require(report.programs.first { $0.name == "eg_connect4" })
            #expect(connect.runCount > 0, "the kernel's statistics counted the connects")
            #expect(connect.nanosecondsPerCall != nil)
            daemon.stop()
            #expect(events.wait(timeout: 10) != nil)
        }

        @Test func killDashNineLeavesTheSessionEnforcedAndARestartAdoptsIt() throws {
            let daemon = try DaemonHarness(label: "kill")
            let listener = try TCPListener()
            try daemon.start()
            let file = try daemon.write("policy.yaml", Self.policy)
            let session = try daemon.spawn(["run", "--policy", file, "--name", "survivor", "--", "/bin/bash", "-c",
                                            Self.connectLoop(port: listener.port, times: 60)], name: "session")
            try #require(session.waitFor { $0.contains("DENIED") }, "session output: \(session.stdout) \(session.stderr)")

            daemon.killHard()
            let deniedBefore = session.stdout.components(separatedBy: "DENIED").count
            #expect(session.waitFor { $0.components(separatedBy: "DENIED").count >= deniedBefore + 5 },
                    "connects keep being denied with the daemon dead")
            #expect(!session.stdout.contains("CONNECTED"))

            try daemon.start()
            let listed = try JSONDecoder().decode([SessionInfo].self, from: Data(try daemon.ebguard(["sessions", "--json"]).stdout.utf8))
            let adopted = try #require(listed.first { $0.name == "survivor" }, "the restarted daemon lists the session")
            #expect(adopted.policy == "loopback-web")
            #expect(adopted.processes >= 1)
            let stream = try daemon.spawn(["events", "--follow", "--session", "survivor", "-o", "json"], name: "stream")
            #expect(stream.waitFor { jsonLines($0).contains { $0["kind"] as? String == "network" && $0["blocked"] as? Bool == true } },
                    "the stream resumes with the session's denials")

            #expect(session.wait() == 0)
            #expect(session.stdout.contains("FINISHED"))
            #expect(!session.stdout.contains("CONNECTED"))
            #expect(session.stderr.contains("re-attached to the daemon"), "\(session.stderr)")
            #expect(access(adopted.cgroup, F_OK) != 0, "the session's cgroup is removed when its command ends")
            let after = try JSONDecoder().decode([SessionInfo].self, from: Data(try daemon.ebguard(["sessions", "--json"]).stdout.utf8))
            #expect(after.isEmpty)
        }

        @Test func aGovernedProcessCannotReconfigureItsSession() throws {
            let daemon = try DaemonHarness(label: "refuse")
            try daemon.start()
            let file = try daemon.write("policy.yaml", Self.policy)
            let permissive = try daemon.write("open.yaml", "version: 1\nname: wide-open\ndefaults: { exec: allow, file: allow, network: allow }\n")
            let result = try daemon.ebguard(["run", "--policy", file, "--name", "agent", "--", "/bin/sh", "-c",
                "\"$0\" policy apply \"$EBGUARD_SESSION\" \"$1\"; echo apply=$?; \"$0\" status >/dev/null; echo status=$?",
                daemon.binary, permissive])
            #expect(result.stdout.contains("apply=125"), "\(result.stdout) \(result.stderr)")
            #expect(result.stdout.contains("status=125"))
            #expect(result.stderr.contains("runs inside the governed session agent-"), "\(result.stderr)")
            let events = jsonLines(try daemon.ebguard(["events", "--since", "5m", "-o", "json"]).stdout)
            #expect(!events.contains { $0["action"] as? String == "policy" }, "no policy change happened")
            #expect(events.contains { ($0["message"] as? String)?.contains("refused control connection") == true })
        }

        @Test func policyApplySwapsTheRulesOfARunningSessionAndABadFileChangesNothing() throws {
            let daemon = try DaemonHarness(label: "apply")
            let listener = try TCPListener()
            try daemon.start()
            let file = try daemon.write("policy.yaml", Self.policy)
            let session = try daemon.spawn(["run", "--policy", file, "--name", "reload", "--", "/bin/bash", "-c",
                                            Self.connectLoop(port: listener.port, times: 150)], name: "session")
            try #require(session.waitFor { $0.contains("DENIED") })

            let bad = try daemon.write("bad.yaml", "version: 1\nname: broken\ndefaults: { exec: allow, file: allow, network: maybe }\n")
            let refused = try daemon.ebguard(["policy", "apply", "reload", bad])
            #expect(refused.status != 0)
            #expect(refused.stderr.contains(bad + ":3:"), "\(refused.stderr)")
            #expect(refused.stderr.contains("nothing changed"))

            let missing = try daemon.ebguard(["policy", "apply", "no-such-session", file])
            #expect(missing.status != 0 && missing.stderr.contains("no session"))

            let wide = try daemon.write("wide.yaml", """
            version: 1
            name: loopback-any-port
            defaults: { exec: allow, file: allow, network: deny }
            network:
              - { action: allow, cidr: 127.0.0.1/32 }
            """)
            let applied = try daemon.ebguard(["policy", "apply", "reload", wide])
            #expect(applied.status == 0, "\(applied.stderr)")
            #expect(session.waitFor { $0.contains("CONNECTED") }, "the new policy applies to the running session")
            let sessions = try JSONDecoder().decode([SessionInfo].self, from: Data(try daemon.ebguard(["sessions", "--json"]).stdout.utf8))
            #expect(sessions.first?.policy == "loopback-any-port")
            #expect(sessions.first?.policySource == wide)

            // After the swap nothing is denied any more: no rule of the old policy lingers.
            let lines = session.stdout.split(separator: "\n")
            let firstConnected = try #require(lines.firstIndex(of: "CONNECTED"))
            #expect(session.wait() == 0)
            let final = session.stdout.split(separator: "\n")
            #expect(!final[firstConnected...].contains("DENIED"))
        }

        /// Without a daemon, the commands that need one say so and how to start one.
        /// Through the daemon, `ebguard run` still applies to the command what the policy says of
        /// it (no_new_privs, the capabilities kept), as the daemon's reply to the registration
        /// says (the client no longer parses the policy itself); a bad policy reads as without
        /// a daemon: its diagnostics and 125, nothing said before them, no session, the command never run.
        @Test func runThroughTheDaemonAppliesThePolicysPrivilegesAndABadPolicyStartsNothing() throws {
            let daemon = try DaemonHarness(label: "privileges")
            try daemon.start()
            defer { daemon.stop() }
            let show = ["/bin/sh", "-c", "grep -E '^(NoNewPrivs|CapBnd):' /proc/self/status"]
            let keeping = try daemon.write("keeping.yaml", "version: 1\nname: keeping\nno_new_privs: false\ncapabilities: [net_bind_service]\n")
            let kept = try daemon.ebguard(["run", "--quiet", "--policy", keeping, "--"] + show)
            #expect(kept.status == 0, "\(kept.stderr)")
            #expect(kept.stdout.contains("NoNewPrivs:\t0") && kept.stdout.contains("CapBnd:\t0000000000000400"), "\(kept.stdout)")
            let plain = try daemon.write("plain.yaml", "version: 1\nname: plain\n")
            let dropped = try daemon.ebguard(["run", "--quiet", "--policy", plain, "--"] + show)
            #expect(dropped.status == 0, "\(dropped.stderr)")
            #expect(dropped.stdout.contains("NoNewPrivs:\t1") && dropped.stdout.contains("CapBnd:\t0000000000000000"), "\(dropped.stdout)")
            // How the daemon runs comes with the registration's answer (no status request first),
            // except for --require-full, which must know before anything is registered.
            let mode = try JSONDecoder().decode(StatusReport.self, from: Data(try daemon.ebguard(["status", "--json"]).stdout.utf8)).mode
            let loud = try daemon.ebguard(["run", "--policy", plain, "--", "/bin/true"])
            #expect(loud.status == 0, "\(loud.stderr)")
            #expect(loud.stderr.contains("DEGRADED: the daemon cannot enforce exec and file rules") == (mode != "full"), "\(mode): \(loud.stderr)")
            let strict = try daemon.ebguard(["run", "--require-full", "--policy", plain, "--", "/bin/touch", daemon.scratch + "/strict"])
            #expect(strict.status == (mode == "full" ? 0 : 2), "\(mode): \(strict.stderr)")
            #expect(FileManager.default.fileExists(atPath: daemon.scratch + "/strict") == (mode == "full"))

            let bad = try daemon.write("bad.yaml", "version: 1\nname: bad\nfile:\n  - { action: deny, pth: /etc }\n")
            let refused = try daemon.ebguard(["run", "--policy", bad, "--", "/bin/touch", daemon.scratch + "/ran"])
            #expect(refused.status == 125)
            #expect(refused.stderr.contains(bad + ":4:"), "\(refused.stderr)")
            #expect(!refused.stderr.contains("DEGRADED") && !refused.stderr.contains("not valid"), "\(refused.stderr)")
            #expect(!FileManager.default.fileExists(atPath: daemon.scratch + "/ran"))
            let listed = try daemon.ebguard(["sessions", "--json"])
            #expect(try JSONDecoder().decode([SessionInfo].self, from: Data(listed.stdout.utf8)).isEmpty, "\(listed.stdout)")
        }

        @Test func withoutADaemonTheClientsSayHowToStartOne() throws {
            let binary = TestEnvironment.projectRoot + "/bin/ebguard"
            var environment = ProcessInfo.processInfo.environment
            environment["EBGUARD_SOCKET"] = "/run/ebguard-test-none-\(getpid())/ebguard.sock"
            for command in [["events"], ["status"], ["pending"], ["allow", "1"]] {
                let result = try runProcess([binary] + command, environment: environment)
                #expect(result.status == 125, "\(command)")
                #expect(result.stderr.contains("no ebguard daemon is listening") && result.stderr.contains("sudo ebguard daemon"),
                        "\(command): \(result.stderr)")
            }
        }

        @Test func malformedRequestsNeverCrashTheDaemon() throws {
            let daemon = try DaemonHarness(label: "fuzz")
            try daemon.start()
            var generator = SystemRandomNumberGenerator()
            let valid = String(decoding: ControlRequest.status.encoded(), as: UTF8.self)
            var answered = 0
            for round in 0..<300 {
                let socket = try UnixSocket.connect(to: daemon.socket)
                var payload: [UInt8]
                switch round % 4 {
                case 0: payload = (0..<Int.random(in: 1..<4096, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                case 1:
                    payload = Array(valid.utf8)
                    for _ in 0..<3 { payload[Int.random(in: 0..<payload.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator) }
                case 2: payload = Array("{\"version\":1,\"request\":\"apply\",\"session\":{},\"policy\":[]}".utf8)
                default: payload = Array("{\"version\":1,\"request\":\"register\",\"register\":{\"name\":\"../x\",\"policy\":{\"source\":\"s\",\"yaml\":\"version: 1\\nname: x\\n\"},\"home\":\"/root\",\"workspace\":\"/\",\"uid\":0,\"user\":\"root\"}}".utf8)
                }
                payload.append(UInt8(ascii: "\n"))
                try? writeAll(socket.rawValue, Data(payload))
                shutdown(socket.rawValue, Int32(SHUT_WR))
                if let line = try? LineReader(fd: socket.rawValue).next(), !line.isEmpty { answered += 1 }
            }
            #expect(answered > 250, "each malformed request gets an answer")

            // A request larger than the limit, without a newline: an error, then the connection closes.
            let big = try UnixSocket.connect(to: daemon.socket)
            let chunk = Data(repeating: UInt8(ascii: "x"), count: 1 << 20)
            for _ in 0...ControlProtocol.maximumRequestBytes >> 20 { if (try? writeAll(big.rawValue, chunk)) == nil { break } }
            let answer = try? LineReader(fd: big.rawValue).next()
            #expect(answer.map { String(decoding: $0, as: UTF8.self).contains("too-large") } == true)

            #expect(daemon.process?.isRunning == true)
            let status = try daemon.ebguard(["status", "--json"])
            #expect(status.status == 0)
            #expect(try JSONDecoder().decode(StatusReport.self, from: Data(status.stdout.utf8)).sessions.isEmpty,
                    "no malformed register created a session")
        }

        /// A network ask through the daemon: the connect fails at once, the request waits, an
        /// operator's `allow --scope session` goes into the kernel, and the retries pass; other
        /// destinations stay asked.
        @Test func aNetworkAskIsAnsweredForTheRetry() throws {
            let daemon = try DaemonHarness(label: "ask-net")
            let listener = try TCPListener()
            let other = try TCPListener()
            try daemon.start()
            let file = try daemon.write("ask.yaml", Self.askLoopback)
            let probe = { (port: UInt16) in "(exec 3<>/dev/tcp/127.0.0.1/\(port)) 2>/dev/null && echo OK-\(port) || echo NO-\(port)" }
            let session = try daemon.spawn(["run", "--policy", file, "--name", "asknet", "--", "/bin/bash", "-c",
                                            probe(listener.port) + "; while [ ! -e \(daemon.scratch)/answered ]; do sleep 0.05; done; "
                                              + probe(listener.port) + "; " + probe(listener.port) + "; " + probe(other.port)],
                                           name: "asknet")
            var pending: [PendingRequest] = []
            for _ in 0..<200 where pending.isEmpty {
                pending = (try? JSONDecoder().decode([PendingRequest].self,
                                                     from: Data(try daemon.ebguard(["pending", "--json"]).stdout.utf8))) ?? []
                usleep(50_000)
            }
            let request = try #require(pending.first, "no pending request: \(session.stderr)")
            #expect(request.kind == "network" && request.object == "127.0.0.1:\(listener.port)" && request.detail == "tcp")
            #expect(session.stdout.contains("NO-\(listener.port)"), "the first connect fails at once")
            #expect(session.stderr.contains("waiting for approval #\(request.id): connect 127.0.0.1:\(listener.port) (tcp)"))
            let answer = try daemon.ebguard(["allow", "#\(request.id)", "--scope", "session"])
            #expect(answer.status == 0, "\(answer.stderr)")
            FileManager.default.createFile(atPath: daemon.scratch + "/answered", contents: nil)
            #expect(session.wait(timeout: 30) == 0)
            #expect(session.stdout.components(separatedBy: "OK-\(listener.port)").count == 3, "both retries pass: \(session.stdout)")
            #expect(session.stdout.contains("NO-\(other.port)"), "another destination is still asked")
        }

        /// With a desktop, `ebguard prompt` also shows each request as a notification whose action
        /// answers it. No notification server runs here: a stand-in `notify-send` (first on PATH,
        /// with DISPLAY set) records its arguments and clicks "allow", as a user would.
        @Test func aDesktopNotificationActionAnswersTheRequest() throws {
            let daemon = try DaemonHarness(label: "ask-notify")
            let listener = try TCPListener()
            try daemon.start()
            let file = try daemon.write("ask.yaml", Self.askLoopback)
            let bin = daemon.scratch + "/bin"
            try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
            let fake = try daemon.write("bin/notify-send", "#!/bin/sh\nprintf '%s\\n' \"$@\" > \(daemon.scratch)/notified\necho allow\n")
            chmod(fake, 0o755)
            let tmux = "ebguard-notify-\(getpid())"
            defer { _ = try? runProcess(["/usr/bin/tmux", "kill-session", "-t", tmux]) }
            var environment = daemon.environment
            environment["DISPLAY"] = ":99"
            environment["PATH"] = bin + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
            let started = spawnDetachedAndWait(["/usr/bin/tmux", "new-session", "-d", "-s", tmux, "-x", "160", "-y", "40",
                                                "env DISPLAY=:99 PATH=\(environment["PATH"]!) EBGUARD_SOCKET=\(daemon.socket) \(daemon.binary) prompt"],
                                               environment: environment)
            try #require(started == 0, "tmux new-session: wait status \(started)")
            let probe = "(exec 3<>/dev/tcp/127.0.0.1/\(listener.port)) 2>/dev/null && echo OK || echo NO"
            let session = try daemon.spawn(["run", "--policy", file, "--name", "notified", "--", "/bin/bash", "-c",
                                            "\(probe); for i in $(seq 100); do sleep 0.1; \(probe) | grep -q OK && { echo RETRY-OK; break; }; done"],
                                           name: "notified")
            #expect(session.wait(timeout: 60) == 0)
            #expect(session.stdout.contains("RETRY-OK"), "\(session.stdout) \(session.stderr)")
            let shown = (try? String(contentsOfFile: daemon.scratch + "/notified", encoding: .utf8)) ?? ""
            #expect(shown.contains("--action=allow=Allow once") && shown.contains("connect 127.0.0.1:\(listener.port) (tcp)"), "\(shown)")
        }

        /// Events come while the daemon is stopped, far more than the ring holds: the kernel
        /// counts what it could not queue, status reports it, and the daemon keeps up once it
        /// runs again. The session registers first and floods only once the daemon is stopped,
        /// so the loss is real and must be counted, never hidden.
        @Test func aFloodIsCountedAsLostAndTheDaemonKeepsUpAfterwards() throws {
            let daemon = try DaemonHarness(label: "flood")
            try daemon.start()
            let file = try daemon.write("policy.yaml", Self.policy)
            let before = try JSONDecoder().decode(StatusReport.self, from: Data(try daemon.ebguard(["status", "--json"]).stdout.utf8))
            let pid = try #require(daemon.process?.processIdentifier)
            let ready = daemon.scratch + "/flood-ready", go = daemon.scratch + "/flood-go"
            // 50,000 denied connects of 216-byte ring records: about 2.5 times the 4 MiB ring.
            let attempts = 50_000
            let flood = try daemon.spawn(["run", "--quiet", "--policy", file, "--name", "flood", "--", "/usr/bin/python3", "-c", """
                import os, socket, time
                open('\(ready)', 'w').close()
                while not os.path.exists('\(go)'): time.sleep(0.01)
                for _ in range(\(attempts)):
                    s = socket.socket(); s.connect_ex(('127.0.0.3', 80)); s.close()
                print('FLOODED', flush=True)
                """], name: "flood")
            try #require(waitForFile(ready), "the session never started: \(flood.stdout) \(flood.stderr)")
            kill(pid, SIGSTOP)
            FileManager.default.createFile(atPath: go, contents: nil)
            // The command's own output does not go through the daemon; `run` itself waits for it.
            let flooded = flood.waitFor(timeout: 120) { $0.contains("FLOODED") }
            kill(pid, SIGCONT)
            #expect(flooded, "the flood did not finish: \(flood.stdout) \(flood.stderr)")
            #expect(flood.wait(timeout: 120) == 0, "\(flood.stdout) \(flood.stderr)")
            let stream = try daemon.spawn(["events", "--follow", "--session", "after", "-o", "json"], name: "after-stream")
            try #require(waitForSubscribers(daemon, 1))
            let after = try daemon.ebguard(["run", "--policy", file, "--name", "after", "--", "/bin/bash", "-c",
                                             "exec 3<>/dev/tcp/127.0.0.3/81"])
            #expect(after.stderr.contains("denied connect 127.0.0.3:81"))
            #expect(stream.waitFor { $0.contains("127.0.0.3:81") }, "the daemon keeps up after the flood")
            let report = try JSONDecoder().decode(StatusReport.self, from: Data(try daemon.ebguard(["status", "--json"]).stdout.utf8))
            let delivered = report.eventsTotal - before.eventsTotal
            let lost = report.lostTotal - before.lostTotal
            #expect(lost > 0, "the ring overflowed while the daemon was stopped, yet no loss was counted (delivered \(delivered))")
            #expect(delivered + lost >= UInt64(attempts),
                    "lost \(lost) + delivered \(delivered) < \(attempts): every event is either delivered or counted")
            #expect(report.lostPerCPU.count == Int(sysconf(Int32(_SC_NPROCESSORS_CONF))))
        }

        /// A retry loop makes the same ring record again and again; the daemon publishes its
        /// repeats from what it rendered for the first (RepeatedEvents.swift). Each must still
        /// reach a subscriber as its own event: numbered in order, with its own time, and
        /// otherwise the same line. The first different record after the loop is rendered anew.
        @Test func aRetryLoopReachesASubscriberAsOneNumberedAndTimedEventPerAttempt() throws {
            let daemon = try DaemonHarness(label: "retry")
            try daemon.start()
            let file = try daemon.write("policy.yaml", Self.policy)
            let stream = try daemon.spawn(["events", "--follow", "--session", "retry", "-o", "json"], name: "retry-stream")
            try #require(waitForSubscribers(daemon, 1))
            // More than a lap of the shared ring (4 MiB) of records that differ, from another
            // session, first: bytes a record left unset would then differ from one to the next.
            let flood = try daemon.ebguard(["run", "--quiet", "--policy", file, "--name", "flood", "--", "/usr/bin/python3", "-c",
                                            "import socket\nfor port in range(20000):\n"
                                            + " s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                                            + " try: s.connect(('127.0.0.3', 1024 + port))\n except OSError: pass\n s.close()"])
            #expect(flood.status == 0, "\(flood.stderr.suffix(300))")
            let attempts = 2000
            let result = try daemon.ebguard(["run", "--quiet", "--policy", file, "--name", "retry", "--", "/bin/bash", "-c",
                                             "for ((n = 0; n < \(attempts); n++)); do true 3<>/dev/tcp/127.0.0.3/80; done 2>/dev/null;"
                                             + " exec 3<>/dev/tcp/127.0.0.3/81"])
            #expect(result.status == 1)
            #expect(stream.waitFor { $0.contains("127.0.0.3:81") }, "the different record after the loop: \(stream.stdout.suffix(500))")
            stream.stop()
            let events = jsonEvents(stream)
            let denials = events.filter { $0["kind"] as? String == "network" && $0["object"] as? String == "127.0.0.3:80" }
            #expect(denials.count == attempts, "one event per attempt: \(denials.count) of \(attempts)")
            // The kernel's records of the loop are equal but for their time, so all but the first
            // are published as repeats: a byte left unset in a record (ring memory keeps older
            // records' bytes) would make each one different and decoded again.
            let status = try JSONDecoder().decode(StatusReport.self, from: Data(try daemon.ebguard(["status", "--json"]).stdout.utf8))
            #expect((status.eventsRepeated ?? 0) >= UInt64(attempts - 10), "repeats: \(status.eventsRepeated ?? 0) of \(attempts)")
            let seqs = events.compactMap { $0["seq"] as? Int }
            #expect(seqs.count == events.count && zip(seqs, seqs.dropFirst()).allSatisfy { $0 < $1 }, "numbered in order")
            let times = denials.compactMap { $0["time"] as? String }
            #expect(times.count == attempts && times == times.sorted() && Set(times).count > 1, "each its own time")
            func body(_ event: [String: Any]) -> String {
                var event = event
                event["seq"] = nil
                event["time"] = nil
                return String(decoding: try! JSONSerialization.data(withJSONObject: event, options: .sortedKeys), as: UTF8.self)
            }
            #expect(Set(denials.map(body)).count == 1, "the same event but for its number and time")
            let first = try #require(denials.first)
            #expect(first["message"] as? String == "denied connect 127.0.0.3:80 (tcp) by rule network[1]")
            #expect(first["rule"] as? String == "network[1]" && first["blocked"] as? Bool == true)
            let last = try #require(events.last { $0["kind"] as? String == "network" })
            #expect(last["object"] as? String == "127.0.0.3:81" && last["rule"] as? String == "network[1]", "\(last)")
        }

        /// What the daemon publishes between two equal records can change what the second says:
        /// a policy applied to the session in the middle of a retry loop names its own rule.
        @Test func aRetryLoopAcrossAPolicyChangeNamesTheNewRule() throws {
            let daemon = try DaemonHarness(label: "retry-apply")
            try daemon.start()
            let file = try daemon.write("policy.yaml", Self.policy)
            let stream = try daemon.spawn(["events", "--follow", "--session", "swapped", "-o", "json"], name: "swap-stream")
            try #require(waitForSubscribers(daemon, 1))
            let go = daemon.scratch + "/swapped-go"
            let session = try daemon.spawn(["run", "--quiet", "--policy", file, "--name", "swapped", "--", "/bin/bash", "-c",
                                            "while [ ! -e \(go) ]; do true 3<>/dev/tcp/127.0.0.3/80; done 2>/dev/null;"
                                            + " for ((n = 0; n < 200; n++)); do true 3<>/dev/tcp/127.0.0.3/80; done 2>/dev/null"],
                                           name: "swapped")
            #expect(stream.waitFor { $0.components(separatedBy: "127.0.0.3:80").count > 50 }, "the loop runs")
            let moved = Self.policy.replacingOccurrences(of: "  - { action: deny, cidr: 127.0.0.3/32 }",
                                                         with: "  - { action: deny, cidr: 127.0.0.2/32 }\n  - { action: deny, cidr: 127.0.0.3/32 }")
            let applied = try daemon.ebguard(["policy", "apply", "swapped", try daemon.write("moved.yaml", moved)])
            #expect(applied.status == 0, "\(applied.stderr)")
            FileManager.default.createFile(atPath: go, contents: nil)
            #expect(session.wait(timeout: 60) == 1, "\(session.stderr.suffix(300))")
            #expect(stream.waitFor { $0.contains("\"action\":\"end\"") })
            stream.stop()
            let events = jsonEvents(stream)
            let change = try #require(events.firstIndex { $0["kind"] as? String == "session" && $0["action"] as? String == "policy" },
                                      "the policy change is published")
            let before = events[..<change].filter { $0["object"] as? String == "127.0.0.3:80" }
            let after = events[change...].filter { $0["object"] as? String == "127.0.0.3:80" }
            #expect(!before.isEmpty && before.allSatisfy { $0["rule"] as? String == "network[1]" })
            // Records the kernel queued before the change may still follow its event; once the
            // new rule shows, the old one never does again, and the 200 attempts made after
            // `policy apply` returned all name the new rule.
            let rules = after.compactMap { $0["rule"] as? String }
            #expect(rules.count == after.count && rules.count >= 200, "\(rules.count)")
            #expect(rules.drop { $0 == "network[1]" }.allSatisfy { $0 == "network[2]" }, "after the change: \(rules)")
            #expect(rules.suffix(200).allSatisfy { $0 == "network[2]" })
        }

        /// The JSON lines an `events -o json` subscriber printed, as objects.
        private func jsonEvents(_ stream: BackgroundProcess) -> [[String: Any]] {
            stream.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }

        private func waitForFile(_ path: String) -> Bool {
            for _ in 0..<600 {
                if FileManager.default.fileExists(atPath: path) { return true }
                usleep(50_000)
            }
            return false
        }

        private func waitForSubscribers(_ daemon: DaemonHarness, _ count: Int) -> Bool {
            for _ in 0..<200 {
                if let status = try? daemon.ebguard(["status", "--json"]),
                   let report = try? JSONDecoder().decode(StatusReport.self, from: Data(status.stdout.utf8)),
                   report.subscribers >= count { return true }
                usleep(50_000)
            }
            return false
        }
    }
}
