import EbguardEnforcement
import EbguardSystem
import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// `ebguard run` as a user runs it: the real binary, real cgroups, real sockets on loopback.
/// Serialized: standalone sessions share one ring buffer and each reader consumes what it reads,
/// so concurrent sessions can miss each other's denial lines (a daemon will be the single reader).
@Suite(.enabled(if: TestEnvironment.isRoot, "needs root (cgroups, BPF); `make test` runs it as root"), .serialized)
struct RunCommandTests {
    let binary = TestEnvironment.projectRoot + "/bin/ebguard"

    /// A policy file in a scratch directory, removed by the caller.
    func policy(_ yaml: String) throws -> String {
        let path = NSTemporaryDirectory() + "ebguard-run-\(getpid())-\(UInt32.random(in: 0..<UInt32.max)).yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static let loopbackOnly = """
    version: 1
    name: loopback-only
    defaults: { exec: allow, file: allow, network: deny }
    network:
      - { action: allow, cidr: 127.0.0.0/8, ports: [20000-60999] }
      - { action: deny, cidr: 127.0.0.3/32 }
    """

    /// A policy the kernel's maps cannot hold is refused by `policy check` (and by `run`,
    /// with exit 125), naming the first rule that does not fit, never a crash.
    @Test func policiesPastTheKernelsLimitsAreRefusedWithTheRule() throws {
        let file = try policy("version: 1\nname: big\nfile:\n" + (0...65_535).map { "  - { action: deny, path: /x/\($0) }\n" }.joined())
        defer { unlink(file) }
        let check = try runProcess([binary, "policy", "check", file])
        #expect(check.status == 1)
        #expect(check.stderr.contains("file[65535]: too many file rules"), "\(check.stderr)")
        let run = try runProcess([binary, "run", "--standalone", "--policy", file, "--", "/bin/true"])
        #expect(run.status == 125)
        #expect(run.stderr.contains("file[65535]"), "\(run.stderr)")
    }

    /// A minimal system mounts no tracefs, where libbpf looks up the ids of `tp/` tracepoints:
    /// `run` mounts it. (A fresh host showed it: only `doctor` used to.) In a mount namespace of
    /// its own, with a bpffs of its own, so nothing is pinned yet and every object is loaded.
    @Test func aSystemWithoutTracefsStillRuns() throws {
        let file = try policy(Self.loopbackOnly)
        defer { unlink(file) }
        let script = """
        set -e
        for t in /sys/kernel/debug/tracing /sys/kernel/tracing; do
            while mountpoint -q "$t"; do umount -l "$t"; done
        done
        mount -t bpf bpf /sys/fs/bpf
        '\(binary)' run --standalone --quiet --policy '\(file)' -- /bin/true
        mountpoint -q /sys/kernel/tracing
        """
        let result = try runProcess(["/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script])
        #expect(result.status == 0, "\(result.stderr)")
    }

    @Test func exitStatusIsTheCommands() throws {
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build bin/ebguard first (make)")
        let file = try policy(Self.loopbackOnly)
        defer { unlink(file) }
        #expect(try runProcess([binary, "run", "--quiet", "--policy", file, "--", "/bin/sh", "-c", "exit 7"]).status == 7)
        #expect(try runProcess([binary, "run", "--quiet", "--policy", file, "--", "/bin/sh", "-c", "kill -TERM $$"]).status == 143)
        #expect(try runProcess([binary, "run", "--quiet", "--policy", file, "--", "no-such-command-xyz"]).status == 127)
    }

    @Test func theCommandRunsInAFreshCgroupThatIsRemovedAfterwards() throws {
        let file = try policy(Self.loopbackOnly)
        defer { unlink(file) }
        let result = try runProcess([binary, "run", "--quiet", "--policy", file, "--name", "cgtest", "--",
                                     "/bin/sh", "-c", "cat /proc/self/cgroup; ls /proc/self/fd"])
        #expect(result.status == 0)
        let line = try #require(result.stdout.split(separator: "\n").first { $0.hasPrefix("0::") })
        let relative = String(line.dropFirst(3))
        #expect(relative.hasPrefix("/ebguard/cgtest-"))
        #expect(!FileManager.default.fileExists(atPath: try Cgroup.mountPoint() + relative))
        // Only 0, 1, 2 and ls's own directory descriptor: nothing of ebguard's leaks in.
        let fds = result.stdout.split(separator: "\n").dropFirst().compactMap { Int($0) }
        #expect(fds == [0, 1, 2, 3])
    }

    @Test func networkRulesAreEnforcedAndDenialsPrinted() throws {
        let file = try policy(Self.loopbackOnly)
        defer { unlink(file) }
        let listener = try TCPListener(address: "127.0.0.1")
        let denied = try TCPListener(address: "127.0.0.3")
        let script = """
        exec 3<>/dev/tcp/127.0.0.1/\(listener.port) && echo allowed
        exec 4<>/dev/tcp/127.0.0.3/\(denied.port) && echo reached-denied
        exec 5<>/dev/tcp/127.0.0.1/\(listener.port < 20000 ? 19999 : 19999) && echo reached-low-port
        exit 0
        """
        let result = try runProcess([binary, "run", "--policy", file, "--", "/bin/bash", "-c", script])
        #expect(result.status == 0)
        #expect(result.stdout == "allowed\n")
        #expect(result.stderr.contains("ebguard: denied connect 127.0.0.3:\(denied.port) (tcp) by rule network[1]"))
        #expect(result.stderr.contains("ebguard: denied connect 127.0.0.1:19999 (tcp) by the network default"))
        // The same connects from outside any session are untouched.
        let outside = try runProcess(["/bin/bash", "-c", "exec 4<>/dev/tcp/127.0.0.3/\(denied.port) && echo ok"])
        #expect(outside.stdout == "ok\n")
    }

    @Test func aChildCgroupInsideTheSessionIsStillGoverned() throws {
        let file = try policy(Self.loopbackOnly)
        defer { unlink(file) }
        let denied = try TCPListener(address: "127.0.0.3")
        let mount = try Cgroup.mountPoint()
        let script = """
        me=$(sed -n 's/^0:://p' /proc/self/cgroup)
        mkdir "\(mount)$me/nested" && echo $$ > "\(mount)$me/nested/cgroup.procs" && sed -n 's/^0:://p' /proc/self/cgroup
        exec 4<>/dev/tcp/127.0.0.3/\(denied.port) && echo reached-denied
        exit 0
        """
        let result = try runProcess([binary, "run", "--quiet", "--policy", file, "--", "/bin/bash", "-c", script])
        #expect(result.stdout.hasSuffix("/nested\n"))
        #expect(!result.stdout.contains("reached-denied"))
        #expect(result.stderr.contains("Operation not permitted"))
    }

    @Test func signalsSentToEbguardReachTheCommand() throws {
        let file = try policy(Self.loopbackOnly)
        defer { unlink(file) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["run", "--quiet", "--policy", file, "--", "/bin/sleep", "60"]
        try process.run()
        let started = ContinuousClock.now
        // Wait until sleep runs inside its session, then signal ebguard, not sleep.
        while ContinuousClock.now - started < .seconds(20) {
            if (try? runProcess(["/usr/bin/pgrep", "-x", "-P", "\(process.processIdentifier)", "sleep"]))?.status == 0 { break }
            usleep(50_000)
        }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationStatus == 143)
        #expect(ContinuousClock.now - started < .seconds(30))
    }

    @Test func throughSudoTheCommandRunsAsTheInvokingUser() throws {
        let file = try policy(Self.loopbackOnly)
        defer { unlink(file) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["run", "--quiet", "--policy", file, "--", "/bin/sh", "-c", "id -u; id -g; echo $HOME"]
        process.environment = ProcessInfo.processInfo.environment.merging(["SUDO_USER": "nobody"]) { $1 }
        process.currentDirectoryURL = URL(fileURLWithPath: "/")
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let nobody = try UserIdentity.named("nobody")
        #expect(stdout == "\(nobody.uid)\n\(nobody.gid)\n\(nobody.home)\n")
        let chosen = try runProcess([binary, "run", "--quiet", "--user", "nobody", "--policy", file, "--", "/usr/bin/id", "-u"])
        #expect(chosen.stdout == "\(nobody.uid)\n")
    }

    @Test func requireFullRefusesADegradedKernel() throws {
        let file = try policy(Self.loopbackOnly)
        defer { unlink(file) }
        let lsmWorks = (try? Probes.lsm()) != nil
        let result = try runProcess([binary, "run", "--quiet", "--require-full", "--policy", file, "--", "/bin/true"])
        if lsmWorks {
            #expect(result.status == 0)
        } else {
            #expect(result.status == 2)
            #expect(result.stderr.contains("--require-full"))
            let plain = try runProcess([binary, "run", "--policy", file, "--", "/bin/true"])
            #expect(plain.status == 0)
            #expect(plain.stderr.contains("DEGRADED"))
        }
    }

    @Test func aBrokenPolicyChangesNothingAndSaysWhere() throws {
        let file = try policy("version: 1\nname: broken\nfile:\n  - { action: deny, pth: /etc }\n")
        defer { unlink(file) }
        // Named, so sessions other suites start meanwhile cannot be mistaken for one of its own.
        let result = try runProcess([binary, "run", "--policy", file, "--name", "broken-probe", "--", "/bin/true"])
        #expect(result.status == 125)
        #expect(result.stderr.contains("\(file):4:"))
        let sessions = Cgroup(path: try Cgroup.mountPoint() + "/ebguard").children()
        #expect(!sessions.contains { $0.path.split(separator: "/").last?.hasPrefix("broken-probe") == true }, "\(sessions)")
    }
}
