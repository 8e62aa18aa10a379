import EbguardPolicy
import Testing

/// `CompiledPolicy.learning()` (`ebguard run --learn`): shadow mode, every allow audited, and no
/// decision changed: for each shipped policy and a spread of operations (its secrets, its
/// persistence spots, the workspace, system trees, programs with and without argv rules,
/// addresses and names), an operation the policy refuses or asks about is decided by the same
/// rule with the same verdict, and one it lets through is let through (as audit).
@Suite struct LearningPolicyTests {
    static let files = ["/home/u/.ssh/id_ed25519", "/home/u/.ssh/config", "/home/u/.bashrc", "/home/u/.profile",
                        "/home/u/.aws/credentials", "/home/u/proj/.env", "/home/u/proj/src/main.c", "/home/u/proj/.git/hooks/pre-commit",
                        "/home/u/proj/.git/config", "/home/u/.cache/pip/x", "/home/u/.local/bin/tool",
                        "/home/u/.local/lib/python3.11/site-packages/x.pth", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/bin/git",
                        "/etc/passwd", "/etc/shadow", "/tmp/cc1.s", "/proc/1/status", "/dev/null", "/var/run/docker.sock", "/x/y"]
    static let programs: [(String, [String]?)] = [("/usr/bin/git", ["git", "push", "--force"]), ("/usr/bin/git", ["git", "status"]),
                                                  ("/usr/bin/git", nil), ("/usr/bin/sudo", nil), ("/usr/bin/cc", nil),
                                                  ("/home/u/proj/a.out", nil), ("/tmp/x", nil), ("/bin/bash", nil)]
    static let hosts = ["api.github.com", "pypi.org", "example.com", "registry.npmjs.org", "169.254.169.254"]

    @Test(arguments: ["agent.yaml", "strict.yaml", "observe.yaml"])
    func learningChangesNoDecision(file: String) throws {
        let policy = try Shipped.compiled(file)
        let learning = policy.learning()
        #expect(learning.mode == .shadow)
        #expect(![learning.defaults.exec, learning.defaults.file, learning.defaults.network].contains(.allow))
        #expect(!learning.exec.contains { $0.verdict == .allow } && !learning.file.contains { $0.verdict == .allow }
                && !learning.network.contains { $0.verdict == .allow })
        #expect(learning.exec.count == policy.exec.count && learning.file.count == policy.file.count
                && learning.network.count == policy.network.count)

        func same(_ before: Decision, _ after: Decision, _ what: String) {
            switch before.verdict {
            case .deny, .ask:
                #expect(after.verdict == before.verdict && after.rule == before.rule, "\(file): \(what): \(before) -> \(after)")
            case .allow, .audit:
                #expect(after.verdict == .audit, "\(file): \(what): \(before) -> \(after)")
            }
        }
        for path in Self.files {
            for (name, access) in FileAccess.named {
                same(policy.decideFile(path: path, access: access), learning.decideFile(path: path, access: access), "\(name) \(path)")
            }
        }
        for (path, argv) in Self.programs {
            same(policy.decideExec(path: path, argv: argv), learning.decideExec(path: path, argv: argv), "exec \(path) \(argv ?? [])")
        }
        for address in ["127.0.0.1", "169.254.169.254", "8.8.8.8", "::1"] {
            for port: UInt16 in [22, 53, 443, 8080] {
                let ip = try #require(IPAddress(address))
                same(policy.decideConnect(address: ip, port: port, protocol: .tcp),
                     learning.decideConnect(address: ip, port: port, protocol: .tcp), "connect \(address):\(port)")
            }
        }
        for host in Self.hosts {
            let before = policy.decideHost(name: host), after = learning.decideHost(name: host)
            same(Decision(before.verdict, before.rule), Decision(after.verdict, after.rule), "host \(host)")
        }
        same(policy.decideUnix(path: "/var/run/docker.sock"), learning.decideUnix(path: "/var/run/docker.sock"), "unix docker.sock")
    }
}
