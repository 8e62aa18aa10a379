import EbguardPolicy
import Testing

@Suite("Precedence")
struct PrecedenceTests {
    @Test func exactBeatsSubtreeBeatsBasename() throws {
        let c = try compile("""
            file:
              - { action: deny,  name: config }
              - { action: audit, path: /etc/** }
              - { action: allow, path: /etc/app/config }
            """)
        #expect(c.decideFile(path: "/etc/app/config", access: .read) == Decision(.allow, RuleID(.file, 2)))
        #expect(c.decideFile(path: "/etc/other/config", access: .read) == Decision(.audit, RuleID(.file, 1)))
        #expect(c.decideFile(path: "/srv/config", access: .read) == Decision(.deny, RuleID(.file, 0)))
        #expect(c.decideFile(path: "/srv/other", access: .read) == Decision(.allow, nil))
    }

    @Test func longerSubtreeBeatsShorter() throws {
        let c = try compile("""
            file:
              - { action: allow, path: "~/.ssh/known_hosts" }
              - { action: deny,  path: "~/.ssh/**" }
              - { action: allow, path: "~/**" }
              - { action: audit, path: "/**" }
              - { action: ask,   path: "~/.ssh/public/**" }
            """)
        #expect(c.decideFile(path: "/home/u/.ssh/id_rsa", access: .read) == Decision(.deny, RuleID(.file, 1)))
        #expect(c.decideFile(path: "/home/u/.ssh", access: .read) == Decision(.deny, RuleID(.file, 1)))
        #expect(c.decideFile(path: "/home/u/.ssh/known_hosts", access: .read) == Decision(.allow, RuleID(.file, 0)))
        #expect(c.decideFile(path: "/home/u/.ssh/public/a.pub", access: .read) == Decision(.ask, RuleID(.file, 4)))
        #expect(c.decideFile(path: "/home/u/notes", access: .write) == Decision(.allow, RuleID(.file, 2)))
        #expect(c.decideFile(path: "/opt/x", access: .write) == Decision(.audit, RuleID(.file, 3)))
    }

    @Test func subtreeIncludesTheDirectoryButExactWinsOnIt() throws {
        let c = try compile("""
            file:
              - { action: deny,  path: /data/** }
              - { action: allow, path: /data }
            """)
        #expect(c.decideFile(path: "/data", access: .read) == Decision(.allow, RuleID(.file, 1)))
        #expect(c.decideFile(path: "/data/x", access: .read) == Decision(.deny, RuleID(.file, 0)))
    }

    @Test func tiesGoToTheStrongerVerdictWhateverTheOrder() throws {
        let orders = [
            ["allow", "audit", "ask", "deny"],
            ["deny", "ask", "audit", "allow"],
            ["audit", "deny", "allow", "ask"],
        ]
        for order in orders {
            let rules = order.map { "  - { action: \($0), path: /x }\n" }.joined()
            let c = try compile("file:\n" + rules)
            let denyIndex = order.firstIndex(of: "deny")!
            #expect(c.decideFile(path: "/x", access: .read) == Decision(.deny, RuleID(.file, denyIndex)))
        }
        for (strong, weak) in [("ask", "audit"), ("audit", "allow"), ("ask", "allow")] {
            let c = try compile("file:\n  - { action: \(weak), name: n }\n  - { action: \(strong), name: n }\n")
            #expect(c.decideFile(path: "/a/n", access: .read) == Decision(Verdict(rawValue: strong)!, RuleID(.file, 1)))
        }
    }

    @Test func equalRulesReportTheFirst() throws {
        let c = try compile("file:\n  - { action: deny, path: /x }\n  - { action: deny, path: /x }\n")
        #expect(c.decideFile(path: "/x", access: .read) == Decision(.deny, RuleID(.file, 0)))
    }

    @Test func specificityBeatsVerdict() throws {
        // A more specific allow beats a less specific deny: exceptions are expressible.
        let c = try compile("""
            file:
              - { action: deny,  path: /** , access: [write] }
              - { action: allow, path: /tmp/** , access: [write] }
            """)
        #expect(c.decideFile(path: "/tmp/a", access: .write) == Decision(.allow, RuleID(.file, 1)))
        #expect(c.decideFile(path: "/etc/a", access: .write) == Decision(.deny, RuleID(.file, 0)))
    }

    @Test func rulesOnlyApplyToTheirAccessKinds() throws {
        let c = try compile("""
            file:
              - { action: deny,  path: "~/.ssh/**", access: [read] }
              - { action: allow, path: "~/.ssh/**", access: [write] }
              - { action: ask,   path: "~/.ssh/config" , access: [write] }
            """, defaults: "defaults: { file: audit }\n")
        #expect(c.decideFile(path: "/home/u/.ssh/config", access: .read) == Decision(.deny, RuleID(.file, 0)))
        #expect(c.decideFile(path: "/home/u/.ssh/config", access: .write) == Decision(.ask, RuleID(.file, 2)))
        #expect(c.decideFile(path: "/home/u/.ssh/id_rsa", access: .write) == Decision(.allow, RuleID(.file, 1)))
        // No rule lists delete: the default decides even though the paths match.
        #expect(c.decideFile(path: "/home/u/.ssh/id_rsa", access: .delete) == Decision(.audit, nil))
        // The exact rule is for write only, so the read falls through to the subtree.
        #expect(c.decideFile(path: "/home/u/.ssh/config", access: .read) == Decision(.deny, RuleID(.file, 0)))
    }

    @Test func severalKindsTakeTheStrongestVerdict() throws {
        let c = try compile("""
            file:
              - { action: audit, path: /data/**, access: [read] }
              - { action: deny,  path: /data/**, access: [write] }
            """)
        #expect(c.decideFile(path: "/data/f", access: [.read, .write]) == Decision(.deny, RuleID(.file, 1)))
        #expect(c.decideFile(path: "/data/f", access: [.read, .create]) == Decision(.audit, RuleID(.file, 0)))
    }

    @Test func basenameLosesToAnyPathRule() throws {
        let c = try compile("""
            file:
              - { action: allow, path: "${workspace}/**", access: [read] }
              - { action: deny,  name: .env, access: [read] }
            """)
        #expect(c.decideFile(path: "/home/u/proj/.env", access: .read) == Decision(.allow, RuleID(.file, 0)))
        #expect(c.decideFile(path: "/home/u/other/.env", access: .read) == Decision(.deny, RuleID(.file, 1)))
    }

    @Test func defaultsPerDomain() throws {
        let c = try compile("", defaults: "defaults: { exec: ask, file: audit, network: deny }\n")
        #expect(c.decideExec(path: "/bin/ls") == Decision(.ask, nil))
        #expect(c.decideFile(path: "/etc/passwd", access: .read) == Decision(.audit, nil))
        #expect(c.decideConnect(address: ip("1.1.1.1"), port: 443, protocol: .tcp) == Decision(.deny, nil))
        #expect(c.decideUnix(path: "/run/x.sock") == Decision(.deny, nil))
    }

    @Test func execPrecedence() throws {
        let c = try compile("""
            exec:
              - { action: deny,  path: /usr/sbin/** }
              - { action: allow, path: /usr/sbin/ip }
              - { action: audit, name: ip }
              - { action: deny,  name: nc }
            """)
        #expect(c.decideExec(path: "/usr/sbin/ip") == Decision(.allow, RuleID(.exec, 1)))
        #expect(c.decideExec(path: "/usr/sbin/iptables") == Decision(.deny, RuleID(.exec, 0)))
        #expect(c.decideExec(path: "/opt/bin/ip") == Decision(.audit, RuleID(.exec, 2)))
        #expect(c.decideExec(path: "/usr/sbin/nc") == Decision(.deny, RuleID(.exec, 0)))
        #expect(c.decideExec(path: "/usr/bin/nc") == Decision(.deny, RuleID(.exec, 3)))
        #expect(c.decideExec(path: "/usr/bin/ls") == Decision(.allow, nil))
    }

    @Test func argvRulesOnlyForTheirBinaryAndOnlyWithArgv() throws {
        let c = try compile("""
            exec:
              - { action: ask,   path: /usr/bin/git, argv: [reset, --hard] }
              - { action: audit, path: /usr/bin/** }
              - { action: deny,  name: rm, argv: [-rf, /] }
            """)
        // The kernel stage (no argv) ignores argv rules.
        #expect(c.decideExec(path: "/usr/bin/git") == Decision(.audit, RuleID(.exec, 1)))
        #expect(c.decideExec(path: "/usr/bin/git", argv: ["git", "reset", "--hard"]) == Decision(.ask, RuleID(.exec, 0)))
        #expect(c.decideExec(path: "/usr/bin/git", argv: ["git", "status"]) == Decision(.audit, RuleID(.exec, 1)))
        // An argv rule for git never applies to another binary with the same arguments.
        #expect(c.decideExec(path: "/usr/bin/hg", argv: ["hg", "reset", "--hard"]) == Decision(.audit, RuleID(.exec, 1)))
        // Basename argv rule: lower precedence than the subtree, so it only decides elsewhere.
        #expect(c.decideExec(path: "/opt/rm", argv: ["rm", "-rf", "/"]) == Decision(.deny, RuleID(.exec, 2)))
        #expect(c.decideExec(path: "/usr/bin/rm", argv: ["rm", "-rf", "/"]) == Decision(.audit, RuleID(.exec, 1)))

        #expect(c.execNeedsArgv(path: "/usr/bin/git"))
        #expect(!c.execNeedsArgv(path: "/usr/bin/ls"))
        #expect(!c.execNeedsArgv(path: "/usr/bin/rm"))
        #expect(c.execNeedsArgv(path: "/opt/rm"))
    }

    @Test func argvRuleTiesWithPathRuleByVerdict() throws {
        let c = try compile("""
            exec:
              - { action: deny,  path: /usr/bin/git }
              - { action: allow, path: /usr/bin/git, argv: [status] }
              - { action: allow, path: /usr/bin/curl }
              - { action: ask,   path: /usr/bin/curl, argv: [--upload-file] }
            """)
        #expect(c.decideExec(path: "/usr/bin/git", argv: ["git", "status"]) == Decision(.deny, RuleID(.exec, 0)))
        #expect(!c.execNeedsArgv(path: "/usr/bin/git"))
        #expect(c.decideExec(path: "/usr/bin/curl", argv: ["curl", "--upload-file", "f", "x"]) == Decision(.ask, RuleID(.exec, 3)))
        #expect(c.execNeedsArgv(path: "/usr/bin/curl"))
    }

    @Test func unixPrecedence() throws {
        let c = try compile("""
            network:
              - { action: allow, unix: /** }
              - { action: deny,  unix: /run/user/** }
              - { action: allow, unix: /run/user/1000/pulse/native }
              - { action: deny,  unix: /run/docker.sock }
            """, defaults: "defaults: { network: deny }\n")
        #expect(c.decideUnix(path: "/run/docker.sock") == Decision(.deny, RuleID(.network, 3)))
        #expect(c.decideUnix(path: "/run/user/1000/bus") == Decision(.deny, RuleID(.network, 1)))
        #expect(c.decideUnix(path: "/run/user/1000/pulse/native") == Decision(.allow, RuleID(.network, 2)))
        #expect(c.decideUnix(path: "/run/systemd/journal/socket") == Decision(.allow, RuleID(.network, 0)))
    }

    /// The table in docs/policy.md, "Precedence".
    @Test func documentedExample() throws {
        let c = try compile("""
            file:
              - { action: deny,  path: "~/.ssh/**" }
              - { action: allow, path: "~/.ssh/known_hosts" }
              - { action: audit, path: /** }
              - { action: deny,  name: id_rsa }
            """)
        #expect(c.decideFile(path: "/home/u/.ssh/known_hosts", access: .read) == Decision(.allow, RuleID(.file, 1)))
        #expect(c.decideFile(path: "/home/u/.ssh/id_rsa", access: .read) == Decision(.deny, RuleID(.file, 0)))
        #expect(c.decideFile(path: "/srv/backup/id_rsa", access: .read) == Decision(.audit, RuleID(.file, 2)))
    }

    @Test func queriesAreNormalizedLexically() throws {
        let c = try compile("file:\n  - { action: deny, path: /etc/shadow }\n")
        #expect(c.decideFile(path: "//etc/./shadow", access: .read) == Decision(.deny, RuleID(.file, 0)))
    }
}

/// `unless: git` in the reference evaluator and `policy show --explain`.
@Suite struct UnlessGitPrecedenceTests {
    let policy: CompiledPolicy

    init() throws {
        policy = try Policy.parse(yaml: """
        version: 1
        name: t
        file:
          - { action: deny, path: "${workspace}/**/.git/config*", access: [write, create], unless: git }
          - { action: deny, path: "${workspace}/**/.git/config", access: [create] }
        """, file: "t.yaml").compile(in: try PolicyContext(home: "/home/u", workspace: "/w"))
    }

    /// The yielding rule decides where it alone matches; a plain deny of the same rank names the
    /// decision where both do, as in the kernel (the one no git gets past).
    @Test func aPlainDenyOfTheSameRankNamesTheDecision() {
        #expect(policy.decideFile(path: "/w/r/.git/config", access: .write) == Decision(.deny, RuleID(.file, 0)))
        #expect(policy.decideFile(path: "/w/r/.git/config", access: .create) == Decision(.deny, RuleID(.file, 1)))
        #expect(policy.decideFile(path: "/w/r/.git/config.lock", access: .create) == Decision(.deny, RuleID(.file, 0)))
        #expect(policy.decideFile(path: "/w/r/.git/config", access: .read) == Decision(.allow, nil))
    }

    @Test func explainSaysWhoMayStillWrite() {
        let lines = policy.explain(path: "/w/r/.git/config")
        let write = lines.firstIndex { $0.hasPrefix("  file write: deny by file[0]") }
        #expect(write != nil, "\(lines)")
        #expect(write.map { lines[$0 + 1].contains("unless: git") } == true, "\(lines)")
        let create = lines.firstIndex { $0.hasPrefix("  file create: deny by file[1]") }
        #expect(create != nil, "\(lines)")
        #expect(create.map { lines[$0 + 1].contains("over file[0]") } == true, "\(lines)")
    }
}
