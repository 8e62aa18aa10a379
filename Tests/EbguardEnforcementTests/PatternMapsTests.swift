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

    func globs(_ maps: PolicyMaps) -> [(key: eg_path_key, glob: eg_path_glob)] {
        maps.paths.filter { $0.key.kind == UInt8(EG_PATH_GLOB_DIR.rawValue) || $0.key.kind == UInt8(EG_PATH_GLOB_NAME.rawValue) }
            .map { ($0.key, unsafeBitCast($0.rule, to: eg_path_glob.self)) }
    }

    @Test func anchorsAndEncoding() throws {
        let maps = try compile("""
          - { action: deny, path: "~/.local/lib/python3*/site-packages/*.pth", access: [write] }
          - { action: deny, path: "${workspace}/**/.git/hooks/**", access: [write] }
        """)
        let entries = globs(maps)
        #expect(entries.count == 2)
        let pth = try #require(entries.first { $0.key.kind == UInt8(EG_PATH_GLOB_DIR.rawValue) })
        #expect(pth.key.len == UInt16("/home/u/.local/lib".utf8.count))
        #expect(pth.key.hash == PolicyMaps.key(policyID: 7, domain: 1, kind: 6, path: "/home/u/.local/lib").hash)
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
        #expect(marker.glob_dir_bits.0 == 1 << 18)
        // Renaming the pattern's head (or above it) is judged by the pattern's verdicts.
        let ancestors = maps.paths.filter { $0.key.kind == UInt8(EG_PATH_ANCESTOR.rawValue) }.map(\.key.len)
        #expect(Set(ancestors).isSuperset(of: [18, 14, 7, 5]))
    }

    @Test func patternsOnOneAnchorChainUpToTheLimit() throws {
        let eight = (0..<8).map { "  - { action: deny, path: \"/**/*.e\($0)\" }" }.joined(separator: "\n")
        let maps = try compile(eight)
        let keys = globs(maps).map(\.key)
        let base = PolicyMaps.key(policyID: 7, domain: 1, kind: 6, path: "").hash
        #expect(keys.map(\.hash) == (0..<8).map { base &+ UInt64($0) })
        #expect(throws: PolicyMaps.CompileError.self) {
            _ = try compile(eight + "\n  - { action: deny, path: \"/**/*.e8\" }")
        }
        do { _ = try compile(eight + "\n  - { action: deny, path: \"/**/*.e8\" }") } catch let error as PolicyMaps.CompileError {
            #expect(error.rule == "file[8] (test.yaml:12:5)")
            #expect(error.message.contains("more than 8 patterns"))
        }
    }

    @Test func literalTextPastTheValueIsRefused() throws {
        let long = String(repeating: "x", count: 100)
        #expect(throws: PolicyMaps.CompileError.self) {
            _ = try compile("  - { action: deny, path: \"/\(long)/*/\(long)\" }")
        }
    }
}
