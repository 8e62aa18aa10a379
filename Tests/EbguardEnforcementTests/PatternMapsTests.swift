import CEbguardABI
import EbguardBPF
@testable import EbguardEnforcement
import EbguardPolicy
import Testing

/// Path patterns as the kernel gets them (struct eg_path_glob): anchors, chains, limits.
@Suite struct PatternMapsTests {
    func compile(_ rules: String) throws -> PolicyMaps {
        let policy = try Policy.parse(yaml: "version: 1\nname: t\nfile:\n" + rules, file: "test.yaml")
        return try PolicyMaps(policy.compile(in: try PolicyContext(home: "/home/u", workspace: "/work/ws")), policyID: 7)
    }

    /// The file domain's patterns (not their rename guards: `renameGuards...` below).
    func globs(_ maps: PolicyMaps, domain: eg_domain = EG_DOMAIN_FILE) -> [(key: eg_path_key, glob: eg_path_glob)] {
        let kinds = [EG_PATH_GLOB_DIR, EG_PATH_GLOB_NAME, EG_PATH_GLOB_PREFIX, EG_PATH_GLOB_SUFFIX].map { UInt8($0.rawValue) }
        return maps.paths.filter { kinds.contains($0.key.kind) && $0.key.domain == UInt8(domain.rawValue) }
            .map { ($0.key, unsafeBitCast($0.rule, to: eg_path_glob.self)) }
    }

    @Test func anchorsAndEncoding() throws {
        let maps = try compile("""
          - { action: deny, path: "~/.local/lib/python3*/site-packages/*.pth", access: [write] }
          - { action: deny, path: "${workspace}/**/.git/hooks/**", access: [write] }
        """)
        let entries = globs(maps)
        #expect(entries.count == 2)
        // `*.pth`: keyed by its final component's literal end, hashed last byte first.
        let pth = try #require(entries.first { $0.key.kind == UInt8(EG_PATH_GLOB_SUFFIX.rawValue) })
        #expect(pth.key.len == 4)
        #expect(pth.key.hash == PolicyMaps.key(policyID: 7, domain: 1, kind: 9, path: "htp.").hash)
        #expect(pth.glob.head == UInt8("/home/u/.local/lib".utf8.count) && pth.glob.hdepth == 4)
        #expect(pth.glob.ntok == 3)
        #expect(pth.glob.tok.0.kind == UInt8(EG_GLOB_STAR.rawValue) && pth.glob.tok.0.pre == 7 && pth.glob.tok.0.suf == 0)
        #expect(pth.glob.tok.1.kind == UInt8(EG_GLOB_LIT.rawValue) && pth.glob.tok.1.pre == 13)
        #expect(pth.glob.tok.2.kind == UInt8(EG_GLOB_STAR.rawValue) && pth.glob.tok.2.pre == 0 && pth.glob.tok.2.suf == 4)
        let text = withUnsafeBytes(of: pth.glob.text) { String(decoding: $0.prefix(18 + 7 + 13 + 4), as: UTF8.self) }
        #expect(text == "/home/u/.local/libpython3site-packages.pth")
        #expect(Int(pth.glob.rank) == "/home/u/.local/lib/python3".utf8.count)
        #expect(pth.glob.verdict.1 == UInt8(EG_VERDICT_DENY.rawValue) && pth.glob.verdict.0 == UInt8(EG_VERDICT_NONE))
        // `.git/hooks` after a `**`: anchored on its longest literal component, "hooks".
        let hooks = try #require(entries.first { $0.key.kind == UInt8(EG_PATH_GLOB_NAME.rawValue) })
        #expect(hooks.key.len == 5)
        #expect(hooks.glob.ntok == 4)  // ** .git hooks **
        #expect(hooks.glob.tok.0.kind == UInt8(EG_GLOB_ANY.rawValue) && hooks.glob.tok.0.pre == 0 && hooks.glob.tok.0.suf == 2)
        #expect(hooks.glob.tok.3.kind == UInt8(EG_GLOB_ANY.rawValue))
        // The marker lists both anchors' lengths in their own bits.
        let marker = unsafeBitCast(maps.loadedMarkers[1].lengths, to: eg_path_lengths.self)
        #expect(marker.glob_name_bits.0 == 1 << 5)
        #expect(marker.glob_suffix_bits == 1 << 4 && marker.glob_dir_bits.0 == 0 && marker.glob_prefix_bits == 0)
        // Renaming the pattern's head (or above it) is judged by the pattern's verdicts.
        let ancestors = maps.paths.filter { $0.key.kind == UInt8(EG_PATH_ANCESTOR.rawValue) }.map(\.key.len)
        #expect(Set(ancestors).isSuperset(of: [18, 14, 7, 5]))
    }

    @Test func patternsOnOneAnchorChainUpToTheLimit() throws {
        // No literal start or end in the final component, none after `**`: the root's chain.
        let eight = (0..<8).map { "  - { action: deny, path: \"/*\($0)/**\" }" }.joined(separator: "\n")
        let maps = try compile(eight)
        let keys = globs(maps).map(\.key)
        let base = PolicyMaps.key(policyID: 7, domain: 1, kind: 6, path: "").hash
        #expect(keys.map(\.hash) == (0..<8).map { base &+ UInt64($0) })
        #expect(keys.allSatisfy { $0.kind == UInt8(EG_PATH_GLOB_DIR.rawValue) && $0.len == 0 })
        #expect(throws: PolicyMaps.CompileError.self) {
            _ = try compile(eight + "\n  - { action: deny, path: \"/*8/**\" }")
        }
        do { _ = try compile(eight + "\n  - { action: deny, path: \"/*8/**\" }") } catch let error as PolicyMaps.CompileError {
            #expect(error.rule == "file[8] (test.yaml:12:5)")
            #expect(error.message.contains("no room under any key"), "\(error)")
        }
    }

    /// A final component `pre*suf` is keyed by its longer literal end: a suffix hashed last byte
    /// first, a prefix as written; the marker lists their lengths in bits of their own.
    @Test func finalComponentsAreKeyedByTheirLiteralEnds() throws {
        let maps = try compile("""
          - { action: deny, name: "*.key", access: [read] }
          - { action: deny, name: "id_*", access: [read] }
          - { action: deny, path: "/**/a*bc", access: [read] }
          - { action: deny, path: "~/**/ñ*.pem", access: [read] }
          - { action: deny, path: "/x/*", access: [read] }
        """)
        let entries = globs(maps)
        func hash(_ bytes: [UInt8]) -> UInt64 { bytes.withUnsafeBytes { eg_path_hash($0.baseAddress, UInt32($0.count)) } }
        let suffix = UInt8(EG_PATH_GLOB_SUFFIX.rawValue), prefix = UInt8(EG_PATH_GLOB_PREFIX.rawValue)
        #expect(entries[0].key.kind == suffix && entries[0].key.len == 4 && entries[0].key.hash == hash(Array("yek.".utf8)))
        #expect(entries[1].key.kind == prefix && entries[1].key.len == 3 && entries[1].key.hash == hash(Array("id_".utf8)))
        #expect(entries[2].key.kind == suffix && entries[2].key.len == 2 && entries[2].key.hash == hash(Array("cb".utf8)))
        // "ñ" is 2 bytes, ".pem" 4: the suffix, its bytes reversed (not valid UTF-8, hashed as bytes).
        #expect(entries[3].key.kind == suffix && entries[3].key.hash == hash(Array(".pem".utf8).reversed()))
        #expect(entries[3].glob.head == UInt8("/home/u".utf8.count))
        // A bare `*`: no literal end; its head "/x".
        #expect(entries[4].key.kind == UInt8(EG_PATH_GLOB_DIR.rawValue) && entries[4].key.len == 2)
        let marker = unsafeBitCast(maps.loadedMarkers[1].lengths, to: eg_path_lengths.self)
        #expect(marker.glob_suffix_bits == (1 << 4 | 1 << 2))
        #expect(marker.glob_prefix_bits == 1 << 3)
        #expect(marker.glob_dir_bits.0 == 1 << 2)
        #expect(marker.glob_name_bits == (0, 0, 0, 0))
    }

    /// Past a key's chain, or past the lengths a side holds, a pattern takes its next anchor:
    /// still decided exactly, only looked up for more paths.
    @Test func aFullAffixFallsBackToTheNextAnchor() throws {
        let nine = (0..<9).map { "  - { action: deny, path: \"/d\($0)/**/*.pem\", access: [read] }" }.joined(separator: "\n")
        let kinds = globs(try compile(nine)).map(\.key.kind)
        #expect(kinds == Array(repeating: UInt8(EG_PATH_GLOB_SUFFIX.rawValue), count: 8) + [UInt8(EG_PATH_GLOB_DIR.rawValue)])
        let lengths = (1...9).map { "  - { action: deny, name: \"*.\(String(repeating: "x", count: $0))\", access: [read] }" }
        let maps = try compile(lengths.joined(separator: "\n"))
        let entries = globs(maps)
        #expect(entries.prefix(8).allSatisfy { $0.key.kind == UInt8(EG_PATH_GLOB_SUFFIX.rawValue) })
        #expect(entries[8].key.kind == UInt8(EG_PATH_GLOB_DIR.rawValue) && entries[8].key.len == 0)
        let marker = unsafeBitCast(maps.loadedMarkers[1].lengths, to: eg_path_lengths.self)
        #expect(marker.glob_suffix_bits.nonzeroBitCount == Int(EG_AFFIX_LENGTHS))
        // Longer than EG_AFFIX_MAX: never a key of its own.
        let long = String(repeating: "q", count: Int(EG_AFFIX_MAX) + 1)
        #expect(globs(try compile("  - { action: deny, name: \"*\(long)\", access: [read] }")).map(\.key.kind)
                == [UInt8(EG_PATH_GLOB_DIR.rawValue)])
        #expect(globs(try compile("  - { action: deny, name: \"*\(long.dropLast())\", access: [read] }")).map(\.key.kind)
                == [UInt8(EG_PATH_GLOB_SUFFIX.rawValue)])
    }

    /// A literal component anywhere after the head is an anchor (the kernel probes every
    /// component of a path): the longest, on a tie the deepest, before the head directory, so
    /// patterns that share a head but not their literal parts no longer share one chain.
    @Test func literalComponentsAfterTheHeadAreAnchors() throws {
        let eight = (0..<8).map { "  - { action: deny, path: \"/a/b/*/c\($0)/*\", access: [read] }" }
        let maps = try compile((eight + [
            "  - { action: deny, path: \"/home/*/.ssh/**\", access: [read] }",
            "  - { action: deny, path: \"/x/*/ab/*/cd/*\", access: [read] }",
        ]).joined(separator: "\n"))
        let entries = globs(maps)
        let name = UInt8(EG_PATH_GLOB_NAME.rawValue)
        func key(_ text: String) -> UInt64 { PolicyMaps.key(policyID: 7, domain: 1, kind: name, path: text).hash }
        // Each `/a/b/*/cK/*` on its own cK (chain index 0), not eight on "/a/b".
        #expect(entries.prefix(8).map(\.key.kind) == Array(repeating: name, count: 8))
        #expect(entries.prefix(8).map(\.key.hash) == (0..<8).map { key("c\($0)") })
        #expect(entries[8].key.kind == name && entries[8].key.len == 4 && entries[8].key.hash == key(".ssh"))
        #expect(entries[9].key.kind == name && entries[9].key.hash == key("cd"))  // the deeper of two 2-byte literals
        #expect(entries.allSatisfy { $0.key.kind != UInt8(EG_PATH_GLOB_DIR.rawValue) })
        let marker = unsafeBitCast(maps.loadedMarkers[1].lengths, to: eg_path_lengths.self)
        #expect(marker.glob_name_bits.0 == (1 << 2 | 1 << 4) && marker.glob_dir_bits == (0, 0, 0, 0))
        // The head still moves what the pattern covers: its renames are judged by it.
        #expect(maps.paths.contains { $0.key.kind == UInt8(EG_PATH_ANCESTOR.rawValue) && $0.key.len == 4 })

        // A full literal chain falls back to the next literal, then to the head.
        let nine = (0..<10).map { "  - { action: deny, path: \"/q\($0)/*/zz/*/longer/*\", access: [read] }" }
        let spilled = globs(try compile(nine.joined(separator: "\n")))
        #expect(spilled.prefix(8).allSatisfy { $0.key.kind == name && $0.key.len == 6 })
        #expect(spilled[8].key.kind == name && spilled[8].key.hash == key("zz"))
        #expect(spilled[9].key.kind == name && spilled[9].key.hash == key("zz") &+ 1)
    }

    @Test func literalTextPastTheValueIsRefused() throws {
        let long = String(repeating: "x", count: 100)
        #expect(throws: PolicyMaps.CompileError.self) {
            _ = try compile("  - { action: deny, path: \"/\(long)/*/\(long)\" }")
        }
    }

    /// bpf/lib/path_ancestor.h: each pattern's cuts before its last token are rename guards of
    /// their own domain, ranked alike, a `**` right after the head makes the head a star root,
    /// and allow rules make neither.
    @Test func renameGuardsAreThePatternsCuts() throws {
        let maps = try compile("""
          - { action: deny,  path: "${workspace}/**/.git/hooks/**", access: [write, create] }
          - { action: ask,   path: "~/.local/lib/python3*/site-packages/*.pth", access: [create] }
          - { action: allow, path: "/opt/*/x/**" }
          - { action: deny,  name: "*.pem" }
        """)
        let guards = globs(maps, domain: EG_DOMAIN_RENAME).map { guardKey in
            (text: withUnsafeBytes(of: guardKey.glob.text) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) },
             glob: guardKey.glob)
        }
        // `/work/ws/**/.git`, `/work/ws/**/.git/hooks`, `~/.local/lib/python3*`, `.../site-packages`.
        #expect(guards.count == 4, "\(guards.map(\.text))")
        #expect(guards.allSatisfy { $0.glob.rank == 0 })
        let hooks = try #require(guards.first { $0.glob.ntok == 3 && $0.text.hasPrefix("/work/ws") })
        #expect(hooks.glob.verdict.1 == UInt8(EG_VERDICT_DENY.rawValue) && hooks.glob.verdict.2 == UInt8(EG_VERDICT_DENY.rawValue))
        #expect(hooks.glob.verdict.0 == UInt8(EG_VERDICT_NONE))
        let site = try #require(guards.first { $0.text.hasSuffix("site-packages") })
        #expect(site.glob.verdict.2 == UInt8(EG_VERDICT_ASK.rawValue))
        // The star root: the workspace, a file-domain key the matcher never probes.
        let roots = maps.paths.filter { $0.key.kind == UInt8(EG_PATH_STAR_ROOT.rawValue) }
        #expect(roots.map { root in withUnsafeBytes(of: root.rule.path) { String(decoding: $0.prefix(Int(root.key.len)), as: UTF8.self) } } == ["/work/ws"])
        #expect(roots.allSatisfy { $0.key.domain == UInt8(EG_DOMAIN_FILE.rawValue) })
        let fileMarker = unsafeBitCast(maps.loadedMarkers[1].lengths, to: eg_path_lengths.self)
        #expect(withUnsafeBytes(of: fileMarker.bits) { $0.load(fromByteOffset: 0, as: UInt64.self) } & (1 << 8) == 0)
        // The guards' marker lists their anchors' lengths; the session knows to look.
        #expect(maps.loadedMarkers[3].key.domain == UInt8(EG_DOMAIN_RENAME.rawValue))
        let guardMarker = unsafeBitCast(maps.loadedMarkers[3].lengths, to: eg_path_lengths.self)
        #expect(guardMarker.glob_prefix_bits == 1 << 7, "python3 of python3*")
        #expect(guardMarker.glob_name_bits.0 == (1 << 4 | 1 << 5 | 1 << 13), ".git, hooks, site-packages")
        #expect(maps.session.flags & UInt8(EG_SESSION_RENAME_GUARDS) != 0)
        // A policy whose patterns make no guard (a wildcard in the last component only; an
        // allow) leaves renames as they were.
        let plain = try compile("  - { action: deny, path: \"~/.ssh/id_*\" }\n  - { action: allow, path: \"/x/**/y/*\" }")
        #expect(plain.session.flags & UInt8(EG_SESSION_RENAME_GUARDS) == 0)
        #expect(globs(plain, domain: EG_DOMAIN_RENAME).isEmpty)
    }

    /// Guards past their anchors' room become one guard root at their head (every directory
    /// rename below it is judged by their verdicts): a policy is never refused for its guards.
    @Test func guardsOutOfRoomBecomeAGuardRootAtTheirHead() throws {
        let rules = (0..<40).map { "  - { action: deny, path: \"/srv/a\($0)*/x/y\($0)\", access: [create] }" }.joined(separator: "\n")
        let maps = try compile(rules)
        #expect(globs(maps).count == 40)
        // 40 of `/srv/aN*` on their literal start; of `/srv/aN*/x`, 8 on `x` and 8 on `/srv`.
        let guards = globs(maps, domain: EG_DOMAIN_RENAME)
        #expect(guards.count == 40 + 8 + 8)
        let roots = maps.paths.filter { $0.key.kind == UInt8(EG_PATH_GUARD_ROOT.rawValue) }
        #expect(roots.count == 1 && roots.first?.key.len == 4)
        #expect(roots.first?.rule.verdicts[Int(EG_ACCESS_CREATE.rawValue)] == UInt8(EG_VERDICT_DENY.rawValue))
    }
}
