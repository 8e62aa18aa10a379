import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// What docs/policy.md says about renaming directories and pattern rules ("Directories moved
/// into or out of a pattern's reach"), in a real `ebguard run` session: a rename is judged on
/// its two paths, for a pattern on its head directory and the head's parents, and a directory
/// (or a symlink, which stands for one) also on the pattern's rename guards and star roots
/// (bpf/lib/path_ancestor.h): moved to where the pattern could judge its contents, or away
/// from there, it is refused; moved where the pattern sees it the same, it is not.
@Suite(.enabled(if: TestEnvironment.inVM && TestEnvironment.isRoot, Comment(rawValue: TestEnvironment.vmReason)), .serialized)
struct PatternRenameTests {
    @Test func renamesAtAndBelowAPatternsHead() throws {
        let dir = try ContainmentRun.workspace("patrename")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for sub in ["home/.local/lib/python3.11", "home/.local/lib/python3.10/site-packages", "home/.local/share", "x", "x2", "g/hooks", "g2/hooks", "g3/hooks", "y",
                    "in/repo", "in/a/.git/hooks", "in/c/.git/hooks", "in/e", "t/.git/hooks", "out", "other/r"] {
            try FileManager.default.createDirectory(atPath: dir + "/" + sub, withIntermediateDirectories: true)
        }
        for file in ["x/evil.pth", "x2/site-packages/evil.pth", "g/hooks/pre-commit", "g2/hooks/pre-commit", "g3/hooks/pre-commit",
                     "y/evil.pth", "t/.git/hooks/pre-commit", "in/a/.git/hooks/pre-commit", "in/c/.git/hooks/pre-commit",
                     "in/f.txt"] {
            try FileManager.default.createDirectory(atPath: dir + "/" + (file as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            try "import os\n".write(toFile: dir + "/" + file, atomically: false, encoding: .utf8)
        }
        try ContainmentRun.giveToNobody(dir)
        let w = dir
        let out = try ContainmentRun.run("""
        version: 1
        name: patrename
        file:
          - { action: deny, path: "${workspace}/home/.local/lib/python*/site-packages/*.pth", access: [write, create] }
          - { action: deny, path: "${workspace}/in/**/.git/hooks/**", access: [write, create, delete, rename] }
          - { action: deny, path: "${workspace}/other/**/.git/**", access: [create] }
        """, as: .nobody, workspace: dir, """
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        def renameat2(a, b, flags):
            if libc.renameat2(-100, a.encode(), -100, b.encode(), flags) != 0:
                raise OSError(ctypes.get_errno(), "renameat2")
        w = "\(w)"
        # The head (home/.local/lib) and its parents answer for the pattern: refused.
        attempt("head", lambda: os.rename(w + "/home/.local/lib", w + "/home/.local/lib2"))
        attempt("parent", lambda: os.rename(w + "/home/.local", w + "/home/.l"))
        attempt("ontohead", lambda: os.rename(w + "/y", w + "/home/.local/lib"))  # else ENOTEMPTY
        # A directory renamed to a path a guard matches (a cut of the pattern): refused.
        attempt("belowhead", lambda: os.rename(w + "/x", w + "/home/.local/lib/python3.11/site-packages"))
        attempt("pythondir", lambda: os.rename(w + "/x2", w + "/home/.local/lib/python3.12"))
        attempt("gitdir", lambda: os.rename(w + "/g", w + "/in/repo/.git"))
        # A symlink is a directory by another name: made or moved at a guarded path, refused.
        attempt("symlink", lambda: os.symlink(w + "/g3", w + "/in/repo/.git"))
        attempt("pythonlink", lambda: os.symlink(w + "/x2", w + "/home/.local/lib/python3.13"))
        os.symlink(w + "/g3", w + "/lnk")
        attempt("linkmoved", lambda: os.rename(w + "/lnk", w + "/in/repo/.git"))
        attempt("hardlinked", lambda: os.link(w + "/lnk", w + "/in/repo/.git", follow_symlinks=False))
        attempt("plainlink", lambda: os.symlink("/tmp", w + "/in/tmp-link"))
        # Across the star root (the head before `**`): into it or out of it, refused.
        attempt("intoroot", lambda: os.rename(w + "/t", w + "/in/t"))
        attempt("outofroot", lambda: os.rename(w + "/in/c", w + "/c"))
        attempt("exchange", lambda: renameat2(w + "/in/e", w + "/out", 2))
        # Within it, under names no token takes: the pattern sees the same paths. Allowed.
        attempt("within", lambda: os.rename(w + "/in/a", w + "/in/b"))
        attempt("deeper", lambda: os.rename(w + "/in/b", w + "/in/repo/b"))
        # A file is no tree: moving it out of the root is only judged on its two paths.
        attempt("file", lambda: os.rename(w + "/in/f.txt", w + "/f.txt"))
        # A rule on the destination directory itself (.git/** covers .git): refused.
        attempt("gitdirrule", lambda: os.rename(w + "/g2", w + "/other/r/.git"))
        # The same file written directly: refused.
        attempt("direct", lambda: open(w + "/home/.local/lib/python3.10/site-packages/direct.pth", "x").close())
        """)
        for name in ["head", "parent", "ontohead", "belowhead", "pythondir", "gitdir", "symlink", "pythonlink", "linkmoved", "hardlinked",
                     "intoroot", "outofroot", "exchange", "gitdirrule", "direct"] {
            #expect(out[name] == "EACCES", "\(name): \(out)")
        }
        for name in ["plainlink", "within", "deeper", "file"] { #expect(out[name] == "OK", "\(name): \(out)") }
        let fm = FileManager.default
        #expect(!fm.fileExists(atPath: dir + "/home/.local/lib/python3.11/site-packages"))
        #expect(!fm.fileExists(atPath: dir + "/home/.local/lib/python3.12") && !fm.fileExists(atPath: dir + "/home/.local/lib/python3.13"))
        #expect(!fm.fileExists(atPath: dir + "/in/repo/.git") && !fm.fileExists(atPath: dir + "/in/t"))
        #expect(fm.fileExists(atPath: dir + "/in/c/.git/hooks/pre-commit") && fm.fileExists(atPath: dir + "/in/e"))
        #expect(fm.fileExists(atPath: dir + "/in/repo/b/.git/hooks/pre-commit"))
        #expect(!fm.fileExists(atPath: dir + "/other/r/.git"))
        #expect(fm.fileExists(atPath: dir + "/home/.local/lib/python3.11"))
    }
}
