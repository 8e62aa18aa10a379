import EbguardBPF
import EbguardEnforcement
import EbguardSystem
import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// bpf/lib/open_memo.h: an allowed open is remembered on the inode, and the memo answers only
/// while the path, the mounts and the rules it was decided under are unchanged. Each test makes
/// a memo through a real governed open, checks it is there, changes one thing from outside the
/// session and checks the next open is decided afresh (denied, with its event).
@Suite(.enabled(if: TestEnvironment.inVM && TestEnvironment.isRoot, Comment(rawValue: TestEnvironment.vmReason)), .serialized)
struct OpenMemoTests {
    private static let readDenied: [eg_access: eg_verdict] = [EG_ACCESS_READ: EG_VERDICT_DENY]

    /// A fixture whose policy denies reading anything under `locked/`.
    private func lockedFixture(_ label: String) throws -> Fixture {
        try Fixture(label) { dir in [.file(EG_PATH_SUBTREE, dir.path + "/locked", Self.readDenied, rule: 7)] }
    }

    private func expectDenied(_ f: Fixture, _ path: String, _ comment: Comment) throws {
        let result = try f.run("/bin/cat", path)
        #expect(result.status != 0 && result.stderr.contains("Permission denied"), comment)
        let events = try f.enforcement.takeEvents()
        #expect(events.contains { $0.path == path && $0.rule == 7 && $0.ret == -EACCES }, "\(events)")
    }

    @Test func anAllowedOpenIsRememberedPerAccessKindAndADeniedOneIsNot() throws {
        let f = try lockedFixture("memo-basic")
        let open = try f.dir.file("open/file", "fine\n")
        let secret = try f.dir.file("locked/secret", "secret\n")
        #expect(try f.enforcement.openMemo(open) == nil)

        #expect(try f.run("/bin/cat", open).stdout == "fine\n")
        let memo = try #require(try f.enforcement.openMemo(open), "a governed, allowed read leaves a memo")
        #expect(memo.allowed == UInt8(mask(EG_ACCESS_READ)))
        #expect(memo.key.policy_id == 1)
        #expect(try f.run("/bin/cat", open).stdout == "fine\n", "a memo hit allows")
        #expect(try f.sh("echo more >> '\(open)'").status == 0)
        // Write joins read in the same memo, unless a rename elsewhere on the host (parallel
        // suites) made the first one stale in between: then the new memo holds write alone.
        let written = try #require(try f.enforcement.openMemo(open))
        #expect(written.allowed & UInt8(mask(EG_ACCESS_WRITE)) != 0)

        try expectDenied(f, secret, "denied reads are decided every time")
        try expectDenied(f, secret, "and again")
        #expect(try f.enforcement.openMemo(secret) == nil)

        // A file with a second name is never remembered: its memo could answer for the other name.
        let linked = try f.dir.file("open/linked", "two names\n")
        #expect(link(linked, f.dir.path + "/open/other-name") == 0)
        #expect(try f.run("/bin/cat", linked).status == 0)
        #expect(try f.enforcement.openMemo(linked) == nil)
        #expect(try f.enforcement.takeEvents().isEmpty)
    }

    @Test func aSessionThatReportsAllowsIsNeverAnsweredFromMemory() throws {
        let f = try Fixture("memo-audit", flags: UInt8(EG_SESSION_AUDIT_ALLOWS)) { _ in [] }
        let file = try f.dir.file("file")
        for _ in 0..<3 { #expect(try f.run("/bin/cat", file).status == 0) }
        let allows = try f.enforcement.takeEvents().filter { $0.path == file && $0.verdict == UInt8(EG_VERDICT_ALLOW.rawValue) }
        #expect(allows.count == 3, "\(allows)")
        #expect(try f.enforcement.openMemo(file) == nil)
    }

    @Test func aRenamedDirectoryIsDecidedAgain() throws {
        let f = try lockedFixture("memo-rename")
        let before = try f.dir.file("open/sub/file")
        try f.dir.directory("locked")
        #expect(try f.run("/bin/cat", before).status == 0)
        #expect(try f.enforcement.openMemo(before) != nil)

        // The user moves the directory into the locked tree: same dentry, new path.
        #expect(rename(f.dir.path + "/open/sub", f.dir.path + "/locked/sub") == 0)
        try expectDenied(f, f.dir.path + "/locked/sub/file", "the memo was made for the old path")
    }

    @Test func aHardLinkedNewNameIsDecidedAgain() throws {
        let f = try lockedFixture("memo-link")
        let original = try f.dir.file("open/file")
        try f.dir.directory("locked")
        #expect(try f.run("/bin/cat", original).status == 0)
        #expect(try f.enforcement.openMemo(original) != nil)

        // Give the inode a name in the locked tree, then take the old one away: one link again.
        let moved = f.dir.path + "/locked/file"
        #expect(link(original, moved) == 0 && unlink(original) == 0)
        try expectDenied(f, moved, "the memo was made for the other name")
    }

    @Test func aMovedMountIsDecidedAgain() throws {
        let f = try lockedFixture("memo-mount")
        // A private tmpfs of the test's own, so mounts can move inside it (not under a shared parent).
        #expect(try runProcess(["/bin/mount", "-t", "tmpfs", "-o", "size=1m", "memo", f.dir.path]).status == 0)
        defer { _ = try? runProcess(["/bin/umount", "-R", f.dir.path]) }
        #expect(try runProcess(["/bin/mount", "--make-private", f.dir.path]).status == 0)
        try f.dir.directory("open/mnt")
        try f.dir.directory("locked/mnt")
        #expect(try runProcess(["/bin/mount", "-t", "tmpfs", "-o", "size=1m", "inner", f.dir.path + "/open/mnt"]).status == 0)
        let file = try f.dir.file("open/mnt/file")
        #expect(try f.run("/bin/cat", file).status == 0)
        #expect(try f.enforcement.openMemo(file) != nil)

        // Same dentry, same mount, a new place in the mount tree: only mount_lock says so.
        #expect(try runProcess(["/bin/mount", "--move", f.dir.path + "/open/mnt", f.dir.path + "/locked/mnt"]).status == 0)
        try expectDenied(f, f.dir.path + "/locked/mnt/file", "the memo was made where the mount used to be")
    }

    @Test func aProgramStartAndItsMappingAreRememberedUntilTheProgramMoves() throws {
        let f = try Fixture("memo-exec") { dir in
            [.exec(EG_PATH_SUBTREE, dir.path + "/sbin", EG_VERDICT_DENY, rule: 7)]
        }
        let tool = try f.dir.program("bin/tool", from: "/usr/bin/true")
        try f.dir.directory("sbin")
        #expect(try f.run(tool).status == 0)
        let memo = try #require(try f.enforcement.openMemo(tool))
        // The start (bprm check), the mapping (mmap PROT_EXEC) and the open for execve (read).
        #expect(memo.allowed & UInt8(mask(EG_ACCESS_EXEC)) != 0)
        #expect(memo.allowed & UInt8(EG_MEMO_MAP_EXEC) != 0)
        #expect(try f.run(tool).status == 0)

        let moved = f.dir.path + "/sbin/tool"
        #expect(rename(tool, moved) == 0)
        let result = try f.run(moved)
        #expect(result.status != 0 && result.stderr.contains("Operation not permitted"), "\(result.stderr)")
        #expect(try f.enforcement.takeEvents().contains { $0.path == moved && $0.rule == 7 && $0.ret == -EPERM })
    }

    @Test func anotherPolicyOrAReusedPolicyIdIsDecidedAgain() throws {
        let f = try Fixture("memo-policy") { _ in [] }
        let file = try f.dir.file("file")
        #expect(try f.run("/bin/cat", file).status == 0)
        #expect(try f.enforcement.openMemo(file)?.key.policy_id == 1)

        // The session moves to policy 2, which denies the file.
        try f.enforcement.install(policy: 2, [.file(EG_PATH_EXACT, file, Self.readDenied, rule: 7)])
        try f.enforcement.addSession(f.session.cgroup, policy: 2)
        try expectDenied(f, file, "the memo belongs to policy 1")

        // Back to policy 1, now with the memo of a new open; then policy 1's rules are removed and
        // its id reused for rules that deny: what `Enforcer.removeRules` does retires the memo.
        try f.enforcement.addSession(f.session.cgroup, policy: 1)
        #expect(try f.run("/bin/cat", file).status == 0)
        #expect(try f.enforcement.openMemo(file)?.key.policy_id == 1)
        let loaded = Enforcement.key(policy: 1, domain: EG_DOMAIN_FILE, kind: EG_PATH_LOADED, path: "")
        try f.enforcement.rules.delete(loaded)
        Enforcer.retireOpenMemos(pinRoot: f.enforcement.pinRoot)
        try f.enforcement.install(policy: 1, [.file(EG_PATH_EXACT, file, Self.readDenied, rule: 7)])
        try expectDenied(f, file, "the memo outlived the rules it was made under")
    }
}
