import CEbguardABI
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

    /// The path an entry stands for: its value carries the bytes, its key their length and hash.
    func pathString(_ entry: (key: eg_path_key, rule: eg_path_rule)) -> String {
        let bytes = withUnsafeBytes(of: entry.rule.path) { Array($0.prefix(Int(entry.key.len))) }
        precondition(entry.key.hash == eg_path_hash(bytes, UInt32(bytes.count)), "key hash does not match its path")
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test func sessionCarriesDefaultsAndPolicyID() throws {
        let maps = try compile("version: 1\nname: t\ndefaults: { exec: deny, file: audit, network: ask }\n", id: 42)
        #expect(maps.session.policy_id == 42)
        #expect(maps.session.default_verdict.0 == UInt8(EG_VERDICT_DENY.rawValue))
        #expect(maps.session.default_verdict.1 == UInt8(EG_VERDICT_AUDIT.rawValue))
        #expect(maps.session.default_verdict.2 == UInt8(EG_VERDICT_ASK.rawValue))
        #expect(maps.loadedMarkers.map(\.key.kind) == Array(repeating: UInt8(EG_PATH_LOADED.rawValue), count: 4))
        #expect(maps.loadedMarkers.map(\.key.domain) == [EG_DOMAIN_EXEC, EG_DOMAIN_FILE, EG_DOMAIN_UNIX, EG_DOMAIN_RENAME].map { UInt8($0.rawValue) })
        #expect(maps.loadedMarkers.allSatisfy { $0.key.policy_id == 42 && $0.key.len == 0 })
    }

    /// The loaded marker's value lists the lengths of the domain's keys, of every kind: the
    /// kernel looks up no other length, so a missing bit would hide a rule.
    @Test func loadedMarkersCarryTheLengthsOfTheirDomainsKeys() throws {
        let maps = try compile("""
        version: 1
        name: t
        exec:
          - { action: deny, path: /usr/bin/docker }
          - { action: deny, path: /usr/sbin/** }
        file:
          - { action: deny, path: /etc/shadow }
          - { action: allow, path: /** , access: [write] }
          - { action: deny, name: .env, access: [read] }
          - { action: deny, path: "/\(String(repeating: "x/", count: 126))yy" }
        """)
        func lengths(_ marker: (key: eg_path_key, lengths: eg_path_rule)) -> Set<Int> {
            var value = marker.lengths
            return withUnsafeBytes(of: &value) { raw in
                let words = raw.bindMemory(to: UInt64.self)
                return Set((0..<Int(EG_PATH_MAX)).filter { words[$0 / 64] & (UInt64(1) << UInt64($0 % 64)) != 0 })
            }
        }
        let (exec, file) = (maps.loadedMarkers[0], maps.loadedMarkers[1])
        // /usr/bin/docker (15), /usr/sbin/** as the subtree key "/usr/sbin" (9).
        #expect(lengths(exec) == Set(maps.paths.filter { $0.key.domain == exec.key.domain }.map { Int($0.key.len) }))
        #expect(lengths(exec) == [15, 9])
        // /etc/shadow (11), /** as the root subtree "" (0), .env (4), and a 255-byte path.
        #expect(lengths(file) == [11, 0, 4, 255])
    }

    /// Renaming a directory answers for the rules below it (bpf/lib/path_ancestor.h).
    @Test func directoriesAboveFileRulesCarryTheStrongestVerdictBelowThem() throws {
        let maps = try compile("""
        version: 1
        name: t
        file:
          - { action: deny,  path: "~/.local/share/keyrings/**", access: [read] }
          - { action: audit, path: "~/.local/share/x", access: [write] }
          - { action: allow, path: "~/.local/**", access: [read, write] }
          - { action: deny,  name: .env }
        exec:
          - { action: deny, path: /opt/tools/nc }
        """)
        let ancestors = maps.paths.filter { $0.key.kind == UInt8(EG_PATH_ANCESTOR.rawValue) }
        #expect(Set(ancestors.map(pathString)) == ["/home/u/.local/share", "/home/u/.local", "/home/u", "/home"])
        #expect(ancestors.allSatisfy { $0.key.domain == UInt8(EG_DOMAIN_FILE.rawValue) })
        let share = try #require(ancestors.first { pathString($0) == "/home/u/.local/share" })
        #expect(share.rule.verdicts[Int(EG_ACCESS_READ.rawValue)] == UInt8(EG_VERDICT_DENY.rawValue))
        #expect(share.rule.rules[Int(EG_ACCESS_READ.rawValue)] == 0)
        #expect(share.rule.verdicts[Int(EG_ACCESS_WRITE.rawValue)] == UInt8(EG_VERDICT_AUDIT.rawValue))
        #expect(share.rule.verdicts[Int(EG_ACCESS_RENAME.rawValue)] == UInt8(EG_VERDICT_NONE))
        let home = try #require(ancestors.first { pathString($0) == "/home/u" })
        #expect(home.rule.verdicts[Int(EG_ACCESS_READ.rawValue)] == UInt8(EG_VERDICT_DENY.rawValue))
        #expect(home.rule.verdicts[Int(EG_ACCESS_WRITE.rawValue)] == UInt8(EG_VERDICT_AUDIT.rawValue))
        // The matcher never probes for them: the loaded marker leaves their lengths out.
        var marker = maps.loadedMarkers[1].lengths
        let bits = withUnsafeBytes(of: &marker) { raw in
            let words = raw.bindMemory(to: UInt64.self)
            return Set((0..<Int(EG_PATH_MAX)).filter { words[$0 / 64] & (UInt64(1) << UInt64($0 % 64)) != 0 })
        }
        #expect(bits == ["/home/u/.local/share/keyrings".utf8.count, "/home/u/.local/share/x".utf8.count,
                         "/home/u/.local".utf8.count, 4])
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
        #expect(maps.paths.filter { $0.key.kind != UInt8(EG_PATH_ANCESTOR.rawValue) }.count == 4)
        let ssh = try #require(maps.paths.first { pathString($0) == "/home/u/.ssh" })
        #expect(ssh.key.kind == UInt8(EG_PATH_SUBTREE.rawValue))
        #expect(ssh.key.domain == UInt8(EG_DOMAIN_FILE.rawValue))
        #expect(ssh.rule.verdicts[Int(EG_ACCESS_READ.rawValue)] == UInt8(EG_VERDICT_DENY.rawValue))
        #expect(ssh.rule.rules[Int(EG_ACCESS_READ.rawValue)] == 1)
        #expect(ssh.rule.verdicts[Int(EG_ACCESS_WRITE.rawValue)] == UInt8(EG_VERDICT_DENY.rawValue))
        #expect(ssh.rule.verdicts[Int(EG_ACCESS_CHMOD.rawValue)] == UInt8(EG_VERDICT_AUDIT.rawValue))
        #expect(ssh.rule.verdicts[Int(EG_ACCESS_DELETE.rawValue)] == UInt8(EG_VERDICT_NONE))
        let shadow = try #require(maps.paths.first { pathString($0) == "/etc/shadow" })
        #expect(shadow.key.kind == UInt8(EG_PATH_EXACT.rawValue))
        #expect(shadow.rule.verdicts.prefix(7).allSatisfy { $0 == UInt8(EG_VERDICT_DENY.rawValue) })
        let env = try #require(maps.paths.first { $0.key.kind == UInt8(EG_PATH_NAME.rawValue) })
        #expect(pathString(env) == ".env")
        // The root subtree is the empty prefix, as the kernel walks it.
        let root = try #require(maps.paths.first { $0.key.kind == UInt8(EG_PATH_SUBTREE.rawValue) && $0.key.len == 0 })
        #expect(root.rule.verdicts[Int(EG_ACCESS_WRITE.rawValue)] == UInt8(EG_VERDICT_ALLOW.rawValue))
        // Values are zero past the path's length: the kernel compares the last word masked, but
        // the bytes must not depend on what a previous policy left in a reused buffer.
        #expect(withUnsafeBytes(of: shadow.rule.path) { $0.dropFirst(Int(shadow.key.len)).allSatisfy { $0 == 0 } })
    }

    /// eg_path_hash is 64-bit FNV-1a, which the kernel computes byte by byte for every prefix
    /// (path_match.h): these are the published FNV-1a vectors, so a change on either side shows.
    @Test func pathHashIsFNV1a64() {
        func hash(_ s: String) -> UInt64 { let b = Array(s.utf8); return eg_path_hash(b, UInt32(b.count)) }
        #expect(hash("") == 0xcbf2_9ce4_8422_2325)
        #expect(hash("a") == 0xaf63_dc4c_8601_ec8c)
        #expect(hash("foobar") == 0x8594_4171_f739_67e8)
        #expect(hash("/etc/shadow") == hash("/etc/shadow"))
        #expect(hash("/etc/shadow") != hash("/etc/shadoW"))
    }

    /// Keys are 16 bytes (the kernel hashes the whole key per lookup); the path is in the value.
    @Test func keysNameTheirPathByLengthAndHash() throws {
        let maps = try compile("version: 1\nname: t\nfile:\n  - { action: deny, path: /etc/shadow }\n", id: 9)
        #expect(MemoryLayout<eg_path_key>.size == 16)
        let entry = try #require(maps.paths.first)
        #expect(entry.key.len == 11 && entry.key.policy_id == 9)
        #expect(entry.key.hash == eg_path_hash(Array("/etc/shadow".utf8), 11))
        #expect(pathString(entry) == "/etc/shadow")
        // The markers' key is "" like any other: the kernel looks it up with the seed as hash.
        #expect(maps.loadedMarkers.allSatisfy { $0.key.hash == UInt64(EG_PATH_HASH_SEED) })
    }

    @Test func argvRulesOnlyMarkTheBinaryForAHold() throws {
        let maps = try compile("""
        version: 1
        name: t
        exec:
          - { action: deny, path: /usr/bin/git, argv: [reset, --hard] }
          - { action: deny, path: /usr/bin/docker }
        """)
        let git = try #require(maps.paths.first { pathString($0) == "/usr/bin/git" })
        #expect(git.key.domain == UInt8(EG_DOMAIN_EXEC.rawValue))
        #expect(git.rule.flags & UInt32(EG_PATH_RULE_ARGV) != 0)
        #expect(git.rule.verdicts[Int(EG_ACCESS_EXEC.rawValue)] == UInt8(EG_VERDICT_NONE))
        let docker = try #require(maps.paths.first { pathString($0) == "/usr/bin/docker" })
        #expect(docker.rule.flags == 0)
        #expect(docker.rule.verdicts[Int(EG_ACCESS_EXEC.rawValue)] == UInt8(EG_VERDICT_DENY.rawValue))
    }

    @Test func askExecRulesAreHeldForUserspace() throws {
        let maps = try compile("""
        version: 1
        name: t
        exec:
          - { action: ask, path: /usr/bin/curl }
          - { action: allow, path: /usr/bin/ls }
          - { action: deny, path: /usr/bin/nc }
        file:
          - { action: ask, path: /etc/hosts }
        """)
        let curl = try #require(maps.paths.first { pathString($0) == "/usr/bin/curl" })
        #expect(curl.rule.flags & UInt32(EG_PATH_RULE_ARGV) != 0, "an exec ask is held, not refused")
        #expect(curl.rule.verdicts[Int(EG_ACCESS_EXEC.rawValue)] == UInt8(EG_VERDICT_ASK.rawValue))
        for path in ["/usr/bin/ls", "/usr/bin/nc"] {
            let entry = try #require(maps.paths.first { pathString($0) == path })
            #expect(entry.rule.flags == 0, "\(path)")
        }
        // File asks are answered through eg_file_answers, never held.
        let hosts = try #require(maps.paths.first { pathString($0) == "/etc/hosts" })
        #expect(hosts.key.domain == UInt8(EG_DOMAIN_FILE.rawValue) && hosts.rule.flags == 0)
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

    @Test func unixSubtreesAreKeyedByTheirDirectory() throws {
        let maps = try compile("""
        version: 1
        name: t
        network:
          - { action: deny, unix: /run/docker.sock }
          - { action: allow, unix: /run/** }
          - { action: audit, unix: /** }
        """)
        func key(_ entry: (key: eg_unix_key, rule: eg_net_rule)) -> (UInt32, String) {
            (entry.key.len, String(decoding: withUnsafeBytes(of: entry.key.path) { Array($0.prefix(Int(entry.key.len & 0xffff))) }, as: UTF8.self))
        }
        let named = maps.unix.filter { $0.key.len & EG_UNIX_LEN_SOCKETS == 0 }
        #expect(named.map { key($0).0 } == [EG_UNIX_LEN_SUBTREE, 4 | EG_UNIX_LEN_SUBTREE, 16])
        #expect(named.map { key($0).1 } == ["", "/run", "/run/docker.sock"])
        #expect(named.map(\.rule.verdict) == [EG_VERDICT_AUDIT, EG_VERDICT_ALLOW, EG_VERDICT_DENY].map { UInt8($0.rawValue) })
        #expect(maps.unenforced.isEmpty)
        // No pattern: no path key, and the kernel never runs the path matcher for them.
        #expect(maps.paths.isEmpty && maps.session.flags & UInt8(EG_SESSION_UNIX_PATTERNS) == 0)
    }

    /// `unix:` patterns are path keys of domain EG_DOMAIN_UNIX (bpf/lib/unix_match.h), their
    /// verdict at EG_UNIX_ACCESS, and the session says the policy has them.
    @Test func unixPatternsArePathKeysOfTheirOwnDomain() throws {
        let maps = try compile("""
        version: 1
        name: t
        network:
          - { action: deny, unix: /run/docker.sock }
          - { action: allow, unix: "/run/user/*/bus" }
        """)
        #expect(maps.paths.count == 1)
        let bus = try #require(maps.paths.first)
        #expect(bus.key.domain == UInt8(EG_DOMAIN_UNIX.rawValue) && bus.key.kind == UInt8(EG_PATH_GLOB_NAME.rawValue))
        #expect(bus.rule.verdicts[Int(EG_UNIX_ACCESS)] == UInt8(EG_VERDICT_ALLOW.rawValue) && bus.rule.rules[Int(EG_UNIX_ACCESS)] == 1)
        #expect(bus.rule.verdicts.enumerated().allSatisfy { $0.offset == Int(EG_UNIX_ACCESS) || $0.element == UInt8(EG_VERDICT_NONE) })
        #expect(maps.session.flags & UInt8(EG_SESSION_UNIX_PATTERNS) != 0)
        #expect(maps.unix.filter { $0.key.len & EG_UNIX_LEN_SOCKETS == 0 }.count == 1)
    }

    /// Sockets no address rule can judge (raw, packet, SCTP...) get one entry per policy.
    @Test func unjudgedSocketsFollowTheDefaultUnlessARuleFencesAddresses() throws {
        func sockets(_ yaml: String) throws -> eg_net_rule {
            let maps = try compile("version: 1\nname: t\n" + yaml)
            let entries = maps.unix.filter { $0.key.len == EG_UNIX_LEN_SOCKETS }
            try #require(entries.count == 1)
            return entries[0].rule
        }
        let deny = UInt8(EG_VERDICT_DENY.rawValue), allow = UInt8(EG_VERDICT_ALLOW.rawValue)
        #expect(try sockets("defaults: { network: deny }\n").verdict == deny)
        #expect(try sockets("defaults: { network: ask }\n").verdict == deny)
        #expect(try sockets("defaults: { network: allow }\n").verdict == allow)
        #expect(try sockets("defaults: { network: audit }\n").verdict == UInt8(EG_VERDICT_AUDIT.rawValue))
        let fenced = try sockets("network:\n  - { action: allow, cidr: 10.0.0.0/8 }\n  - { action: deny, cidr: 169.254.169.254 }\n")
        #expect((fenced.verdict, fenced.rule) == (deny, 1))
        #expect(try sockets("network:\n  - { action: deny, unix: /run/x.sock }\n").verdict == allow)
    }

    @Test func icmpRulesCarryTheFamilysProtocolNumber() throws {
        let maps = try compile("""
        version: 1
        name: t
        network:
          - { action: allow, cidr: 127.0.0.0/8, protocol: icmp }
          - { action: allow, cidr: "::1", protocol: icmp }
        """)
        #expect(maps.ipv4.first?.rules.rules.0.protocol == 1)
        #expect(maps.ipv6.first?.rules.rules.0.protocol == 58)
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
        #expect(maps.paths.filter { $0.key.kind != UInt8(EG_PATH_ANCESTOR.rawValue) }.count == 1_000)
        let last = try #require(maps.paths.first { pathString($0) == "/f/534" })
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
        // 65,536 keys: 65,532 paths and the four loaded markers fit; one path more does not.
        // Top-level paths, so no directory above them needs an ancestor key of its own.
        #expect(try PolicyMaps(try fileRules(65_532, path: { "/f\($0)" }), policyID: 7).paths.count == 65_532)
        let error = #expect(throws: PolicyMaps.CompileError.self) {
            _ = try PolicyMaps(try fileRules(65_533, path: { "/f\($0)" }), policyID: 7)
        }
        #expect(error?.rule == "file[65532]")
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
        // One key of the map is the policy's entry for sockets no rule can judge.
        #expect(try PolicyMaps(try policy(16_383), policyID: 7).unix.count == 16_384)
        let error = #expect(throws: PolicyMaps.CompileError.self) { _ = try PolicyMaps(try policy(16_384), policyID: 7) }
        #expect(error?.rule == "network[16383]")
        #expect(error?.description.contains("eg_unix_rules map holds at most 16,384") == true)
    }

    // MARK: large policies

    /// 10,000 distinct network rules, nested up to seven prefixes deep in each family: every
    /// prefix's entry must list exactly what the reference evaluator decides.
    @Test func tenThousandNetworkRulesMatchTheEvaluator() throws {
        let policy = try Self.largeNetworkPolicy(count: 10_000)
        let maps = try PolicyMaps(policy, policyID: 7)
        let prefixes = Set(policy.addressRules.map { $0.address!.network })
        #expect(maps.ipv4.count + maps.ipv6.count == prefixes.count)
        #expect(maps.ipv4.allSatisfy { $0.key.policy_id == 7 } && maps.ipv6.allSatisfy { $0.key.policy_id == 7 })
        let lpm = LPMTable(maps)
        var random = SplitMix(seed: 99)
        var checked = 0
        for (n, rule) in policy.addressRules.enumerated() where n % 149 == 0 {
            let network = rule.address!.network
            // An address inside the rule's prefix, its host bits random.
            var bytes = network.address.bytes
            for bit in network.prefixLength..<network.address.bitWidth where random.next() & 1 == 1 {
                bytes[bit / 8] |= 0x80 >> UInt8(bit % 8)
            }
            let address = try #require(IPAddress(bytes: bytes))
            for port: UInt16 in [22, 8443, UInt16(random.next() & 0xffff)] {
                for transport in TransportProtocol.allCases {
                    let expected = policy.decideConnect(address: address, port: port, protocol: transport)
                    let kernel = lpm.decide(address: address, port: port, transport: transport)
                    #expect(kernel.verdict == expected.verdict.kernelValue, "\(address) \(port) \(transport)")
                    #expect(kernel.rule == expected.rule.map { UInt16($0.index) }, "\(address) \(port) \(transport)")
                    checked += 1
                }
            }
        }
        #expect(checked == 68 * 3 * TransportProtocol.allCases.count)  // the reference evaluator is linear in rules: sample
    }

    /// `count` distinct `cidr` rules (default deny): 80% IPv4 in 10.0.0.0/7, 20% IPv6 in
    /// 2001:db8::/29, prefix lengths chosen so prefixes nest, some rules with two port ranges.
    static func largeNetworkPolicy(count: Int) throws -> CompiledPolicy {
        let lines = largeNetworkRuleLines(count: count)
        let yaml = "version: 1\nname: big\ndefaults: { network: deny }\nnetwork:\n" + lines.joined(separator: "\n") + "\n"
        return try Policy.parse(yaml: yaml, file: "big.yaml").compile(in: try PolicyContext(home: "/home/u", workspace: "/work/ws"))
    }

    static func largeNetworkRuleLines(count: Int) -> [String] {
        var random = SplitMix(seed: 1)
        var seen = Set<String>()
        var lines: [String] = []
        let actions = ["allow", "deny", "audit", "ask"]
        let protocols = ["tcp", "udp", "any"]
        while lines.count < count {
            let v6 = lines.count % 5 == 4
            var bytes: [UInt8]
            let length: Int
            if v6 {
                bytes = [0x20, 0x01, 0x0d, 0xb8 | UInt8(random.next() & 7)] + (0..<12).map { _ in UInt8(random.next() & 0xff) }
                bytes[4] &= 0x0f
                length = [29, 32, 36, 40, 48, 64, 128][Int(random.next() % 7)]
            } else {
                bytes = [10 | UInt8(random.next() & 1), UInt8(random.next() & 0x0f), UInt8(random.next() & 0xff), UInt8(random.next() & 0xff)]
                length = [7, 8, 12, 16, 20, 24, 32][Int(random.next() % 7)]
            }
            let network = IPNetwork(address: IPAddress(bytes: bytes)!, prefixLength: length)!
            guard seen.insert(network.description).inserted else { continue }
            let n = lines.count
            let ports = n % 4 == 0 ? "ports: [443, \"8000-8999\"], " : n % 4 == 1 ? "" : "ports: [\(20 + n % 100)], "
            lines.append("  - { action: \(actions[n % 4]), cidr: \"\(network)\", \(ports)protocol: \(protocols[n % 3]) }")
        }
        return lines
    }
}

/// A small deterministic generator, so a failing large test can be replayed.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

/// The network entries as the kernel's net_match.h reads them: one longest-prefix lookup,
/// then the first rule of that entry whose port range and protocol match.
struct LPMTable {
    /// Entries by prefix length, then network bytes.
    var entries: [Int: [[UInt8]: eg_net_rules]] = [:]

    init(_ maps: PolicyMaps) {
        for e in maps.ipv4 { entries[Int(e.key.prefixlen) - 32, default: [:]][withUnsafeBytes(of: e.key.addr) { Array($0) }] = e.rules }
        for e in maps.ipv6 { entries[Int(e.key.prefixlen) - 32 + 1_000, default: [:]][withUnsafeBytes(of: e.key.addr) { Array($0) }] = e.rules }
    }

    /// The verdict and rule number the kernel reports; rule nil when the default decides.
    func decide(address: IPAddress, port: UInt16, transport: TransportProtocol) -> (verdict: UInt8, rule: UInt16?) {
        let best = (0...address.bitWidth).reversed().lazy.compactMap { length in
            entries[length + (address.isIPv4 ? 0 : 1_000)]?[IPNetwork(address: address, prefixLength: length)!.address.bytes]
        }.first
        guard let best else { return (UInt8(EG_VERDICT_DENY.rawValue), nil) }
        let rules = withUnsafeBytes(of: best.rules) { Array($0.bindMemory(to: eg_net_rule.self).prefix(Int(best.count))) }
        let proto = NetworkProtocol(rawValue: transport.rawValue)!.ipProtocol(ipv4: address.isIPv4)
        guard let hit = rules.first(where: { $0.port_lo <= port && port <= $0.port_hi && ($0.protocol == 0 || $0.protocol == proto) })
        else { return (UInt8(EG_VERDICT_DENY.rawValue), nil) }
        return (hit.verdict, hit.rule)
    }
}

/// `unless: git` (docs/policy.md, "Git metadata"): what the kernel gets for it.
@Suite struct UnlessGitMapsTests {
    func compile(_ rules: String) throws -> PolicyMaps {
        let policy = try Policy.parse(yaml: "version: 1\nname: t\n" + rules, file: "test.yaml")
        return try PolicyMaps(policy.compile(in: try PolicyContext(home: "/home/u", workspace: "/work/ws")), policyID: 7)
    }

    func entry(_ maps: PolicyMaps, domain: eg_domain, path: String) -> (key: eg_path_key, rule: eg_path_rule)? {
        maps.paths.first { entry in
            entry.key.domain == UInt8(domain.rawValue) && entry.key.kind != UInt8(EG_PATH_ANCESTOR.rawValue)
                && withUnsafeBytes(of: entry.rule.path) { Array($0.prefix(Int(entry.key.len))) } == Array(path.utf8)
        }
    }

    /// Its kinds carry the yielding deny, the others nothing; every program named git is held.
    @Test func aYieldingDenyIsItsOwnKernelVerdictAndHoldsGit() throws {
        let maps = try compile("file:\n  - { action: deny, path: /work/ws/r/.git/config, access: [write, create], unless: git }\n")
        let config = try #require(entry(maps, domain: EG_DOMAIN_FILE, path: "/work/ws/r/.git/config"))
        #expect(config.rule.verdicts[Int(EG_ACCESS_WRITE.rawValue)] == UInt8(EG_VERDICT_DENY_UNLESS_GIT))
        #expect(config.rule.verdicts[Int(EG_ACCESS_CREATE.rawValue)] == UInt8(EG_VERDICT_DENY_UNLESS_GIT))
        #expect(config.rule.verdicts[Int(EG_ACCESS_READ.rawValue)] == UInt8(EG_VERDICT_NONE))
        let git = try #require(entry(maps, domain: EG_DOMAIN_EXEC, path: "git"))
        #expect(git.key.kind == UInt8(EG_PATH_NAME.rawValue))
        #expect(git.rule.flags & UInt32(EG_PATH_RULE_ARGV) != 0)
        // A hold only: the policy's exec verdict for git is untouched.
        #expect(git.rule.verdicts[Int(EG_ACCESS_EXEC.rawValue)] == UInt8(EG_VERDICT_NONE))
    }

    /// On one key a plain deny outranks a yielding one, whatever their order, and a yielding
    /// deny outranks ask: as the kernel ranks candidates (path_match.h, EG_SV_*).
    @Test func aPlainDenyOutranksAYieldingOneOnTheSameKey() throws {
        let maps = try compile("""
        file:
          - { action: ask,  path: /work/ws/r/.git/config, access: [chmod] }
          - { action: deny, path: /work/ws/r/.git/config, access: [write, chmod], unless: git }
          - { action: deny, path: /work/ws/r/.git/config, access: [create] }
          - { action: deny, path: /work/ws/r/.git/config, access: [create], unless: git }
        """)
        let config = try #require(entry(maps, domain: EG_DOMAIN_FILE, path: "/work/ws/r/.git/config"))
        #expect(config.rule.verdicts[Int(EG_ACCESS_WRITE.rawValue)] == UInt8(EG_VERDICT_DENY_UNLESS_GIT))
        #expect(config.rule.verdicts[Int(EG_ACCESS_CHMOD.rawValue)] == UInt8(EG_VERDICT_DENY_UNLESS_GIT))
        #expect(config.rule.rules[Int(EG_ACCESS_CHMOD.rawValue)] == 1)
        #expect(config.rule.verdicts[Int(EG_ACCESS_CREATE.rawValue)] == UInt8(EG_VERDICT_DENY.rawValue))
        #expect(config.rule.rules[Int(EG_ACCESS_CREATE.rawValue)] == 2)
    }

    @Test func withoutSuchRulesGitIsNotHeld() throws {
        let maps = try compile("file:\n  - { action: deny, path: /work/ws/r/.git/config, access: [write] }\n")
        #expect(entry(maps, domain: EG_DOMAIN_EXEC, path: "git") == nil)
    }
}
