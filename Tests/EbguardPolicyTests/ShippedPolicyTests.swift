import EbguardPolicy
import Foundation
import Testing

/// The policies in policies/, loaded from the source tree.
enum Shipped {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("policies")

    static func load(_ name: String) throws -> Policy {
        try Policy.load(path: directory.appendingPathComponent(name).path)
    }

    static func compiled(_ name: String) throws -> CompiledPolicy {
        try load(name).compile(in: testContext)
    }
}

@Suite("Shipped policies")
struct ShippedPolicyTests {
    @Test(arguments: ["agent.yaml", "observe.yaml", "strict.yaml"])
    func parsesCompilesWithoutWarnings(file: String) throws {
        let policy = try Shipped.load(file)
        let compiled = policy.compile(in: testContext)
        #expect(compiled.exec.count == policy.exec.count)
        #expect(compiled.warnings() == [])
        // Also when the workspace is the home directory, a common way to start an agent.
        let home = try PolicyContext(home: "/home/u", workspace: "/home/u")
        #expect(policy.compile(in: home).warnings() == [])
    }

    @Test func everyShippedPolicyIsListed() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Shipped.directory.path)
            .filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(files == ["agent.yaml", "observe.yaml", "strict.yaml"])
    }

    @Test func agentFileRules() throws {
        let c = try Shipped.compiled("agent.yaml")
        func v(_ path: String, _ access: FileAccess) -> Verdict { c.decideFile(path: path, access: access).verdict }
        // The workspace and temporary files are writable.
        #expect(v("/home/u/proj/src/main.c", .write) == .allow)
        #expect(v("/home/u/proj/build", .create) == .allow)
        #expect(v("/home/u/proj/old.o", .delete) == .allow)
        #expect(v("/tmp/cc1234.s", [.create, .write]) == .allow)
        #expect(v("/dev/null", .write) == .allow)
        #expect(v("/dev/pts/3", .write) == .allow)
        // Caches and the agent's own state.
        #expect(v("/home/u/.cache/pip/http/x", .create) == .allow)
        #expect(v("/home/u/.local/lib/python3.11/site-packages/x.py", .create) == .allow)
        #expect(v("/home/u/.cargo/registry/index/x", .write) == .allow)
        #expect(v("/home/u/.claude/projects/p.jsonl", .write) == .allow)
        #expect(v("/home/u/.claude.json", .write) == .allow)
        // No other writes.
        #expect(v("/home/u/notes.txt", .write) == .deny)
        #expect(v("/etc/hosts", .write) == .deny)
        #expect(v("/usr/local/bin/git", .create) == .deny)
        #expect(v("/home/u/.config/Code/settings.json", .write) == .deny)
        // Reads are allowed in general...
        #expect(v("/etc/passwd", .read) == .allow)
        #expect(v("/home/u/.gitconfig", .read) == .allow)
        #expect(v("/usr/lib/x86_64-linux-gnu/libc.so.6", [.read, .exec]) == .allow)
        // ...but not secrets, which are not writable either.
        for secret in ["/home/u/.ssh/id_ed25519", "/home/u/.aws/credentials", "/home/u/.gnupg/private-keys-v1.d/k",
                       "/home/u/.config/gh/hosts.yml", "/home/u/.netrc", "/home/u/.docker/config.json",
                       "/home/u/.kube/config", "/home/u/.git-credentials", "/home/u/.local/share/keyrings/login.keyring"] {
            #expect(v(secret, .read) == .deny, "\(secret)")
            #expect(v(secret, .write) == .deny, "\(secret)")
        }
        #expect(v("/home/u/proj/.env", .read) == .deny)
        #expect(v("/srv/other/.env.local", .read) == .deny)
        #expect(v("/home/u/proj/.env", .write) == .allow)
        #expect(v("/home/u/proj/.envrc", .read) == .allow)
        // Persistence.
        for spot in ["/home/u/.bashrc", "/home/u/.profile", "/home/u/.zshrc", "/home/u/.config/autostart/x.desktop",
                     "/home/u/.config/systemd/user/x.service", "/home/u/.local/share/systemd/user/x.service",
                     "/home/u/.ssh/authorized_keys", "/home/u/proj/.git/hooks/pre-commit", "/home/u/.gitconfig",
                     "/home/u/.cargo/env"] {
            #expect(v(spot, .write) == .deny, "\(spot)")
            #expect(v(spot, .rename) == .deny, "\(spot)")
        }
        // Denied but to a git ebguard vetted at exec (`unless: git`): git writes it on init and clone.
        let config = c.decideFile(path: "/home/u/proj/.git/config", access: .write)
        #expect(config.verdict == .deny)
        #expect(c.file.first { $0.id == config.rule }?.unlessGit == true)
        #expect(v("/home/u/proj/.git/index", .write) == .allow)
    }

    /// Issue 17: every spot where a write makes code run later, outside the session, is denied
    /// or asked, in nested repositories too; the installs and builds' own writes stay allowed;
    /// secrets copied anywhere stay unreadable.
    @Test(arguments: ["/home/u/proj", "/home/u"])
    func agentPersistenceSpotsAreClosed(workspace: String) throws {
        let c = try Shipped.load("agent.yaml").compile(in: try PolicyContext(home: "/home/u", workspace: workspace))
        func v(_ path: String, _ access: FileAccess) -> Verdict { c.decideFile(path: path, access: access).verdict }
        let ws = workspace
        let refused = [
            "/home/u/.local/lib/python3.11/site-packages/evil.pth", "/home/u/.local/lib/python3.12/site-packages/sitecustomize.py",
            "/home/u/.local/lib/python3.11/site-packages/usercustomize.py", "/home/u/.cargo/config.toml", "/home/u/.cargo/config",
            "/home/u/.gradle/init.d/evil.gradle", "/home/u/.gradle/init.gradle", "/home/u/.gradle/gradle.properties",
            "/home/u/.npmrc", "/home/u/.yarnrc.yml", "/home/u/.config/pip/pip.conf", "/home/u/.pip/pip.conf",
            "/home/u/.m2/settings.xml", "/home/u/.bash_aliases", "/home/u/.profile", "/home/u/.xsessionrc",
            "/home/u/.config/autostart/x.desktop", "/home/u/.config/systemd/user/x.service",
            "/home/u/.local/share/systemd/user/x.service", "/home/u/.local/share/dbus-1/services/org.x.service",
            "/home/u/.local/share/applications/x.desktop", "/home/u/.vim/plugin/x.vim", "/home/u/.config/nvim/init.lua",
            "/home/u/.local/share/nvim/lazy/x/plugin/x.lua", "/home/u/.vscode/extensions/x/ext.js",
            "/home/u/.cursor/extensions/x/ext.js", "/home/u/.local/bin/git", "/home/u/.cargo/bin/ls",
            "/home/u/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/bin/rustc",
            "\(ws)/.git/hooks/pre-commit", "\(ws)/vendor/lib/.git/hooks/pre-commit", "\(ws)/a/b/c/.git/hooks/post-checkout",
            "\(ws)/.git/modules/sub/hooks/pre-commit", "\(ws)/sub/.npmrc", "\(ws)/.vscode/tasks.json",
            "\(ws)/x/.claude/settings.local.json", "\(ws)/.mcp.json", "/home/u/.claude/settings.json",
            "/home/u/.codex/config.toml", "/home/u/.gemini/settings.json", "/home/u/.cursor/mcp.json",
        ]
        for spot in refused {
            for kind in [FileAccess.write, .create, .rename] {
                #expect([.deny, .ask].contains(v(spot, kind)), "\(spot) \(kind): \(c.decideFile(path: spot, access: kind))")
            }
        }
        // Any repository's config, its lock, a submodule's and a worktree's, and gitfiles: denied
        // but to a vetted git (`unless: git`; the kernel then lets it commit lock files only).
        for spot in ["\(ws)/deep/repo/.git/config", "\(ws)/.git/config.lock", "\(ws)/.git/modules/a/b/config",
                     "\(ws)/r/.git/worktrees/w/config.worktree", "\(ws)/r/.git/worktrees/w/commondir", "\(ws)/r/.git/commondir", "\(ws)/sub/.git"] {
            for kind in [FileAccess.write, .create] {
                let decision = c.decideFile(path: spot, access: kind)
                #expect(decision.verdict == .deny && c.file.first { $0.id == decision.rule }?.unlessGit == true, "\(spot) \(kind)")
            }
        }
        // What installs, builds and git write stays allowed.
        for allowed in ["/home/u/.local/lib/python3.11/site-packages/pkg/__init__.py",
                        "/home/u/.local/lib/python3.11/site-packages/pkg-1.0.dist-info/RECORD",
                        "/home/u/.cache/pip/wheels/x.whl", "/home/u/.npm/_cacache/index-v5/x", "/home/u/.cargo/registry/cache/x.crate",
                        "/home/u/.gradle/caches/x.jar", "\(ws)/node_modules/x/index.js", "\(ws)/target/debug/app",
                        "\(ws)/sub/.git/objects/ab/cdef", "\(ws)/sub/.git/index", "\(ws)/.claude/notes.md"] {
            #expect(v(allowed, .create) == .allow, "\(allowed): \(c.decideFile(path: allowed, access: .create))")
        }
        // Secrets, wherever they were copied.
        for secret in ["\(ws)/certs/server.pem", "/home/u/old/server.pem", "/home/u/backup/id_rsa", "\(ws)/x/id_ed25519", "/srv/x/tls.key",
                       "/srv/x/client.p12", "\(ws)/.env.production", "/srv/app/.env.test", "\(ws)/sub/.netrc",
                       "/home/u/.cargo/credentials.toml", "/home/u/.config/containers/auth.json",
                       "/run/user/1000/containers/auth.json", "/home/u/.vault-token", "/srv/k8s/kubeconfig"] {
            #expect(v(secret, .read) == .deny, "\(secret): \(c.decideFile(path: secret, access: .read))")
        }
        // CA bundles of installed packages stay readable (pip's certifi).
        #expect(v("/home/u/.local/lib/python3.11/site-packages/certifi/cacert.pem", .read) == .allow)
        #expect(v("/etc/ssl/certs/ca-certificates.crt", .read) == .allow)
        #expect(v("\(ws)/.envrc", .read) == .allow)
    }

    @Test func agentPersistenceHoldsWhenTheWorkspaceIsHome() throws {
        let c = try Shipped.load("agent.yaml").compile(in: try PolicyContext(home: "/home/u", workspace: "/home/u"))
        #expect(c.decideFile(path: "/home/u/notes.txt", access: .write).verdict == .allow)
        #expect(c.decideFile(path: "/home/u/.bashrc", access: .write).verdict == .deny)
        #expect(c.decideFile(path: "/home/u/.ssh/authorized_keys", access: .write).verdict == .deny)
        #expect(c.decideFile(path: "/home/u/.config/systemd/user/x.service", access: .create).verdict == .deny)
    }

    @Test func agentExecRules() throws {
        let c = try Shipped.compiled("agent.yaml")
        #expect(c.decideExec(path: "/usr/bin/sudo").verdict == .deny)
        #expect(c.decideExec(path: "/usr/local/bin/docker").verdict == .deny)
        #expect(c.decideExec(path: "/usr/bin/git").verdict == .allow)
        #expect(c.execNeedsArgv(path: "/usr/bin/git"))
        #expect(!c.execNeedsArgv(path: "/usr/bin/make"))
        #expect(c.decideExec(path: "/usr/bin/git", argv: ["git", "push", "--force", "origin"]).verdict == .ask)
        #expect(c.decideExec(path: "/usr/bin/git", argv: ["git", "push", "-uf", "origin"]).verdict == .ask)
        #expect(c.decideExec(path: "/usr/bin/git", argv: ["git", "push", "origin", "main"]).verdict == .allow)
        #expect(c.decideExec(path: "/usr/bin/git", argv: ["git", "clean", "-fdx"]).verdict == .ask)
        #expect(c.decideExec(path: "/usr/bin/git", argv: ["git", "status"]).verdict == .allow)
    }

    /// What a standalone `ebguard run` keeps to decide its held execs decides them as the whole policy
    /// does, and vets a git's gitfiles as the whole policy would: agent.yaml's `unless: git` rules keep
    /// its file rules; a policy without them keeps none.
    @Test func theHeldExecRulesDecideExecsAsTheWholePolicy() throws {
        let whole = try Shipped.compiled("agent.yaml")
        let execOnly = whole.heldExecRules
        #expect(execOnly.network.isEmpty && !whole.network.isEmpty)
        #expect(execOnly.file == whole.file && execOnly.exec == whole.exec && execOnly.defaults == whole.defaults)
        let strict = try Shipped.compiled("strict.yaml")
        #expect(strict.heldExecRules.file.isEmpty && !strict.file.isEmpty && !strict.file.contains(where: \.unlessGit))
        let cases: [(String, [String]?)] = [
            ("/usr/bin/sudo", nil), ("/usr/bin/git", nil), ("/usr/bin/git", ["git", "push", "--force", "origin"]),
            ("/usr/bin/git", ["git", "status"]), ("/usr/bin/git", ["git", "clean", "-fdx"]), ("/usr/bin/make", ["make"]),
        ]
        for (path, argv) in cases {
            #expect(execOnly.decideExec(path: path, argv: argv) == whole.decideExec(path: path, argv: argv), "\(path) \(argv ?? [])")
        }
    }

    @Test func agentNetworkRules() throws {
        let c = try Shipped.compiled("agent.yaml")
        func v(_ a: String, _ port: UInt16, _ p: TransportProtocol) -> Verdict {
            c.decideConnect(address: ip(a), port: port, protocol: p).verdict
        }
        #expect(v("127.0.0.53", 53, .udp) == .allow)
        #expect(v("::1", 5432, .tcp) == .allow)
        // The web by name only: an address typed by hand is denied; the same address answered
        // for an allowed name is open on 443/tcp only (DNS itself goes to the session's resolver).
        #expect(v("1.1.1.1", 53, .udp) == .deny)
        #expect(v("140.82.112.3", 443, .tcp) == .deny)
        #expect(v("2606:50c0:8000::153", 443, .tcp) == .deny)
        #expect(v("151.101.0.223", 80, .tcp) == .deny)
        func live(_ name: String, _ a: String, _ port: UInt16, _ p: TransportProtocol) -> Verdict {
            c.decideConnect(address: ip(a), port: port, protocol: p, liveRules: c.decideHost(name: name).rules).verdict
        }
        #expect(live("github.com", "140.82.112.3", 443, .tcp) == .allow)
        #expect(live("objects.githubusercontent.com", "2606:50c0:8000::153", 443, .tcp) == .allow)
        #expect(live("github.com", "140.82.112.3", 22, .tcp) == .deny)
        #expect(live("github.com", "140.82.112.3", 443, .udp) == .deny)
        #expect(live("metadata.evil.example", "169.254.169.254", 80, .tcp) == .deny, "a cidr deny beats any name")
        for name in ["api.anthropic.com", "api.openai.com", "pypi.org", "files.pythonhosted.org", "registry.npmjs.org",
                     "index.crates.io", "static.crates.io", "proxy.golang.org", "repo1.maven.org", "codeload.github.com"] {
            #expect(c.decideHost(name: name).verdict == .allow, "\(name)")
        }
        #expect(c.decideHost(name: "exfil.example.net").verdict == .ask)
        #expect(c.decideHost(name: "github.com.evil.example").verdict == .ask)
        #expect(v("140.82.112.3", 22, .tcp) == .deny)
        #expect(v("140.82.112.3", 443, .udp) == .deny)
        #expect(v("169.254.169.254", 80, .tcp) == .deny)
        #expect(v("169.254.170.2", 80, .tcp) == .deny)
        #expect(v("::ffff:169.254.169.254", 80, .tcp) == .deny)
        #expect(v("fd00:ec2::254", 80, .tcp) == .deny)
        #expect(v("100.100.100.200", 80, .tcp) == .deny)
        func u(_ path: String) -> Verdict { c.decideUnix(path: path).verdict }
        #expect(u("/run/docker.sock") == .deny)
        #expect(u("/var/run/docker.sock") == .deny)
        #expect(u("/run/dbus/system_bus_socket") == .deny)
        #expect(u("/run/user/1000/bus") == .deny)
        #expect(u("/run/user/1000/docker.sock") == .deny)
        #expect(u("/home/u/.docker/desktop/docker.sock") == .deny)
        #expect(u("/tmp/.X11-unix/X0") == .deny)
        #expect(u("/run/systemd/journal/socket") == .allow)
        // Resolving through systemd-resolved or nscd would bypass the session's resolver.
        #expect(u("/run/systemd/resolve/io.systemd.Resolve") == .deny)
        #expect(u("/run/nscd/socket") == .deny)
        #expect(u("/home/u/proj/test.sock") == .allow)
        // The user's own servers outside /run/user: each a way out of the session.
        for path in ["/tmp/ssh-XXXXaBc123/agent.4711", "/tmp/tmux-1000/default", "/tmp/tmux-1000/work",
                     "/run/screen/S-u/1234.pts-0.host", "/home/u/.gnupg/S.gpg-agent", "/home/u/.gnupg/S.gpg-agent.ssh",
                     "/tmp/vscode-ipc-6f1e2d3c-aaaa-bbbb-cccc-0123456789ab.sock", "/tmp/nvim.u/AbC123/nvim.4711.0",
                     "/tmp/emacs1000/server"] {
            #expect(u(path) == .deny, "\(path)")
        }
        // Lookalikes stay open: the patterns are no wider than the servers' own names.
        for path in ["/tmp/ssh.sock", "/tmp/sshd-test/agent.sock", "/tmp/tmux.sock", "/tmp/myapp/vscode-ipc.sock",
                     "/home/u/proj/.gnupg-test.sock", "/tmp/nvim.sock",
                     "/tmp/tmux-1000.sock", "/tmp/emacs.sock"] {
            #expect(u(path) == .allow, "\(path)")
        }
    }

    @Test func observeAuditsEverything() throws {
        let p = try Shipped.load("observe.yaml")
        let c = p.compile(in: testContext)
        #expect(!p.noNewPrivs)
        #expect(c.decideExec(path: "/usr/bin/sudo") == Decision(.audit, nil))
        #expect(c.decideFile(path: "/home/u/.ssh/id_rsa", access: .read) == Decision(.audit, nil))
        #expect(c.decideConnect(address: ip("169.254.169.254"), port: 80, protocol: .tcp) == Decision(.audit, nil))
        #expect(c.decideUnix(path: "/run/docker.sock") == Decision(.audit, nil))
    }

    @Test func strictRunsAShellAndACompilerAndLittleElse() throws {
        let c = try Shipped.compiled("strict.yaml")
        func f(_ path: String, _ access: FileAccess) -> Verdict { c.decideFile(path: path, access: access).verdict }
        // A shell and a compiler...
        for program in ["/usr/bin/bash", "/usr/bin/make", "/usr/bin/x86_64-linux-gnu-gcc-12",
                        "/usr/lib/gcc/x86_64-linux-gnu/12/cc1", "/usr/bin/x86_64-linux-gnu-ld.bfd"] {
            #expect(c.decideExec(path: program).verdict == .allow, "\(program)")
            #expect(f(program, [.read, .exec]) == .allow, "\(program)")
        }
        #expect(f("/usr/lib/x86_64-linux-gnu/libc.so.6", [.read, .exec]) == .allow)
        #expect(f("/etc/ld.so.cache", .read) == .allow)
        #expect(f("/usr/include/stdio.h", .read) == .allow)
        #expect(f("/tmp/ccX1.s", [.create, .write]) == .allow)
        #expect(f("/tmp/ccX1.s", .read) == .allow)
        #expect(f("/dev/null", .write) == .allow)
        #expect(f("/proc/self/status", .read) == .allow)
        // ...in the workspace, running what it builds.
        #expect(f("/home/u/proj/hello.c", [.read, .write, .create]) == .allow)
        #expect(c.decideExec(path: "/home/u/proj/a.out").verdict == .allow)
        #expect(f("/home/u/proj/a.out", .exec) == .allow)
        // And little else.
        #expect(c.decideExec(path: "/usr/bin/sudo").verdict == .deny)
        #expect(c.decideExec(path: "/tmp/payload").verdict == .deny)
        #expect(f("/tmp/payload", .exec) == .deny)
        #expect(c.decideExec(path: "/opt/tool/bin/tool").verdict == .deny)
        #expect(f("/home/u/.bashrc", .read) == .deny)
        #expect(f("/home/u/.ssh/id_rsa", .read) == .deny)
        #expect(f("/etc/shadow", .read) == .deny)
        #expect(f("/etc/passwd", .write) == .deny)
        #expect(f("/usr/bin/bash", .write) == .deny)
        #expect(f("/var/lib/dpkg/status", .read) == .deny)
        #expect(c.decideConnect(address: ip("127.0.0.1"), port: 80, protocol: .tcp).verdict == .deny)
        #expect(c.decideUnix(path: "/run/systemd/journal/socket").verdict == .deny)
    }
}
