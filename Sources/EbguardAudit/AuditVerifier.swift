/// A place in the log: file, 1-based line, and the record's sequence number when it has one.
public struct AuditLocation: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var seq: UInt64?

    public var description: String { "\(file):\(line)" + (seq.map { " (seq \($0))" } ?? "") }
}

/// The first thing wrong with a log.
public struct AuditProblem: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case edited, deleted, inserted, reordered, truncated, malformed
    }
    public var kind: Kind
    public var location: AuditLocation
    public var message: String

    public var description: String { "\(location): \(kind.rawValue): \(message)" }
}

/// What `verify` found.
public struct AuditVerifyReport: Sendable {
    public var files: [String]
    public var records = 0
    public var firstSeq: UInt64?
    public var lastSeq: UInt64?
    /// Things that are not tampering but worth saying: torn lines from crashes, a chain that
    /// starts after seq 1 because older files were rotated away.
    public var notes: [String] = []
    /// The first problem, or nil if the chain is intact.
    public var problem: AuditProblem?
    /// With a problem: the records before the one it names (all of them checked and sound).
    public var recordsBefore = 0

    public var isIntact: Bool { problem == nil }
}

/// Checks a log's hash chain, record by record, and names the first bad record.
///
/// Rules (docs/audit.md): every line is a canonical record; each record's `seq` is one more
/// than the previous record's and its `prev` is the SHA-256 of the previous record's line; the
/// first record's `prev` is not checked (older files may have been rotated away); lines that
/// are not records are allowed only as a crash's torn line, either last in the last file or
/// followed by the `recovery` record that names their hash; and the head checkpoint, when
/// given, must match the record it names, which must exist.
public enum AuditVerifier {
    struct Entry {
        var file: String
        var line: Int
        var bytes: ArraySlice<UInt8>
        var terminated: Bool
        var record: AuditRecord?
        var error: AuditRecordError?
        var hash: String

        var location: AuditLocation { AuditLocation(file: file, line: line, seq: record?.seq) }
    }

    /// Verifies `files` (in chain order, oldest first). `head` is the log's checkpoint, if any.
    public static func verify(files: [String], head: AuditHead?) throws(AuditIOError) -> AuditVerifyReport {
        var entries: [Entry] = []
        for file in files {
            let bytes = try SystemHost.readSmallFile(file)
            let split = AuditLines(bytes)
            var ranges = split.lines.map { ($0, true) }
            if let partial = split.unterminated { ranges.append((partial, false)) }
            for (index, (range, terminated)) in ranges.enumerated() {
                let slice = bytes[range]
                var entry = Entry(file: file, line: index + 1, bytes: slice, terminated: terminated, record: nil,
                                  error: nil, hash: AuditHash.sha256Hex(slice))
                do {
                    entry.record = try AuditRecord(line: slice, requireCanonical: true)
                } catch {
                    entry.error = error
                }
                if !terminated, entry.record != nil {
                    entry.record = nil
                    entry.error = .notJSON(JSONParseError(offset: slice.count, message: "no newline at the end"))
                }
                entries.append(entry)
            }
        }
        var report = AuditVerifyReport(files: files)
        report.problem = check(entries, head: head, report: &report)
        if let problem = report.problem {
            // Counted from the record named, which may be the one before the link that broke.
            let named = entries.firstIndex { $0.file == problem.location.file && $0.line == problem.location.line } ?? entries.count
            report.recordsBefore = entries[..<named].filter { $0.record != nil }.count
        }
        return report
    }

    static func check(_ entries: [Entry], head: AuditHead?, report: inout AuditVerifyReport) -> AuditProblem? {
        var firstIndexOfSeq: [UInt64: Int] = [:]
        var indexOfHash: [String: Int] = [:]
        for (i, e) in entries.enumerated() where e.record != nil {
            if firstIndexOfSeq[e.record!.seq] == nil { firstIndexOfSeq[e.record!.seq] = i }
            indexOfHash[e.hash] = i
        }
        let valid = entries.indices.filter { entries[$0].record != nil }
        var previous: Int?  // index of the last good record
        var beforePrevious: Int?
        var torn: [Int] = []  // indices of non-record lines since it
        var position = 0  // index into `valid`

        for i in entries.indices {
            let e = entries[i]
            guard let record = e.record else {
                if case .notCanonical = e.error {
                    return AuditProblem(kind: .edited, location: e.location, message: "\(e.error!)")
                }
                torn.append(i)
                continue
            }
            position += 1
            let next = position < valid.count ? valid[position] : nil
            if !torn.isEmpty {
                let region = torn.flatMap { Array(entries[$0].bytes) + (entries[$0].terminated ? [UInt8(ascii: "\n")] : []) }
                let first = entries[torn[0]]
                guard case .recovery(let r) = record.event, r.tornSHA256 == AuditHash.sha256Hex(region),
                      r.tornBytes == region.count
                else {
                    return AuditProblem(kind: .malformed, location: first.location,
                                        message: "not a valid record (\(first.error!)), and no recovery record accounts for it")
                }
                report.notes.append("\(first.file):\(first.line): \(region.count) bytes torn by a crash, recovered by seq \(record.seq)")
                torn = []
            }
            if let p = previous {
                if let problem = link(entries, beforePrevious: beforePrevious, previous: p, current: i, next: next,
                                      head: head, firstIndexOfSeq: firstIndexOfSeq, indexOfHash: indexOfHash) {
                    return problem
                }
            } else {
                report.firstSeq = record.seq
                if record.prev != AuditHash.genesis || record.seq != 1 {
                    report.notes.append("chain starts at seq \(record.seq) (\(e.file):\(e.line)); older records are not in these files")
                }
            }
            beforePrevious = previous
            previous = i
            report.records += 1
            report.lastSeq = record.seq
        }
        if let first = torn.first {
            let e = entries[first]
            let isLastFile = e.file == entries.last?.file
            guard isLastFile, torn.count == 1, !e.terminated else {
                return AuditProblem(kind: .malformed, location: e.location, message: "not a valid record (\(e.error!))")
            }
            report.notes.append("\(e.file):\(e.line): torn last line (\(e.bytes.count) bytes, a crash while writing); "
                                + "the log recovers it when it next opens")
        }
        if let head {
            return checkHead(head, entries: entries, last: previous, firstIndexOfSeq: firstIndexOfSeq)
        }
        return nil
    }

    /// Checks the link from `previous` to `current`; `next` is the record after `current`.
    static func link(_ entries: [Entry], beforePrevious pp: Int?, previous p: Int, current i: Int, next: Int?,
                     head: AuditHead?, firstIndexOfSeq: [UInt64: Int], indexOfHash: [String: Int]) -> AuditProblem? {
        let prevEntry = entries[p], e = entries[i]
        let prevRecord = prevEntry.record!, record = e.record!
        let expected = prevRecord.seq + 1
        if record.seq == expected, record.prev == prevEntry.hash { return nil }
        // This record chains to the one before the previous: the previous one was slipped in.
        if let pp, record.prev == entries[pp].hash, record.seq == entries[pp].record!.seq + 1 {
            return AuditProblem(kind: .inserted, location: prevEntry.location,
                                message: "not part of the chain: seq \(record.seq) at \(e.file):\(e.line) chains to seq \(entries[pp].record!.seq) before it")
        }
        // A genuine record in the wrong place: it chains to a record elsewhere in the log.
        if let j = indexOfHash[record.prev], j != p, entries[j].record!.seq + 1 == record.seq {
            let other = entries[j]
            return AuditProblem(kind: .reordered, location: e.location,
                                message: "out of order: it follows seq \(prevRecord.seq), but chains to seq \(other.record!.seq) at \(other.file):\(other.line)")
        }
        let nextEntry = next.map { entries[$0] }
        // The record after this one chains to the previous one: this one was slipped in.
        if let n = nextEntry, n.record!.prev == prevEntry.hash, n.record!.seq == expected {
            return AuditProblem(kind: .inserted, location: e.location,
                                message: "not part of the chain: seq \(expected) at \(n.file):\(n.line) follows seq \(prevRecord.seq) directly")
        }
        if record.seq == expected {
            // Sequence fine, hash not: either the previous record's bytes or this `prev` changed.
            if let n = nextEntry, n.record!.prev != e.hash, n.record!.seq == record.seq + 1 {
                return AuditProblem(kind: .edited, location: e.location,
                                    message: "its hash matches neither link: prev is not the hash of seq \(prevRecord.seq), and seq \(record.seq + 1) does not record its hash")
            }
            // The last record: the head checkpoint stands in for the successor it lacks.
            if nextEntry == nil, let head, head.seq == record.seq, head.sha256 != e.hash {
                return AuditProblem(kind: .edited, location: e.location,
                                    message: "its hash matches neither link: prev is not the hash of seq \(prevRecord.seq), and its hash differs from the head checkpoint")
            }
            return AuditProblem(kind: .edited, location: prevEntry.location,
                                message: "changed after it was written: its hash is not the prev recorded by seq \(record.seq) at \(e.file):\(e.line)")
        }
        if record.seq > expected {
            if let later = firstIndexOfSeq[expected], later > i {
                let l = entries[later]
                return AuditProblem(kind: .reordered, location: e.location,
                                    message: "out of order: seq \(expected) comes later, at \(l.file):\(l.line)")
            }
            let missing = expected == record.seq - 1 ? "seq \(expected) is" : "seq \(expected)–\(record.seq - 1) are"
            return AuditProblem(kind: .deleted, location: e.location,
                                message: "follows seq \(prevRecord.seq): \(missing) missing (deleted)")
        }
        return AuditProblem(kind: .reordered, location: e.location,
                            message: "seq \(record.seq) after seq \(prevRecord.seq): out of order or duplicated")
    }

    static func checkHead(_ head: AuditHead, entries: [Entry], last: Int?, firstIndexOfSeq: [UInt64: Int]) -> AuditProblem? {
        let lastSeq = last.flatMap { entries[$0].record?.seq } ?? 0
        if head.seq > lastSeq {
            let location = last.map { entries[$0].location }
                ?? AuditLocation(file: entries.last?.file ?? "(no files)", line: 0, seq: nil)
            return AuditProblem(kind: .truncated, location: location,
                                message: "the log ends at seq \(lastSeq), but the head checkpoint says seq \(head.seq) was written")
        }
        if let i = firstIndexOfSeq[head.seq], entries[i].hash != head.sha256 {
            return AuditProblem(kind: .edited, location: entries[i].location,
                                message: "changed after it was written: its hash differs from the head checkpoint")
        }
        return nil
    }
}

extension AuditVerifyReport {
    /// `ebguard audit verify`'s exit status: 0 intact, 1 tampered.
    public var exitStatus: Int32 { isIntact ? 0 : 1 }

    /// What `ebguard audit verify` prints: the verdict first, then notes.
    public var rendered: [String] {
        var lines: [String] = []
        if let problem {
            lines.append("TAMPERED: \(problem)")
            lines.append("  \(Self.count(recordsBefore, "record")) checked before it, in \(Self.count(files.count, "file"))")
        } else {
            let range = firstSeq.map { "seq \($0)–\(lastSeq ?? $0)" } ?? "no records"
            lines.append("ok: \(Self.count(records, "record")) (\(range)) in \(Self.count(files.count, "file")), chain intact")
        }
        lines += notes.map { "  note: \($0)" }
        return lines
    }

    static func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }
}
