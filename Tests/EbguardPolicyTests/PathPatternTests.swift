@testable import EbguardPolicy
import Testing

/// Path patterns (`*` within a component, `**` for whole components): parsing, the reference
/// matcher, precedence, `--explain`.
struct PathPatternTests {
    func glob(_ raw: String) throws -> PathGlob {
        guard case .glob(let g) = try PathPattern(parsing: raw).matcher(in: testContext) else {
            Issue.record("\(raw) is not a pattern")
            return PathGlob(tokens: [])
        }
        return g
    }

    @Test(arguments: [
        // pattern, path, matches
        ("~/.local/lib/python3*/site-packages/*.pth", "/home/u/.local/lib/python3.11/site-packages/evil.pth", true),
        ("~/.local/lib/python3*/site-packages/*.pth", "/home/u/.local/lib/python3/site-packages/.pth", true),
        ("~/.local/lib/python3*/site-packages/*.pth", "/home/u/.local/lib/python2.7/site-packages/evil.pth", false),
        ("~/.local/lib/python3*/site-packages/*.pth", "/home/u/.local/lib/python3.11/site-packages/sub/evil.pth", false),
        ("~/.local/lib/python3*/site-packages/*.pth", "/home/u/.local/lib/python3.11/site-packages/evil.pthx", false),
        ("/home/*/.ssh/**", "/home/bob/.ssh", true),
        ("/home/*/.ssh/**", "/home/bob/.ssh/id_rsa", true),
        ("/home/*/.ssh/**", "/home/bob/x/.ssh/id_rsa", false),
        ("/home/*/.ssh/**", "/home/.ssh/id_rsa", false),
        ("${workspace}/**/.git/hooks/**", "/home/u/proj/.git/hooks/pre-commit", true),
        ("${workspace}/**/.git/hooks/**", "/home/u/proj/a/b/vendor/.git/hooks", true),
        ("${workspace}/**/.git/hooks/**", "/home/u/proj/a/.git/hooksx/pre-commit", false),
        ("${workspace}/**/.git/hooks/**", "/home/u/other/.git/hooks/pre-commit", false),
        ("/**/*.pem", "/a.pem", true),
        ("/**/*.pem", "/x/y/z/.pem", true),
        ("/**/*.pem", "/x/y.pem/z", false),
        ("~/**/.env", "/home/u/.env", true),
        ("~/**/.env", "/home/u/a/b/.env", true),
        ("~/**/.env", "/home/u/a/b/.envrc", false),
        ("/a/**/b/**/c", "/a/b/c", true),
        ("/a/**/b/**/c", "/a/x/b/y/b/z/c", true),
        ("/a/**/b/**/c", "/a/x/c", false),
        ("/a/*/**", "/a", false),
        ("/a/*/**", "/a/b", true),
        ("/ä*/ñ", "/äöü/ñ", true),
        ("/ä*/ñ", "/aöü/ñ", false),
    ])
    func referenceMatcher(pattern: String, path: String, expected: Bool) throws {
        #expect(try glob(pattern).matches(path) == expected, "\(pattern) vs \(path)")
    }

    @Test func ranksCountLiteralBytesBeforeTheFirstWildcard() throws {
        #expect(try glob("/home/*/.ssh/**").rank == 6)
        #expect(try glob("/**/*.pem").rank == 1)
        #expect(try glob("~/.ssh/id_*").rank == "/home/u/.ssh/id_".utf8.count)
        #expect(PathMatcher.subtree("/").specificity.rank == 1)
        #expect(PathMatcher.subtree("/home/u").specificity.rank == 8)
        #expect(PathMatcher.exact("/x").specificity.rank == 511)
        #expect(BasenamePattern.matcher("id_*").specificity.rank == 0)
    }

    @Test(arguments: [
        ("/a/b**", "whole path component"),
        ("/a/**b", "whole path component"),
        ("/a/x*y*z", "at most one"),
        ("/a/?", "unsupported glob character '?'"),
        ("/a/[ab]", "unsupported glob character '['"),
        ("/a/{b,c}", "unsupported glob character '{'"),
        ("/*/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p", "the kernel checks at most 16"),
    ])
    func patternsTheKernelCannotDecideAreRejected(raw: String, message: String) {
        // `path:` and `unix:` take the same patterns within the same bounds.
        for unix in [false, true] {
            #expect(throws: PolicyValueError.self) { _ = unix ? try PathPattern(parsingUnix: raw) : try PathPattern(parsing: raw) }
            do { _ = unix ? try PathPattern(parsingUnix: raw) : try PathPattern(parsing: raw) } catch {
                #expect(error.message.contains(message), "\(raw): \(error.message)")
            }
        }
    }

    @Test func policyCheckNamesTheLineAndColumn() {
        let errs = errors("""
        version: 1
        name: t
        file:
          - { action: deny, path: "/a/x*y*z" }
        network:
          - { action: deny, unix: "/run/**.sock" }
        exec:
          - { action: deny, path: "/usr/bin/py*", argv: [-c] }
        """)
        #expect(errs.contains { $0.hasPrefix("p.yaml:4:") && $0.contains("at most one") }, "\(errs)")
        #expect(errs.contains { $0.hasPrefix("p.yaml:6:") && $0.contains("whole path component") }, "\(errs)")
        #expect(errs.contains { $0.hasPrefix("p.yaml:8:") && $0.contains("not a subtree or pattern") }, "\(errs)")
    }

    @Test func todaysFormsKeepTheirMeaning() throws {
        #expect(try PathPattern(parsing: "/a/**").matcher(in: testContext) == .subtree("/a"))
        #expect(try PathPattern(parsing: "/a/**/**").matcher(in: testContext) == .subtree("/a"))
        #expect(try PathPattern(parsing: "/a/b").matcher(in: testContext) == .exact("/a/b"))
        #expect(BasenamePattern.matcher(".env") == .basename(".env"))
    }

    @Test func precedenceLiteralBytesThenVerdict() throws {
        let p = try compile("""
        file:
          - { action: allow, path: "~/.ssh/**" }
          - { action: deny, path: "~/.ssh/id_*" }
          - { action: allow, path: "/**" }
          - { action: deny, path: "/**/*.pem" }
          - { action: allow, path: "~/proj/**" }
          - { action: deny, name: "*.key" }
          - { action: ask, path: "~/proj/*.pem" }
        """)
        #expect(p.decideFile(path: "/home/u/.ssh/id_rsa", access: .read) == Decision(.deny, RuleID(.file, 1)))
        #expect(p.decideFile(path: "/home/u/.ssh/known_hosts", access: .read) == Decision(.allow, RuleID(.file, 0)))
        // "/**" and "/**/*.pem" both rank 1: deny wins the tie.
        #expect(p.decideFile(path: "/etc/x.pem", access: .read) == Decision(.deny, RuleID(.file, 3)))
        // A name ranks below every path rule.
        #expect(p.decideFile(path: "/etc/x.key", access: .read) == Decision(.allow, RuleID(.file, 2)))
        // "~/proj/*.pem" (14 bytes before '*') and "~/proj/**" (14): ask beats allow.
        #expect(p.decideFile(path: "/home/u/proj/c.pem", access: .read) == Decision(.ask, RuleID(.file, 6)))
        #expect(p.decideFile(path: "/home/u/proj/sub/c.pem", access: .read) == Decision(.allow, RuleID(.file, 4)))
    }

    @Test func explainNamesTheWinnerAndWhy() throws {
        let p = try compile("""
        file:
          - { action: allow, path: "~/**" }
          - { action: deny, path: "~/**/.env*", access: [read] }
        """)
        let lines = p.explain(path: "/home/u/a/.env.local")
        #expect(lines[0] == "/home/u/a/.env.local")
        #expect(lines.contains { $0.hasPrefix("  exec: allow by default") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("  file read: deny by file[1] deny pattern /home/u/**/.env*") }, "\(lines)")
        #expect(lines.contains { $0.contains("over file[0] allow subtree /home/u/** (rank 8") && $0.hasSuffix("same rank, weaker verdict") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("  file write: allow by file[0]") }, "\(lines)")
        #expect(lines.last!.hasPrefix("precedence:"))
    }

    /// The kernel's walk (bpf/lib/path_match.h, eg_glob_step: anchored head segment, leftmost
    /// fit for segments between two `**`, the last one at the end), modelled step for step,
    /// agrees with the recursive definition on every pattern and path of a generated table.
    @Test func theKernelsSegmentWalkAgreesWithTheDefinition() throws {
        let atoms: [GlobToken] = [.literal("a"), .literal("b"), .star(prefix: "a", suffix: ""), .star(prefix: "", suffix: "b"),
                                  .star(prefix: "", suffix: ""), .any]
        var generator = SystemRandomNumberGenerator()
        var checked = 0
        for _ in 0..<3000 {
            let tokens = (0..<Int.random(in: 1...5, using: &generator)).map { _ in atoms.randomElement(using: &generator)! }
            let glob = PathGlob(tokens: tokens)
            let names = ["a", "b", "ab", "ba", "x"]
            for _ in 0..<8 {
                let path = "/" + (0..<Int.random(in: 0...6, using: &generator)).map { _ in names.randomElement(using: &generator)! }
                    .joined(separator: "/")
                #expect(kernelWalk(glob, path) == glob.matches(path), "\(glob) vs \(path)")
                checked += 1
            }
        }
        #expect(checked == 24000)
    }

    /// A model of eg_glob_check: the head is literal, then one token or one `**` move a step.
    func kernelWalk(_ glob: PathGlob, _ path: String) -> Bool {
        let comps = Array(path.utf8).split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true)
        let tail = Array(glob.tail)
        let head = glob.head
        guard comps.count >= head.count, zip(head, comps).allSatisfy({ $1.elementsEqual($0.utf8) }) else { return false }
        var ti = 0, ci = head.count, segTi = 0, segCi = 0, segLen = 0, floating = false
        while true {
            if ti >= tail.count { return ci == comps.count }
            let t = tail[ti]
            if t == .any {
                ti += 1
                if ti >= tail.count { return true }
                let segment = tail[ti...].prefix { $0 != .any }
                if segment.count == tail.count - ti {
                    if comps.count < ci + segment.count { return false }
                    ci = comps.count - segment.count
                    floating = false
                } else {
                    floating = true
                    segTi = ti
                    segCi = ci
                    segLen = segment.count
                }
                continue
            }
            if ci < comps.count && t.accepts(comps[ci]) {
                ti += 1
                ci += 1
                continue
            }
            if !floating { return false }
            segCi += 1
            if segCi + segLen > comps.count { return false }
            ti = segTi
            ci = segCi
        }
    }
}
