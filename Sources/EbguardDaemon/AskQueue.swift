import EbguardEnforcement
import Foundation

/// One process in the ancestry a prompt shows.
public struct ProcessNode: Codable, Sendable, Equatable {
    public var pid: UInt32
    public var comm: String
    public var argv: [String]?
}

/// A decision waiting for a human, as `ebguard pending` and `ebguard prompt` show it.
public struct PendingRequest: Codable, Sendable, Equatable {
    public var id: Int
    public var session: String
    public var sessionID: UInt64
    /// exec | file | network
    public var kind: String
    public var pid: UInt32
    public var comm: String
    public var argv: [String]?
    public var cwd: String?
    public var object: String
    /// read,write / tcp / ...
    public var detail: String
    public var rule: String?
    public var ruleLocation: String?
    public var created: String
    public var expires: String
    /// What happens when nobody answers: the policy's `on_timeout`.
    public var onTimeout: String
    /// How many identical requests were folded into this one.
    public var hits: Int
    /// The process, its parent, ..., up to the session's first process.
    public var tree: [ProcessNode]
    /// "exec git reset --hard", "open /home/u/.aws/credentials (read)", "connect 1.2.3.4:443 (tcp)".
    public var summary: String

    enum CodingKeys: String, CodingKey {
        case id, session, kind, pid, comm, argv, cwd, object, detail, rule, created, expires, hits, tree, summary
        case sessionID = "session_id"
        case ruleLocation = "rule_location"
        case onTimeout = "on_timeout"
    }
}

public enum AnswerScope: String, Codable, Sendable, CaseIterable {
    /// The held exec, or the next matching access within a minute.
    case once
    /// Until the session ends.
    case session
    /// Also written to the policy's overlay, which later sessions of that policy load.
    case always
}

/// What an operator decided for a pending request.
public struct AnswerRequest: Codable, Sendable, Equatable {
    public var id: Int
    public var allow: Bool
    public var scope: AnswerScope
    public init(id: Int, allow: Bool, scope: AnswerScope) {
        self.id = id
        self.allow = allow
        self.scope = scope
    }
}

/// What a request is about, as the kernel identified it: answers are bound to it, never to a
/// path string, so swapping a symlink after an approval gains nothing.
enum AskSubject: Hashable, Sendable {
    case exec(executable: HeldExec.FileIdentity?, path: String, argv: [String])
    case file(device: UInt32, inode: UInt64, accessMask: UInt32, path: String)
    case network(DecisionEvent.Destination)
    /// A name a session's resolver holds a query for.
    case host(name: String)
}

/// The pending requests: coalesced, bounded, rate-limited per session. Full or flooded means
/// deny, never allow.
final class AskQueue {
    struct Entry {
        var request: PendingRequest
        let subject: AskSubject
        /// Execs stopped for this request (identical ones fold in).
        var heldPIDs: [pid_t]
        let deadline: UInt64
        let onTimeoutAllows: Bool
    }

    enum Admission {
        case added(Int)
        case coalesced(Int)
        /// Not queued: the caller denies it, and says why.
        case refused(String)
    }

    private(set) var entries: [Int: Entry] = [:]
    private var byKey: [Key: Int] = [:]
    private var recentAsks: [UInt64: [UInt64]] = [:]
    private var nextID = 1
    let maximumPending: Int
    let maximumPerSession: Int
    /// New requests a session may raise per minute; a flood cannot wear the human down.
    let perSessionPerMinute: Int

    struct Key: Hashable {
        let sessionID: UInt64
        let subject: AskSubject
    }

    init(maximumPending: Int = 256, maximumPerSession: Int = 32, perSessionPerMinute: Int = 30) {
        self.maximumPending = maximumPending
        self.maximumPerSession = maximumPerSession
        self.perSessionPerMinute = perSessionPerMinute
    }

    func admit(_ request: PendingRequest, subject: AskSubject, heldPID: pid_t?, now: UInt64, timeoutSeconds: Int,
               onTimeoutAllows: Bool) -> Admission {
        if let id = coalesce(sessionID: request.sessionID, subject: subject, heldPID: heldPID) { return .coalesced(id) }
        guard entries.count < maximumPending else { return .refused("too many pending requests on this host") }
        guard entries.values.filter({ $0.request.sessionID == request.sessionID }).count < maximumPerSession else {
            return .refused("too many pending requests in this session")
        }
        let window = now > 60_000_000_000 ? now - 60_000_000_000 : 0
        var recent = (recentAsks[request.sessionID] ?? []).filter { $0 >= window }
        guard recent.count < perSessionPerMinute else {
            recentAsks[request.sessionID] = recent
            return .refused("more than \(perSessionPerMinute) requests a minute from this session")
        }
        recent.append(now)
        recentAsks[request.sessionID] = recent
        var request = request
        request.id = nextID
        nextID += 1
        entries[request.id] = Entry(request: request, subject: subject, heldPIDs: heldPID.map { [$0] } ?? [],
                                    deadline: now + UInt64(max(1, timeoutSeconds)) * 1_000_000_000,
                                    onTimeoutAllows: onTimeoutAllows)
        byKey[Key(sessionID: request.sessionID, subject: subject)] = request.id
        return .added(request.id)
    }

    /// Folds a repeat into its pending request (one more hit, one more held exec) and returns
    /// the request's id; nil when nothing identical is pending.
    func coalesce(sessionID: UInt64, subject: AskSubject, heldPID: pid_t?) -> Int? {
        guard let id = byKey[Key(sessionID: sessionID, subject: subject)], var entry = entries[id] else { return nil }
        entry.request.hits += 1
        if let heldPID, !entry.heldPIDs.contains(heldPID) { entry.heldPIDs.append(heldPID) }
        entries[id] = entry
        return id
    }

    func remove(_ id: Int) -> Entry? {
        guard let entry = entries.removeValue(forKey: id) else { return nil }
        byKey[Key(sessionID: entry.request.sessionID, subject: entry.subject)] = nil
        return entry
    }

    func expired(now: UInt64) -> [Int] {
        entries.values.filter { $0.deadline <= now }.map(\.request.id).sorted()
    }

    func ids(ofSession sessionID: UInt64) -> [Int] {
        entries.values.filter { $0.request.sessionID == sessionID }.map(\.request.id)
    }

    func forget(session sessionID: UInt64) { recentAsks[sessionID] = nil }

    var pending: [PendingRequest] { entries.values.map(\.request).sorted { $0.id < $1.id } }
}
