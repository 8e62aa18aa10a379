/// A record read back from a log file, with where it was and its exact bytes.
public struct AuditStoredRecord: Sendable {
    public var file: String
    public var line: Int
    /// The line without its newline, exactly as stored.
    public var bytes: [UInt8]
    public var record: AuditRecord
}

public enum AuditReader {
    /// The records of `file` in order; lines that are not records (a torn line) are skipped
    /// and counted. `verify` is the tool that judges them.
    public static func records(in file: String) throws(AuditIOError) -> (records: [AuditStoredRecord], skipped: Int) {
        let bytes = try SystemHost.readSmallFile(file)
        let split = AuditLines(bytes)
        var out: [AuditStoredRecord] = []
        var skipped = split.unterminated == nil ? 0 : 1
        for (index, range) in split.lines.enumerated() {
            guard let record = try? AuditRecord(line: bytes[range]) else {
                skipped += 1
                continue
            }
            out.append(AuditStoredRecord(file: file, line: index + 1, bytes: Array(bytes[range]), record: record))
        }
        return (out, skipped)
    }
}

/// `ebguard audit export`: records as stored (`jsonl`) or as OCSF events (`ocsf`).
public enum AuditExport {
    public enum Format: String, Sendable, CaseIterable {
        case jsonl, ocsf
    }

    public struct Filter: Sendable {
        /// Records at or after this time.
        public var since: AuditTime?
        /// Records whose `data.session` is this.
        public var session: String?

        public init(since: AuditTime? = nil, session: String? = nil) {
            self.since = since
            self.session = session
        }

        public func matches(_ record: AuditRecord) -> Bool {
            if let since, record.time < since { return false }
            if let session, record.data["session"]?.stringValue != session { return false }
            return true
        }
    }

    public struct Summary: Sendable, Hashable {
        public var read = 0
        public var exported = 0
        /// Matching records with no OCSF event (in `ocsf` format): a record type this version does not know.
        public var unmapped = 0
        /// Lines that were not records.
        public var skippedLines = 0
    }

    /// Reads `files` in order and hands each exported line (no newline) to `emit`.
    public static func run(files: [String], filter: Filter, format: Format,
                           emit: (String) -> Void) throws(AuditIOError) -> Summary {
        var summary = Summary()
        for file in files {
            let (records, skipped) = try AuditReader.records(in: file)
            summary.skippedLines += skipped
            for stored in records {
                summary.read += 1
                guard filter.matches(stored.record) else { continue }
                switch format {
                case .jsonl:
                    emit(String(decoding: stored.bytes, as: UTF8.self))
                    summary.exported += 1
                case .ocsf:
                    guard let event = OCSFMapping.event(for: stored.record) else {
                        summary.unmapped += 1
                        continue
                    }
                    emit(event.canonicalString)
                    summary.exported += 1
                }
            }
        }
        return summary
    }

    /// `--since`: RFC 3339, a date, or a duration before `now` (`90s`, `15m`, `2h`, `7d`).
    public static func parseSince(_ text: String, now: AuditTime = .now()) -> AuditTime? {
        if let t = AuditTime(rfc3339: text) { return t }
        guard let unit = text.last, let n = Int64(text.dropLast()), n >= 0 else { return nil }
        let seconds: Int64
        switch unit {
        case "s": seconds = n
        case "m": seconds = n * 60
        case "h": seconds = n * 3600
        case "d": seconds = n * 86400
        default: return nil
        }
        return AuditTime(nanoseconds: now.nanoseconds - seconds * 1_000_000_000)
    }
}
