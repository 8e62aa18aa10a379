/// How the audit log is written. The defaults suit a daemon on a server.
public struct AuditLogConfiguration: Sendable, Hashable {
    /// The active file; rotated files are `path.1`, `path.2`, ... (`.1` the newest).
    public var path: String
    /// Rotate before a write would make the active file larger than this.
    public var maxFileBytes: Int64
    /// Rotated files kept; the oldest beyond this is removed.
    public var maxRotatedFiles: Int
    /// Buffered records are written and fsync'd at least this often (by `run()`).
    public var flushInterval: Duration
    /// ... and as soon as this many are buffered.
    public var flushRecords: Int
    /// Records kept in memory while the disk refuses them; past this, `append` throws.
    public var maxPendingRecords: Int

    public static let defaultPath = "/var/log/ebguard/audit.jsonl"

    public init(path: String = AuditLogConfiguration.defaultPath, maxFileBytes: Int64 = 64 << 20,
                maxRotatedFiles: Int = 8, flushInterval: Duration = .milliseconds(100), flushRecords: Int = 1024,
                maxPendingRecords: Int = 65_536) {
        self.path = path
        self.maxFileBytes = maxFileBytes
        self.maxRotatedFiles = maxRotatedFiles
        self.flushInterval = flushInterval
        self.flushRecords = flushRecords
        self.maxPendingRecords = maxPendingRecords
    }
}

/// The log's state, for `ebguard status`.
public struct AuditLogStatus: Sendable, Hashable {
    /// The sequence number of the last record appended (written or not).
    public var lastSeq: UInt64
    /// The sequence number of the last record fsync'd.
    public var durableSeq: UInt64
    /// Records appended but not yet on disk.
    public var pending: Int
    /// Records refused since the log opened because the backlog was full.
    public var refused: UInt64
    /// The last write error, cleared by the next successful write.
    public var lastError: AuditIOError?
}
