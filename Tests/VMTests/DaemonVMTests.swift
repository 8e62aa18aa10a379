import EbguardDaemon
import EbguardSystem
import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// The daemon with full enforcement (BPF-LSM) in the VM. Serialized: every daemon reads the
/// host's shared event ring, so two at once would split each other's events.
extension DaemonVMSuites {
    @Suite(.enabled(if: TestEnvironment.inVM && TestEnvironment.isRoot, "needs BPF-LSM, which this host's kernel refuses; `make test` runs it in the VM (scripts/vmtest)"), .serialized)
    struct DaemonVMTests {
        /// Two sessions under the daemon with full enforcement: the JSON stream carries exactly
        /// their scripted workload (an exec with its argv, a denied open, a denied connect) with
        /// the right session, pid and rule; kill -9 leaves the denial in force.
        @Test func twoSessionsExactEventsWithFullEnforcement() throws {
            let daemon = try DaemonHarness(label: "vm-two")
            try daemon.start()
            let secret = try daemon.write("secret.txt", "top secret\n")
            let file = try daemon.write("policy.yaml", """
            version: 1
            name: vm-agent
            defaults: { exec: allow, file: allow, network: deny }
            exec:
              - { action: deny, path: /usr/bin/wget }
            file:
              - { action: deny, path: \(secret), access: [read] }
            network:
              - { action: deny, cidr: 127.0.0.3/32 }
            """)
            // The stream must be subscribed before the first session starts.
            let events = try #require(try daemon.followEvents(), "ebguard events never subscribed")
            let script = "echo PID=$$; /bin/echo hello from $0; cat \(secret); echo cat=$?; /usr/bin/wget -q http://127.0.0.1/ ; "
                + "echo wget=$?; exec 3<>/dev/tcp/127.0.0.3/80"
            var pids: [String: Int] = [:]
            for name in ["left", "right"] {
                let result = try daemon.ebguard(["run", "--policy", file, "--name", name, "--", "/bin/bash", "-c", script, name])
                #expect(result.stdout.contains("hello from \(name)"))
                #expect(result.stdout.contains("cat=1"), "\(result.stdout) \(result.stderr)")
                #expect(result.stdout.contains("wget=126"), "\(result.stdout)")
                #expect(result.stderr.contains("denied open \(secret) (read) by rule file[0]"), "\(result.stderr)")
                #expect(result.stderr.contains("denied exec /usr/bin/wget by rule exec[0]"), "\(result.stderr)")
                #expect(result.stderr.contains("denied connect 127.0.0.3:80 (tcp) by rule network[0]"))
                pids[name] = Int(try #require(result.stdout.split(separator: "\n").first { $0.hasPrefix("PID=") }).dropFirst(4))
            }
            events.waitFor { jsonLines($0).filter { $0["action"] as? String == "end" }.count >= 2 }
            let all = jsonLines(events.stdout)
            for name in ["left", "right"] {
                let mine = all.filter { ($0["session"] as? String)?.hasPrefix(name + "-") == true }
                let echo = try #require(mine.first { $0["kind"] as? String == "process" && $0["action"] as? String == "exec"
                                                      && ($0["argv"] as? [String])?.first == "/bin/echo" })
                #expect(echo["argv"] as? [String] == ["/bin/echo", "hello", "from", name])
                #expect(echo["ppid"] as? Int == pids[name])
                let open = try #require(mine.first { $0["kind"] as? String == "file" && $0["blocked"] as? Bool == true })
                #expect(open["object"] as? String == secret)
                #expect(open["comm"] as? String == "cat")
                #expect(open["rule"] as? String == "file[0]")
                #expect(open["rule_location"] as? String == file + ":7:5")
                #expect(open["ppid"] as? Int == pids[name])
                let exec = try #require(mine.first { $0["kind"] as? String == "exec" && $0["blocked"] as? Bool == true })
                #expect(exec["object"] as? String == "/usr/bin/wget")
                #expect(exec["rule"] as? String == "exec[0]")
                let connect = try #require(mine.first { $0["kind"] as? String == "network" && $0["blocked"] as? Bool == true })
                #expect(connect["pid"] as? Int == pids[name])
                #expect(connect["object"] as? String == "127.0.0.3:80")
                #expect(connect["rule"] as? String == "network[0]")
                #expect(mine.filter { $0["blocked"] as? Bool == true }.count == 3, "exactly the scripted denials")
            }

            // kill -9 of the daemon leaves a running session's file rule in force.
            let session = try daemon.spawn(["run", "--policy", file, "--name", "survivor", "--", "/bin/bash", "-c",
                                            "echo READY; while [ ! -e \(daemon.scratch)/go ]; do sleep 0.05; done; cat \(secret); echo cat=$?"],
                                           name: "survivor")
            // Killed only once the session runs: before that, `run` is still registering.
            try #require(session.waitFor { $0.contains("READY") }, "\(session.stderr)")
            daemon.killHard()
            FileManager.default.createFile(atPath: daemon.scratch + "/go", contents: nil)
            #expect(session.wait(timeout: 30) == 0)
            #expect(session.stdout.contains("cat=1"), "\(session.stdout) \(session.stderr)")
            #expect(!session.stdout.contains("top secret"))
        }

        /// `make install`, then the unit's ExecStart line as systemd would run it (without
        /// systemd), then a governed session through the installed binary and policies, then
        /// `make uninstall`. /etc, /usr/local and /run are made writable and private with
        /// overlays and a tmpfs in a mount namespace of the test's own.
        @Test func makeInstallThenTheUnitsExecStartGovernsASession() throws {
            let work = "/tmp/ebguard-install-\(getpid())"
            defer { try? FileManager.default.removeItem(atPath: work) }
            try FileManager.default.createDirectory(atPath: work + "/ws", withIntermediateDirectories: true)
            let script = """
            set -e
            for d in etc usr; do mkdir -p \(work)/$d/upper \(work)/$d/work; done
            mount -t overlay overlay -o lowerdir=/etc,upperdir=\(work)/etc/upper,workdir=\(work)/etc/work /etc
            mount -t overlay overlay -o lowerdir=/usr/local,upperdir=\(work)/usr/upper,workdir=\(work)/usr/work /usr/local
            mount -t tmpfs tmpfs /run
            mount -t tmpfs tmpfs /var/log
            mount -t tmpfs tmpfs /var/lib
            make -s -C \(TestEnvironment.projectRoot) install >/dev/null
            test -x /usr/local/bin/ebguard && test -f /etc/ebguard/policies/agent.yaml
            execstart=$(sed -n 's/^ExecStart=//p' /etc/systemd/system/ebguard.service)
            echo "EXECSTART=$execstart"
            $execstart > \(work)/daemon.log 2>&1 &
            daemon=$!
            for i in $(seq 200); do [ -S /run/ebguard/ebguard.sock ] && break; sleep 0.05; done
            stat -c 'SOCKET=%a' /run/ebguard/ebguard.sock
            /usr/local/bin/ebguard status --json > \(work)/status.json
            cat > \(work)/policy.yaml <<'YAML'
            version: 1
            name: installed-test
            file:
              - { action: deny, path: /etc/shadow }
            YAML
            cd \(work)/ws
            /usr/local/bin/ebguard run --policy \(work)/policy.yaml --name installed -- /bin/sh -c 'cat /etc/shadow >/dev/null; echo cat=$?' 2>&1
            /usr/local/bin/ebguard run -- /bin/true && echo "DEFAULT_POLICY_OK"
            kill -TERM $daemon; wait $daemon; echo "DAEMON_EXIT=$?"
            /usr/local/bin/ebguard audit verify /var/log/ebguard/audit.jsonl >/dev/null && echo "AUDIT_VERIFIED"
            grep -c '"type":"session_start"' /var/log/ebguard/audit.jsonl | sed 's/^/SESSION_STARTS=/'
            make -s -C \(TestEnvironment.projectRoot) uninstall >/dev/null
            test ! -e /usr/local/bin/ebguard && test ! -e /etc/systemd/system/ebguard.service && echo "UNINSTALLED"
            """
            let result = try runProcess(["/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script])
            let log = (try? String(contentsOfFile: work + "/daemon.log", encoding: .utf8)) ?? ""
            #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)\n\(log)")
            #expect(result.stdout.contains("EXECSTART=/usr/local/bin/ebguard daemon"))
            #expect(result.stdout.contains("SOCKET=600"), "root only without an ebguard group")
            let report = try JSONDecoder().decode(StatusReport.self, from: Data(contentsOf: URL(fileURLWithPath: work + "/status.json")))
            #expect(report.mode == "full")
            #expect(report.programs.contains { $0.name.contains("file_open") })
            #expect(result.stdout.contains("denied open /etc/shadow (read) by rule file[0]"), "\(result.stdout)")
            #expect(result.stdout.contains("cat=1"))
            #expect(result.stdout.contains("DEFAULT_POLICY_OK"))
            #expect(result.stdout.contains("DAEMON_EXIT=0"))
            #expect(result.stdout.contains("UNINSTALLED"))
            #expect(result.stdout.contains("AUDIT_VERIFIED"), "the installed config's audit log is written and verifies")
            #expect(result.stdout.contains("SESSION_STARTS=2"))
        }
    }
}
