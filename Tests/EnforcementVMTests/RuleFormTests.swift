import EbguardPolicy
import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// Every rule form the policy language accepts is enforced by the kernel: the forms come from
/// the grammar's own lists (`FileAccess.named`, `NetworkProtocol.allCases`), so a kind or
/// protocol added to the parser without a probe here fails this suite. Each form gets a deny
/// rule in a real `ebguard run` session (as nobody) and a probe that must be refused, next to
/// the same probe on something no rule names, which must work.
@Suite(.enabled(if: TestEnvironment.inVM && TestEnvironment.isRoot, Comment(rawValue: TestEnvironment.vmReason)), .serialized)
struct RuleFormTests {
    /// What exercises one file access kind on `t` (a Python expression).
    static let fileProbes: [String: @Sendable (String) -> String] = [
        "read": { "open(\($0), 'rb').read()" },
        "write": { "open(\($0), 'a').write('x')" },
        "create": { "open(\($0), 'x').close()" },
        "delete": { "os.unlink(\($0))" },
        "rename": { "os.rename(\($0), \($0) + '.moved')" },
        "chmod": { "os.utime(\($0), (1, 1))" },  // chosen times: the newest member of the kind
        "exec": { "run([\($0)])" },
    ]

    /// The path forms of a file rule, each with the file its probe touches.
    static let pathForms: [(form: String, rule: @Sendable (String) -> String, target: @Sendable (String) -> String)] = [
        ("exact", { "path: \"\($0)/exact/f\"" }, { "\($0)/exact/f" }),
        ("subtree", { "path: \"\($0)/sub/**\"" }, { "\($0)/sub/deeper/f" }),
        ("name", { _ in "name: named.bin" }, { "\($0)/any/named.bin" }),
        ("pattern", { "path: \"\($0)/pat*/*.f\"" }, { "\($0)/pattern/x.f" }),
        ("midpattern", { "path: \"\($0)/**/mid/**/*.g\"" }, { "\($0)/m/mid/n/x.g" }),
        ("namepattern", { _ in "name: \"nampat*.bin\"" }, { "\($0)/any/nampat-1.bin" }),
    ]

    static let helpers = """
    import subprocess
    def run(argv):
        r = subprocess.run(argv)
        if r.returncode != 0:
            raise OSError(errno.EPERM, "exit %d" % r.returncode)

    """

    @Test(arguments: FileAccess.named.map(\.name))
    func everyFileAccessKindInEveryPathFormIsEnforced(kind: String) throws {
        let probe = try #require(Self.fileProbes[kind], "no VM probe for the file access kind '\(kind)'")
        let dir = try ContainmentRun.workspace("form-\(kind)")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var targets = Self.pathForms.map { $0.target(dir) }
        targets.append(dir + "/control/f")
        for target in targets {
            try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            if kind != "create" { try FileManager.default.copyItem(atPath: "/usr/bin/true", toPath: target) }
        }
        try ContainmentRun.giveToNobody(dir)
        let rules = Self.pathForms.map { "  - { action: deny, \($0.rule(dir)), access: [\(kind)] }" }.joined(separator: "\n")
        let script = Self.helpers + zip(Self.pathForms.map(\.form) + ["control"], targets).map { name, target in
            "attempt(\"\(name)\", lambda: \(probe("\"\(target)\"")))"
        }.joined(separator: "\n")
        let out = try ContainmentRun.run("version: 1\nname: form\nfile:\n\(rules)\n", as: .nobody, workspace: dir, script)
        for form in Self.pathForms.map(\.form) {
            #expect(["EACCES", "EPERM"].contains(out[form]), "\(kind) \(form): \(out)")
        }
        #expect(out["control"] == "OK", "\(kind) control: \(out)")
    }

    /// What exercises one protocol against 127.0.0.1 and ::1 (listeners made in the session).
    static let networkProbes: [String: @Sendable (_ family: String, _ host: String, _ port: String) -> String] = [
        "tcp": { f, h, p in "socket.socket(\(f), socket.SOCK_STREAM).connect((\(h), \(p)))" },
        "udp": { f, h, p in "socket.socket(\(f), socket.SOCK_DGRAM).connect((\(h), \(p)))" },
        "icmp": { f, h, _ in "ping(\(f), \(h))" },
        "any": { f, h, p in "socket.socket(\(f), socket.SOCK_STREAM).connect((\(h), \(p)))" },
    ]

    @Test(arguments: NetworkProtocol.allCases.map(\.rawValue))
    func everyNetworkProtocolInBothFamiliesIsEnforced(proto: String) throws {
        let probe = try #require(Self.networkProbes[proto], "no VM probe for the protocol '\(proto)'")
        try "0 2147483647\n".write(toFile: "/proc/sys/net/ipv4/ping_group_range", atomically: false, encoding: .utf8)
        let dir = try ContainmentRun.workspace("form-\(proto)")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // The denied port is the listener's; with ICMP (no ports) 127.0.0.1 and ::1 are denied
        // and 127.0.0.2 stays open. Other ports (and addresses) are the control.
        let icmp = proto == "icmp"
        let ports = icmp ? "" : ", ports: [47001]"
        let out = try ContainmentRun.run("""
        version: 1
        name: form
        network:
          - { action: deny, cidr: 127.0.0.1\(ports), protocol: \(proto) }
          - { action: deny, cidr: "::1"\(ports), protocol: \(proto) }
        """, as: .nobody, workspace: dir, """
        def ping(family, dest):
            s = socket.socket(family, socket.SOCK_DGRAM, socket.IPPROTO_ICMP if family == socket.AF_INET else socket.IPPROTO_ICMPV6)
            s.settimeout(2)
            s.sendto((b"\\x08" if family == socket.AF_INET else b"\\x80") + b"\\x00\\x00\\x00\\x00\\x01\\x00\\x01", (dest, 0))
            s.recv(64)
        listeners = []
        for family, host in [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")]:
            for port in [47001, 47002]:
                for kind in [socket.SOCK_STREAM, socket.SOCK_DGRAM]:
                    l = socket.socket(family, kind)
                    l.bind((host, port))
                    if kind == socket.SOCK_STREAM:
                        l.listen(4)
                    listeners.append(l)
        attempt("v4", lambda: \(probe("socket.AF_INET", "\"127.0.0.1\"", "47001")))
        attempt("v6", lambda: \(probe("socket.AF_INET6", "\"::1\"", "47001")))
        attempt("control", lambda: \(icmp ? probe("socket.AF_INET", "\"127.0.0.2\"", "0") : probe("socket.AF_INET", "\"127.0.0.1\"", "47002")))
        """)
        #expect(out["v4"] == "EPERM", "\(proto) v4: \(out)")
        #expect(out["v6"] == "EPERM", "\(proto) v6: \(out)")
        #expect(out["control"] == "OK", "\(proto) control: \(out)")
    }

    /// Exec rules in every path form (patterns too), and with argv; Unix socket rules exact,
    /// subtree and pattern (through `ebguard run`: the session's flag and the unix domain's keys).
    @Test func execAndUnixRuleFormsAreEnforced() throws {
        let dir = try ContainmentRun.workspace("form-exec")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for path in ["exact/prog", "sub/deeper/prog", "any/namedprog", "argv/prog", "control/prog", "pat/a/b/x-evil",
                     "any/evilname-2"] {
            try FileManager.default.createDirectory(atPath: (dir + "/" + path as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: "/usr/bin/true", toPath: dir + "/" + path)
        }
        for sub in ["sockets/tree", "sockets/user/1000", "sockets/user/1000/x"] {
            try FileManager.default.createDirectory(atPath: dir + "/" + sub, withIntermediateDirectories: true)
        }
        try ContainmentRun.giveToNobody(dir)
        let out = try ContainmentRun.run("""
        version: 1
        name: form
        exec:
          - { action: deny, path: "\(dir)/exact/prog" }
          - { action: deny, path: "\(dir)/sub/**" }
          - { action: deny, name: namedprog }
          - { action: deny, path: "\(dir)/argv/prog", argv: [--forbidden] }
          - { action: deny, path: "\(dir)/pat/**/*-evil" }
          - { action: deny, name: "evilname-*" }
        network:
          - { action: deny, unix: "\(dir)/sockets/exact.sock" }
          - { action: deny, unix: "\(dir)/sockets/tree/**" }
          - { action: deny, unix: "\(dir)/sockets/user/*/bus" }
          - { action: allow, unix: "\(dir)/sockets/tree/ok*" }
        """, as: .nobody, workspace: dir, Self.helpers + """
        def unix(path):
            l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            l.bind(path)
            l.listen(1)
            socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).connect(path)
        attempt("exact", lambda: run(["\(dir)/exact/prog"]))
        attempt("subtree", lambda: run(["\(dir)/sub/deeper/prog"]))
        attempt("name", lambda: run(["\(dir)/any/namedprog"]))
        attempt("argv", lambda: run(["\(dir)/argv/prog", "--forbidden"]))
        attempt("argvother", lambda: run(["\(dir)/argv/prog", "--fine"]))
        attempt("pattern", lambda: run(["\(dir)/pat/a/b/x-evil"]))
        attempt("namepattern", lambda: run(["\(dir)/any/evilname-2"]))
        attempt("control", lambda: run(["\(dir)/control/prog"]))
        attempt("unixexact", lambda: unix("\(dir)/sockets/exact.sock"))
        attempt("unixsubtree", lambda: unix("\(dir)/sockets/tree/s.sock"))
        attempt("unixcontrol", lambda: unix("\(dir)/sockets/other.sock"))
        attempt("unixpattern", lambda: unix("\(dir)/sockets/user/1000/bus"))
        attempt("unixpatterndeeper", lambda: unix("\(dir)/sockets/user/1000/x/bus"))
        attempt("unixpatternover", lambda: unix("\(dir)/sockets/tree/ok.sock"))
        """)
        for name in ["exact", "subtree", "name", "argv", "pattern", "namepattern", "unixexact", "unixsubtree", "unixpattern"] {
            #expect(["EACCES", "EPERM"].contains(out[name]), "\(name): \(out)")
        }
        // `tree/ok*` (more literal bytes before its `*`) outranks `tree/**`.
        for name in ["argvother", "control", "unixcontrol", "unixpatterndeeper", "unixpatternover"] {
            #expect(out[name] == "OK", "\(name): \(out)")
        }
    }
}
