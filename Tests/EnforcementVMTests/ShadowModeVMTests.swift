import CEbguardABI
import EbguardPolicy
import EbguardSystem
import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// Shadow mode (issue 19) in the 6.1 VM with a real `ebguard run` (bin/ebguard): the same
/// accesses under one deny/ask policy, enforced and in shadow. Enforced, each is refused; in
/// shadow each succeeds and is reported once as would_deny/would_ask naming its rule, for
/// exec (path, ask and argv rules), file, TCP connect and Unix sockets. Self-protection is
/// still refused in shadow.
@Suite(.enabled(if: TestEnvironment.inVM && TestEnvironment.isRoot, Comment(rawValue: TestEnvironment.vmReason)), .serialized)
struct ShadowModeVMTests {
    static let binary = TestEnvironment.projectRoot + "/bin/ebguard"

    static func policy(_ dir: String, mode: String?) -> String {
        """
        version: 1
        name: shadow-vm
        \(mode.map { "mode: \($0)" } ?? "")
        exec:
          - { action: deny, path: "\(dir)/denied-bin" }
          - { action: ask, path: "\(dir)/asked-bin" }
          - { action: deny, path: "\(dir)/argv-bin", argv: [--bad] }
        file:
          - { action: deny, path: "\(dir)/secret", access: [read] }
          - { action: ask, path: "\(dir)/asked", access: [write] }
        network:
          - { action: deny, cidr: 127.0.0.2/32, protocol: tcp }
          - { action: ask, cidr: 127.0.0.3/32, protocol: tcp }
          - { action: deny, unix: "\(dir)/deny.sock" }
          - { action: ask, unix: "\(dir)/ask.sock" }

        """
    }

    /// The probes, each printing `name=OK` or `name=ERRNO`.
    static func script(_ dir: String) -> String {
        """
        import errno, os, socket, subprocess, sys
        D = "\(dir)"
        def attempt(name, fn):
            try:
                fn()
                print(name + "=OK", flush=True)
            except OSError as e:
                print(name + "=" + errno.errorcode.get(e.errno, str(e.errno)), flush=True)
        def run(argv):
            r = subprocess.run(argv)
            if r.returncode != 0:
                raise OSError(errno.EPERM, "exit %d" % r.returncode)
        def tcp(host):
            srv = socket.socket(); srv.bind((host, 0)); srv.listen(1)
            c = socket.socket(); c.settimeout(5); c.connect(srv.getsockname()); c.close(); srv.close()
        def unix(path):
            srv = socket.socket(socket.AF_UNIX); srv.bind(path); srv.listen(1)
            try:
                c = socket.socket(socket.AF_UNIX); c.connect(path); c.close()
            finally:
                srv.close(); os.unlink(path)
        attempt("file_deny", lambda: open(D + "/secret", "rb").read())
        attempt("file_ask", lambda: open(D + "/asked", "a").write("x"))
        attempt("exec_deny", lambda: run([D + "/denied-bin"]))
        attempt("exec_ask", lambda: run([D + "/asked-bin"]))
        attempt("exec_argv", lambda: run([D + "/argv-bin", "--bad"]))
        attempt("exec_argv_ok", lambda: run([D + "/argv-bin", "--good"]))
        attempt("tcp_deny", lambda: tcp("127.0.0.2"))
        attempt("tcp_ask", lambda: tcp("127.0.0.3"))
        attempt("unix_deny", lambda: unix(D + "/deny.sock"))
        attempt("unix_ask", lambda: unix(D + "/ask.sock"))
        attempt("control", lambda: open(D + "/free", "rb").read())
        attempt("too_long", lambda: open(D + "/\(Self.longTail)", "rb").read())

        """
    }

    /// Below the workspace, a file whose resolved path is longer than EG_PATH_MAX (256): the
    /// kernel cannot match it and fails closed (reason too-long), unless the session only shadows.
    static let longTail = String(repeating: "d", count: 120) + "/" + String(repeating: "e", count: 120) + "/f"

    struct Outcome: CustomStringConvertible {
        let results: [String: String]
        let result: ProcessResult
        subscript(_ name: String) -> String { results[name] ?? "missing" }
        var description: String { "\(results) stderr: \(result.stderr)" }
        /// Lines of stderr that contain every one of `parts`.
        func lines(_ parts: String...) -> [Substring] {
            result.stderr.split(separator: "\n").filter { line in parts.allSatisfy { line.contains($0) } }
        }
    }

    /// `ebguard run [extra] --policy P -- python3 -c script` from `dir`, as `who`.
    static func run(_ policy: String, extra: [String] = [], asNobody: Bool, dir: String, _ script: String) throws -> Outcome {
        let policyPath = dir + "/policy-\(UInt32.random(in: 0..<UInt32.max)).yaml"
        let kept = asNobody ? "" : "capabilities: [\(Capability.names.joined(separator: ", "))]\n"
        try (kept + policy).write(toFile: policyPath, atomically: true, encoding: .utf8)
        defer { unlink(policyPath) }
        var environment = ProcessInfo.processInfo.environment
        environment["SUDO_USER"] = nil
        let user = asNobody ? ["--user", "nobody"] : []
        let result = try runProcess(["/bin/sh", "-c", "cd '\(dir)' && exec \"$@\"", "sh", binary, "run"] + user + extra
                                    + ["--standalone", "--policy", policyPath, "--", "/usr/bin/python3", "-c", script],
                                    environment: environment)
        var results: [String: String] = [:]
        for line in result.stdout.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { results[String(parts[0])] = String(parts[1]) }
        }
        return Outcome(results: results, result: result)
    }

    static func workspace(_ label: String) throws -> String {
        let dir = "/tmp/eg-shadow-\(label)-\(getpid())-\(UInt32.random(in: 0..<1_000_000))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for name in ["denied-bin", "asked-bin", "argv-bin"] {
            try FileManager.default.copyItem(atPath: "/usr/bin/true", toPath: dir + "/" + name)
        }
        for name in ["secret", "asked", "free"] { try "x\n".write(toFile: dir + "/" + name, atomically: false, encoding: .utf8) }
        let long = dir + "/" + longTail
        try FileManager.default.createDirectory(atPath: (long as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try "x\n".write(toFile: long, atomically: false, encoding: .utf8)
        let chown = try runProcess(["/bin/chown", "-R", "nobody:nogroup", dir])
        try #require(chown.status == 0, "chown: \(chown.stderr)")
        return dir
    }

    static let probes = ["file_deny", "file_ask", "exec_deny", "exec_ask", "exec_argv", "tcp_deny", "tcp_ask",
                         "unix_deny", "unix_ask"]

    @Test func enforcedRefusesEveryProbe() throws {
        let dir = try Self.workspace("enforced")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = try Self.run(Self.policy(dir, mode: nil), asNobody: true, dir: dir, Self.script(dir))
        #expect(out.result.status == 0, "\(out)")
        #expect(out["file_deny"] == "EACCES" && out["file_ask"] == "EACCES", "\(out)")
        for probe in Self.probes where !probe.hasPrefix("file") { #expect(out[probe] == "EPERM", "\(probe): \(out)") }
        #expect(out["exec_argv_ok"] == "OK", "\(out)")
        #expect(out["control"] == "OK", "\(out)")
        #expect(out["too_long"] == "EACCES", "a path too long to match fails closed: \(out)")
        #expect(out.lines("denied open", "(path too long: fail closed)").count == 1, "\(out)")
        #expect(!out.result.stderr.contains("SHADOW"), "\(out)")
        #expect(!out.result.stderr.contains("would "), "\(out)")
    }

    /// `mode: shadow` in the policy: every probe works, and each is reported once, as what the
    /// enforced run refused, with the rule that would have decided it.
    @Test func shadowPolicyAllowsAndReportsEachOnce() throws {
        let dir = try Self.workspace("shadow")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = try Self.run(Self.policy(dir, mode: "shadow"), asNobody: true, dir: dir, Self.script(dir))
        #expect(out.result.status == 0, "\(out)")
        for probe in Self.probes + ["exec_argv_ok", "control", "too_long"] { #expect(out[probe] == "OK", "\(probe): \(out)") }
        // The fail-closed reasons are the policy's too: let through, reported once, saying why.
        #expect(out.lines("would deny (shadow, not enforced) open", "(read) (path too long)").count == 1, "\(out.result.stderr)")
        #expect(out.result.stderr.contains("SHADOW MODE"), "the banner says it: \(out)")
        #expect(out.result.stderr.contains("NOT ENFORCING"), "\(out)")
        let expected: [(what: String, object: String, rule: String)] = [
            ("would deny", "open \(dir)/secret (read)", "file[0]"),
            ("would ask", "open \(dir)/asked (write)", "file[1]"),
            ("would deny", "exec \(dir)/denied-bin", "exec[0]"),
            ("would ask", "exec \(dir)/asked-bin", "exec[1]"),
            ("would deny", "exec \(dir)/argv-bin --bad", "exec[2]"),
            ("would deny", "connect 127.0.0.2:", "network[0]"),
            ("would ask", "connect 127.0.0.3:", "network[1]"),
            ("would deny", "connect \(dir)/deny.sock (unix)", "network[2]"),
            ("would ask", "connect \(dir)/ask.sock (unix)", "network[3]"),
        ]
        for (what, object, rule) in expected {
            #expect(out.lines(what, object, "by rule \(rule)").count == 1, "\(what) \(object) \(rule): \(out.result.stderr)")
        }
        #expect(out.lines("(shadow, not enforced)").count == expected.count + 1, "nothing else is reported: \(out.result.stderr)")
        #expect(out.lines("--good").isEmpty, "an argv the policy allows is not reported: \(out.result.stderr)")
        #expect(!out.result.stderr.contains("denied "), "nothing was refused: \(out.result.stderr)")
    }

    /// `--shadow` on the command line, as root with every capability: the policy's denials are
    /// waived, self-protection is not: leaving the cgroup and signalling outside the session fail.
    @Test func shadowFlagKeepsSelfProtection() throws {
        let dir = try Self.workspace("tamper")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let mount = try Cgroup.mountPoint()
        let script = """
        import errno, os
        def attempt(name, fn):
            try:
                fn()
                print(name + "=OK", flush=True)
            except OSError as e:
                print(name + "=" + errno.errorcode.get(e.errno, str(e.errno)), flush=True)
        def escape():
            with open("\(mount)/cgroup.procs", "w") as f:
                f.write(str(os.getpid()))
        attempt("escape", escape)
        attempt("signal", lambda: os.kill(1, 0))
        attempt("file_deny", lambda: open("\(dir)/secret", "rb").read())
        print("cgroup=" + open("/proc/self/cgroup").read().strip(), flush=True)

        """
        let out = try Self.run(Self.policy(dir, mode: nil), extra: ["--shadow"], asNobody: false, dir: dir, script)
        #expect(out.result.status == 0, "\(out)")
        #expect(out["escape"] == "EPERM", "\(out)")
        #expect(out["signal"] == "EPERM", "\(out)")
        #expect(out["file_deny"] == "OK", "\(out)")
        #expect(out["cgroup"].contains("/ebguard/"), "still in its session: \(out)")
        #expect(out.result.stderr.contains("SHADOW MODE"), "\(out)")
        #expect(out.result.stderr.contains("leaving its cgroup"), "\(out)")
        #expect(out.result.stderr.contains("signal to pid 1"), "\(out)")
        #expect(out.lines("would deny", "open \(dir)/secret (read)", "by rule file[0]").count == 1, "\(out)")
    }

    /// Every file access kind the grammar has (`FileAccess.named`, with `RuleFormTests`' probes):
    /// refused enforced, done in shadow with exactly one would_deny naming the rule (a rename or
    /// an exec, which several hooks see, is still one report).
    @Test(arguments: FileAccess.named.map(\.name))
    func everyFileAccessKindIsShadowed(kind: String) throws {
        let probe = try #require(RuleFormTests.fileProbes[kind], "no VM probe for the file access kind '\(kind)'")
        for mode in ["enforce", "shadow"] {
            let dir = try Self.workspace("kind-\(kind)-\(mode)")
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let target = dir + "/target"
            if kind != "create" { try FileManager.default.copyItem(atPath: "/usr/bin/true", toPath: target) }
            let chown = try runProcess(["/bin/chown", "-R", "nobody:nogroup", dir])
            try #require(chown.status == 0)
            let policy = "version: 1\nname: kinds\nmode: \(mode)\nfile:\n  - { action: deny, path: \"\(target)\", access: [\(kind)] }\n"
            let script = ContainmentRun.prelude + RuleFormTests.helpers + "attempt(\"probe\", lambda: \(probe("\"\(target)\"")))\n"
            let out = try Self.run(policy, asNobody: true, dir: dir, script)
            if mode == "enforce" {
                #expect(["EACCES", "EPERM"].contains(out["probe"]), "\(kind) enforced: \(out)")
                #expect(out.lines("would ").isEmpty, "\(out)")
            } else {
                #expect(out["probe"] == "OK", "\(kind) shadow: \(out)")
                #expect(out.lines("would deny (shadow, not enforced)", "by rule file[0]").count == 1, "\(kind): \(out.result.stderr)")
                #expect(out.lines("(shadow, not enforced)").count == 1, "\(kind): one report: \(out.result.stderr)")
            }
        }
    }
}
