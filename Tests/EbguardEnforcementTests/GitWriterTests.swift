@testable import EbguardEnforcement
import Foundation
import Glibc
import Testing

/// Which repository a held `git worktree add` works on, found as git finds it: what the policy
/// must guard before that git may write a gitfile and a commondir sending a work tree there.
struct GitWriterRepositoryTests {
    /// A scratch tree, removed at the end: `layout` maps paths to "dir", "file" or "link:TARGET".
    static func tree(_ layout: [(String, String)], _ body: (String) throws -> Void) throws {
        let root = NSTemporaryDirectory() + "eg-gitwriter-\(getpid())-\(UInt32.random(in: 0..<UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        for (path, kind) in layout {
            let full = root + "/" + path
            try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            switch kind {
            case "dir": try FileManager.default.createDirectory(atPath: full, withIntermediateDirectories: true)
            case "file": #expect(FileManager.default.createFile(atPath: full, contents: Data("x\n".utf8)))
            default: try FileManager.default.createSymbolicLink(atPath: full, withDestinationPath: String(kind.dropFirst(5)))
            }
        }
        try body(root)
    }

    static func gitDirectory(_ at: String) -> [(String, String)] {
        [(at + "/HEAD", "file"), (at + "/objects", "dir"), (at + "/refs", "dir")]
    }

    @Test func theNearestGitDirectoryUpTheTree() throws {
        try Self.tree(Self.gitDirectory("ws/r/.git") + [("ws/r/src/deep", "dir")]) { root in
            #expect(GitWriter.repository(from: root + "/ws/r/src/deep", after: []) == root + "/ws/r/.git")
            #expect(GitWriter.repository(from: root + "/ws", after: ["r", "src"]) == root + "/ws/r/.git")
            #expect(GitWriter.repository(from: "/", after: [root + "/ws/r/src"]) == root + "/ws/r/.git")
        }
    }

    /// A linked worktree's or a submodule's `.git` is a gitfile: not supported, so nil.
    @Test func aGitfileIsNoRepositoryHere() throws {
        try Self.tree(Self.gitDirectory("ws/r/.git") + [("ws/r/wt/.git", "file")]) { root in
            #expect(GitWriter.repository(from: root + "/ws/r/wt", after: []) == nil)
        }
    }

    /// A `.git` git would pass over (not a repository) sends it further up, where the agent may
    /// have made one: nil, not the repository above.
    @Test func aGitDirectoryThatIsNoneIsRefused() throws {
        try Self.tree(Self.gitDirectory("ws/.git") + [("ws/r/.git", "dir")]) { root in
            #expect(GitWriter.repository(from: root + "/ws/r", after: []) == nil)
        }
    }

    /// A bare repository on the way is the one git uses (its config is no `.git/config`).
    @Test func aBareRepositoryOnTheWayIsRefused() throws {
        try Self.tree(Self.gitDirectory("ws/.git") + Self.gitDirectory("ws/bare") + [("ws/bare/sub", "dir")]) { root in
            #expect(GitWriter.repository(from: root + "/ws/bare/sub", after: []) == nil)
        }
    }

    /// `.git` as a symbolic link to a repository elsewhere: nil.
    @Test func aSymlinkedGitDirectoryIsRefused() throws {
        try Self.tree(Self.gitDirectory("elsewhere/.git") + [("ws/r/.git", "link:../../elsewhere/.git")]) { root in
            #expect(GitWriter.repository(from: root + "/ws/r", after: []) == nil)
        }
    }

    /// A working directory reached through a symbolic link (`-C link`) is refused; `..` is lexical.
    @Test func aWorkingDirectoryThroughASymlinkIsRefused() throws {
        try Self.tree(Self.gitDirectory("elsewhere/.git") + [("ws/link", "link:../elsewhere"), ("ws/r/x", "dir")]
                      + Self.gitDirectory("ws/r/.git")) { root in
            #expect(GitWriter.repository(from: root + "/ws", after: ["link"]) == nil)
            // chdir goes through `link` before `..` leaves it: `..` is then its target's parent.
            #expect(GitWriter.repository(from: root + "/ws/r/x", after: ["../../link/..", "ws/r"]) == nil)
            #expect(GitWriter.repository(from: root + "/ws", after: ["r/x/../."]) == root + "/ws/r/.git")
            #expect(GitWriter.leadsThroughSymlink(root + "/ws/link/.git"))
            #expect(!GitWriter.leadsThroughSymlink(root + "/elsewhere/.git/modules/x"))
        }
    }

    /// Paths are looked at under a root (the process's, /proc/PID/root) and named without it.
    @Test func pathsAreLookedAtUnderTheProcesssRoot() throws {
        try Self.tree(Self.gitDirectory("ws/r/.git") + [("ws/r/src", "dir")]) { root in
            #expect(GitWriter.repository(from: "/ws/r/src", after: [], under: root) == "/ws/r/.git")
            #expect(GitWriter.repository(from: "/ws/r/src", after: [], under: "/proc/self/root" + root) == "/ws/r/.git")
            #expect(GitWriter.repository(from: "/ws/r/src", after: []) == nil)
        }
    }
}
