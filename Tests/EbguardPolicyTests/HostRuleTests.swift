import EbguardPolicy
import Testing

/// `host:` network rules: the name patterns, their precedence, and how they meet `cidr` rules.
struct HostRuleTests {
    @Test(arguments: [
        ("api.github.com", "api.github.com", true),
        ("API.GitHub.com.", "api.github.com", true),
        ("*.npmjs.org", "registry.npmjs.org", true),
        ("*.npmjs.org", "a.b.npmjs.org", true),
        ("*.npmjs.org", "npmjs.org", false),
        ("*.npmjs.org", "evilnpmjs.org", false),
        ("*.npmjs.org", "npmjs.org.evil.com", false),
        ("github.com", "api.github.com", false),
        ("*", "anything.example", true),
    ])
    func patternsMatchNames(pattern: String, name: String, matches: Bool) throws {
        let parsed = try HostPattern(parsing: pattern)
        #expect(parsed.matches(HostPattern.canonical(name)) == matches)
    }

    @Test func parsesHostRulesWithPortsAndProtocol() throws {
        let policy = try compile("""
        network:
          - { action: allow, host: api.github.com, ports: [443], protocol: tcp }
          - { action: ask, host: "*" }
        """)
        let rules = policy.hostRules
        #expect(rules.count == 2)
        #expect(rules[0].host == HostMatch(pattern: .exact("api.github.com"), ports: PortSet(ranges: [PortRange(low: 443, high: 443)!]), protocol: .tcp))
        #expect(rules[1].host?.pattern == .any)
        #expect(policy.addressRules.isEmpty)
        #expect(policy.renderText().contains("network[0] allow host    api.github.com ports=443 protocol=tcp"))
        #expect(policy.renderJSON().contains("\"host\" : \"api.github.com\""))
    }

    @Test func theMostSpecificPatternDecidesAName() throws {
        let policy = try compile("""
        defaults: { network: deny }
        network:
          - { action: ask, host: "*" }
          - { action: allow, host: "*.github.com", ports: [443] }
          - { action: deny, host: "*.evil.github.com" }
          - { action: audit, host: gist.github.com, ports: [443] }
        """)
        #expect(policy.decideHost(name: "api.github.com").verdict == .allow)
        #expect(policy.decideHost(name: "api.github.com").rule == RuleID(.network, 1))
        #expect(policy.decideHost(name: "x.evil.github.com").verdict == .deny)
        #expect(policy.decideHost(name: "gist.github.com").verdict == .audit)
        #expect(policy.decideHost(name: "github.com").verdict == .ask)  // the bare suffix is not under it
        #expect(policy.decideHost(name: "example.org").rule == RuleID(.network, 0))
        let defaulted = try compile("defaults: { network: deny }\nnetwork: []\n")
        #expect(defaulted.decideHost(name: "example.org") == .init(verdict: .deny, rule: nil, rules: [], pattern: nil))
    }

    @Test func aNameWithSomeAllowedPortResolves() throws {
        let policy = try compile("""
        defaults: { network: deny }
        network:
          - { action: deny, host: github.com, ports: [22] }
          - { action: allow, host: github.com, ports: [443] }
        """)
        let decision = policy.decideHost(name: "github.com")
        #expect(decision.verdict == .allow)
        #expect(decision.rules.count == 2)
        // The connect: port 443 by the allow, 22 by the deny, 80 falls to the default.
        let address = ip("140.82.112.3")
        #expect(policy.decideConnect(address: address, port: 443, protocol: .tcp, liveRules: decision.rules) == Decision(.allow, RuleID(.network, 1)))
        #expect(policy.decideConnect(address: address, port: 22, protocol: .tcp, liveRules: decision.rules) == Decision(.deny, RuleID(.network, 0)))
        #expect(policy.decideConnect(address: address, port: 80, protocol: .tcp, liveRules: decision.rules) == Decision(.deny, nil))
    }

    @Test func anExplicitCIDRDenyBeatsAnyName() throws {
        let policy = try compile("""
        defaults: { network: allow }
        network:
          - { action: deny, cidr: 169.254.169.254/32 }
          - { action: allow, host: metadata.example, ports: [80] }
          - { action: ask, cidr: 10.0.0.0/8 }
        """)
        let live = policy.decideHost(name: "metadata.example").rules
        #expect(policy.decideConnect(address: ip("169.254.169.254"), port: 80, protocol: .tcp, liveRules: live)
                == Decision(.deny, RuleID(.network, 0)))
        // A name is more specific than a CIDR ask: its allow rules.
        #expect(policy.decideConnect(address: ip("10.1.2.3"), port: 80, protocol: .tcp, liveRules: live)
                == Decision(.allow, RuleID(.network, 1)))
        // Without a live answer the address rules decide, as before.
        #expect(policy.decideConnect(address: ip("10.1.2.3"), port: 80, protocol: .tcp, liveRules: [])
                == Decision(.ask, RuleID(.network, 2)))
    }
}
