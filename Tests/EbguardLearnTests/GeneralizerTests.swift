import EbguardEnforcement
import EbguardLearn
import EbguardPolicy
import Testing

/// What `policy suggest` writes: generalised like a person would, never opening what the base
/// policy guards, and a valid policy.
@Suite struct GeneralizerTests {
    static func activeRules(_ s: Suggestion) -> [String] { s.rules.filter { $0.withheld == nil }.map(\.yaml) }

    @Test func treesBecomeDirectoriesAndSingleFilesStayExact() throws {
        var t = TestTrail()
        for lib in ["libc.so.6", "libm.so.6", "libz.so.1"] { t.file("/usr/lib/x86_64-linux-gnu/" + lib, "read,exec", comm: "make") }
        t.file("/etc/ld.so.cache", "read", comm: "make")
        t.file("/etc/passwd", "read", comm: "id")
        for f in ["a.c", "b.c", "sub/c.h"] { t.file("/home/dev/proj/" + f, "read") }
        t.file("/home/dev/proj/out/a.o", "write,create")
        t.file("/home/dev/proj/out/b.o", "write,create")
        for f in ["pip/x", "pip/y", "pip/z/w"] { t.file("/home/dev/.cache/" + f, "read,write,create") }
        t.file("/home/dev/.gitconfig", "read", comm: "git")
        t.file("/proc/4242/status", "read", comm: "ps")
        t.file("/dev/pts/3", "read,write", comm: "bash")
        t.file("/tmp/cc1.s", "write,create")
        t.file("/tmp/cc2.s", "write,create")
        t.file("/tmp/cc3.s", "write,create")
        let (s, _, policy) = try Fixture.suggest(t)
        let rules = Set(Self.activeRules(s))
        for expected in [
            #"{ action: allow, path: "/usr/lib/**", access: [read, exec] }"#,
            #"{ action: allow, path: "/etc/ld.so.cache", access: [read] }"#,
            #"{ action: allow, path: "/etc/passwd", access: [read] }"#,
            #"{ action: allow, path: "${workspace}/**", access: [read] }"#,
            #"{ action: allow, path: "${workspace}/out/a.o", access: [write, create] }"#,
            #"{ action: allow, path: "${workspace}/out/b.o", access: [write, create] }"#,
            #"{ action: allow, path: "~/.cache/**", access: [read, write, create] }"#,
            #"{ action: allow, path: "~/.gitconfig", access: [read] }"#,
            #"{ action: allow, path: "/proc/*/status", access: [read] }"#,
            #"{ action: allow, path: "/dev/pts/*", access: [read, write] }"#,
            #"{ action: allow, path: "/tmp/**", access: [write, create] }"#,
        ] {
            #expect(rules.contains(expected), "missing \(expected) in \(rules.sorted())")
        }
        #expect(policy.defaults == PolicyDefaults(exec: .deny, file: .deny, network: .deny))
        // Every path seen is allowed by the suggestion, for the access seen.
        let compiled = policy.compile(in: Fixture.context)
        for (path, access) in [("/usr/lib/x86_64-linux-gnu/libz.so.1", FileAccess([.read, .exec])), ("/home/dev/proj/sub/c.h", .read),
                               ("/proc/77/status", .read), ("/home/dev/.cache/pip/z/w", [.write, .create])] {
            #expect(compiled.decideFile(path: path, access: access).verdict == .allow, "\(path)")
        }
        // ...and nothing more: another access, a neighbour of an exact file, the parent of a tree.
        #expect(compiled.decideFile(path: "/home/dev/proj/a.c", access: .write).verdict == .deny)
        #expect(compiled.decideFile(path: "/etc/shadow", access: .read).verdict == .deny)
        #expect(compiled.decideFile(path: "/usr/bin/ls", access: .read).verdict == .deny)
        #expect(compiled.decideFile(path: "/home/dev/notes.txt", access: .read).verdict == .deny)
    }

    @Test func thresholdIsWhatMakesATree() throws {
        var t = TestTrail()
        t.file("/usr/share/a/1", "read")
        t.file("/usr/share/a/2", "read")
        let two = try Fixture.suggest(t).0
        #expect(Self.activeRules(two).filter { $0.contains("**") }.isEmpty)
        let widened = try Fixture.suggest(t, threshold: 2).0
        #expect(Self.activeRules(widened).contains(#"{ action: allow, path: "/usr/share/**", access: [read] }"#))
    }

    @Test func everyRuleSaysHowOftenAndByWhom() throws {
        var t = TestTrail()
        t.file("/etc/hosts", "read", comm: "curl", repeats: 4)
        t.file("/etc/hosts", "read", comm: "wget")
        t.connect("10.1.2.3", 8443, host: "git.internal.example")
        t.connect("10.1.2.3", 9418, host: "git.internal.example")
        t.connect("10.9.9.9", 5432)
        t.connect("127.0.0.1", 8080)
        t.connect("127.0.0.2", 8081, "udp")
        t.exec("/usr/bin/make")
        let (_, text, policy) = try Fixture.suggest(t)
        #expect(text.contains(#"- { action: allow, path: "/etc/hosts", access: [read] }   # used 5 times by curl (4), wget (1)"#))
        #expect(text.contains(#"- { action: allow, host: "git.internal.example", ports: [8443, 9418], protocol: tcp }   # used 2 times by curl (2)"#))
        #expect(text.contains(#"- { action: allow, cidr: "10.9.9.9/32", ports: [5432], protocol: tcp }"#))
        #expect(text.contains(#"- { action: allow, cidr: "127.0.0.0/8", ports: [8080], protocol: tcp }"#))
        #expect(text.contains(#"- { action: allow, cidr: "127.0.0.0/8", ports: [8081], protocol: udp }"#))
        #expect(text.contains(#"- { action: allow, path: "/usr/bin/make" }   # used 1 time by make (1)"#))
        for line in text.split(separator: "\n") where line.hasPrefix("  - ") { #expect(line.contains("   # "), "\(line)") }
        let compiled = policy.compile(in: Fixture.context)
        let live = compiled.decideHost(name: "git.internal.example").rules
        #expect(compiled.decideConnect(address: IPAddress("10.1.2.3")!, port: 9418, protocol: .tcp, liveRules: live).verdict == .allow)
        #expect(compiled.decideConnect(address: IPAddress("10.1.2.3")!, port: 22, protocol: .tcp, liveRules: live).verdict == .deny)
        #expect(compiled.decideHost(name: "other.example").verdict == .deny)
    }

    /// The never-allow list: what agent.yaml denies or asks for is withheld, commented out with
    /// agent.yaml's line, whatever the session did.
    @Test(arguments: [
        ("/home/dev/.ssh/id_ed25519", "read", "~/.ssh/**"),
        ("/home/dev/.ssh/config", "read", "~/.ssh/**"),
        ("/home/dev/.bashrc", "write", "~/.bashrc"),
        ("/home/dev/.aws/credentials", "read", "~/.aws/**"),
        ("/home/dev/proj/.git/hooks/pre-commit", "write,create", "${workspace}/**/.git/hooks/**"),
        ("/home/dev/.local/lib/python3.11/site-packages/evil.pth", "create", "~/.local/lib/python*/site-packages/*.pth"),
        ("/home/dev/.config/systemd/user/x.service", "create", "~/.config/systemd/**"),
        ("/home/dev/.config/autostart/x.desktop", "create", "~/.config/autostart/**"),
        ("/home/dev/.cargo/config.toml", "write", "~/.cargo/config.toml"),
        ("/home/dev/.npmrc", "write", "~/.npmrc"),
        ("/home/dev/.claude/settings.json", "write", "~/.claude/settings.json"),
        ("/home/dev/proj/.env", "read", "name .env"),
        ("/home/dev/proj/deploy.key", "read", "name *.key"),
    ])
    func guardedPlacesAreWithheldWithTheirReason(path: String, access: String, rule: String) throws {
        var t = TestTrail()
        t.file(path, access, comm: "agent", repeats: 2)
        let (s, text, policy) = try Fixture.suggest(t)
        #expect(s.rules.count == 1)
        let withheld = try #require(s.rules.first?.withheld)
        #expect(withheld.contains("agent.yaml:") && withheld.contains(rule), "\(withheld)")
        #expect(policy.file.isEmpty)
        #expect(text.contains("  # - { action: allow, path: ") && text.contains("used 2 times by agent (2)"))
        let kinds = FileAccess(access.split(separator: ",").map { FileAccess(name: String($0))! })
        #expect(policy.compile(in: Fixture.context).decideFile(path: path, access: kinds).verdict == .deny)
    }

    /// A base that guards one loopback address and port: the widened loopback rule is decided
    /// per address and port seen (not at 127.0.0.0, the network's first address), and only the
    /// guarded port is withheld, with its own count.
    @Test func aGuardedLoopbackPortIsWithheldAlone() throws {
        let base = try Policy.parse(yaml: """
        version: 1
        name: base
        network:
          - { action: deny, cidr: 127.0.0.1/32, ports: [22], protocol: tcp }
        """, file: "base.yaml")
        var t = TestTrail()
        t.connect("127.0.0.1", 8080)
        t.connect("127.0.0.2", 8080)
        t.connect("127.0.0.1", 22)
        t.connect("127.0.0.2", 22)
        let dir = TempDir()
        defer { dir.remove() }
        try t.write(to: dir.file("trail.jsonl"))
        let read = try Trail.read(files: [dir.file("trail.jsonl")], session: "agent")
        let g = Generalizer(guards: Guards(base: base, context: Fixture.context), anchoring: Anchoring(Fixture.context))
        let text = g.suggest(read, name: "learned").render()
        #expect(text.contains(#"  - { action: allow, cidr: "127.0.0.0/8", ports: [8080], protocol: tcp }   # used 2 times"#), "\(text)")
        #expect(text.contains(#"  # - { action: allow, cidr: "127.0.0.0/8", ports: [22], protocol: tcp }"#) && text.contains("base.yaml:4 says deny"),
                "\(text)")
        let policy = try Policy.parse(yaml: text, file: "learned.yaml").compile(in: Fixture.context)
        #expect(policy.decideConnect(address: IPAddress("127.0.0.1")!, port: 22, protocol: .tcp).verdict == .deny)
        #expect(policy.decideConnect(address: IPAddress("127.0.0.1")!, port: 8080, protocol: .tcp).verdict == .allow)
    }

    @Test func guardedProgramsAndDestinationsAreWithheld() throws {
        var t = TestTrail()
        t.exec("/usr/bin/sudo")
        t.exec("/usr/bin/git", argv: ["git", "push", "--force"])
        t.connect("169.254.169.254", 80)
        t.add(.decision(.init(session: t.session, pid: 1, comm: "c", kind: .unix, object: "/run/docker.sock", access: "connect",
                              rule: "default", verdict: .audit)))
        let (s, _, policy) = try Fixture.suggest(t)
        #expect(s.rules.filter { $0.withheld != nil }.count == 3)  // sudo, the metadata service, docker.sock
        #expect(policy.network.isEmpty)
        // git itself ran and is allowed, but its guarded command lines are still asked.
        let c = policy.compile(in: Fixture.context)
        #expect(c.decideExec(path: "/usr/bin/sudo").verdict == .deny)
        #expect(c.decideExec(path: "/usr/bin/git", argv: ["git", "status"]).verdict == .allow)
        #expect(c.decideExec(path: "/usr/bin/git", argv: ["git", "push", "--force"]).verdict == .ask)
        #expect(c.decideExec(path: "/usr/bin/git", argv: ["git", "reset", "--hard"]).verdict == .ask)
    }

    /// A widened rule must not open a guarded place under it: the guards that fall inside are
    /// added, rebased so they are at least as specific (deny wins the tie).
    @Test func widenedRulesKeepGuardedPlacesClosed() throws {
        var t = TestTrail()
        for f in ["a.c", "b.c", "c.c"] { t.file("/home/dev/proj/" + f, "read,write") }
        for f in ["a", "b", "c"] { t.file("/home/dev/.config/tool/" + f, "read,write") }
        for f in ["gcc", "cc1", "as"] { t.exec("/usr/bin/" + f) }
        let (_, _, policy) = try Fixture.suggest(t)
        let c = policy.compile(in: Fixture.context)
        #expect(c.decideFile(path: "/home/dev/proj/a.c", access: [.read, .write]).verdict == .allow)
        #expect(c.decideFile(path: "/home/dev/proj/new.c", access: .write).verdict == .allow)
        for (path, access) in [
            ("/home/dev/proj/.git/hooks/pre-commit", FileAccess.write), ("/home/dev/proj/sub/.git/hooks/post-merge", .write),
            ("/home/dev/proj/.env", .read), ("/home/dev/proj/x/.env.local", .read), ("/home/dev/proj/k/server.key", .read),
            ("/home/dev/proj/.mcp.json", .write), ("/home/dev/proj/.vscode/tasks.json", .write),
            ("/home/dev/.config/systemd/user/a.service", .write), ("/home/dev/.config/git/config", .write),
            ("/home/dev/.config/gh/hosts.yml", .read), ("/home/dev/.config/autostart/a.desktop", .write),
        ] {
            let d = c.decideFile(path: path, access: access)
            #expect(d.verdict == .deny || d.verdict == .ask, "\(path) \(access.names): \(d)")
        }
        #expect(c.decideExec(path: "/usr/bin/cc1").verdict == .allow)
        #expect(c.decideExec(path: "/usr/bin/sudo").verdict == .deny)
        #expect(c.decideExec(path: "/usr/bin/git", argv: ["git", "push", "-f"]).verdict == .ask)
        // What the kernel's maps hold: the suggestion is enforceable as it stands.
        _ = try PolicyMaps(c, policyID: 1)
    }
}
