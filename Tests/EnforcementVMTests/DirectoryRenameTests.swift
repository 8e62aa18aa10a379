import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// Moving a protected path out from under its rule by renaming a directory above it, or moving
/// a tree into a protected place (bpf/lib/path_ancestor.h), in real `ebguard run` sessions.
@Suite(.enabled(if: TestEnvironment.inVM && TestEnvironment.isRoot, Comment(rawValue: TestEnvironment.vmReason)), .serialized)
struct DirectoryRenameTests {
    @Test(arguments: ContainmentRun.Who.allCases)
    func renamingAnAncestorAnswersForTheRulesBelowIt(who: ContainmentRun.Who) throws {
        let dir = try ContainmentRun.workspace("rename")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for sub in ["home/.local/share/keyrings", "home/.local/share/other", "home/.config", "repo/.git/hooks", "plain",
                    "other", "incoming"] {
            try FileManager.default.createDirectory(atPath: dir + "/" + sub, withIntermediateDirectories: true)
        }
        try "secret\n".write(toFile: dir + "/home/.local/share/keyrings/k", atomically: false, encoding: .utf8)
        try "notes\n".write(toFile: dir + "/home/.local/share/notes.txt", atomically: false, encoding: .utf8)
        try "evil = 1\n".write(toFile: dir + "/incoming/settings.json", atomically: false, encoding: .utf8)
        try ContainmentRun.giveToNobody(dir)
        let w = dir
        let out = try ContainmentRun.run("""
        version: 1
        name: rename
        file:
          - { action: deny, path: "${workspace}/home/.local/share/keyrings/**", access: [read, write] }
          - { action: deny, path: "${workspace}/repo/.git/hooks/**", access: [write, create] }
          - { action: deny, path: "${workspace}/home/.config/app/settings.json", access: [write] }
        """, as: who, workspace: dir, """
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        def renameat2(a, b, flags):
            if libc.renameat2(-100, a.encode(), -100, b.encode(), flags) != 0:
                raise OSError(ctypes.get_errno(), "renameat2")
        w = "\(w)"
        attempt("parent", lambda: os.rename(w + "/home/.local/share", w + "/home/.local/s"))
        attempt("grandparent", lambda: os.rename(w + "/home/.local", w + "/home/.l"))
        attempt("home", lambda: os.rename(w + "/home", w + "/h"))
        attempt("git", lambda: os.rename(w + "/repo/.git", w + "/repo/.g"))
        attempt("exchange", lambda: renameat2(w + "/other", w + "/home/.local/share", 2))
        attempt("noreplace", lambda: renameat2(w + "/home/.local/share", w + "/home/.local/n", 1))
        attempt("into", lambda: os.rename(w + "/incoming", w + "/home/.config/app"))
        \(who == .root ? "attempt(\"whiteout\", lambda: renameat2(w + \"/home/.local/share\", w + \"/home/.local/wh\", 4))" : "")
        attempt("read", lambda: open(w + "/home/.local/share/keyrings/k").read())
        attempt("sibling", lambda: os.rename(w + "/home/.local/share/other", w + "/home/.local/share/o2"))
        attempt("file", lambda: os.rename(w + "/home/.local/share/notes.txt", w + "/home/.local/share/n.txt"))
        attempt("unrelated", lambda: os.rename(w + "/plain", w + "/plain2"))
        attempt("unrelatedexchange", lambda: renameat2(w + "/other", w + "/plain2", 2))
        """)
        var refused = ["parent", "grandparent", "home", "git", "exchange", "noreplace", "into", "read"]
        if who == .root { refused.append("whiteout") }
        for name in refused { #expect(out[name] == "EACCES", "\(name): \(out)") }
        for name in ["sibling", "file", "unrelated", "unrelatedexchange"] { #expect(out[name] == "OK", "\(name): \(out)") }
        #expect(FileManager.default.fileExists(atPath: dir + "/home/.local/share/keyrings/k"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/home/.config/app"))
    }
}
