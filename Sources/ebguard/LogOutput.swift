import ArgumentParser
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
        guard let value = getenv("JOURNAL_STREAM").map({ String(cString: $0) }) else { return false }
        let parts = value.split(separator: ":")
        var info = stat()
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]), fstat(2, &info) == 0 else {
            return false
        }
        return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }
}

/// One line per message on stderr, written with one write(2) so that threads never interleave.
struct LineLogHandler: LogHandler {
    let label: String
    let journal: Bool
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    init(label: String, journal: Bool) {
        self.label = label
        self.journal = journal
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let line = Self.line(level: event.level, message: event.message.description,
                             metadata: metadata.merging(event.metadata ?? [:]) { $1 }, journal: journal)
        _ = line.withCString { write(2, $0, strlen($0)) }
    }

    /// The text of one entry: priority or `ebguard: `, the message, then `key=value` metadata
    /// in key order (one line: a newline inside the message would start a new journal entry).
    static func line(level: Logger.Level, message: String, metadata: Logger.Metadata, journal: Bool) -> String {
        var text = journal ? "<\(priority(level))>" : "ebguard: "
        text += message.replacingNewlines()
        for key in metadata.keys.sorted() { text += " \(key)=\(metadata[key]!.description.replacingNewlines())" }
        return text + "\n"
    }

    /// syslog(3) priorities, as sd-daemon(3) prefixes take them.
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }
}

private extension String {
    func replacingNewlines() -> String { contains("\n") ? split(separator: "\n", omittingEmptySubsequences: false).joined(separator: " ") : self }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
