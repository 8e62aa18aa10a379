import Foundation

/// The control API spoken on `/run/ebguard/ebguard.sock`: one JSON object per line each way.
///
/// Every request names the protocol `version` it speaks; a daemon answers requests of other
/// versions with an error rather than guessing. Requests are decoded completely before
/// anything changes, so a malformed one changes nothing.
public enum ControlProtocol {
    public static let version = 1
    /// `/run/ebguard/ebguard.sock`, or `$EBGUARD_SOCKET` (a second daemon for tests, or a
    /// non-default state directory).
    public static var defaultSocketPath: String {
        ProcessInfo.processInfo.environment["EBGUARD_SOCKET"].flatMap { $0.isEmpty ? nil : $0 } ?? "/run/ebguard/ebguard.sock"
    }
    /// Longest request line: room for a large policy, not for a memory exhaustion attack.
    public static let maximumRequestBytes = 8 << 20
}

/// A policy as the client read it: the daemon parses the text, naming `source` in errors.
public struct PolicyText: Codable, Sendable, Equatable {
    public var source: String
    public var yaml: String
    public init(source: String, yaml: String) {
        self.source = source
        self.yaml = yaml
    }
}

/// What `ebguard run` asks for when it registers a session with the daemon.
public struct SessionRequest: Codable, Sendable, Equatable {
    public var name: String
    public var policy: PolicyText
    public var home: String
    public var workspace: String
    public var uid: UInt32
    public var user: String
    /// `ebguard run --quiet`: it shows nothing, so it is sent only its session's notes (the end).
    public var quiet: Bool?
    /// The command the session runs (its argv), for the audit trail's `session_start`/`session_stop`.
    public var command: [String]?
    /// `ebguard run --shadow`: the session reports what its policy would deny or ask and refuses
    /// none of it, whatever the policy's `mode:` says.
    public var shadow: Bool?
    /// `ebguard run --learn`: shadow mode with every allow of the policy (its base) turned into
    /// audit, so the trail records everything the session did (`CompiledPolicy.learning()`).
    public var learn: Bool?
    public init(name: String, policy: PolicyText, home: String, workspace: String, uid: UInt32, user: String,
                quiet: Bool? = nil, command: [String]? = nil, shadow: Bool? = nil, learn: Bool? = nil) {
        self.quiet = quiet
        self.shadow = shadow
        self.learn = learn
        self.command = command
        self.name = name
        self.policy = policy
        self.home = home
        self.workspace = workspace
        self.uid = uid
        self.user = user
    }
}

/// Which events a subscriber wants. Empty lists mean "all".
public struct EventFilter: Codable, Sendable, Equatable {
    public var sessions: [String]
    public var kinds: [String]
    public var verdicts: [String]
    /// Replay events newer than this many seconds from the daemon's recent history first.
    public var sinceSeconds: Double?
    /// Keep the stream open for new events.
    public var follow: Bool
    /// Only what `ebguard run` shows: blocked operations, `audit` verdicts, userspace decisions
    /// and session notes; not every allowed open of a busy session.
    public var notable: Bool?
    /// With `notable`: not the audits either (a learning session's run, which audits all it
    /// does). Set by the daemon for a session's owner; not part of the protocol.
    var hidesAudits = false

    public init(sessions: [String] = [], kinds: [String] = [], verdicts: [String] = [], sinceSeconds: Double? = nil,
                follow: Bool = true, notable: Bool? = nil) {
        self.notable = notable
        self.sessions = sessions
        self.kinds = kinds
        self.verdicts = verdicts
        self.sinceSeconds = sinceSeconds
        self.follow = follow
    }

    enum CodingKeys: String, CodingKey {
        case sessions, kinds, verdicts, follow, notable
        case sinceSeconds = "since_seconds"
    }
}

public enum ControlRequest: Sendable, Equatable {
    case status
    case sessions
    /// Registers a session; the connection then streams its events and owns it: the session
    /// ends when the connection closes.
    case register(SessionRequest)
    /// Re-attaches an `ebguard run` to its session after a daemon restart.
    case attach(session: String)
    /// Ends a session; `ebguard run` says how its command exited (for `session_stop`).
    case end(session: String, exitStatus: Int32? = nil)
    case apply(session: String, policy: PolicyText)
    case subscribe(EventFilter)
    /// The requests waiting for a human.
    case pending
    /// An operator's answer to a pending request.
    case answer(AnswerRequest)

    public var name: String {
        switch self {
        case .status: "status"
        case .sessions: "sessions"
        case .register: "register"
        case .attach: "attach"
        case .end: "end"
        case .apply: "apply"
        case .subscribe: "subscribe"
        case .pending: "pending"
        case .answer: "answer"
        }
    }

    /// Requests that change what is enforced.
    public var changesEnforcement: Bool {
        switch self {
        case .status, .sessions, .subscribe, .pending: false
        case .register, .attach, .end, .apply, .answer: true
        }
    }
}

/// Why a request was not carried out; `code` is stable for scripts, `message` for people.
public struct ControlError: Error, Codable, Sendable, Equatable, CustomStringConvertible {
    public var code: String
    public var message: String
    /// file:line:column diagnostics of a policy that did not compile.
    public var diagnostics: [String]

    public init(_ code: String, _ message: String, diagnostics: [String] = []) {
        self.code = code
        self.message = message
        self.diagnostics = diagnostics
    }

    public var description: String { ([message] + diagnostics).joined(separator: "\n") }

    static func malformed(_ message: String) -> ControlError { ControlError("malformed", message) }
}

extension ControlRequest {
    private struct Envelope: Decodable {
        var version: Int?
        var request: String?
    }

    private struct SessionArgument: Decodable { var session: String }
    private struct EndArguments: Decodable {
        var session: String
        var exitStatus: Int32?
        enum CodingKeys: String, CodingKey { case session, exitStatus = "exit_status" }
    }
    private struct ApplyArguments: Decodable {
        var session: String
        var policy: PolicyText
    }
    private struct RegisterArguments: Decodable { var register: SessionRequest }
    private struct SubscribeArguments: Decodable { var filter: EventFilter }
    private struct AnswerArguments: Decodable { var answer: AnswerRequest }

    /// Decodes one request line. Every failure is a `ControlError` naming what is wrong.
    public static func decode(_ line: some DataProtocol) throws(ControlError) -> ControlRequest {
        let data = Data(line)
        guard data.count <= ControlProtocol.maximumRequestBytes else {
            throw ControlError("too-large", "request of \(data.count) bytes exceeds \(ControlProtocol.maximumRequestBytes)")
        }
        let decoder = JSONDecoder()
        let envelope: Envelope
        do { envelope = try decoder.decode(Envelope.self, from: data) } catch {
            throw .malformed("request is not a JSON object with \"version\" and \"request\"")
        }
        guard let version = envelope.version else { throw .malformed("request has no \"version\"") }
        guard version == ControlProtocol.version else {
            throw ControlError("unsupported-version",
                               "request version \(version) is not supported (this daemon speaks version \(ControlProtocol.version))")
        }
        guard let name = envelope.request else { throw .malformed("request has no \"request\" name") }
        func arguments<T: Decodable>(_ type: T.Type) throws(ControlError) -> T {
            do { return try decoder.decode(type, from: data) } catch {
                throw .malformed("\(name): \(Self.describe(error))")
            }
        }
        switch name {
        case "status": return .status
        case "sessions": return .sessions
        case "register": return .register(try arguments(RegisterArguments.self).register)
        case "attach": return .attach(session: try arguments(SessionArgument.self).session)
        case "end":
            let end = try arguments(EndArguments.self)
            return .end(session: end.session, exitStatus: end.exitStatus)
        case "apply":
            let apply = try arguments(ApplyArguments.self)
            return .apply(session: apply.session, policy: apply.policy)
        case "subscribe": return .subscribe(try arguments(SubscribeArguments.self).filter)
        case "pending": return .pending
        case "answer": return .answer(try arguments(AnswerArguments.self).answer)
        default:
            throw ControlError("unknown-request", "unknown request \"\(name.prefix(64))\"")
        }
    }

    /// The request as one line (without the newline), keys sorted. Written in one pass: going
    /// through JSONSerialization's untyped objects cost a registering `ebguard run` 8 ms (its
    /// dynamic casts, and the policy's text escaped twice and parsed once).
    public func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(Line(request: self))) ?? Data()
    }

    /// `version` and `request`, then the request's own fields beside them.
    private struct Line: Encodable {
        let request: ControlRequest

        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        func encode(to encoder: any Encoder) throws {
            var line = encoder.container(keyedBy: Key.self)
            try line.encode(ControlProtocol.version, forKey: Key(stringValue: "version"))
            try line.encode(request.name, forKey: Key(stringValue: "request"))
            switch request {
            case .status, .sessions, .pending: break
            case .answer(let answer): try line.encode(answer, forKey: Key(stringValue: "answer"))
            case .register(let session): try line.encode(session, forKey: Key(stringValue: "register"))
            case .attach(let session): try line.encode(session, forKey: Key(stringValue: "session"))
            case .end(let session, let exitStatus):
                try line.encode(session, forKey: Key(stringValue: "session"))
                try line.encodeIfPresent(exitStatus, forKey: Key(stringValue: "exit_status"))
            case .apply(let session, let policy):
                try line.encode(session, forKey: Key(stringValue: "session"))
                try line.encode(policy, forKey: Key(stringValue: "policy"))
            case .subscribe(let filter): try line.encode(filter, forKey: Key(stringValue: "filter"))
            }
        }
    }

    private static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "invalid JSON" }
        switch error {
        case .keyNotFound(let key, let context):
            return "missing \"\((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))\""
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? "invalid JSON" : "wrong type or value at \"\(path)\""
        @unknown default:
            return "invalid request"
        }
    }
}
