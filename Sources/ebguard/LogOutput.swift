import ArgumentParser
import EbguardDaemon
import Glibc
import Logging

/// How ebguard's log lines reach their reader: bootstrapped once, by the executable, for the
/// commands that log through swift-log (`ebguard daemon`); libraries only take a `Logger`.
enum LogOutput {
    /// One handler for every logger. Under systemd (stderr is the journal stream
    /// `JOURNAL_STREAM` names), each line starts with its syslog priority (`<6>`, sd-daemon(3)),
    /// which journald records as the entry's priority, and carries no time (journald adds one);
    /// elsewhere lines read `ebguard: message`, as the CLI's own do.
    static func bootstrap(level: Logger.Level) {
        let journal = stderrIsJournal()
        LoggingSystem.bootstrap { label in
            var handler = LineLogHandler(label: label, journal: journal)
            handler.logLevel = level
            return handler
        }
    }

    /// `JOURNAL_STREAM` is `DEVICE:INODE` of the stream systemd connected (systemd.exec(5)).
    static func stderrIsJournal() -> Bool {
        LineLogHandler.isJournal(fd: 2, journalStream: getenv("JOURNAL_STREAM").map { String(cString: $0) })
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
