import EbguardDaemon
import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// The daemon's audit trail on the host: the real binary writing the configured log, a kill -9
/// under load, and forwarding to a real rsyslogd on loopback. Serialized with the other daemon
/// tests' reasoning: one daemon at a time reads the shared event ring.
extension DaemonHostSuites {
    @Suite(.enabled(if: TestEnvironment.isRoot, "needs root (cgroups, BPF); `make test` runs it as root"), .serialized)
    struct DaemonAuditTests {
        static let policy = DaemonTests.policy

        /// The records of an audit log file (lines that are not records are left out).
        static func records(_ path: String) -> [[String: Any]] {
            jsonLines((try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
        }

        static func types(_ records: [[String: Any]], session: String? = nil) -> [String] {
            records.filter { record in
                guard let session else { return true }
                return ((record["data"] as? [String: Any])?["session"] as? String)?.hasPrefix(session + "-") == true
            }.compactMap { $0["type"] as? String }
        }

        static func waitUntil(timeout: Double = 20, _ condition: () -> Bool) -> Bool {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                if condition() { return true }
                usleep(50_000)
            }
            return condition()
        }

        @Test func aSessionsDenialAndItsStartAndStopAreInTheConfiguredLog() throws {
            let daemon = try DaemonHarness(label: "audit")
            try daemon.start()
            let file = try daemon.write("policy.yaml", Self.policy)
            let result = try daemon.ebguard(["run", "--policy", file, "--name", "audited", "--",
                                              "/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.3/80"])
            #expect(result.status != 0, "the denied connect makes bash fail")

            func report() -> AuditReport? {
                guard let status = try? daemon.ebguard(["status", "--json"]) else { return nil }
                return (try? JSONDecoder().decode(StatusReport.self, from: Data(status.stdout.utf8)))?.audit
            }
            // daemon_start, session_start, decision, session_stop (the end is published as the run disconnects).
            #expect(Self.waitUntil(timeout: 10) { (report()?.lastSeq ?? 0) >= 4 }, "\(String(describing: report()))")
            let audit = try #require(report(), "status has no audit section")
            #expect(audit.path == daemon.auditLogPath)
            #expect(audit.lastError == nil && audit.dropped == 0 && audit.forwarders.isEmpty)
            let text = try daemon.ebguard(["status"])
            #expect(text.stdout.contains("audit log: \(daemon.auditLogPath)"), "\(text.stdout)")
            daemon.stop()

            let records = Self.records(daemon.auditLogPath)
            #expect(Self.types(records, session: "audited") == ["session_start", "decision", "session_stop"],
                    "\(records)")
            #expect(Self.types(records).first == "daemon_start" && Self.types(records).last == "daemon_stop")
            let mine = records.filter { ($0["data"] as? [String: Any])?["session"] as? String != nil }
            let start = try #require(mine.first?["data"] as? [String: Any])
            #expect(start["policy"] as? String == "loopback-web")
            #expect(start["policy_path"] as? String == file)
            #expect((start["policy_sha256"] as? String)?.count == 64)
            #expect(start["user"] as? String == "root")
            #expect(start["command"] as? [String] == ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.3/80"], "\(start)")
            let sessionStop = try #require(mine.last?["data"] as? [String: Any])
            #expect(sessionStop["exit_status"] as? Int == Int(result.status), "\(sessionStop)")
            let decision = try #require(mine.dropFirst().first?["data"] as? [String: Any])
            #expect(decision["verdict"] as? String == "deny")
            #expect(decision["kind"] as? String == "network")
            #expect(decision["object"] as? String == "127.0.0.3:80/tcp")
            #expect(decision["access"] as? String == "connect")
            #expect(decision["rule"] as? String == "network[1]")
            #expect(decision["comm"] as? String == "bash")
            let stop = try #require(records.last?["data"] as? [String: Any])
            #expect(stop["reason"] as? String == "SIGTERM")

            let verify = try daemon.ebguard(["audit", "verify", daemon.auditLogPath])
            #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        }

        @Test func killDashNineUnderLoadThenRestartContinuesTheChain() throws {
            let daemon = try DaemonHarness(label: "audit-kill")
            try daemon.start()
            let file = try daemon.write("policy.yaml", Self.policy)
            // `true` is a regular builtin: a failed redirection makes it fail, not bash exit; no fork
            // per attempt, so this denies as fast as the hook and the ring allow. Each attempt goes
            // to another port: identical denials would be folded into one record a second. At most 40,000
            // attempts: the log stays below its 64 MiB rotation size, so one file holds the chain.
            let load = try daemon.spawn(["run", "--policy", file, "--name", "load", "--", "/bin/bash", "-c",
                                         "end=$((SECONDS+12)); n=0; while [ $SECONDS -lt $end ] && [ $n -lt 40000 ]; do "
                                            + "true 3<>/dev/tcp/127.0.0.3/$((1 + n % 60000)) 2>/dev/null; n=$((n+1)); done; echo ATTEMPTS=$n"],
                                        name: "load")
            let decisions = { Self.types(Self.records(daemon.auditLogPath)).filter { $0 == "decision" }.count }
            try #require(Self.waitUntil { decisions() >= 500 }, "only \(decisions()) decisions written; daemon log: \(daemon.log())")
            daemon.killHard()
            let killedAt = Date()
            let before = Self.records(daemon.auditLogPath)
            let decisionsBefore = Self.types(before).filter { $0 == "decision" }.count
            try daemon.start()
            #expect(load.wait(timeout: 60) != nil, "the governed loop ends by itself")
            try #require(Self.waitUntil { Self.types(Self.records(daemon.auditLogPath), session: "load").last == "session_stop" },
                         "the session's end reaches the log; \(load.stderr.suffix(500))")
            daemon.stop()

            let records = Self.records(daemon.auditLogPath)
            let seqs = records.compactMap { $0["seq"] as? Int }
            #expect(seqs == Array(1...seqs.count), "seq runs 1...N without a gap or a repeat")
            #expect(Array(records.prefix(before.count)).map { $0["seq"] as? Int } == before.map { $0["seq"] as? Int },
                    "what was on disk at the kill stays as it was")
            let types = Self.types(records)
            #expect(types.filter { $0 == "daemon_start" }.count == 2 && types.filter { $0 == "daemon_stop" }.count == 1)
            // The restarted daemon's first record follows the last one the killed daemon wrote. A kill
            // in the middle of a write leaves a torn line: then the log's `recovery` record, which
            // names it, comes first (docs/audit.md), and the torn line is no record of `before`.
            let resumed = Array(types.dropFirst(before.count).prefix(2))
            #expect(resumed.first == "daemon_start" || resumed == ["recovery", "daemon_start"],
                    "\(types[max(0, before.count - 2)..<min(types.count, before.count + 2)])")
            // At most the durability window (100 ms, plus the hand-over queue) may be missing: the
            // last record on disk is from just before the kill (slack for a loaded 2-CPU host).
            let lastText = try #require(before.last?["time"] as? String)
            let lastTime = try #require(Self.date(lastText))
            #expect(killedAt.timeIntervalSince(lastTime) < 2.0, "last record \(lastTime), killed at \(killedAt)")
            #expect(types.filter { $0 == "decision" }.count > decisionsBefore, "denials after the restart were recorded too")

            let verify = try daemon.ebguard(["audit", "verify", daemon.auditLogPath])
            #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
            #expect(verify.stdout.contains("chain intact"), "\(verify.stdout)")
        }

        @Test func repeatedDenialsAreOneRecordAndCountedSummariesThatAddUpToEveryAttempt() throws {
            let daemon = try DaemonHarness(label: "audit-repeats")
            try daemon.start()
            let file = try daemon.write("policy.yaml", Self.policy)
            let attempts = 3000
            let result = try daemon.ebguard(["run", "--policy", file, "--name", "loop", "--", "/bin/bash", "-c",
                                             "for ((n = 0; n < \(attempts); n++)); do true 3<>/dev/tcp/127.0.0.3/80; done 2>/dev/null"])
            #expect(result.status == 1, "the last attempt failed: \(result.stderr.suffix(300))")
            try #require(Self.waitUntil { Self.types(Self.records(daemon.auditLogPath), session: "loop").last == "session_stop" },
                         "the session's end reaches the log")
            daemon.stop()

            let records = Self.records(daemon.auditLogPath)
            let mine = records.compactMap { $0["data"] as? [String: Any] }
                .filter { ($0["session"] as? String)?.hasPrefix("loop-") == true && $0["object"] as? String == "127.0.0.3:80/tcp" }
            let full = mine.filter { $0["repeats"] == nil }
            let summaries = mine.filter { $0["repeats"] != nil }
            #expect(full.count >= 1 && full.count <= 1 + summaries.count + 2,
                    "the first denial in full, again only after a quiet second: \(full.count) full, \(summaries.count) summaries: \(full.prefix(3)) \(summaries.prefix(2))")
            let counted = summaries.compactMap { $0["repeats"] as? Int }.reduce(0, +)
            #expect(full.count + counted == attempts, "every attempt is in the trail: \(full.count) + \(counted)")
            for summary in summaries {
                let first = try #require((summary["first_time"] as? String).flatMap(Self.date))
                let last = try #require((summary["last_time"] as? String).flatMap(Self.date))
                #expect(first <= last)
                #expect(summary["verdict"] as? String == "deny" && summary["rule"] as? String == "network[1]")
            }
            // The summaries of the session come before its end.
            let types = Self.types(records, session: "loop")
            #expect(types.last == "session_stop" && types.dropLast().allSatisfy { $0 != "session_stop" })
            let lost = records.filter { $0["type"] as? String == "lost_events" }
            #expect(lost.isEmpty, "nothing was lost, or the sum could not add up: \(lost)")

            let verify = try daemon.ebguard(["audit", "verify", daemon.auditLogPath])
            #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        }

        @Test func aPolicyApplyIsRecordedWithTheOldAndNewHashAndWhoDidIt() throws {
            let daemon = try DaemonHarness(label: "audit-apply")
            try daemon.start()
            let file = try daemon.write("policy.yaml", Self.policy)
            let session = try daemon.spawn(["run", "--policy", file, "--name", "swapped", "--", "/bin/bash", "-c",
                                            "echo READY; sleep 30"], name: "session")
            try #require(session.waitFor { $0.contains("READY") })
            let wide = try daemon.write("wide.yaml", Self.policy.replacingOccurrences(of: "name: loopback-web", with: "name: wide"))
            let applied = try daemon.ebguard(["policy", "apply", "swapped", wide])
            #expect(applied.status == 0, "\(applied.stderr)")
            session.stop()
            daemon.stop()

            let records = Self.records(daemon.auditLogPath)
            let start = try #require(records.first { $0["type"] as? String == "session_start" }?["data"] as? [String: Any])
            let change = try #require(records.first { $0["type"] as? String == "policy_change" }?["data"] as? [String: Any],
                                      "\(Self.types(records))")
            #expect(change["old_sha256"] as? String == start["policy_sha256"] as? String)
            #expect((change["new_sha256"] as? String)?.count == 64 && change["new_sha256"] as? String != change["old_sha256"] as? String)
            #expect(change["policy"] as? String == "wide" && change["policy_path"] as? String == wide)
            #expect((change["changed_by"] as? String)?.hasPrefix("root (pid ") == true, "\(change)")
            #expect(change["session"] as? String == start["session"] as? String)
            let verify = try daemon.ebguard(["audit", "verify", daemon.auditLogPath])
            #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        }

        static func date(_ text: String) -> Date? {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            return formatter.date(from: text)
        }

        @Test func theDaemonForwardsTheSessionsRecordsToRsyslog() async throws {
            let rsyslogd = try #require(findExecutable("rsyslogd"), "rsyslogd is not installed: run `make deps`")
            let daemon = try DaemonHarness(label: "audit-fwd")
            let port = freeLoopbackPort()
            let received = daemon.scratch + "/received.log"
            let config = """
                global(workDirectory="\(daemon.scratch)" maxMessageSize="64k")
                module(load="imtcp")
                input(type="imtcp" address="127.0.0.1" port="\(port)")
                template(name="raw" type="string" string="%rawmsg%\\n")
                *.* action(type="omfile" file="\(received)" template="raw")

                """
            try config.write(toFile: daemon.scratch + "/rsyslog.conf", atomically: true, encoding: .utf8)
            let rsyslog = TestServer(name: "rsyslogd", executable: rsyslogd,
                                     arguments: ["-n", "-f", daemon.scratch + "/rsyslog.conf", "-i", daemon.scratch + "/rsyslogd.pid"],
                                     port: port, logFile: daemon.scratch + "/rsyslogd.out")
            try await rsyslog.start()
            defer { rsyslog.stop() }
            try daemon.start(config: """
                audit:
                  path: \(daemon.auditLogPath)
                  forward_state_dir: \(daemon.scratch)/forward
                  forward:
                    - name: loopback
                      syslog: { host: 127.0.0.1, port: \(port), settle_ms: 200 }
                """)
            let file = try daemon.write("policy.yaml", Self.policy)
            let result = try daemon.ebguard(["run", "--policy", file, "--name", "forwarded", "--",
                                              "/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.3/80"])
            #expect(result.status != 0)

            // MSG is the UTF-8 BOM and the record's exact line: pick it out of each syslog message.
            func forwarded() -> [[String: Any]] {
                let text = (try? String(contentsOfFile: received, encoding: .utf8)) ?? ""
                return jsonLines(text.split(separator: "\n").compactMap { line in
                    line.range(of: "] \u{FEFF}{\"data\"").map { String(line[line.index($0.lowerBound, offsetBy: 3)...]) }
                }.joined(separator: "\n"))
            }
            #expect(Self.waitUntil { Self.types(forwarded(), session: "forwarded").last == "session_stop" },
                    "rsyslog got: \(Self.types(forwarded())); daemon log: \(daemon.log())")
            #expect(Self.types(forwarded(), session: "forwarded") == ["session_start", "decision", "session_stop"])
            #expect(Self.types(forwarded()).first == "daemon_start")

            let onDisk = Self.records(daemon.auditLogPath).map { $0["seq"] as? Int }
            #expect(forwarded().map { $0["seq"] as? Int } == Array(onDisk.prefix(forwarded().count)), "in order, from seq 1")
            try #require(Self.waitUntil(timeout: 10) {
                guard let status = try? daemon.ebguard(["status", "--json"]),
                      let report = try? JSONDecoder().decode(StatusReport.self, from: Data(status.stdout.utf8)) else { return false }
                return report.audit?.forwarders.first.map { $0.lag == 0 && $0.ackedSeq >= 4 } ?? false
            }, "the forwarder reports everything acknowledged")
            let status = try daemon.ebguard(["status", "--json"])
            let forwarder = try #require(try JSONDecoder().decode(StatusReport.self, from: Data(status.stdout.utf8)).audit?.forwarders.first)
            #expect(forwarder.name == "loopback" && forwarder.destination == "syslog://127.0.0.1:\(port)" && forwarder.connected)
            let text = try daemon.ebguard(["status"])
            #expect(text.stdout.contains("syslog://127.0.0.1:\(port)"), "\(text.stdout)")
            daemon.stop()
        }

        @Test func aBadConfigStopsTheDaemonWithFileLineColumnAndChangesNothing() throws {
            let daemon = try DaemonHarness(label: "audit-bad")
            let path = try daemon.write("bad.yaml", "audit:\n  path: /tmp/x\n  max_files: lots\n")
            let result = try daemon.ebguard(["daemon", "--state-dir", daemon.stateDirectory, "--config", path])
            #expect(result.status != 0)
            #expect(result.stderr.contains("\(path):3:14: 'audit.max_files' must be a whole number"), "\(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: daemon.stateDirectory), "no state directory, no lock, nothing loaded")
            let missing = try daemon.ebguard(["daemon", "--state-dir", daemon.stateDirectory, "--config", daemon.scratch + "/nope.yaml"])
            #expect(missing.status != 0 && missing.stderr.contains("nope.yaml: No such file or directory"), "\(missing.stderr)")
        }
    }
}
