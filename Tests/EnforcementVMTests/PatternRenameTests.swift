import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// What docs/policy.md says about renaming directories and pattern rules ("Renaming a directory
/// into a pattern's match"), in a real `ebguard run` session: a rename is judged on its two
/// paths and, for a pattern, on its head directory and the head's parents; a directory renamed
/// to a name *below* the head brings its contents along unjudged (the documented gap, shown
/// here so the sentence stays true), while a rule on the destination directory itself refuses.
@Suite(.enabled(if: TestEnvironment.inVM && TestEnvironment.isRoot, Comment(rawValue: TestEnvironment.vmReason)), .serialized)
struct PatternRenameTests {
    @Test func renamesAtAndBelowAPatternsHead() throws {
        let dir = try ContainmentRun.workspace("patrename")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for sub in ["home/.local/lib/python3.11", "home/.local/share", "x", "g/hooks", "g2/hooks", "repo", "other/r", "y"] {
            try FileManager.default.createDirectory(atPath: dir + "/" + sub, withIntermediateDirectories: true)
        }
        for file in ["x/evil.pth", "g/hooks/pre-commit", "g2/hooks/pre-commit", "y/evil.pth"] {
            try "import os\n".write(toFile: dir + "/" + file, atomically: false, encoding: .utf8)
        }
        try ContainmentRun.giveToNobody(dir)
        let w = dir
        let out = try ContainmentRun.run("""
        version: 1
        name: patrename
        file:
          - { action: deny, path: "${workspace}/home/.local/lib/python*/site-packages/*.pth", access: [write, create] }
          - { action: deny, path: "${workspace}/**/.git/hooks/**", access: [write, create] }
          - { action: deny, path: "${workspace}/other/**/.git/**", access: [create] }
        """, as: .nobody, workspace: dir, """
        w = "\(w)"
        # The head (home/.local/lib) and its parents answer for the pattern: refused.
        attempt("head", lambda: os.rename(w + "/home/.local/lib", w + "/home/.local/lib2"))
        attempt("parent", lambda: os.rename(w + "/home/.local", w + "/home/.l"))
        attempt("ontohead", lambda: os.rename(w + "/y", w + "/home/.local/lib"))  # else ENOTEMPTY
        # A directory renamed below the head: not refused, its contents land unjudged.
        attempt("belowhead", lambda: os.rename(w + "/x", w + "/home/.local/lib/python3.11/site-packages"))
        attempt("gitdir", lambda: os.rename(w + "/g", w + "/repo/.git"))
        # A rule on the destination directory itself (.git/** covers .git): refused.
        attempt("gitdirrule", lambda: os.rename(w + "/g2", w + "/other/r/.git"))
        # The same file written directly: refused.
        attempt("direct", lambda: open(w + "/home/.local/lib/python3.11/site-packages/direct.pth", "x").close())
        """)
        for name in ["head", "parent", "ontohead", "gitdirrule", "direct"] {
            #expect(out[name] == "EACCES", "\(name): \(out)")
        }
        for name in ["belowhead", "gitdir"] { #expect(out[name] == "OK", "\(name): \(out)") }
        #expect(FileManager.default.fileExists(atPath: dir + "/home/.local/lib/python3.11/site-packages/evil.pth"))
        #expect(FileManager.default.fileExists(atPath: dir + "/repo/.git/hooks/pre-commit"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/other/r/.git"))
        #expect(FileManager.default.fileExists(atPath: dir + "/home/.local/lib/python3.11"))
    }
}
