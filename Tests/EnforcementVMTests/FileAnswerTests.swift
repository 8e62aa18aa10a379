import CEbguardABI
import EbguardBPF
@testable import EbguardEnforcement
import EbguardSystem
import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// Interactive decisions on files (bpf/lib/path_enforce.h): an ask rule denies at once, with
/// the object's inode and device in the event; an operator's answer in eg_file_answers,
/// keyed on that object, decides the retry, whatever name reaches the same inode.
@Suite(.enabled(if: TestEnvironment.inVM && TestEnvironment.isRoot, Comment(rawValue: TestEnvironment.vmReason)), .serialized)
struct FileAnswerTests {
    let ask = UInt8(EG_VERDICT_ASK.rawValue), allow = UInt8(EG_VERDICT_ALLOW.rawValue), deny = UInt8(EG_VERDICT_DENY.rawValue)
    let byRule = UInt8(EG_REASON_RULE.rawValue), answered = UInt8(EG_REASON_ANSWERED.rawValue)

    /// A session whose policy asks before any read, write or create under `<dir>/asked`.
    func asking(_ label: String) throws -> (Fixture, UInt64, Answers) {
        let f = try Fixture(label) { dir in
            [.file(EG_PATH_SUBTREE, dir.path + "/asked",
                   [EG_ACCESS_READ: EG_VERDICT_ASK, EG_ACCESS_WRITE: EG_VERDICT_ASK, EG_ACCESS_CREATE: EG_VERDICT_ASK], rule: 3)]
        }
        return (f, try f.session.cgroup.id(), Answers(pinRoot: f.enforcement.pinRoot))
    }

    /// (inode, kernel device) of `path`, as userspace sees it.
    func identity(_ path: String) throws -> (UInt64, UInt32) {
        var st = stat()
        guard stat(path, &st) == 0 else { throw SystemError.current("stat \(path)") }
        return (UInt64(st.st_ino), Answers.kernelDevice(fromStat: UInt64(st.st_dev)))
    }

    @Test func answerForAnInodeAllowsThatFileUnderAnyNameAndNoOther() throws {
        let (f, id, answers) = try asking("ans-file")
        let notes = try f.dir.file("asked/notes", "kept\n")
        let other = try f.dir.file("asked/other", "other\n")
        let link = try f.dir.symlink("link", to: notes)
        let (inode, device) = try identity(notes)

        let first = try f.run("/bin/cat", notes)
        #expect(first.status != 0 && first.stderr.contains("Permission denied"), "\(first)")
        let asked = try f.enforcement.takeEvents()
        #expect(asked.count == 1, "\(asked)")
        let event = try #require(asked.first)
        #expect((event.verdict, event.reason, event.ret, event.rule) == (ask, byRule, -EACCES, 3), "\(event)")
        #expect(event.path == notes && event.access == mask(EG_ACCESS_READ))
        #expect((event.inode, event.device) == (inode, device), "the event names the object stat(2) sees: \(event)")

        try answers.answerFile(sessionID: id, inode: event.inode, device: event.device, access: EG_ACCESS_READ,
                               verdict: .allow, once: false)
        let retry = try f.run("/bin/cat", notes)
        #expect(retry.status == 0 && retry.stdout == "kept\n", "\(retry)")
        #expect(try f.run("/bin/cat", link).stdout == "kept\n", "a symlink reaches the same inode")
        #expect(try f.run("/bin/cat", other).status != 0, "another file under the same rule was never answered")
        let events = try f.enforcement.takeEvents()
        #expect(events.map { ($0.verdict, $0.reason, $0.path) }.elementsEqual(
            [(allow, answered, notes), (allow, answered, notes), (ask, byRule, other)], by: ==), "\(events)")
        #expect(events.first.map { ($0.inode, $0.ret) } ?? (0, 1) == (inode, 0))

        // The answer was for reading: writing the same file still asks.
        #expect(try f.sh("echo more >> '\(notes)'").status != 0)

        // A new file at the same path is a new object: the answer does not follow the name.
        try FileManager.default.removeItem(atPath: notes)
        try f.dir.file("asked/notes", "replaced\n")
        let (newInode, _) = try identity(notes)
        #expect(newInode != inode)
        #expect(try f.run("/bin/cat", notes).status != 0)
        let replaced = try f.enforcement.takeEvents().last
        #expect(replaced.map { ($0.verdict, $0.inode) } ?? (0, 0) == (ask, newInode))
    }

    @Test func onceAnswerIsSpentByTheFirstOpen() throws {
        let (f, id, answers) = try asking("ans-once")
        let notes = try f.dir.file("asked/notes", "kept\n")
        let (inode, device) = try identity(notes)
        try answers.answerFile(sessionID: id, inode: inode, device: device, access: EG_ACCESS_READ, verdict: .allow, once: true)
        #expect(try f.run("/bin/cat", notes).stdout == "kept\n")
        #expect(try f.run("/bin/cat", notes).status != 0)
        #expect(try answers.fileAnswers(sessionID: id).isEmpty, "the hook deleted the spent answer")
        let events = try f.enforcement.takeEvents()
        #expect(events.map { ($0.verdict, $0.reason) }.elementsEqual([(allow, answered), (ask, byRule)], by: ==), "\(events)")
    }

    @Test func everyAskedAccessMustBeAllowedAndADenyAnswerDenies() throws {
        let (f, id, answers) = try asking("ans-rdwr")
        let notes = try f.dir.file("asked/notes", "kept\n")
        let (inode, device) = try identity(notes)
        // O_RDWR asks for read and write: an answer for read alone is not enough.
        try answers.answerFile(sessionID: id, inode: inode, device: device, access: EG_ACCESS_READ, verdict: .allow, once: true)
        #expect(try f.sh("exec 3<> '\(notes)'").status != 0)
        #expect(try answers.fileAnswers(sessionID: id).count == 1, "an answer that decided nothing is not spent")
        try answers.answerFile(sessionID: id, inode: inode, device: device, access: EG_ACCESS_WRITE, verdict: .allow, once: true)
        #expect(try f.sh("exec 3<> '\(notes)'").status == 0)
        #expect(try answers.fileAnswers(sessionID: id).isEmpty)

        // A deny answer decides alone, with the operator named as the reason.
        try answers.answerFile(sessionID: id, inode: inode, device: device, access: EG_ACCESS_READ, verdict: .allow, once: false)
        try answers.answerFile(sessionID: id, inode: inode, device: device, access: EG_ACCESS_WRITE, verdict: .deny, once: false)
        #expect(try f.run("/bin/cat", notes).status == 0)
        #expect(try f.sh("exec 3<> '\(notes)'").status != 0)
        let events = try f.enforcement.takeEvents()
        #expect(events.map { ($0.verdict, $0.reason, $0.access) }.elementsEqual([
            (ask, byRule, mask(EG_ACCESS_READ, EG_ACCESS_WRITE)),
            (allow, answered, mask(EG_ACCESS_READ, EG_ACCESS_WRITE)),
            (allow, answered, mask(EG_ACCESS_READ)),
            (deny, answered, mask(EG_ACCESS_READ, EG_ACCESS_WRITE)),
        ], by: ==), "\(events)")
        #expect(events.last?.ret == -EACCES)
    }

    @Test func createHasNoInodeSoNoAnswerApplies() throws {
        let (f, _, _) = try asking("ans-create")
        try f.dir.directory("asked")
        #expect(try f.run("/usr/bin/touch", f.dir.path + "/asked/new").status != 0)
        let events = try f.enforcement.takeEvents()
        let create = try #require(events.first { $0.access == mask(EG_ACCESS_CREATE) }, "\(events)")
        #expect((create.verdict, create.inode, create.device) == (ask, 0, 0), "\(create)")
    }
}
