import CEbguardABI
import EbguardBPF
import EbguardSystem
import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// A governed session must not leave its cgroup, disarm ebguard, or reach outside itself,
/// even as root. Runs the real `bin/ebguard run` in the BPF-LSM VM.
@Suite(.enabled(if: TestEnvironment.inVM && TestEnvironment.isRoot, "needs BPF-LSM, which this host's kernel refuses; `make test` runs it in the VM (scripts/vmtest)"), .serialized)
struct SelfProtectionTests {
    let binary = TestEnvironment.projectRoot + "/bin/ebguard"

    func governed(_ script: String, rules: String = "") throws -> ProcessResult {
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build bin/ebguard first (make)")
        let policy = "/tmp/ebguard-open-\(getpid()).yaml"
        try ("version: 1\nname: open\ndefaults: { exec: allow, file: allow, network: allow }\n" + rules)
            .write(toFile: policy, atomically: true, encoding: .utf8)
        defer { unlink(policy) }
        return try runProcess([binary, "run", "--policy", policy, "--", "/bin/bash", "-c", script])
    }

    @Test func cannotSignalOrPtraceOutsideButCanInside() throws {
        let result = try governed("""
        kill -0 1 2>/dev/null; echo "pid1=$?"
        sleep 30 & kill -TERM $!; wait $!; echo "own-child=$?"
        cat /proc/1/environ >/dev/null 2>&1; echo "proc-mem=$?"
        """)
        #expect(result.stdout.contains("pid1=1"))
        #expect(result.stdout.contains("own-child=143"))
        #expect(result.stdout.contains("proc-mem=1"))
        #expect(result.stderr.contains("ebguard: denied signal to pid 1 by self-protection"))
    }

    /// An exec held for its argv rules is resumed by ebguard only, never from inside the session.
    @Test func aHeldExecCannotBeResumedFromInside() throws {
        let marks = "/tmp/ebguard-held-\(getpid())"
        try FileManager.default.createDirectory(atPath: marks, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: marks) }
        let policy = "/tmp/ebguard-open-held-\(getpid()).yaml"
        try "version: 1\nname: open\n".write(toFile: policy, atomically: true, encoding: .utf8)
        defer { unlink(policy) }
        let script = """
        sleep 30 & echo $! > \(marks)/pid.tmp && mv \(marks)/pid.tmp \(marks)/pid
        while [ ! -e \(marks)/go ]; do sleep 0.05; done
        kill -CONT $!; echo "cont=$?"
        kill -TERM $!; echo "term=$?"
        """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["run", "--quiet", "--policy", policy, "--", "/bin/bash", "-c", script]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        // Mark the session's sleeping child as held, as the exec hook does, then let the script go on.
        var pid: UInt32?
        for _ in 0..<400 where pid == nil {
            pid = (try? String(contentsOfFile: marks + "/pid", encoding: .utf8)).flatMap { UInt32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            if pid == nil { usleep(50_000) }
        }
        let child = try #require(pid)
        let generations = try FileManager.default.contentsOfDirectory(atPath: "/sys/fs/bpf/ebguard")
        let maps = generations.compactMap { try? BPFMap<UInt32, UInt64>(pinnedAt: "/sys/fs/bpf/ebguard/\($0)/eg_held") }
        #expect(!maps.isEmpty)
        for map in maps { try map.update(child, 1) }
        FileManager.default.createFile(atPath: marks + "/go", contents: nil)
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        for map in maps { _ = try? map.delete(child) }
        #expect(stdout.contains("cont=1"))
        #expect(stdout.contains("term=0"))
    }

    /// The guard decides before any path rule: a policy that allows writing the whole cgroup
    /// tree still cannot move the session out of it.
    @Test(arguments: ["", "file:\n  - { action: allow, path: \"/sys/fs/cgroup/**\", access: [read, write, create] }\n"])
    func cannotLeaveItsCgroupButCanNestInsideIt(rules: String) throws {
        let mount = try Cgroup.mountPoint()
        #expect(rules.isEmpty || mount == "/sys/fs/cgroup")
        let result = try governed("""
        echo $$ > \(mount)/cgroup.procs 2>/dev/null; echo "escape=$?"
        me=$(sed -n 's/^0:://p' /proc/self/cgroup)
        mkdir \(mount)$me/inner && echo $$ > \(mount)$me/inner/cgroup.procs; echo "nested=$?"
        sed -n 's/^0:://p' /proc/self/cgroup
        """, rules: rules)
        #expect(result.stdout.contains("escape=1"), "\(result.stdout)")
        #expect(result.stdout.contains("nested=0"), "\(result.stdout)")
        #expect(result.stdout.contains("/inner\n"))
        #expect(result.stderr.contains("leaving its cgroup"), "\(result.stderr)")
    }

    @Test func cannotUseBPFMountOrUserNamespacesOrRemovePins() throws {
        let result = try governed("""
        bpftool prog list >/dev/null 2>&1; echo "bpf=$?"
        unshare -U true 2>/dev/null; echo "userns=$?"
        mount -t tmpfs none /mnt 2>/dev/null; echo "mount=$?"
        rm -f /sys/fs/bpf/ebguard/*/link-eg_connect4 2>/dev/null; echo "unpin=$?"
        """)
        #expect(result.stdout.contains("bpf=255"))
        #expect(!result.stdout.contains("userns=0"))
        #expect(!result.stdout.contains("mount=0"))
        #expect(result.stdout.contains("unpin=1"))
        let generations = try FileManager.default.contentsOfDirectory(atPath: "/sys/fs/bpf/ebguard")
        #expect(generations.contains { FileManager.default.fileExists(atPath: "/sys/fs/bpf/ebguard/\($0)/link-eg_connect4") })
        #expect(result.stderr.contains("denied bpf() by self-protection"))
    }
}
