@testable import EbguardDaemon
import Foundation
import Glibc
import Logging
import Testing

/// The daemon's log lines: with their syslog priority for the journal, `ebguard: ` elsewhere.
struct LogLinesTests {
    @Test func journalLinesCarryTheirPriorityAndOneEntryStaysOneLine() {
        #expect(LineLogHandler.line(level: .warning, message: "DEGRADED: no LSM", metadata: [:], journal: true)
                == "<4>DEGRADED: no LSM\n")
        #expect(LineLogHandler.line(level: .info, message: "a\nb", metadata: ["path": "/x", "component": "audit"], journal: true)
                == "<6>a b component=audit path=/x\n")
        #expect(LineLogHandler.line(level: .notice, message: "listening", metadata: [:], journal: false) == "ebguard: listening\n")
        let priorities = Logger.Level.allCases.map(LineLogHandler.priority)
        #expect(priorities == [7, 7, 6, 5, 4, 3, 2], "trace ... critical as syslog(3) numbers")
    }

    @Test func theJournalIsRecognisedByItsDeviceAndInode() throws {
        let path = NSTemporaryDirectory() + "/eg-loglines-\(getpid())"
        let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o600)
        try #require(fd >= 0)
        defer { close(fd); unlink(path) }
        var info = stat()
        try #require(fstat(fd, &info) == 0)
        #expect(LineLogHandler.isJournal(fd: fd, journalStream: "\(info.st_dev):\(info.st_ino)"))
        #expect(!LineLogHandler.isJournal(fd: fd, journalStream: "\(info.st_dev):\(info.st_ino + 1)"), "another stream")
        #expect(!LineLogHandler.isJournal(fd: fd, journalStream: nil))
        #expect(!LineLogHandler.isJournal(fd: fd, journalStream: "garbage"))
    }
}
