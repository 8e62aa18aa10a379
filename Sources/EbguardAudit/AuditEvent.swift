import EbguardPolicy
import Foundation

/// What an event was about, as the kernel reported it.
public enum AuditObjectKind: String, Codable, Sendable, CaseIterable {
    case exec, file, network, unix, tamper
}

/// What the policy said. `audit` means allowed and recorded; `ask` means a human was asked.
/// The event pipeline's one verdict type: an audit record says what the event said.
public typealias AuditVerdict = EventVerdict

/// The destination of a network event, when the daemon knows it in parts.
public struct AuditNetworkTarget: Codable, Sendable, Hashable {
    public var address: String?
    public var port: UInt16
    /// `tcp` or `udp`.
    public var transport: String
    /// The name the session resolved through ebguard's resolver, if any.
    public var hostname: String?

    public init(address: String?, port: UInt16, transport: String, hostname: String? = nil) {
        self.address = address; self.port = port; self.transport = transport; self.hostname = hostname
    }
}

/// A decision on one kernel event: deny, ask or audit (and allow, when the policy logs allows).
public struct AuditDecision: Codable, Sendable, Hashable {
    public var session: String
    public var pid: Int32
    public var comm: String
    public var kind: AuditObjectKind
    /// The path, the program, or the network destination (`93.184.216.34:443/tcp`).
    public var object: String
    /// What was attempted: `exec`, `read`, `write`, `create`, `unlink`, `connect`, `sendmsg`, ...
    public var access: String
    /// The rule that decided, as `ebguard policy show` names it; `default` for the default.
    public var rule: String
    public var verdict: AuditVerdict
    public var uid: UInt32?
    public var exe: String?
    public var argv: [String]?
    public var network: AuditNetworkTarget?
    public var askID: UInt64?
    /// A summary of repeats (`AuditRepeats` in the daemon): how many more times this same
    /// decision was made after the record that reported it first, between these two times.
    public var repeats: UInt64?
    public var firstTime: String?
    public var lastTime: String?

    /// The fields that tell decisions apart in practice; equality still compares them all. The
    /// daemon hashes every denial it counts repeats of (`AuditRepeats`).
    public func hash(into hasher: inout Hasher) {
        hasher.combine(pid)
        hasher.combine(object)
        hasher.combine(access)
        hasher.combine(rule)
        hasher.combine(session)
    }

    enum CodingKeys: String, CodingKey {
        case session, pid, comm, kind, object, access, rule, verdict, uid, exe, argv, network, repeats
        case askID = "ask_id", firstTime = "first_time", lastTime = "last_time"
    }

    public init(session: String, pid: Int32, comm: String, kind: AuditObjectKind, object: String, access: String,
                rule: String, verdict: AuditVerdict, uid: UInt32? = nil, exe: String? = nil, argv: [String]? = nil,
                network: AuditNetworkTarget? = nil, askID: UInt64? = nil) {
        self.session = session; self.pid = pid; self.comm = comm; self.kind = kind; self.object = object
        self.access = access; self.rule = rule; self.verdict = verdict; self.uid = uid; self.exe = exe
        self.argv = argv; self.network = network; self.askID = askID
    }
}

/// A human's (or the timeout's) answer to an `ask`.
public struct AuditAskAnswer: Codable, Sendable, Hashable {
    public enum Scope: String, Codable, Sendable { case once, session, always }
    public var session: String
    public var askID: UInt64?
    public var kind: AuditObjectKind
    public var object: String
    /// `allow` or `deny`.
    public var answer: AuditVerdict
    public var scope: Scope
    /// Who answered: a user name, `uid:1000`, or `timeout`.
    public var answeredBy: String
    public var timedOut: Bool
    /// The process that asked, as in the decision the answer is for.
    public var pid: Int32?
    public var comm: String?

    enum CodingKeys: String, CodingKey {
        case session, kind, object, answer, scope, pid, comm
        case askID = "ask_id", answeredBy = "answered_by", timedOut = "timed_out"
    }

    public init(session: String, askID: UInt64? = nil, kind: AuditObjectKind, object: String, answer: AuditVerdict,
                scope: Scope, answeredBy: String, timedOut: Bool = false, pid: Int32? = nil, comm: String? = nil) {
        self.session = session; self.askID = askID; self.kind = kind; self.object = object; self.answer = answer
        self.scope = scope; self.answeredBy = answeredBy; self.timedOut = timedOut; self.pid = pid; self.comm = comm
    }
}

/// A governed session starting or stopping, with the policy it ran under.
public struct AuditSession: Codable, Sendable, Hashable {
    public var session: String
    public var policy: String
    /// SHA-256 (hex) of the policy file's bytes.
    public var policySHA256: String
    public var policyPath: String?
    public var command: [String]?
    public var user: String?
    public var exitStatus: Int32?

    enum CodingKeys: String, CodingKey {
        case session, policy, command, user
        case policySHA256 = "policy_sha256", policyPath = "policy_path", exitStatus = "exit_status"
    }

    public init(session: String, policy: String, policySHA256: String, policyPath: String? = nil,
                command: [String]? = nil, user: String? = nil, exitStatus: Int32? = nil) {
        self.session = session; self.policy = policy; self.policySHA256 = policySHA256; self.policyPath = policyPath
        self.command = command; self.user = user; self.exitStatus = exitStatus
    }
}

/// A session's policy replaced while it runs (or a host-wide policy reloaded, `session` nil).
public struct AuditPolicyChange: Codable, Sendable, Hashable {
    public var session: String?
    public var policy: String
    public var policyPath: String?
    public var oldSHA256: String?
    public var newSHA256: String
    public var changedBy: String?

    enum CodingKeys: String, CodingKey {
        case session, policy
        case policyPath = "policy_path", oldSHA256 = "old_sha256", newSHA256 = "new_sha256", changedBy = "changed_by"
    }

    public init(session: String? = nil, policy: String, policyPath: String? = nil, oldSHA256: String? = nil,
                newSHA256: String, changedBy: String? = nil) {
        self.session = session; self.policy = policy; self.policyPath = policyPath; self.oldSHA256 = oldSHA256
        self.newSHA256 = newSHA256; self.changedBy = changedBy
    }
}

/// The daemon starting or stopping.
public struct AuditDaemon: Codable, Sendable, Hashable {
    public var version: String
    public var pid: Int32
    public var reason: String?

    public init(version: String, pid: Int32, reason: String? = nil) {
        self.version = version; self.pid = pid; self.reason = reason
    }
}

/// Events the kernel or the daemon could not deliver (ring buffer full, audit backlog full).
public struct AuditLostEvents: Codable, Sendable, Hashable {
    /// `ringbuf` (kernel events dropped) or `audit` (records the log could not keep).
    public var source: String
    /// Lost since the previous `lost_events` record from the same source.
    public var count: UInt64
    public var session: String?

    public init(source: String, count: UInt64, session: String? = nil) {
        self.source = source; self.count = count; self.session = session
    }
}

/// Written by the log itself when it reopens a file whose last line was torn by a crash: the
/// torn bytes stay in place (evidence), and this record names them so `verify` can tell a crash
/// from an edit.
public struct AuditRecovery: Codable, Sendable, Hashable {
    public var file: String
    public var line: Int
    public var tornBytes: Int
    public var tornSHA256: String

    enum CodingKeys: String, CodingKey {
        case file, line
        case tornBytes = "torn_bytes", tornSHA256 = "torn_sha256"
    }

    public init(file: String, line: Int, tornBytes: Int, tornSHA256: String) {
        self.file = file; self.line = line; self.tornBytes = tornBytes; self.tornSHA256 = tornSHA256
    }
}

/// Everything the audit log records. The record's `type` field names the case; its `data`
/// field holds the payload.
public enum AuditEvent: Sendable, Hashable {
    case decision(AuditDecision)
    case askAnswer(AuditAskAnswer)
    case sessionStart(AuditSession)
    case sessionStop(AuditSession)
    case policyChange(AuditPolicyChange)
    case daemonStart(AuditDaemon)
    case daemonStop(AuditDaemon)
    case lostEvents(AuditLostEvents)
    case recovery(AuditRecovery)

    /// The value of the record's `type` field.
    public var typeName: String {
        switch self {
        case .decision: "decision"
        case .askAnswer: "ask_answer"
        case .sessionStart: "session_start"
        case .sessionStop: "session_stop"
        case .policyChange: "policy_change"
        case .daemonStart: "daemon_start"
        case .daemonStop: "daemon_stop"
        case .lostEvents: "lost_events"
        case .recovery: "recovery"
        }
    }

    /// The payload as JSON (`data`).
    public var data: JSONValue { payload.json }

    /// The payload's canonical bytes, each type's writer called directly: going through
    /// `payload` boxed every decision (larger than an existential's inline buffer) on the heap.
    func writeCanonicalPayload(into out: inout [UInt8]) {
        switch self {
        case .decision(let p): p.writeCanonical(into: &out)
        case .askAnswer(let p): p.writeCanonical(into: &out)
        case .sessionStart(let p), .sessionStop(let p): p.writeCanonical(into: &out)
        case .policyChange(let p): p.writeCanonical(into: &out)
        case .daemonStart(let p), .daemonStop(let p): p.writeCanonical(into: &out)
        case .lostEvents(let p): p.writeCanonical(into: &out)
        case .recovery(let p): p.writeCanonical(into: &out)
        }
    }

    var payload: any AuditPayload {
        switch self {
        case .decision(let p): p
        case .askAnswer(let p): p
        case .sessionStart(let p), .sessionStop(let p): p
        case .policyChange(let p): p
        case .daemonStart(let p), .daemonStop(let p): p
        case .lostEvents(let p): p
        case .recovery(let p): p
        }
    }

    /// Decodes a record's payload; nil for a type this version does not know or a payload
    /// that does not fit it.
    public init?(type: String, data: JSONValue) {
        switch type {
        case "decision": guard let p: AuditDecision = Self.decode(data) else { return nil }; self = .decision(p)
        case "ask_answer": guard let p: AuditAskAnswer = Self.decode(data) else { return nil }; self = .askAnswer(p)
        case "session_start": guard let p: AuditSession = Self.decode(data) else { return nil }; self = .sessionStart(p)
        case "session_stop": guard let p: AuditSession = Self.decode(data) else { return nil }; self = .sessionStop(p)
        case "policy_change": guard let p: AuditPolicyChange = Self.decode(data) else { return nil }; self = .policyChange(p)
        case "daemon_start": guard let p: AuditDaemon = Self.decode(data) else { return nil }; self = .daemonStart(p)
        case "daemon_stop": guard let p: AuditDaemon = Self.decode(data) else { return nil }; self = .daemonStop(p)
        case "lost_events": guard let p: AuditLostEvents = Self.decode(data) else { return nil }; self = .lostEvents(p)
        case "recovery": guard let p: AuditRecovery = Self.decode(data) else { return nil }; self = .recovery(p)
        default: return nil
        }
    }

    private static func decode<T: Decodable>(_ value: JSONValue) -> T? {
        try? JSONDecoder().decode(T.self, from: Data(value.canonicalBytes))
    }
}
