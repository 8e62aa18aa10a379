import Glibc
import Logging

/// One line per message on stderr, written with one write(2) so that threads never interleave.
public struct LineLogHandler: LogHandler {
    public let label: String
    public let journal: Bool
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    public init(label: String, journal: Bool) {
        self.label = label
        self.journal = journal
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let line = Self.line(level: event.level, message: event.message.description,
                             metadata: metadata.merging(event.metadata ?? [:]) { $1 }, journal: journal)
        _ = line.withCString { write(2, $0, strlen($0)) }
    }

    /// The text of one entry: priority or `ebguard: `, the message, then `key=value` metadata
    /// in key order (one line: a newline inside the message would start a new journal entry).
    public static func line(level: Logger.Level, message: String, metadata: Logger.Metadata, journal: Bool) -> String {
        var text = journal ? "<\(priority(level))>" : "ebguard: "
        text += message.replacingNewlines()
        for key in metadata.keys.sorted() { text += " \(key)=\(metadata[key]!.description.replacingNewlines())" }
        return text + "\n"
    }

    /// Whether `fd` is the journal stream systemd connected: `journalStream` (the environment's
    /// `JOURNAL_STREAM`) names its `DEVICE:INODE` (systemd.exec(5)).
    public static func isJournal(fd: Int32, journalStream: String?) -> Bool {
        guard let parts = journalStream?.split(separator: ":"), parts.count == 2,
              let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return false }
        return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }

    /// syslog(3) priorities, as sd-daemon(3) prefixes take them.
    public static func priority(_ level: Logger.Level) -> Int {
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

