#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a log's records in sequence order after a given sequence number, following the
/// active file as it grows and across rotations. Forwarders use one each.
///
/// It keeps the file it reads open: a rotation renames the file, not the descriptor, so the
/// rest of it is still read; once it is read to the end and the active path names another
/// file, the reader finds the file that holds the next record by looking at first records.
final class AuditTailReader {
    let files: AuditLogFiles
    private(set) var lastSeq: UInt64
    private var current: AuditFD?
    private var offset: Int64 = 0
    /// Records that were rotated away before they could be read.
    private(set) var skipped: UInt64 = 0

    init(files: AuditLogFiles, after seq: UInt64) {
        self.files = files
        self.lastSeq = seq
    }

    /// Starts over after `seq` (after a failed delivery: resend what was not acknowledged).
    func rewind(to seq: UInt64) {
        lastSeq = seq
        current = nil
        offset = 0
    }

    /// Up to `max` records after the last one returned, none beyond `limit`.
    func next(max: Int, limit: UInt64) throws(AuditIOError) -> [AuditStoredRecord] {
        var out: [AuditStoredRecord] = []
        var switches = 0
        while out.count < max, lastSeq < limit {
            if current == nil {
                guard try locate() else { break }
            }
            let before = out.count
            try readCurrent(into: &out, max: max, limit: limit)
            if out.count > before { continue }
            // Nothing new here. If the active path is another file now, this one was rotated
            // and is complete: move on to the file holding the next record.
            guard let fd = current, SystemHost.inode(files.path) != fd.inode, switches < 3 else { break }
            current = nil
            switches += 1
        }
        return out
    }

    private func readCurrent(into out: inout [AuditStoredRecord], max: Int, limit: UInt64) throws(AuditIOError) {
        guard let fd = current else { return }
        // About what a batch needs (records are ~0.5 KiB), more only for a line longer than that:
        // reading 4 MiB per batch of 100 made a backlog drain at a few thousand records a second,
        // too slow for a stop that must deliver everything.
        var size = Swift.max(64 << 10, max * 2048)
        var bytes = try fd.read(from: offset, max: size)
        while AuditLines(bytes).lines.isEmpty, bytes.count == size, size < 64 << 20 {
            size *= 4
            bytes = try fd.read(from: offset, max: size)
        }
        let split = AuditLines(bytes)
        for range in split.lines {
            guard out.count < max else { return }
            let slice = bytes[range]
            if let record = try? AuditRecord(line: slice) {
                if record.seq > limit { return }
                if record.seq > lastSeq {
                    if record.seq > lastSeq + 1, lastSeq > 0 { skipped += record.seq - lastSeq - 1 }
                    out.append(AuditStoredRecord(file: fd.path, line: 0, bytes: Array(slice), record: record))
                    lastSeq = record.seq
                }
            }
            offset += Int64(range.count + 1)
        }
    }

    /// Opens the file that holds `lastSeq + 1`: the newest file whose first record is not
    /// after it. Returns false when there is no file yet.
    private func locate() throws(AuditIOError) -> Bool {
        let wanted = lastSeq + 1
        var chosen: String?
        var oldestFirst: UInt64?
        for path in files.existing() {
            guard let first = firstSeq(path) else { continue }
            if oldestFirst == nil { oldestFirst = first }
            if first <= wanted { chosen = path }
        }
        if chosen == nil, let oldest = oldestFirst {
            // Everything up to `oldest` was rotated away before it was sent.
            chosen = files.existing().first { firstSeq($0) == oldest }
            if lastSeq > 0 { skipped += oldest - wanted }
            lastSeq = oldest - 1
        }
        guard let path = chosen else { return false }
        current = try AuditFD(path: path, flags: O_RDONLY)
        offset = 0
        return true
    }

    private func firstSeq(_ path: String) -> UInt64? {
        guard let fd = try? AuditFD(path: path, flags: O_RDONLY), let bytes = try? fd.read(from: 0, max: 1 << 20) else {
            return nil
        }
        for range in AuditLines(bytes).lines {
            if let record = try? AuditRecord(line: bytes[range]) { return record.seq }
        }
        return nil
    }
}

extension AuditFD {
    /// Up to `max` bytes from `offset`.
    func read(from offset: Int64, max: Int) throws(AuditIOError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: max)
        var filled = 0
        while filled < max {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + filled, max - filled, off_t(offset) + off_t(filled)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw AuditIOError("reading", path, errno: errno)
            }
            if n == 0 { break }
            filled += n
        }
        buffer.removeLast(max - filled)
        return buffer
    }
}
