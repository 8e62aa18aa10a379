import CEbguardABI
import EbguardBPF
@testable import EbguardEnforcement
import EbguardPolicy
import EbguardSystem
import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// Path patterns decided by the kernel (bpf/lib/path_match.h): every form, matched and not,
/// deep, long, unicode and odd names, and a generated table of paths x rules whose kernel
/// verdicts and rules must equal the userspace reference's (`CompiledPolicy.decideFile`).
@Suite(.enabled(if: TestEnvironment.inVM && TestEnvironment.isRoot, Comment(rawValue: TestEnvironment.vmReason)), .serialized)
struct PathPatternVMTests {
    /// A session whose policy is `yaml` compiled by the product's own compiler and written as
    /// `ebguard run` writes it (PolicyMaps); every decision is reported (audit allows).
    struct PatternSession {
        let session: ScratchCgroup
        let enforcement: Enforcement
        let compiled: CompiledPolicy

        init(_ label: String, workspace: String, yaml: String, auditAllows: Bool = true) throws {
            session = try ScratchCgroup(label)
            enforcement = try Enforcement(level: try session.cgroup.level())
            let policy = try Policy.parse(yaml: yaml, file: "\(label).yaml")
            compiled = policy.compile(in: try PolicyContext(home: "/root", workspace: workspace))
            let maps = try PolicyMaps(compiled, policyID: 7)
            for (key, rule) in maps.paths { try enforcement.rules.update(key, rule) }
            for (key, lengths) in maps.loadedMarkers { try enforcement.rules.update(key, lengths) }
            try enforcement.addSession(session.cgroup, policy: 7, exec: EG_VERDICT_ALLOW, file: EG_VERDICT_ALLOW,
                                       flags: auditAllows ? UInt8(EG_SESSION_AUDIT_ALLOWS) : 0)
        }

        /// Opens each path for reading inside the session (a shell loop reading a list, so names
        /// need no quoting); returns each path's first file event.
        func readAll(_ paths: [String], list: String) throws -> [String: PathEvent] {
            var seen: [String: PathEvent] = [:]
            for chunk in stride(from: 0, to: paths.count, by: 150).map({ Array(paths[$0..<min($0 + 150, paths.count)]) }) {
                try (chunk.joined(separator: "\n") + "\n").write(toFile: list, atomically: false, encoding: .utf8)
                // `read`, not `:`: a failed redirection ends the shell on a special builtin.
                _ = try runProcess(["/bin/sh", "-c", "while IFS= read -r f; do { read -r x < \"$f\"; } 2>/dev/null; done < '\(list)'"],
                                   in: session.cgroup)
                for event in try enforcement.takeEvents() where event.type == UInt16(EG_EVENT_FILE.rawValue) {
                    if seen[event.path] == nil { seen[event.path] = event }
                }
            }
            return seen
        }
    }

    static func kernelVerdict(_ v: Verdict) -> UInt8 {
        switch v {
        case .allow: UInt8(EG_VERDICT_ALLOW.rawValue)
        case .audit: UInt8(EG_VERDICT_AUDIT.rawValue)
        case .ask: UInt8(EG_VERDICT_ASK.rawValue)
        case .deny: UInt8(EG_VERDICT_DENY.rawValue)
        }
    }

    static func rules(_ d: String) -> String {
        """
        version: 1
        name: patterns
        file:
          - { action: deny, path: "\(d)/**/*.pem", access: [read] }
          - { action: allow, path: "\(d)/keys/*.pem", access: [read] }
          - { action: ask, path: "\(d)/**/.git/hooks/**", access: [read] }
          - { action: audit, path: "\(d)/*/deep/**", access: [read] }
          - { action: deny, path: "\(d)/home/*/.ssh/**", access: [read] }
          - { action: allow, path: "\(d)/home/bob/.ssh/*.pub", access: [read] }
          - { action: deny, name: "id_*", access: [read] }
          - { action: allow, path: "\(d)/plain/**", access: [read] }
          - { action: deny, path: "\(d)/lib/python3*/site-packages/*.pth", access: [read] }
          - { action: audit, path: "\(d)/ü*/*ñ", access: [read] }
          - { action: deny, path: "\(d)/a/**/b/**/c", access: [read] }
          - { action: allow, path: "\(d)/keys/exact.pem", access: [read] }
          - { action: deny, path: "\(d)/odd/* b", access: [read] }
          - { action: deny, path: "/**/*.secret", access: [read] }
          - { action: audit, path: "\(d)/**/deepest/**/*.x", access: [read] }
        """
    }

    /// Every directory x every leaf name: the table the kernel and the reference must agree on.
    static func table(_ d: String) -> [String] {
        let dirs = ["keys", "home/bob/.ssh", "home/bob/x/.ssh", "home/.ssh", "lib/python3.11/site-packages",
                    "lib/python2.7/site-packages", "lib/python3.11/site-packages/sub", "repo/.git/hooks",
                    "repo/sub/mod/.git/hooks", "repo/.git/hooksx", "a/b", "a/x/b/y/b", "a/x", "ü1", "üx/y", "u1",
                    "x/deep/y", "x/y/deep", "odd", "plain", "sp ace/ta\tb", "ü1/sub", "a/q/b"]
        let leaves = ["k.pem", ".pem", "k.pemx", "id_rsa", "id_rsa.pub", "evil.pth", "c", "pre-commit", "ñ", "xñ",
                      "a b", "ab", "t.secret", "exact.pem", "ñ.pem"]
        return dirs.flatMap { dir in leaves.map { "\(d)/\(dir)/\($0)" } }
    }

    @Test func kernelAgreesWithTheReferenceOnAGeneratedTable() throws {
        let dir = try ScratchDirectory("pat")
        let s = try PatternSession("pat", workspace: dir.path, yaml: Self.rules(dir.path))
        var paths = Self.table(dir.path)
        // The deepest paths that fit: one-byte components up to the 255-byte limit.
        var deep = dir.path + "/deepest"
        while deep.utf8.count + 2 + 4 <= 255 { deep += "/d" }
        paths.append(deep + "/y.x")
        #expect((deep + "/y.x").utf8.count >= 253, "the deepest path is at the limit")
        paths.append(String(deep.dropLast(2)) + "/k.pem")
        // At the limit: a name that makes the path exactly 255 bytes.
        let base = dir.path + "/keys/"
        paths.append(base + String(repeating: "z", count: 255 - base.utf8.count - 4) + ".pem")
        paths = paths.filter { $0.utf8.count <= 255 }
        for path in paths {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            #expect(FileManager.default.createFile(atPath: path, contents: Data("x".utf8)), "\(path)")
        }
        let events = try s.readAll(paths, list: dir.path + "/list")
        var compared = 0
        var matched = Set<Int>()
        for path in paths {
            let reference = s.compiled.decideFile(path: path, access: .read)
            guard let event = events[path] else {
                Issue.record("no kernel event for \(path)")
                continue
            }
            #expect(event.verdict == Self.kernelVerdict(reference.verdict), "\(path): kernel \(event), reference \(reference)")
            #expect(event.rule == UInt16(reference.rule?.index ?? Int(EG_RULE_DEFAULT)), "\(path): kernel \(event), reference \(reference)")
            if let rule = reference.rule { matched.insert(rule.index) }
            compared += 1
        }
        #expect(compared == paths.count && compared > 340)
        // The table makes every rule decide some path.
        #expect(matched.count == 15, "rules that decided some path: \(matched.sorted())")
        print("pattern table: \(compared) paths x 15 rules, kernel == reference; rules deciding: \(matched.sorted())")
    }

    /// The final component's index (GLOB_PREFIX, GLOB_SUFFIX) at its bounds, on a generated
    /// table against the reference: a suffix of EG_AFFIX_MAX bytes and a prefix one past it (no
    /// key of its own: the root's chain), both ends of one component, a multibyte suffix (hashed
    /// as bytes, last first), a ninth pattern on one suffix and suffixes at a ninth and tenth
    /// length (each takes its next anchor), names equal to a key, shorter, and one byte off.
    @Test func finalComponentIndexAgreesWithTheReferenceAtItsBounds() throws {
        let dir = try ScratchDirectory("pataffix")
        let d = dir.path
        let m = String(repeating: "m", count: Int(EG_AFFIX_MAX))
        var rules = ["{ action: deny, name: \"*.\(m.dropFirst())\", access: [read] }",
                     "{ action: audit, name: \"\(m)n*\", access: [read] }",
                     "{ action: deny, path: \"\(d)/**/pre*fix\", access: [read] }",
                     "{ action: audit, name: \"*ñé\", access: [read] }",
                     "{ action: allow, name: \"ab*\", access: [read] }"]
        rules += (0..<9).map { "{ action: \($0 % 2 == 0 ? "deny" : "audit"), path: \"\(d)/s\($0)/**/*.pem\", access: [read] }" }
        rules += (1...9).map { "{ action: deny, name: \"*.\(String(repeating: "x", count: $0))\", access: [read] }" }
        let yaml = "version: 1\nname: affix\nfile:\n" + rules.map { "  - " + $0 }.joined(separator: "\n") + "\n"
        let s = try PatternSession("pataffix", workspace: d, yaml: yaml)
        // The index took what it should, and no more: 8 lengths of suffix, 8 patterns on ".pem".
        let maps = try PolicyMaps(s.compiled, policyID: 7)
        let marker = unsafeBitCast(maps.loadedMarkers[1].lengths, to: eg_path_lengths.self)
        #expect(marker.glob_suffix_bits.nonzeroBitCount == Int(EG_AFFIX_LENGTHS) && marker.glob_prefix_bits == 1 << 2)
        #expect(maps.paths.filter { $0.key.kind == UInt8(EG_PATH_GLOB_DIR.rawValue) }.count == 4)
        let dirs = (0..<9).map { "s\($0)" } + ["s3/q/r", "x", "ü"]
        let leaves = ["k.pem", ".pem", "pem", "k.pemx", "q." + m.dropFirst(), "." + m.dropFirst(), "." + m.dropFirst(2),
                      m + "n", m + "nq", m, "prefix", "pre-fix", "prefx", "prefixx", "añé", "ñé", "é", "ñéx", "ab", "abc",
                      "a", ".xxxxxxxxx", "f.xy", "plain"] + (1...9).map { "f." + String(repeating: "x", count: $0) }
        let paths = dirs.flatMap { dir in leaves.map { "\(d)/\(dir)/\($0)" } }
        for path in paths {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            #expect(FileManager.default.createFile(atPath: path, contents: Data("x".utf8)), "\(path)")
        }
        let events = try s.readAll(paths, list: d + "/list")
        var matched = Set<Int>()
        for path in paths {
            let reference = s.compiled.decideFile(path: path, access: .read)
            let event = try #require(events[path], "no kernel event for \(path)")
            #expect(event.verdict == Self.kernelVerdict(reference.verdict), "\(path): kernel \(event), reference \(reference)")
            #expect(event.rule == UInt16(reference.rule?.index ?? Int(EG_RULE_DEFAULT)), "\(path): kernel \(event), reference \(reference)")
            if let rule = reference.rule { matched.insert(rule.index) }
        }
        #expect(matched.count == rules.count, "rules that decided some path: \(matched.sorted())")
        print("affix table: \(paths.count) paths x \(rules.count) rules, kernel == reference")
    }

    /// Each way a pattern is anchored and placed: on a component after `**` at the end, on one
    /// between two `**`, on the head directory with a segment at the end or between.
    @Test func everyAnchorAndPlacement() throws {
        let dir = try ScratchDirectory("patanchor")
        let d = dir.path
        let s = try PatternSession("patanchor", workspace: d, yaml: """
        version: 1
        name: anchors
        file:
          - { action: deny, path: "\(d)/**/zz", access: [read] }
          - { action: deny, path: "\(d)/**/yy/**", access: [read] }
          - { action: deny, path: "\(d)/*/xx/**", access: [read] }
          - { action: deny, path: "\(d)/w*/**/*.vv", access: [read] }
          - { action: deny, path: "\(d)/u*/**/*.tt/**", access: [read] }
        """)
        let cases: [(String, UInt16?)] = [("a/zz", 0), ("a/b/c/zz", 0), ("zz", 0), ("a/zzz", nil), ("a/yy/f", 1), ("a/b/yy", 1),
                                          ("yy/a/b", 1), ("a/xx/f", 2), ("a/b/xx/f", nil), ("wq/f.vv", 3), ("wq/a/b/f.vv", 3),
                                          ("q/f.vv", nil), ("ua/x.tt/f", 4), ("ua/b/x.tt/c/d", 4), ("ua/b/x.t/c", nil),
                                          ("a/f", nil)]
        var paths: [String] = []
        for (relative, _) in cases { paths.append(try dir.file(relative.hasSuffix("/yy") ? relative + "/f" : relative)) }
        let events = try s.readAll(paths, list: d + "/list")
        for ((relative, expected), path) in zip(cases, paths) {
            let event = try #require(events[path], "no event for \(relative)")
            #expect(event.rule == expected ?? UInt16(EG_RULE_DEFAULT), "\(relative): \(event)")
            let reference = s.compiled.decideFile(path: path, access: .read)
            #expect(reference.rule?.index == expected.map(Int.init), "\(relative): reference \(reference)")
        }
    }

    /// Patterns cost what exact rules cost: 1,000 of each, opens of a 6-component path that
    /// every probe of the matcher visits (the patterns' anchors are at its lengths, one pattern
    /// anchored on one of its components is checked on each open), same run.
    @Test func aThousandPatternsCostWhatAThousandExactRulesDo() throws {
        let dir = try ScratchDirectory("patcost")
        let d = dir.path
        let target = try dir.file("a/b/c/d/target", "x\n")
        func yaml(_ rules: [String]) -> String {
            "version: 1\nname: cost\nfile:\n" + rules.map { "  - { action: deny, \($0), access: [read] }" }.joined(separator: "\n") + "\n"
        }
        let exact = yaml((0..<1000).map { "path: \"\(d)/a/b/other-\($0)\"" })
        let patterns = yaml((0..<991).map { i in
            switch i % 3 {
            case 0: "path: \"\(d)/a/b/o\(i)/*.x\""            // headed at a directory the path does not have
            case 1: "path: \"\(d)/**/n\(i)/**\""              // anchored on a component the path does not have
            default: "path: \"/srv/p\(i)/**/*.y\""
            }
        } + (0..<8).map { "path: \"\(d)/a/b/*/c\($0)/*\"" }  // headed at a directory of the path: all 8 checked
          + ["path: \"\(d)/**/d/*.zz\""])                      // anchored on a component of the path: checked
        let small = try PatternSession("patcost-exact", workspace: d, yaml: exact, auditAllows: false)
        let large = try PatternSession("patcost-pattern", workspace: d, yaml: patterns, auditAllows: false)
        let loop = "i=0; while [ $i -lt 3000 ]; do read -r x < '\(target)'; i=$((i+1)); done"
        func seconds(_ session: PatternSession) throws -> Double {
            let clock = ContinuousClock()
            let start = clock.now
            let result = try runProcess(["/bin/sh", "-c", loop], in: session.session.cgroup)
            #expect(result.status == 0, "\(result.stderr)")
            let elapsed = clock.now - start
            #expect(try session.enforcement.takeEvents().isEmpty, "allowed opens are not reported")
            return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        }
        var exactTimes: [Double] = []
        var patternTimes: [Double] = []
        for _ in 0..<5 {
            exactTimes.append(try seconds(small))
            patternTimes.append(try seconds(large))
        }
        let ratio = patternTimes.min()! / exactTimes.min()!
        print("path pattern cost (3,000 opens): 1,000 exact rules \(exactTimes.min()!) s, 1,000 pattern rules "
              + "\(patternTimes.min()!) s; patterns/exact = \(ratio)")
        #expect(ratio < 2, "patterns: \(patternTimes), exact: \(exactTimes)")
    }

    @Test func pathsOverTheLimitAreDeniedNotMatchedLoosely() throws {
        let dir = try ScratchDirectory("patlong")
        let s = try PatternSession("patlong", workspace: dir.path, yaml: """
        version: 1
        name: long
        file:
          - { action: allow, path: "\(dir.path)/**/*.ok", access: [read] }
        """)
        let base = dir.path + "/"
        let long = base + String(repeating: "q", count: 256 - base.utf8.count - 3) + ".ok"
        #expect(long.utf8.count == 256)
        #expect(FileManager.default.createFile(atPath: long, contents: Data("x".utf8)))
        let fits = base + "f.ok"
        #expect(FileManager.default.createFile(atPath: fits, contents: Data("x".utf8)))
        let events = try s.readAll([long, fits], list: dir.path + "/list")
        #expect(events[fits]?.verdict == UInt8(EG_VERDICT_ALLOW.rawValue) && events[fits]?.rule == 0, "\(events)")
        let tooLong = try #require(events.values.first { $0.reason == UInt8(EG_REASON_TOO_LONG.rawValue) }, "\(events)")
        #expect(tooLong.verdict == UInt8(EG_VERDICT_DENY.rawValue))
    }

    @Test func execPatternsAreEnforced() throws {
        let dir = try ScratchDirectory("patexec")
        for path in ["tools/bin/run-evil", "tools/sub/bin/x-evil", "tools/bin/fine", "tools/bin/evil-not"] {
            try dir.program(path, from: "/usr/bin/true")
        }
        let s = try PatternSession("patexec", workspace: dir.path, yaml: """
        version: 1
        name: execpat
        exec:
          - { action: deny, path: "\(dir.path)/**/bin/*-evil" }
        """)
        for (path, ok) in [("tools/bin/run-evil", false), ("tools/sub/bin/x-evil", false), ("tools/bin/fine", true),
                           ("tools/bin/evil-not", true)] {
            let result = try runProcess([dir.path + "/" + path], in: s.session.cgroup)
            #expect((result.status == 0) == ok, "\(path): \(result.status) \(result.stderr)")
            let reference = s.compiled.decideExec(path: dir.path + "/" + path)
            #expect((reference.verdict == .allow) == ok, "\(path): \(reference)")
        }
    }
}
