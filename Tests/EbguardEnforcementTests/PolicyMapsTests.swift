import EbguardBPF
@testable import EbguardEnforcement
import EbguardPolicy
import Testing

/// The compile step from policy to kernel map entries: pure, so every precedence decision the
/// kernel relies on is checked here without a kernel.
@Suite struct PolicyMapsTests {
    func compile(_ yaml: String, id: UInt32 = 7) throws -> PolicyMaps {
        let policy = try Policy.parse(yaml: yaml, file: "test.yaml")
        return try PolicyMaps(policy.compile(in: try PolicyContext(home: "/home/u", workspace: "/work/ws")), policyID: id)
    }

    func pathString(_ key: eg_path_key) -> String {
        withUnsafeBytes(of: key.path) { String(decoding: $0.prefix(Int(key.len)), as: UTF8.self) }
    }

    @Test func sessionCarriesDefaultsAndPolicyID() throws {
        let maps = try compile("version: 1\nname: t\ndefaults: { exec: deny, file: audit, network: ask }\n", id: 42)
        #expect(maps.session.policy_id == 42)
        #expect(maps.session.default_verdict.0 == UInt8(EG_VERDICT_DENY.rawValue))
        #expect(maps.session.default_verdict.1 == UInt8(EG_VERDICT_AUDIT.rawValue))
        #expect(maps.session.default_verdict.2 == UInt8(EG_VERDICT_ASK.rawValue))
        #expect(maps.loadedMarkers.map(\.kind) == [UInt8(EG_PATH_LOADED.rawValue), UInt8(EG_PATH_LOADED.rawValue)])
        #expect(maps.loadedMarkers.map(\.domain) == [UInt8(EG_DOMAIN_EXEC.rawValue), UInt8(EG_DOMAIN_FILE.rawValue)])
        #expect(maps.loadedMarkers.allSatisfy { $0.policy_id == 42 && $0.len == 0 })
    }

    @Test func rulesOnOneKeyMergePerAccessStrongestWins() throws {
        let maps = try compile("""
        version: 1
        name: t
        file:
          - { action: allow, path: "~/.ssh/**", access: [read] }
          - { action: deny,  path: "~/.ssh/**", access: [read, write] }
          - { action: audit, path: "~/.ssh/**", access: [chmod] }
          - { action: deny,  path: /etc/shadow }
          - { action: deny,  name: .env, access: [read] }
          - { action: allow, path: /** , access: [write] }
        """)
        #expect(maps.paths.count == 4)
        let ssh = try #require(maps.paths.first { pathString($0.key) == "/home/u/.ssh" })
        #expect(ssh.key.kind == UInt8(EG_PATH_SUBTREE.rawValue))
        #expect(ssh.key.domain == UInt8(EG_DOMAIN_FILE.rawValue))
        #expect(ssh.rule.verdicts[Int(EG_ACCESS_READ.rawValue)] == UInt8(EG_VERDICT_DENY.rawValue))
        #expect(ssh.rule.rules[Int(EG_ACCESS_READ.rawValue)] == 1)
        #expect(ssh.rule.verdicts[Int(EG_ACCESS_WRITE.rawValue)] == UInt8(EG_VERDICT_DENY.rawValue))
        #expect(ssh.rule.verdicts[Int(EG_ACCESS_CHMOD.rawValue)] == UInt8(EG_VERDICT_AUDIT.rawValue))
        #expect(ssh.rule.verdicts[Int(EG_ACCESS_DELETE.rawValue)] == UInt8(EG_VERDICT_NONE))
        let shadow = try #require(maps.paths.first { pathString($0.key) == "/etc/shadow" })
        #expect(shadow.key.kind == UInt8(EG_PATH_EXACT.rawValue))
        #expect(shadow.rule.verdicts.prefix(7).allSatisfy { $0 == UInt8(EG_VERDICT_DENY.rawValue) })
        let env = try #require(maps.paths.first { $0.key.kind == UInt8(EG_PATH_NAME.rawValue) })
        #expect(pathString(env.key) == ".env")
        // The root subtree is the empty prefix, as the kernel walks it.
        let root = try #require(maps.paths.first { $0.key.kind == UInt8(EG_PATH_SUBTREE.rawValue) && $0.key.len == 0 })
        #expect(root.rule.verdicts[Int(EG_ACCESS_WRITE.rawValue)] == UInt8(EG_VERDICT_ALLOW.rawValue))
        // Keys are zero past their length: the kernel hashes the whole key.
        #expect(withUnsafeBytes(of: shadow.key.path) { $0.dropFirst(Int(shadow.key.len)).allSatisfy { $0 == 0 } })
    }

    @Test func argvRulesOnlyMarkTheBinaryForAHold() throws {
        let maps = try compile("""
        version: 1
        name: t
        exec:
          - { action: deny, path: /usr/bin/git, argv: [reset, --hard] }
          - { action: deny, path: /usr/bin/docker }
        """)
        let git = try #require(maps.paths.first { pathString($0.key) == "/usr/bin/git" })
        #expect(git.key.domain == UInt8(EG_DOMAIN_EXEC.rawValue))
        #expect(git.rule.flags & UInt32(EG_PATH_RULE_ARGV) != 0)
        #expect(git.rule.verdicts[Int(EG_ACCESS_EXEC.rawValue)] == UInt8(EG_VERDICT_NONE))
        let docker = try #require(maps.paths.first { pathString($0.key) == "/usr/bin/docker" })
        #expect(docker.rule.flags == 0)
        #expect(docker.rule.verdicts[Int(EG_ACCESS_EXEC.rawValue)] == UInt8(EG_VERDICT_DENY.rawValue))
    }

    @Test func networkPrefixesCarryEveryCoveringRuleMostSpecificFirst() throws {
        let maps = try compile("""
        version: 1
        name: t
        network:
          - { action: allow, cidr: 0.0.0.0/0, ports: [443, "8000-8999"], protocol: tcp }
          - { action: deny,  cidr: 10.0.0.0/8, ports: [22] }
          - { action: allow, cidr: 10.1.0.0/16 }
          - { action: deny,  cidr: "::1/128" }
        """)
        #expect(maps.ipv4.count == 3)
        #expect(maps.ipv6.count == 1)
        let narrow = try #require(maps.ipv4.first { $0.key.prefixlen == 32 + 16 })
        #expect(narrow.key.policy_id == 7)
        let rules = withUnsafeBytes(of: narrow.rules.rules) { Array($0.bindMemory(to: eg_net_rule.self).prefix(Int(narrow.rules.count))) }
        // 10.1/16 any port, then 10/8 port 22, then 0/0 on 443 and 8000-8999.
        #expect(rules.map(\.rule) == [2, 1, 0, 0])
        #expect(rules[0].port_lo == 0 && rules[0].port_hi == 65535)
        #expect(rules[1].port_lo == 22 && rules[1].port_hi == 22 && rules[1].verdict == UInt8(EG_VERDICT_DENY.rawValue))
        #expect(rules[3].port_lo == 8000 && rules[3].port_hi == 8999 && rules[3].protocol == 6)
        let everything = try #require(maps.ipv4.first { $0.key.prefixlen == 32 })
        #expect(everything.rules.count == 2)  // only the 0/0 rule's two ranges
        #expect(maps.ipv6[0].key.prefixlen == 32 + 128)
    }

    @Test func tooManyRulesForOnePrefixIsACompileError() throws {
        let ports = (1...17).map { "\($0 * 10)" }.joined(separator: ", ")
        let error = #expect(throws: PolicyMaps.CompileError.self) {
            _ = try compile("version: 1\nname: t\nnetwork:\n  - { action: allow, cidr: 10.0.0.0/8, ports: [\(ports)] }\n")
        }
        #expect(error?.description.contains("at most 16") == true)
    }

    @Test func unixSubtreesAreReportedNotSilentlyDropped() throws {
        let maps = try compile("""
        version: 1
        name: t
        network:
          - { action: deny, unix: /run/docker.sock }
          - { action: allow, unix: /run/** }
        """)
        #expect(maps.unix.count == 1)
        #expect(maps.unix[0].rule.verdict == UInt8(EG_VERDICT_DENY.rawValue))
        #expect(maps.unenforced.count == 1)
        #expect(maps.unenforced[0].hasPrefix("network[1]"))
    }

    @Test func overlongPathsAreRefused() throws {
        let long = "/" + String(repeating: "a", count: 300)
        #expect(throws: PolicyMaps.CompileError.self) {
            _ = try compile("version: 1\nname: t\nfile:\n  - { action: deny, path: \(long) }\n")
        }
    }

    // MARK: kernel limits

    func compiledPolicy(_ yaml: String) throws -> CompiledPolicy {
        try Policy.parse(yaml: yaml, file: "t.yaml").compile(in: try PolicyContext(home: "/home/u", workspace: "/work/ws"))
    }

    /// A policy of `count` file rules, from a template rule, without parsing `count` lines of
    /// YAML: `path(i)` names rule i's exact path, `verdict(i)` its verdict.
    func fileRules(_ count: Int, path: (Int) -> String, verdict: (Int) -> Verdict = { _ in .allow }) throws -> CompiledPolicy {
        var policy = try compiledPolicy("version: 1\nname: t\nfile:\n  - { action: allow, path: /f }\n")
        let template = policy.file[0]
        policy.file = (0..<count).map { i in
            var rule = template
            rule.id = RuleID(.file, i)
            rule.matcher = .exact(path(i))
            rule.verdict = verdict(i)
            return rule
        }
        return policy
    }

    @Test func aDomainOf65535RulesCompilesWithTheLastRuleNumbered() throws {
        // 1,000 paths, so the path map is not what limits; the last rule is the only deny.
        let policy = try fileRules(65_535, path: { "/f/\($0 % 1_000)" }, verdict: { $0 == 65_534 ? .deny : .allow })
        let maps = try PolicyMaps(policy, policyID: 7)
        #expect(maps.paths.count == 1_000)
        let last = try #require(maps.paths.first { pathString($0.key) == "/f/534" })
        #expect(last.rule.verdicts[Int(EG_ACCESS_READ.rawValue)] == UInt8(EG_VERDICT_DENY.rawValue))
        #expect(last.rule.rules[Int(EG_ACCESS_READ.rawValue)] == 65_534)
    }

    @Test func rule65536OfADomainIsACompileErrorNotATrap() throws {
        // Its number would be 0xffff, which the kernel reads as "the default decided".
        let policy = try fileRules(65_536, path: { "/f/\($0 % 1_000)" })
        let error = #expect(throws: PolicyMaps.CompileError.self) { _ = try PolicyMaps(policy, policyID: 7) }
        #expect(error?.rule == "file[65535]")
        #expect(error?.description.contains("too many file rules") == true)
        #expect(error?.description.contains("at most 65,535 rules per domain") == true)
    }

    @Test func otherDomainsHaveTheSameLimit() throws {
        var policy = try fileRules(1, path: { _ in "/f" })
        let execTemplate = try compiledPolicy("version: 1\nname: t\nexec:\n  - { action: deny, path: /bin/x }\n").exec[0]
        policy.exec = (0..<70_000).map { i in
            var rule = execTemplate
            rule.id = RuleID(.exec, i)
            return rule
        }
        let error = #expect(throws: PolicyMaps.CompileError.self) { _ = try PolicyMaps(policy, policyID: 7) }
        #expect(error?.rule == "exec[65535]")
    }

    @Test func morePathEntriesThanThePathMapHoldsIsACompileError() throws {
        // 65,536 keys: 65,534 paths and the two loaded markers fit; one path more does not.
        #expect(try PolicyMaps(try fileRules(65_534, path: { "/f/\($0)" }), policyID: 7).paths.count == 65_534)
        let error = #expect(throws: PolicyMaps.CompileError.self) {
            _ = try PolicyMaps(try fileRules(65_535, path: { "/f/\($0)" }), policyID: 7)
        }
        #expect(error?.rule == "file[65534]")
        #expect(error?.description.contains("65,537 path entries") == true)
        #expect(error?.description.contains("eg_path_rules map holds at most 65,536") == true)
    }

    @Test func moreUnixSocketsThanTheUnixMapHoldsIsACompileError() throws {
        func policy(_ count: Int) throws -> CompiledPolicy {
            var policy = try compiledPolicy("version: 1\nname: t\nnetwork:\n  - { action: deny, unix: /run/s }\n")
            let template = policy.network[0]
            policy.network = (0..<count).map { i in
                var rule = template
                rule.id = RuleID(.network, i)
                rule.unix = .exact("/run/s\(i)")
                return rule
            }
            return policy
        }
        #expect(try PolicyMaps(try policy(16_384), policyID: 7).unix.count == 16_384)
        let error = #expect(throws: PolicyMaps.CompileError.self) { _ = try PolicyMaps(try policy(16_385), policyID: 7) }
        #expect(error?.rule == "network[16384]")
        #expect(error?.description.contains("eg_unix_rules map holds at most 16,384") == true)
    }
}
