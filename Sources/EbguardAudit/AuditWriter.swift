import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The synchronous half of `AuditLog`: chains records, buffers them, writes, fsyncs, rotates.
/// Not thread-safe; `AuditLog` (an actor) owns the only instance.
final class AuditWriter {
    private struct Pending {
        var seq: UInt64
        var hash: String
        var line: [UInt8]
    }

    let configuration: AuditLogConfiguration
    let host: HostIdentity
    let files: AuditLogFiles
    private let logger: Logger
    private var fd: AuditFD?
    private var fileSize: Int64 = 0
    private var pending: [Pending] = []
    private(set) var lastSeq: UInt64
    private var lastHash: String
    private(set) var durableSeq: UInt64
    private(set) var lastError: AuditIOError?

    var pendingCount: Int { pending.count }

    init(configuration: AuditLogConfiguration, host: HostIdentity, logger: Logger) throws(AuditError) {
        self.configuration = configuration
        self.host = host
        self.files = AuditLogFiles(path: configuration.path)
        self.logger = logger
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
        lastHash = tail.lastHash
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
        let line = AuditRecord.line(seq: seq, time: time, host: host, prev: lastHash, event: event)
        lastSeq = seq
        lastHash = AuditHash.sha256Hex(line)
        pending.append(Pending(seq: seq, hash: lastHash, line: line))
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
            var chunk: [UInt8] = []
            var count = 0
            for record in pending {
                let size = Int64(chunk.count + record.line.count + 1)
                if fileSize + size > configuration.maxFileBytes, fileSize + Int64(chunk.count) > 0 { break }
                chunk += record.line
                chunk.append(UInt8(ascii: "\n"))
                count += 1
            }
            if count > 0 {
                try write(chunk)
                let last = pending[count - 1]
                pending.removeFirst(count)
                durableSeq = last.seq
                do {
                    try AuditHead(seq: last.seq, sha256: last.hash).write(to: files.headPath)
                } catch {
                    // The records are durable; only the truncation check and forwarders lag.
                    logger.warning("audit head not updated", metadata: ["error": "\(error)"])
                }
            }
            if !pending.isEmpty { try rotate() }
        }
    }

    private func write(_ chunk: [UInt8]) throws(AuditIOError) {
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
