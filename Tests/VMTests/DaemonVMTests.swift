import EbguardDaemon
import EbguardSystem
import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// The daemon with full enforcement (BPF-LSM) in the VM. Serialized: every daemon reads the
/// host's shared event ring, so two at once would split each other's events.
@Suite(.enabled(if: TestEnvironment.inVM && TestEnvironment.isRoot, "needs BPF-LSM, which this host's kernel refuses; `make test` runs it in the VM (scripts/vmtest)"), .serialized)
struct DaemonVMTests {
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
    }
}
