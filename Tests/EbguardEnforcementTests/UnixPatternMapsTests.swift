import CEbguardABI
import EbguardBPF
@testable import EbguardEnforcement
import EbguardPolicy
import Testing

/// `unix:` patterns as the kernel gets them: path patterns of domain EG_DOMAIN_UNIX under the
/// same anchors and bounds as file and exec patterns, and compile errors that name the rule's
/// place in the file (`policy check` prints them).
@Suite struct UnixPatternMapsTests {
    func compile(_ rules: [String]) throws -> PolicyMaps {
        let yaml = "version: 1\nname: t\nnetwork:\n" + rules.map { "  - { \($0) }\n" }.joined()
        let policy = try Policy.parse(yaml: yaml, file: "test.yaml")
        return try PolicyMaps(policy.compile(in: try PolicyContext(home: "/home/u", workspace: "/work/ws")), policyID: 7)
    }

    func compileError(_ rules: [String]) -> PolicyMaps.CompileError? {
        #expect(throws: PolicyMaps.CompileError.self) { _ = try compile(rules) }
        do { _ = try compile(rules) } catch let error as PolicyMaps.CompileError { return error } catch {}
        return nil
    }

    @Test func patternsAreAnchoredAsPathPatterns() throws {
        let maps = try compile([
            "action: allow, unix: \"/run/user/*/bus\"",
            "action: deny, unix: \"/tmp/ssh-*/agent.*\"",
            "action: deny, unix: \"/**/docker.sock\"",
            "action: audit, unix: \"${home}/**/*.sock\"",
        ])
        let unix = maps.paths.filter { $0.key.domain == UInt8(EG_DOMAIN_UNIX.rawValue) }
        #expect(unix.count == 4)
        #expect(maps.paths.allSatisfy { $0.key.domain == UInt8(EG_DOMAIN_UNIX.rawValue) }, "unix rules make no file or exec keys")
        func glob(_ index: Int) -> (key: eg_path_key, glob: eg_path_glob)? {
            unix.map { ($0.key, unsafeBitCast($0.rule, to: eg_path_glob.self)) }.first { $0.glob.rule.1 == UInt16(index) }
        }
        func anchor(_ index: Int) -> String { glob(index).map { "\($0.key.kind):\($0.key.len)" } ?? "none" }
        // bus: a literal after the pattern's head; agent.*: its final component's start;
        // docker.sock: the literal after `**`; *.sock: its final component's end.
        #expect(anchor(0) == "\(EG_PATH_GLOB_NAME.rawValue):3")
        #expect(anchor(1) == "\(EG_PATH_GLOB_PREFIX.rawValue):6")
        #expect(anchor(2) == "\(EG_PATH_GLOB_NAME.rawValue):11")
        #expect(anchor(3) == "\(EG_PATH_GLOB_SUFFIX.rawValue):5")
        #expect(glob(0)?.glob.rank == 10 && glob(3)?.glob.rank == 8)
        // One access kind carries the verdict: a connect or send (EG_UNIX_ACCESS, write).
        #expect(glob(1)?.glob.verdict.1 == UInt8(EG_VERDICT_DENY.rawValue) && glob(1)?.glob.verdict.0 == UInt8(EG_VERDICT_NONE))
        // The unix domain's marker lists its anchors' lengths; the file domain's has none.
        let marker = unsafeBitCast(maps.loadedMarkers[2].lengths, to: eg_path_lengths.self)
        #expect(maps.loadedMarkers[2].key.domain == UInt8(EG_DOMAIN_UNIX.rawValue))
        #expect(marker.glob_name_bits.0 == (1 << 3 | 1 << 11) && marker.glob_prefix_bits == 1 << 6 && marker.glob_suffix_bits == 1 << 5)
        let file = unsafeBitCast(maps.loadedMarkers[1].lengths, to: eg_path_lengths.self)
        #expect(file.glob_name_bits.0 == 0 && file.glob_suffix_bits == 0)
    }

    @Test func socketPathsLongerThanSunPathAreRefusedWithTheirPlace() throws {
        let fits = "/run/" + String(repeating: "s", count: Int(EG_UNIX_PATH_MAX) - 5)
        #expect(fits.utf8.count == 108)
        _ = try compile(["action: deny, unix: \"\(fits)\""])
        let error = compileError(["action: allow, unix: /run/x", "action: deny, unix: \"\(fits)x\""])
        #expect(error?.rule == "network[1] (test.yaml:5:5)", "\(String(describing: error))")
        #expect(error?.message.contains("longer than 108 bytes") == true)
    }

    /// What the kernel's pattern value cannot hold, or no anchor has room for, is refused
    /// with the rule's place, never matched loosely.
    @Test func patternsPastTheKernelsBoundsAreRefusedWithTheirPlace() throws {
        let long = String(repeating: "l", count: 100)
        let text = compileError(["action: deny, unix: \"/\(long)/\(long)/*.sock\""])
        #expect(text?.rule == "network[0] (test.yaml:4:5)", "\(String(describing: text))")
        #expect(text?.message.contains("at most 188") == true)
        // Nine patterns with nothing literal but their head directory: one chain of 8.
        let chain = (0..<9).map { "action: deny, unix: \"/run/*/*/*\(String(repeating: "/*", count: $0))\"" }
        let full = compileError(chain)
        #expect(full?.rule == "network[8] (test.yaml:12:5)", "\(String(describing: full))")
        #expect(full?.message.contains("has no room") == true)
    }
}
