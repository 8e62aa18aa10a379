import Logging

/// The local audit log: append-only JSON Lines, hash-chained, rotated, fsync'd in batches.
///
/// The daemon opens one, runs `run()` in its task group (it flushes on a timer and once more
/// when cancelled), and calls `append` for every event worth keeping:
/// ```swift
/// let log = try AuditLog(configuration: .init(path: path), logger: logger)
/// try await withThrowingDiscardingTaskGroup { group in
///     group.addTask { await log.run() }
///     try await log.append(.daemonStart(AuditDaemon(version: v, pid: getpid())))
///     ...
/// }
/// ```
/// Durability: `append` returns once the record is chained and buffered. Buffered records
/// reach the disk (write + fsync) when `flushRecords` are waiting or `flushInterval` has
/// passed, whichever is first; so a `kill -9` or a power loss loses at most the records of the
/// last `flushInterval` (100 ms by default) or `flushRecords - 1` records, and never breaks the
/// chain. Call `flush()` to make everything appended so far durable now.
///
/// When the disk refuses writes (full, read-only, I/O error), records wait in memory, the
/// error shows in `status().lastError`, and writing resumes by itself once the disk accepts
/// it. Past `maxPendingRecords` waiting records, `append` throws `AuditError.backlogFull`, and
/// the first record written afterwards is a `lost_events` record (`source: "audit"`) counting
/// the records refused.
public actor AuditLog {
    public nonisolated let configuration: AuditLogConfiguration
    public nonisolated let host: HostIdentity
    private let writer: AuditWriter
    private let logger: Logger
    private var refused: UInt64 = 0
    private var refusedUnrecorded: UInt64 = 0
    private var closed = false

    /// Opens (or creates) the log and continues its chain after the last record on disk. A
    /// torn last line left by a crash is kept and recorded with a `recovery` record.
    public init(configuration: AuditLogConfiguration = AuditLogConfiguration(),
                host: HostIdentity = .current(), logger: Logger) throws(AuditError) {
        self.configuration = configuration
        self.host = host
        self.logger = logger
        self.writer = try AuditWriter(configuration: configuration, host: host, logger: logger)
    }

    /// Chains and buffers one record; returns its sequence number. Throws only if the log is
    /// closed or the backlog is full (then the record is not kept).
    @discardableResult
    public func append(_ event: AuditEvent, at time: AuditTime = .now()) throws(AuditError) -> UInt64 {
        guard !closed else { throw .closed }
        guard writer.pendingCount < configuration.maxPendingRecords else {
            refused += 1
            refusedUnrecorded += 1
            throw .backlogFull(limit: configuration.maxPendingRecords, cause: writer.lastError)
        }
        if refusedUnrecorded > 0 {
            _ = writer.enqueue(.lostEvents(AuditLostEvents(source: "audit", count: refusedUnrecorded)), time: time)
            refusedUnrecorded = 0
        }
        let seq = writer.enqueue(event, time: time)
        if writer.pendingCount >= configuration.flushRecords {
            // A failure is kept in `status()` and retried by the next flush; the record waits.
            try? writer.flush()
        }
        return seq
    }

    /// Appends records in order with one hop to the actor: what a busy daemon hands over.
    /// Returns the last sequence number given (nil if none was kept) and how many records the
    /// full backlog refused (they are counted as `append` counts them).
    public func append(contentsOf records: [(event: AuditEvent, time: AuditTime)]) throws(AuditError)
        -> (lastSeq: UInt64?, refused: Int)
    {
        var lastSeq: UInt64?
        var refusedHere = 0
        for record in records {
            do {
                lastSeq = try append(record.event, at: record.time)
            } catch .backlogFull {
                refusedHere += 1
            }
        }
        return (lastSeq, refusedHere)
    }

    /// Writes and fsyncs everything appended so far.
    public func flush() throws(AuditError) {
        do { try writer.flush() } catch { throw .io(error) }
    }

    public func status() -> AuditLogStatus {
        AuditLogStatus(lastSeq: writer.lastSeq, durableSeq: writer.durableSeq, pending: writer.pendingCount,
                       refused: refused, lastError: writer.lastError)
    }

    /// Flushes every `flushInterval` until the task is cancelled, then flushes once more.
    /// Write errors never end it: they are logged, kept in `status()`, and retried.
    public func run() async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: configuration.flushInterval)
            } catch {
                break
            }
            try? writer.flush()
        }
        try? writer.flush()
    }

    /// Flushes and closes the file; later appends throw `AuditError.closed`.
    public func close() throws(AuditError) {
        guard !closed else { return }
        defer {
            closed = true
            writer.close()
        }
        try flush()
    }
}
