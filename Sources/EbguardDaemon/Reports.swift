import EbguardAudit
import Foundation

/// One session as `ebguard sessions` and `status` show it.
public struct SessionInfo: Codable, Sendable, Equatable {
    public var id: UInt64
    /// Name given at start; `key` (the cgroup's name) is unique when names repeat.
    public var name: String
    public var key: String
    public var cgroup: String
    public var policy: String
    public var policySource: String
    public var policySHA256: String
    public var user: String
    public var uid: UInt32
    public var started: String
    public var processes: Int
    public var events: UInt64
    public var denied: UInt64
    /// An `ebguard run` is attached (it ends the session when its command exits).
    public var attached: Bool
    /// Rules this kernel or build cannot enforce, said out loud.
    public var notes: [String]
    /// `enforce`, `shadow` (nothing the policy denies or asks is refused) or `learn` (shadow,
    /// and every allow audited: `ebguard run --learn`); nil from a daemon that predates shadow mode.
    public var mode: String? = nil
    /// What `ebguard run` applies to the command itself, from the policy the daemon compiled
    /// (`no_new_privs`, the `capabilities:` kept), so that it need not parse the policy again.
    /// nil for a session the daemon adopted after a restart, and from a daemon that predates them.
    public var noNewPrivs: Bool? = nil
    public var capabilities: [String]? = nil
    /// In the answer to `register` only: the daemon's own mode as `status` says it (`full` or
    /// `degraded`), so that `ebguard run` need not ask first; nil from a daemon that predates it.
    public var daemonMode: String? = nil

    enum CodingKeys: String, CodingKey {
        case id, name, key, cgroup, policy, user, uid, started, processes, events, denied, attached, notes, mode, capabilities
        case policySource = "policy_source"
        case policySHA256 = "policy_sha256"
        case noNewPrivs = "no_new_privs"
        case daemonMode = "daemon_mode"
    }
}

/// One attached BPF program and what it costs per call.
public struct ProgramInfo: Codable, Sendable, Equatable {
    public var name: String
    public var id: UInt32
    public var runCount: UInt64
    public var runTimeNanoseconds: UInt64
    public var nanosecondsPerCall: Double?

    enum CodingKeys: String, CodingKey {
        case name, id
        case runCount = "run_count"
        case runTimeNanoseconds = "run_time_ns"
        case nanosecondsPerCall = "ns_per_call"
    }
}

public struct StatusReport: Codable, Sendable, Equatable {
    public var version: String
    public var pid: Int32
    public var uptimeSeconds: Double
    /// "full" (exec, file, network enforced) or "degraded" (network only; exec observed).
    public var mode: String
    public var coverage: [String: Bool]
    public var programs: [ProgramInfo]
    public var sessions: [SessionInfo]
    public var eventsTotal: UInt64
    /// Of `eventsTotal`, those published as a repeat of the record before (RepeatedEvents.swift):
    /// a retry loop's records, rendered without being decoded again. nil from an older daemon.
    public var eventsRepeated: UInt64? = nil
    public var eventsPerSecond: Double
    /// Events the kernel could not queue (ring buffer full), per CPU.
    public var lostPerCPU: [UInt64]
    public var lostTotal: UInt64
    /// Events a slow subscriber missed (the reader never waits for subscribers).
    public var subscriberDrops: UInt64
    public var subscribers: Int
    public var warnings: [String]
    /// The audit log and its forwarders; nil from a daemon that keeps no audit log.
    public var audit: AuditReport?

    enum CodingKeys: String, CodingKey {
        case version, pid, mode, coverage, programs, sessions, subscribers, warnings, audit
        case uptimeSeconds = "uptime_seconds"
        case eventsTotal = "events_total"
        case eventsRepeated = "events_repeated"
        case eventsPerSecond = "events_per_second"
        case lostPerCPU = "lost_per_cpu"
        case lostTotal = "lost_total"
        case subscriberDrops = "subscriber_drops"
    }
}

/// The audit log as `ebguard status` shows it.
public struct AuditReport: Codable, Sendable, Equatable {
    public var path: String
    /// The last record appended (it reaches the disk within the flush interval).
    public var lastSeq: UInt64
    /// The last record fsync'd.
    public var durableSeq: UInt64
    /// Appended, not yet on disk.
    public var pending: Int
    /// Records the daemon's loop could not hand over (the log task was that far behind) and
    /// records the log refused (its backlog was full); both are counted in `lost_events` records.
    public var dropped: UInt64
    public var refused: UInt64
    /// The last write error (e.g. the disk is full), cleared by the next successful write.
    public var lastError: String?
    public var diskFull: Bool
    public var forwarders: [ForwarderReport]

    enum CodingKeys: String, CodingKey {
        case path, pending, dropped, refused, forwarders
        case lastSeq = "last_seq"
        case durableSeq = "durable_seq"
        case lastError = "last_error"
        case diskFull = "disk_full"
    }
}

/// One forwarding destination's delivery state.
public struct ForwarderReport: Codable, Sendable, Equatable {
    public var name: String
    /// `syslog://host:port`, `syslog+tls://host:port`, or the OTLP URL.
    public var destination: String
    public var ackedSeq: UInt64
    /// Records appended to the log and not yet acknowledged by this destination.
    public var lag: UInt64
    public var connected: Bool
    public var lastError: String?
    /// Records rotated away before this destination got them.
    public var skipped: UInt64

    enum CodingKeys: String, CodingKey {
        case name, destination, lag, connected, skipped
        case ackedSeq = "acked_seq"
        case lastError = "last_error"
    }
}

/// Response lines: `{"version":1,"ok":true,"result":...}`, `{"version":1,"ok":false,"error":...}`;
/// streams then send `{"event":{...}}` and `{"notice":"..."}` lines.
public enum ControlResponse {
    public static func success<T: Encodable>(_ result: T) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body = (try? encoder.encode(result)).flatMap { String(data: $0, encoding: .utf8) } ?? "null"
        return Data("{\"version\":\(ControlProtocol.version),\"ok\":true,\"result\":\(body)}\n".utf8)
    }

    public static func failure(_ error: ControlError) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body = (try? encoder.encode(error)).flatMap { String(data: $0, encoding: .utf8) } ?? "{}"
        return Data("{\"version\":\(ControlProtocol.version),\"ok\":false,\"error\":\(body)}\n".utf8)
    }

    public static func notice(_ text: String) -> Data {
        Data("{\"notice\":\(JSONText.quoted(text))}\n".utf8)
    }

    /// Ends a stream that does not follow.
    public static let endOfStream = Data("{\"end\":true}\n".utf8)
}

/// Minimal JSON text building for the hot path, where `JSONEncoder` costs too much per event.
public enum JSONText {
    /// `text` as a JSON (and YAML double-quoted) string, escaped as the audit log escapes.
    public static func quoted(_ text: String) -> String {
        var out: [UInt8] = []
        out.appendJSONString(text)
        return String(decoding: out, as: UTF8.self)
    }
}
