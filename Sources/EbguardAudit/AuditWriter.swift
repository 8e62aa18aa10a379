import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The synchronous half of `AuditLog`: chains records, buffers them, writes, fsyncs, rotates.
/// Not thread-safe; `AuditLog` (an actor) owns the only instance.
final class AuditWriter {
    /// A record chained but not yet durable: its line ends at `end` in `pendingBytes`.
    private struct Pending {
        var seq: UInt64
        var link: AuditChainLink
        var end: Int
    }

    let configuration: AuditLogConfiguration
    let host: HostIdentity
    let files: AuditLogFiles
    private let logger: Logger
    private var fd: AuditFD?
    private var fileSize: Int64 = 0
    private var pending: [Pending] = []
    /// The pending records' lines, each with its newline, back to back: what the next flush
    /// writes, as is. Lines are rendered straight into it.
    private var pendingBytes: [UInt8] = []
    private let lineParts: AuditRecord.LineParts
    /// What a full batch of lines takes (`flushRecords` of them); a larger buffer is freed once written.
    private static let keptBufferBytes = 1 << 20
    private(set) var lastSeq: UInt64
    private var lastLink: AuditChainLink
    private(set) var durableSeq: UInt64
    private(set) var lastError: AuditIOError?

    var pendingCount: Int { pending.count }

    init(configuration: AuditLogConfiguration, host: HostIdentity, logger: Logger) throws(AuditError) {
        self.configuration = configuration
        self.host = host
        self.files = AuditLogFiles(path: configuration.path)
        self.logger = logger
        lineParts = AuditRecord.LineParts(host: host)
        let tail: AuditTail
        do {
            try SystemHost.makeDirectories(SystemHost.directory(of: configuration.path))
            tail = try AuditTail.find(files)
            fd = try AuditFD(path: files.path, flags: O_WRONLY | O_APPEND | O_CREAT, mode: 0o640)
            fileSize = try fd!.size()
        } catch {
            throw .io(error)
        }
        lastSeq = tail.lastSeq
        // The tail's hash is one this code computed, or the genesis: always 64 hex digits.
        lastLink = AuditChainLink(text: tail.lastHash) ?? AuditChainLink(text: AuditHash.genesis)!
        durableSeq = tail.lastSeq
        if let head = AuditHead.read(files.headPath), head.seq > tail.lastSeq {
            // Records that were on disk are gone (the log was truncated or a file removed).
            // Their numbers are not reused: collectors may hold them; verify will show the gap.
            logger.error("audit log ends at seq \(tail.lastSeq) but seq \(head.seq) was written before: records lost",
                         metadata: ["path": "\(files.path)"])
            lastSeq = head.seq
        }
        if let torn = tail.torn {
            try recover(torn: torn)
        }
        if lastSeq > 0 {
            logger.info("audit log continues at seq \(lastSeq + 1)", metadata: ["path": "\(files.path)"])
        }
    }

    /// A crash left a partial line: keep its bytes, end them with a newline, and record what
    /// they were so that verify can tell this crash from an edit.
    private func recover(torn: (line: Int, bytes: [UInt8])) throws(AuditError) {
        var region = torn.bytes
        do {
            if region.last != UInt8(ascii: "\n") {
                try fd!.writeAll([UInt8(ascii: "\n")])
                try fd!.sync()
                fileSize += 1
                region.append(UInt8(ascii: "\n"))
            }
        } catch {
            throw .io(error)
        }
        logger.warning("audit log: torn last line from a crash kept and recorded",
                       metadata: ["path": "\(files.path)", "line": "\(torn.line)", "bytes": "\(region.count)"])
        enqueue(.recovery(AuditRecovery(file: files.path, line: torn.line, tornBytes: region.count,
                                        tornSHA256: AuditHash.sha256Hex(region))), time: .now())
        do { try flush() } catch { throw .io(error) }
    }

    /// Chains a record and buffers it; returns its sequence number.
    @discardableResult
    func enqueue(_ event: AuditEvent, time: AuditTime) -> UInt64 {
        let seq = lastSeq + 1
        let start = pendingBytes.count
        let previous = lastLink
        lineParts.append(seq: seq, time: AuditTime(nanoseconds: time.nanoseconds.floorDiv(1000) * 1000),
                         prev: { out in
                             out.append(UInt8(ascii: "\""))
                             previous.append(to: &out)
                             out.append(UInt8(ascii: "\""))
                         },
                         type: event.typeName, into: &pendingBytes) { event.writeCanonicalPayload(into: &$0) }
        lastLink = pendingBytes.withUnsafeBytes { AuditChainLink(hashing: UnsafeRawBufferPointer(rebasing: $0[start...])) }
        pendingBytes.append(UInt8(ascii: "\n"))
        lastSeq = seq
        pending.append(Pending(seq: seq, link: lastLink, end: pendingBytes.count))
        return seq
    }

    /// Writes and fsyncs every buffered record, rotating as needed. On failure the records not
    /// yet durable stay buffered, in order, and the file is cut back to its last whole record.
    func flush() throws(AuditIOError) {
        do {
            try flushPending()
            lastError = nil
        } catch {
            if lastError != error {
                logger.error("audit log write failed; records kept in memory", metadata: [
                    "error": "\(error)", "pending": "\(pending.count)",
                ])
            }
            lastError = error
            throw error
        }
    }

    private func flushPending() throws(AuditIOError) {
        while !pending.isEmpty {
            if fd == nil {
                fd = try AuditFD(path: files.path, flags: O_WRONLY | O_APPEND | O_CREAT, mode: 0o640)
                fileSize = try fd!.size()
            }
            // The records that fit in this file; at least one if the file is empty.
            var count = 0
            var chunkEnd = 0
            for record in pending {
                if fileSize + Int64(record.end) > configuration.maxFileBytes, fileSize + Int64(chunkEnd) > 0 { break }
                chunkEnd = record.end
                count += 1
            }
            if count > 0 {
                let failure = pendingBytes.withUnsafeBytes { bytes -> AuditIOError? in
                    do throws(AuditIOError) { try write(UnsafeRawBufferPointer(rebasing: bytes[..<chunkEnd])) } catch { return error }
                    return nil
                }
                if let failure { throw failure }
                let last = pending[count - 1]
                if count == pending.count {
                    // A backlog built while the disk refused writes is not kept reserved after it.
                    let keep = pendingBytes.capacity <= Self.keptBufferBytes
                    pending.removeAll(keepingCapacity: keep)
                    pendingBytes.removeAll(keepingCapacity: keep)
                } else {
                    pending.removeFirst(count)
                    pendingBytes.removeFirst(chunkEnd)
                    for index in pending.indices { pending[index].end -= chunkEnd }
                }
                durableSeq = last.seq
                do {
                    try AuditHead(seq: last.seq, sha256: last.link.text).write(to: files.headPath)
                } catch {
                    // The records are durable; only the truncation check and forwarders lag.
                    logger.warning("audit head not updated", metadata: ["error": "\(error)"])
                }
            }
            if !pending.isEmpty { try rotate() }
        }
    }

    private func write(_ chunk: UnsafeRawBufferPointer) throws(AuditIOError) {
        let before = fileSize
        do {
            try fd!.writeAll(chunk)
            try fd!.sync()
            fileSize += Int64(chunk.count)
        } catch {
            // A partial write (ENOSPC) must not leave half a line for the next write to follow.
            try? fd!.truncate(to: before)
            throw error
        }
    }

    /// path -> path.1 -> path.2 ...; the oldest beyond `maxRotatedFiles` is removed.
    private func rotate() throws(AuditIOError) {
        fd = nil
        let keep = max(1, configuration.maxRotatedFiles)
        for n in files.rotatedNumbers() {  // highest first, so no rename overwrites
            if n >= keep {
                try SystemHost.unlink(files.rotatedPath(n))
            } else {
                try SystemHost.rename(files.rotatedPath(n), files.rotatedPath(n + 1))
            }
        }
        try SystemHost.rename(files.path, files.rotatedPath(1))
        fd = try AuditFD(path: files.path, flags: O_WRONLY | O_APPEND | O_CREAT, mode: 0o640)
        fileSize = 0
        try SystemHost.syncDirectory(SystemHost.directory(of: files.path))
        logger.debug("audit log rotated", metadata: ["path": "\(files.path)"])
    }

    func close() {
        fd = nil
    }
}
