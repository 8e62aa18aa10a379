import EbguardAudit
import EbguardDaemon
import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// What the real daemon's trail says about real sessions, checked as a SIEM would: the kernel's
/// decision time, the session's command and exit status, the policy's resolved path, every record
/// at both collectors after a SIGTERM under load, and every exported event, body and frame
/// validated by independent schemas and parsers (Tests/EbguardAuditTests/Fixtures/audit_validate.py).
extension DaemonHostSuites {
    @Suite(.enabled(if: TestEnvironment.isRoot, "needs root (cgroups, BPF); `make test` runs it as root"), .serialized)
    struct DaemonAuditTrailTests {
        typealias A = DaemonAuditTests

        static func data(_ record: [String: Any]) -> [String: Any] { record["data"] as? [String: Any] ?? [:] }

        /// The command, its exit status, and the policy's path resolved from a relative one.
        @Test func sessionsRecordTheCommandItsExitStatusAndTheResolvedPolicyPath() throws {
            let daemon = try DaemonHarness(label: "audit-cmd")
            try daemon.start()
            _ = try daemon.write("policy.yaml", A.policy)
            // `ebguard run` from the scratch directory, naming the policy relatively.
            let result = try run(["/bin/sh", "-c", "cd '\(daemon.scratch)' && exec '\(daemon.binary)' run --policy ./policy.yaml "
                                    + "--name cmd -- /bin/sh -c 'exit 3'"], environment: daemon.environment)
            #expect(result.status == 3, "\(result.stderr)")
            #expect(A.waitUntil { A.types(A.records(daemon.auditLogPath), session: "cmd").last == "session_stop" })
            daemon.stop()
            let mine = A.records(daemon.auditLogPath).filter { (Self.data($0)["session"] as? String)?.hasPrefix("cmd-") == true }
            let start = Self.data(try #require(mine.first { $0["type"] as? String == "session_start" }))
            let stop = Self.data(try #require(mine.first { $0["type"] as? String == "session_stop" }))
            let resolved = try #require(realpath(daemon.scratch + "/policy.yaml", nil).map { p in defer { free(p) }; return String(cString: p) })
            for record in [start, stop] {
                #expect(record["command"] as? [String] == ["/bin/sh", "-c", "exit 3"], "\(record)")
                #expect(record["policy_path"] as? String == resolved, "stored resolved, not as typed: \(record)")
            }
            #expect(start["exit_status"] == nil)
            #expect(stop["exit_status"] as? Int == 3, "\(stop)")
        }

        /// An operator's answer to a network ask names the same `addr:port/tcp`, ask id and pid as
        /// the `ask` decision it answers, so a SIEM joins the two on any of them.
        @Test func anAnswerMatchesTheAskDecisionItAnswers() throws {
            let daemon = try DaemonHarness(label: "audit-ask")
            let listener = try TCPListener()
            try daemon.start()
            let file = try daemon.write("ask.yaml", DaemonTests.askLoopback)
            let session = try daemon.spawn(["run", "--policy", file, "--name", "asked", "--", "/bin/bash", "-c",
                                            "(exec 3<>/dev/tcp/127.0.0.1/\(listener.port)) 2>/dev/null; "
                                                + "while [ ! -e \(daemon.scratch)/answered ]; do sleep 0.05; done"], name: "asked")
            var pending: [PendingRequest] = []
            for _ in 0..<200 where pending.isEmpty {
                pending = (try? JSONDecoder().decode([PendingRequest].self,
                                                     from: Data(try daemon.ebguard(["pending", "--json"]).stdout.utf8))) ?? []
                usleep(50_000)
            }
            let request = try #require(pending.first, "no pending request: \(session.stderr)")
            #expect(try daemon.ebguard(["allow", "#\(request.id)", "--scope", "once"]).status == 0)
            FileManager.default.createFile(atPath: daemon.scratch + "/answered", contents: nil)
            #expect(session.wait(timeout: 30) == 0)
            try #require(A.waitUntil { A.types(A.records(daemon.auditLogPath), session: "asked").last == "session_stop" })
            daemon.stop()
            let mine = A.records(daemon.auditLogPath).filter { (Self.data($0)["session"] as? String)?.hasPrefix("asked-") == true }
            let ask = Self.data(try #require(mine.first { $0["type"] as? String == "decision" && Self.data($0)["verdict"] as? String == "ask" },
                                             "\(mine)"))
            let answer = Self.data(try #require(mine.first { $0["type"] as? String == "ask_answer" }, "\(mine)"))
            #expect(ask["object"] as? String == "127.0.0.1:\(listener.port)/tcp")
            #expect(answer["object"] as? String == ask["object"] as? String, "\(answer) vs \(ask)")
            #expect(answer["ask_id"] as? Int == ask["ask_id"] as? Int && answer["ask_id"] as? Int == request.id)
            #expect(answer["pid"] as? Int == ask["pid"] as? Int && answer["comm"] as? String == ask["comm"] as? String)
            #expect(answer["answer"] as? String == "allow" && answer["kind"] as? String == "network")
        }

        /// Records carry the time the kernel decided. With the daemon stopped (SIGSTOP) the kernel
        /// still denies, 100 ms apart; the daemon reads all of them at once after SIGCONT. Their
        /// times must be the kernel's: ~100 ms apart and before the SIGCONT, not one burst after it.
        @Test func decisionsCarryTheKernelsTimeNotTheDaemonsProcessingTime() throws {
            let daemon = try DaemonHarness(label: "audit-ktime")
            try daemon.start()
            let file = try daemon.write("policy.yaml", A.policy)
            let session = try daemon.spawn(["run", "--policy", file, "--name", "ktime", "--", "/bin/bash", "-c",
                                            "echo READY; sleep 1; for p in 1 2 3 4 5 6; do true 3<>/dev/tcp/127.0.0.3/$p 2>/dev/null; "
                                                + "sleep 0.1; done; echo DONE"], name: "ktime")
            try #require(session.waitFor { $0.contains("READY") })
            let pid = try #require(daemon.process?.processIdentifier)
            kill(pid, SIGSTOP)
            let sawDone = session.waitFor(timeout: 30) { $0.contains("DONE") }
            usleep(300_000)
            let resumed = Date()
            kill(pid, SIGCONT)
            try #require(sawDone, "the kernel denied without the daemon: \(session.stdout)")
            #expect(session.wait(timeout: 30) != nil)
            try #require(A.waitUntil { A.types(A.records(daemon.auditLogPath), session: "ktime").last == "session_stop" })
            daemon.stop()
            let denials = A.records(daemon.auditLogPath).filter {
                $0["type"] as? String == "decision" && (Self.data($0)["session"] as? String)?.hasPrefix("ktime-") == true
            }
            let times = denials.compactMap { ($0["time"] as? String).flatMap(A.date) }
            #expect(times.count == 6, "one denial per port: \(denials)")
            for (a, b) in zip(times, times.dropFirst()) {
                #expect(b.timeIntervalSince(a) >= 0.09, "the kernel's times are as far apart as the attempts: \(times)")
            }
            #expect(times.allSatisfy { $0 < resumed }, "decided before the daemon read them: \(times), resumed \(resumed)")
        }

        /// A SIGTERM while a session is denying thousands of connects: every record the log holds,
        /// `daemon_stop` last, is at both collectors (a real rsyslogd, and an OTLP/HTTP receiver),
        /// delivered before the daemon exits. Every frame, body and OCSF event of this real trail
        /// is valid by the independent parsers and the official schema.
        @Test func aSIGTERMUnderLoadDeliversEveryRecordToBothCollectors() async throws {
            let rsyslogd = try #require(findExecutable("rsyslogd"), "rsyslogd is not installed: run `make deps`")
            let python = try #require(findExecutable("python3"), "python3 is not installed: run `make deps`")
            let daemon = try DaemonHarness(label: "audit-term")
            let syslogPort = freeLoopbackPort()
            let received = daemon.scratch + "/received.log"
            try """
                global(workDirectory="\(daemon.scratch)" maxMessageSize="64k")
                module(load="imtcp")
                input(type="imtcp" address="127.0.0.1" port="\(syslogPort)")
                template(name="raw" type="string" string="%rawmsg%\\n")
                *.* action(type="omfile" file="\(received)" template="raw")

                """.write(toFile: daemon.scratch + "/rsyslog.conf", atomically: true, encoding: .utf8)
            let rsyslog = TestServer(name: "rsyslogd", executable: rsyslogd,
                                     arguments: ["-n", "-f", daemon.scratch + "/rsyslog.conf", "-i", daemon.scratch + "/rsyslogd.pid"],
                                     port: syslogPort, logFile: daemon.scratch + "/rsyslogd.out")
            try await rsyslog.start()
            defer { rsyslog.stop() }
            let otlpPort = freeLoopbackPort()
            let bodies = daemon.scratch + "/otlp.jsonl"
            let receiverScript = URL(fileURLWithPath: AuditValidator.script).deletingLastPathComponent()
                .appendingPathComponent("otlp_receiver.py").path
            let receiver = TestServer(name: "otlp receiver", executable: python,
                                      arguments: [receiverScript, "--port", String(otlpPort), "--out", bodies],
                                      port: otlpPort, logFile: daemon.scratch + "/otlp.out")
            try await receiver.start()
            defer { receiver.stop() }
            try daemon.start(config: """
                audit:
                  path: \(daemon.auditLogPath)
                  forward_state_dir: \(daemon.scratch)/forward
                  forward:
                    - name: rsyslog
                      syslog: { host: 127.0.0.1, port: \(syslogPort), settle_ms: 200 }
                    - name: otel
                      otlp: { url: "http://127.0.0.1:\(otlpPort)/v1/logs" }
                """)
            let file = try daemon.write("policy.yaml", A.policy)
            // Each attempt to another port: every denial is a record of its own (no folding). The loop
            // outlives the daemon (the kernel keeps enforcing): it ends on a file, or after 60 s.
            let enough = daemon.scratch + "/enough"
            let load = try daemon.spawn(["run", "--policy", file, "--name", "term", "--", "/bin/bash", "-c",
                                         "end=$((SECONDS+60)); n=0; while [ ! -e \(enough) ] && [ $SECONDS -lt $end ]; do "
                                            + "true 3<>/dev/tcp/127.0.0.3/$((1 + n % 60000)) 2>/dev/null; n=$((n+1)); done"], name: "load")
            defer { FileManager.default.createFile(atPath: enough, contents: nil) }
            let decisions = { A.types(A.records(daemon.auditLogPath)).filter { $0 == "decision" }.count }
            try #require(A.waitUntil { decisions() >= 2000 }, "only \(decisions()) decisions; daemon log: \(daemon.log())")
            let stopStarted = Date()
            daemon.stop()  // SIGTERM, mid-load
            let stopTook = Date().timeIntervalSince(stopStarted)
            FileManager.default.createFile(atPath: enough, contents: nil)
            load.stop()
            rsyslog.stop()  // flushes its output file
            receiver.stop()

            let records = A.records(daemon.auditLogPath)
            let seqs = records.compactMap { $0["seq"] as? Int }
            let last = try #require(seqs.last)
            #expect(seqs == Array(1...last))
            #expect(records.last?["type"] as? String == "daemon_stop", "the last record is daemon_stop")
            let lines = (try? String(contentsOfFile: daemon.auditLogPath, encoding: .utf8))?.split(separator: "\n").map(String.init) ?? []

            // rsyslog: MSG is the BOM and the record's exact line.
            let syslogLines = (try? String(contentsOfFile: received, encoding: .utf8))?.split(separator: "\n").map(String.init) ?? []
            let atSyslog = Set(syslogLines.compactMap { line -> String? in
                line.range(of: "] \u{FEFF}{\"data\"").map { String(line[line.index($0.lowerBound, offsetBy: 3)...]) }
            })
            let missingSyslog = lines.filter { !atSyslog.contains($0) }
            #expect(missingSyslog.count == 0, "\(missingSyslog.count) of \(lines.count) records never reached rsyslog, e.g. \(missingSyslog.suffix(2)); stop took \(stopTook) s; \(daemon.log().suffix(800))")

            // OTLP: each log record's body is the record's exact line.
            let atOTLP = Set(jsonLines((try? String(contentsOfFile: bodies, encoding: .utf8)) ?? "").flatMap { request -> [String] in
                let resourceLogs = request["resourceLogs"] as? [[String: Any]] ?? []
                return resourceLogs.flatMap { ($0["scopeLogs"] as? [[String: Any]] ?? []) }
                    .flatMap { ($0["logRecords"] as? [[String: Any]] ?? []) }
                    .compactMap { (($0["body"] as? [String: Any])?["stringValue"] as? String) }
            })
            let missingOTLP = lines.filter { !atOTLP.contains($0) }
            #expect(missingOTLP.count == 0, "\(missingOTLP.count) of \(lines.count) records never reached the OTLP receiver, e.g. \(missingOTLP.suffix(2)); stop took \(stopTook) s")
            #expect(stopTook < 16, "the stop is bounded: \(stopTook) s")

            // The real trail, checked by the independent validators.
            let syslogCheck = try AuditValidator.run(["syslog-lines"], file: received)
            #expect(syslogCheck.ok, "\(syslogCheck.output.suffix(1500))")
            let otlpCheck = try AuditValidator.run(["otlp"], file: bodies)
            #expect(otlpCheck.ok, "\(otlpCheck.output.suffix(1500))")
            let export = try daemon.ebguard(["audit", "export", "--format", "ocsf", daemon.auditLogPath])
            #expect(export.status == 0 && export.stderr.isEmpty, "\(export.stderr)")
            let events = export.stdout.split(separator: "\n").map(String.init)
            #expect(events.count == lines.count, "one OCSF event per record")
            let ocsfCheck = try AuditValidator.run(["ocsf", OCSFMapping.schemaVersion], lines: events)
            #expect(ocsfCheck.ok, "\(ocsfCheck.output.suffix(1500))")
            // One version: the daemon's records and the events' product version agree.
            let daemonVersion = Self.data(try #require(records.first))["version"] as? String
            let productVersions = Set(jsonLines(export.stdout).compactMap {
                (($0["metadata"] as? [String: Any])?["product"] as? [String: Any])?["version"] as? String
            })
            #expect(productVersions == [daemonVersion ?? "?"], "\(productVersions) vs daemon \(daemonVersion ?? "?")")
        }
    }
}
