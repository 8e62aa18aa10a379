import EbguardAudit
import EbguardEnforcement
import EbguardPolicy
import Foundation

/// One event as the daemon publishes it: the kernel's record, enriched with who and where.
/// Its JSON form (schema_version 1) is documented in docs/events.md; fields are added, never
/// renamed or removed, without bumping `schema_version`.
public struct GovernedEvent: Codable, Sendable, Equatable {
    public static let schemaVersion = 1

    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// exec decided by the exec hooks.
        case exec
        case file
        /// IP and Unix socket connects / sends.
        case network
        /// The session reached for ebguard itself or outside itself.
        case tamper
        /// Observed process life: exec (with argv), fork, exit.
        case process
        /// Session start, end, policy change.
        case session
        /// A decision ebguard made in userspace (an exec held for its argv, an answer).
        case decision
    }

    public var schemaVersion: Int = GovernedEvent.schemaVersion
    /// The daemon's sequence number: gaps mean events it never saw.
    public var seq: UInt64
    /// RFC 3339, UTC, milliseconds.
    public var time: String
    public var kind: Kind
    /// open, create, delete, connect, sendmsg, exec, fork, exit, start, end, policy, ...
    public var action: String
    public var session: String
    public var sessionID: UInt64
    public var pid: UInt32
    public var ppid: UInt32?
    public var uid: UInt32?
    public var user: String?
    public var comm: String
    /// The executable of the process (the one being exec'd for exec events).
    public var exe: String?
    public var argv: [String]?
    public var verdict: EventVerdict
    /// The kernel refused the operation.
    public var blocked: Bool
    /// Path, address:port, socket path, or the session's policy name.
    public var object: String
    /// read,write / tcp / udp / unix / ...
    public var detail: String
    /// `file[2]` and where it is written; nil when a default decided.
    public var rule: String?
    public var ruleLocation: String?
    /// rule | default | unresolved | too-long | no-policy | tamper | held | observed | ...
    public var reason: EventReason
    public var exitCode: Int32?
    /// The line `ebguard run` prints for it.
    public var message: String
    /// Interactive decisions: the pending request's id, and for answers who gave it and its scope.
    public var askID: Int? = nil
    public var answeredBy: String? = nil
    public var scope: AnswerScope? = nil
    /// Network events a host rule decided, and lookups: the name (the resolver's view).
    public var host: String? = nil
    /// Lookups (action `resolve`): the answered addresses, the CNAME chain followed, and signs
    /// of DNS tunnelling in the name.
    public var addresses: [String]? = nil
    public var cnames: [String]? = nil
    public var flags: [String]? = nil
    /// What the event is about, typed as it was decoded or decided. Not in the JSON line (whose
    /// `object` and `detail` are its text): audit records are made from it, never from the text.
    /// nil for session events and for events read back from JSON.
    public var subject: EventSubject? = nil

    enum CodingKeys: String, CodingKey {
        case seq, time, kind, action, session, pid, ppid, uid, user, comm, exe, argv, verdict, blocked, object, detail,
             rule, reason, message
        case schemaVersion = "schema_version"
        case sessionID = "session_id"
        case ruleLocation = "rule_location"
        case exitCode = "exit_code"
        case askID = "ask_id"
        case answeredBy = "answered_by"
        case scope, host, addresses, cnames, flags
    }

    /// The JSON line, built by hand into bytes: the daemon renders every event once, at the
    /// ring's pace, and this is what subscribers receive (without the newline).
    public func jsonBytes() -> [UInt8] {
        var tailStart = 0
        return jsonBytes(tailStart: &tailStart)
    }

    /// The same, saying where the part after `time` starts (`appendJSONTail`).
    func jsonBytes(tailStart: inout Int) -> [UInt8] {
        var out: [UInt8] = []
        // Every key and fixed value fit in 400 bytes; a line that outgrew its buffer was copied whole.
        var size = 400 + time.utf8.count + action.utf8.count + session.utf8.count + comm.utf8.count + object.utf8.count
        size += detail.utf8.count + message.utf8.count + (user?.utf8.count ?? 0) + (exe?.utf8.count ?? 0)
        size += (rule?.utf8.count ?? 0) + (ruleLocation?.utf8.count ?? 0) + (host?.utf8.count ?? 0)
        func count(_ list: [String]?) { for item in list ?? [] { size += item.utf8.count + 3 } }
        count(argv); count(addresses); count(cnames); count(flags)
        out.reserveCapacity(size)
        Self.appendJSONHead(schemaVersion: schemaVersion, seq: seq, time: time, into: &out)
        tailStart = out.count
        appendJSONTail(into: &out)
        return out
    }

    /// The line's start: the only part a repeat of the same event changes.
    static func appendJSONHead(schemaVersion: Int = schemaVersion, seq: UInt64, time: String, into out: inout [UInt8]) {
        out.appendRaw("{\"schema_version\":"); out.appendDecimal(Int64(schemaVersion))
        out.appendRaw(",\"seq\":"); out.appendDecimal(seq)
        out.appendRaw(",\"time\":"); out.appendJSONString(time)
    }

    /// The line after `time`.
    func appendJSONTail(into out: inout [UInt8]) {
        out.appendRaw(",\"kind\":"); out.appendJSONString(kind.rawValue)
        out.appendRaw(",\"action\":"); out.appendJSONString(action)
        out.appendRaw(",\"session\":"); out.appendJSONString(session)
        out.appendRaw(",\"session_id\":"); out.appendDecimal(sessionID)
        out.appendRaw(",\"pid\":"); out.appendDecimal(UInt64(pid))
        if let ppid { out.appendRaw(",\"ppid\":"); out.appendDecimal(UInt64(ppid)) }
        if let uid { out.appendRaw(",\"uid\":"); out.appendDecimal(UInt64(uid)) }
        if let user { out.appendRaw(",\"user\":"); out.appendJSONString(user) }
        out.appendRaw(",\"comm\":"); out.appendJSONString(comm)
        if let exe { out.appendRaw(",\"exe\":"); out.appendJSONString(exe) }
        if let argv {
            out.appendRaw(",\"argv\":"); out.appendJSONStrings(argv)
        }
        out.appendRaw(",\"verdict\":"); out.appendJSONString(verdict.rawValue)
        out.appendRaw(blocked ? ",\"blocked\":true" : ",\"blocked\":false")
        out.appendRaw(",\"object\":"); out.appendJSONString(object)
        out.appendRaw(",\"detail\":"); out.appendJSONString(detail)
        if let rule { out.appendRaw(",\"rule\":"); out.appendJSONString(rule) }
        if let ruleLocation { out.appendRaw(",\"rule_location\":"); out.appendJSONString(ruleLocation) }
        out.appendRaw(",\"reason\":"); out.appendJSONString(reason.rawValue)
        if let exitCode { out.appendRaw(",\"exit_code\":"); out.appendDecimal(Int64(exitCode)) }
        if let askID { out.appendRaw(",\"ask_id\":"); out.appendDecimal(Int64(askID)) }
        if let answeredBy { out.appendRaw(",\"answered_by\":"); out.appendJSONString(answeredBy) }
        if let scope { out.appendRaw(",\"scope\":"); out.appendJSONString(scope.rawValue) }
        if let host { out.appendRaw(",\"host\":"); out.appendJSONString(host) }
        if let addresses { out.appendRaw(",\"addresses\":"); out.appendJSONStrings(addresses) }
        if let cnames { out.appendRaw(",\"cnames\":"); out.appendJSONStrings(cnames) }
        if let flags { out.appendRaw(",\"flags\":"); out.appendJSONStrings(flags) }
        out.appendRaw(",\"message\":"); out.appendJSONString(message)
        out.appendRaw("}")
    }

    /// `jsonBytes()` as text.
    public func jsonLine() -> String { String(decoding: jsonBytes(), as: UTF8.self) }
}

/// The last second and millisecond `EventClock` rendered (the daemon's loop owns one): events
/// come in bursts, so most share their millisecond's text, and the rest their second's.
public final class TimeTextCache {
    var seconds: Int64 = -1
    var prefix: [UInt8] = []
    var millis = -1
    var text = ""
    public init() {}
}

/// Wall-clock rendering of the kernel's boot-time stamps.
public struct EventClock: Sendable {
    /// realtime - boottime, in nanoseconds, taken once (suspend shifts it; good enough for logs).
    private let offset: Int64

    public init() {
        var real = timespec(), boot = timespec()
        clock_gettime(CLOCK_REALTIME, &real)
        clock_gettime(CLOCK_BOOTTIME, &boot)
        offset = (Int64(real.tv_sec) - Int64(boot.tv_sec)) * 1_000_000_000 + Int64(real.tv_nsec) - Int64(boot.tv_nsec)
    }

    /// Wall-clock nanoseconds since the epoch of a boot-time stamp: the audit trail's record time.
    public func realNanoseconds(bootNanoseconds: UInt64) -> Int64 { Int64(bootNanoseconds) + offset }

    /// The kernel's event clock (`bpf_ktime_get_boot_ns`), the one answers expire on too.
    public static func bootNanoseconds() -> UInt64 { Answers.bootTime() }

    /// RFC 3339 in UTC with milliseconds, e.g. 2026-11-23T16:01:02.123Z.
    public func rfc3339(bootNanoseconds: UInt64) -> String {
        let real = Int64(bootNanoseconds) + offset
        return Self.format(seconds: real / 1_000_000_000, millis: Int((real % 1_000_000_000) / 1_000_000))
    }

    /// The same, remembering the last second's and millisecond's text: at a burst's pace, one
    /// gmtime a second and one string a millisecond.
    public func rfc3339(bootNanoseconds: UInt64, cache: TimeTextCache) -> String {
        let real = Int64(bootNanoseconds) + offset
        let seconds = real / 1_000_000_000
        let millis = Int((real % 1_000_000_000) / 1_000_000)
        if seconds == cache.seconds, millis == cache.millis { return cache.text }
        if seconds != cache.seconds {
            cache.seconds = seconds
            cache.prefix = Array(Self.format(seconds: seconds, millis: 0).utf8.dropLast(4))  // without "000Z"
        }
        let prefix = cache.prefix
        cache.millis = millis
        cache.text = String(unsafeUninitializedCapacity: prefix.count + 4) { buffer in
            _ = buffer.initialize(fromContentsOf: prefix)
            buffer[prefix.count] = UInt8(ascii: "0") + UInt8(millis / 100)
            buffer[prefix.count + 1] = UInt8(ascii: "0") + UInt8(millis / 10 % 10)
            buffer[prefix.count + 2] = UInt8(ascii: "0") + UInt8(millis % 10)
            buffer[prefix.count + 3] = UInt8(ascii: "Z")
            return prefix.count + 4
        }
        return cache.text
    }

    private static func format(seconds total: Int64, millis: Int) -> String {
        var seconds = time_t(total)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let ms = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(ms)Z"
    }
}
