@testable import EbguardPolicy
import Testing

/// `unix:` rules with patterns (issue 17): what the parser takes and refuses, and the reference
/// matcher of socket names (`PathMatcher.matchesSocketName`), which matches names as bound, byte
/// for byte and unnormalized, as the kernel does (bpf/lib/unix_match.h).
struct UnixPatternTests {
    func unixRules(_ lines: [String]) throws -> CompiledPolicy {
        try compile("network:\n" + lines.map { "  - { action: \($0) }\n" }.joined())
    }

    @Test(arguments: [
        // pattern, socket name, matches
        ("/run/user/*/bus", "/run/user/1000/bus", true),
        ("/run/user/*/bus", "/run/user/1000/x/bus", false),
        ("/run/user/*/bus", "/run/user/bus", false),
        ("/tmp/ssh-*/agent.*", "/tmp/ssh-XXXXabc/agent.4242", true),
        ("/tmp/ssh-*/agent.*", "/tmp/ssh-/agent.", true),
        ("/tmp/ssh-*/agent.*", "/tmp/ssh/agent.1", false),
        ("/tmp/ssh-*/agent.*", "/tmp/ssh-a/b/agent.1", false),
        ("/**/docker.sock", "/docker.sock", true),
        ("/**/docker.sock", "/run/docker.sock", true),
        ("/**/docker.sock", "/var/lib/x/docker.sock", true),
        ("/**/docker.sock", "/run/docker.socket", false),
        ("${home}/**/*.sock", "/home/u/.gnupg/S.agent.sock", true),
        ("${home}/**/*.sock", "/home/u/a.sock", true),
        ("${home}/**/*.sock", "/home/v/a.sock", false),
        ("~/ünï/*ß", "/home/u/ünï/xß", true),
        ("~/ünï/*ß", "/home/u/ünï/xs", false),
        // As bound, not normalized: an empty component is one, and `*` matches it.
        ("/run/user/*/bus", "/run/user//bus", true),
        ("/run/*/x.sock", "/run//a/x.sock", false),
        // Names bound relative to the server's directory match no rule.
        ("/**/docker.sock", "docker.sock", false),
        ("/**/docker.sock", "run/docker.sock", false),
    ])
    func socketNamesAreMatchedAsBound(pattern: String, name: String, matches: Bool) throws {
        let matcher = try PathPattern(parsingUnix: pattern).matcher(in: testContext)
        #expect(matcher.matchesSocketName(name) == matches, "\(pattern) vs \(name)")
    }

    @Test func exactAndSubtreeRulesKeepTheirMeaning() throws {
        #expect(try PathPattern(parsingUnix: "/run/docker.sock").matcher(in: testContext) == .exact("/run/docker.sock"))
        #expect(try PathPattern(parsingUnix: "/run/user/**").matcher(in: testContext) == .subtree("/run/user"))
        let subtree = PathMatcher.subtree("/run/user")
        #expect(subtree.matchesSocketName("/run/user") && subtree.matchesSocketName("/run/user//1000/bus"))
        #expect(!subtree.matchesSocketName("/run/username/bus") && !subtree.matchesSocketName("run/user/bus"))
        #expect(PathMatcher.subtree("/").matchesSocketName("/x") && !PathMatcher.subtree("/").matchesSocketName("x"))
        #expect(!PathMatcher.exact("/run/x.sock").matchesSocketName("/run//x.sock"))
    }

    /// The order of path rules: most literal bytes before the first wildcard, then deny > ask >
    /// audit > allow, then the earlier rule.
    @Test func patternsRankAsPathRulesDo() throws {
        let c = try unixRules([
            "allow, unix: \"/run/**\"",                  // 0: rank 5
            "deny, unix: \"/run/user/*/bus\"",          // 1: rank 10
            "allow, unix: \"/run/user/1000/bus\"",      // 2: exact
            "ask, unix: \"/run/user/**\"",              // 3: rank 10, ties with 1: deny wins
            "audit, unix: \"/**/docker.sock\"",         // 4: rank 1
            "deny, unix: \"/var/**/*.sock\"",           // 5: rank 5
            "allow, unix: \"/var/run/**\"",             // 6: rank 9
        ])
        #expect(c.decideUnix(path: "/run/user/1000/bus") == Decision(.allow, RuleID(.network, 2)))
        #expect(c.decideUnix(path: "/run/user/1001/bus") == Decision(.deny, RuleID(.network, 1)))
        #expect(c.decideUnix(path: "/run/user/1001/pulse/native") == Decision(.ask, RuleID(.network, 3)))
        #expect(c.decideUnix(path: "/run/docker.sock") == Decision(.allow, RuleID(.network, 0)))
        #expect(c.decideUnix(path: "/srv/docker.sock") == Decision(.audit, RuleID(.network, 4)))
        #expect(c.decideUnix(path: "/var/lib/x.sock") == Decision(.deny, RuleID(.network, 5)))
        #expect(c.decideUnix(path: "/var/run/x.sock") == Decision(.allow, RuleID(.network, 6)))
        #expect(c.decideUnix(path: "/srv/other") == Decision(.allow, nil))
        #expect(c.decideUnix(path: "docker.sock") == Decision(.allow, nil))
    }

    @Test func policyCheckNamesTheLineAndColumn() {
        let errs = errors("""
        version: 1
        name: t
        network:
          - { action: allow, unix: "/run/user/*/bus" }
          - { action: deny, unix: "/run/*x*.sock" }
          - { action: deny, unix: "/tmp/**ssh/agent" }
        """)
        #expect(errs.count == 2, "\(errs)")
        #expect(errs.contains { $0.hasPrefix("p.yaml:5:27:") && $0.contains("at most one") }, "\(errs)")
        #expect(errs.contains { $0.hasPrefix("p.yaml:6:27:") && $0.contains("whole path component") }, "\(errs)")
    }

    @Test func explainShowsTheUnixRuleThatDecides() throws {
        let c = try unixRules(["allow, unix: \"/run/**\"", "deny, unix: \"/run/user/*/bus\""])
        let lines = c.explain(path: "/run/user/1000/bus")
        #expect(lines.contains { $0.hasPrefix("  unix connect: deny by network[1] deny pattern /run/user/*/bus (rank 10") }, "\(lines)")
        #expect(lines.contains { $0.contains("over network[0] allow subtree /run/** (rank 5") && $0.hasSuffix("less specific") }, "\(lines)")
        #expect(c.explain(path: "/srv/x").contains("  unix connect: allow by default (no rule matches)"))
    }
}
