/// What a destination has acknowledged, kept in `<stateDirectory>/<name>.state` so that a
/// restarted daemon resumes after the last acknowledged record: `{"acked_seq":41,"acked_sha256":"…"}`.
/// Written atomically (temporary file, fsync, rename) after every acknowledged batch.
public struct ForwarderState: Sendable, Hashable {
    /// The last record the destination acknowledged; 0 before the first.
    public var ackedSeq: UInt64
    /// Its hash: lets a person (or a later check) tell whether the log was replaced since.
    public var ackedSHA256: String?

    public init(ackedSeq: UInt64 = 0, ackedSHA256: String? = nil) {
        self.ackedSeq = ackedSeq
        self.ackedSHA256 = ackedSHA256
    }

    /// Reads the state file; a missing file is the initial state. An unreadable or corrupt one
    /// is an error: starting over would resend the whole log.
    public static func load(_ path: String) throws(AuditIOError) -> ForwarderState {
        guard try SystemHost.fileSize(path) != nil else { return ForwarderState() }
        let bytes = try SystemHost.readSmallFile(path)
        guard let value = try? JSONValue.parse(bytes.prefix { $0 != UInt8(ascii: "\n") }),
              let seq = value["acked_seq"]?.intValue, seq >= 0
        else { throw AuditIOError("parsing forwarder state", path, errno: EINVAL) }
        return ForwarderState(ackedSeq: UInt64(seq), ackedSHA256: value["acked_sha256"]?.stringValue)
    }

    public func save(_ path: String) throws(AuditIOError) {
        var fields: [String: JSONValue] = ["acked_seq": .int(Int64(ackedSeq))]
        if let ackedSHA256 { fields["acked_sha256"] = .string(ackedSHA256) }
        try SystemHost.makeDirectories(SystemHost.directory(of: path))
        try SystemHost.writeAtomically(path, JSONValue.object(fields).canonicalBytes + [UInt8(ascii: "\n")])
    }
}

/// A destination's delivery state, for `ebguard status`.
public struct ForwarderStatus: Sendable, Hashable {
    public var name: String
    /// The last record the destination acknowledged.
    public var ackedSeq: UInt64
    /// The last durable record in the log (from its head checkpoint).
    public var latestSeq: UInt64
    /// Records in the log not yet acknowledged: `latestSeq - ackedSeq`.
    public var lag: UInt64 { latestSeq > ackedSeq ? latestSeq - ackedSeq : 0 }
    public var connected: Bool
    /// The last delivery error, cleared by the next success.
    public var lastError: String?
    /// Records that were rotated away before they could be sent.
    public var skipped: UInt64

    /// The lag against the log's own count, which includes records not yet on disk.
    public func lag(lastAppended: UInt64) -> UInt64 { lastAppended > ackedSeq ? lastAppended - ackedSeq : 0 }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
