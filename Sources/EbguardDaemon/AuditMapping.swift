import EbguardAudit

/// What the audit trail says about a session that its events do not carry themselves: the
/// policy's hash and where it came from. The daemon fills it from the `ManagedSession`.
public struct AuditSessionFacts: Sendable, Equatable {
    public var policy: String
    public var policySHA256: String
    public var policyPath: String?
    public var user: String?
    /// The session's command, as `ebguard run` started it.
    public var command: [String]?

    public init(policy: String, policySHA256: String, policyPath: String? = nil, user: String? = nil,
                command: [String]? = nil) {
        self.policy = policy
        self.policySHA256 = policySHA256
        self.policyPath = policyPath
        self.user = user
        self.command = command
    }
}

/// Extra knowledge a call site has when it publishes a session event: the facts after the
/// change, and for a policy change the hash it replaced and who replaced it.
public struct AuditContext: Sendable, Equatable {
    public var facts: AuditSessionFacts
    public var previousSHA256: String?
    public var changedBy: String?

    public init(facts: AuditSessionFacts, previousSHA256: String? = nil, changedBy: String? = nil) {
        self.facts = facts
        self.previousSHA256 = previousSHA256
        self.changedBy = changedBy
    }
}

/// GovernedEvent -> AuditEvent. Pure, so the choice of what reaches the trail is unit-tested.
///
/// Kept: every denial, ask and `audit` verdict, every tamper attempt, userspace decisions that
/// were not plain allows, and session start / stop / policy change. Dropped: allowed events
/// (the policy said nothing worth recording; an agent's `git status` loop would flood the log),
/// observed process life, and execs merely observed on a degraded kernel. Daemon start and stop are written by `AuditSink` itself.
public enum AuditMapping {
    /// The record for `event`, or nil if it does not belong in the trail.
    public static func record(for event: GovernedEvent, context: AuditContext?) -> AuditEvent? {
        switch event.kind {
        case .session:
            return sessionRecord(event, context: context)
        case .process:
            return nil
        case .decision where event.action == "answer":
            return .askAnswer(answer(event))
        case .exec, .file, .network, .tamper, .decision:
            guard isRecorded(event) else { return nil }
            return .decision(decision(event))
        }
    }

    /// A decision is kept unless it was a plain, unblocked allow; tamper always. Execs seen by
    /// the tracepoint on a kernel without BPF-LSM (`observed`) carry `audit` as a placeholder:
    /// nothing was decided, and every exec of every session would land in the trail.
    public static func isRecorded(_ event: GovernedEvent) -> Bool {
        guard event.reason != "observed" else { return false }
        return event.kind == .tamper || event.blocked || event.verdict != "allow"
    }

    static func sessionRecord(_ event: GovernedEvent, context: AuditContext?) -> AuditEvent? {
        // A session event without context still says what the event knows: the policy name
        // (`object`) and its source (`detail`); the hash is then unknown, written as "".
        let facts = context?.facts ?? AuditSessionFacts(policy: event.object, policySHA256: "",
                                                        policyPath: event.detail.isEmpty ? nil : event.detail, user: event.user)
        let session = AuditSession(session: event.session, policy: facts.policy, policySHA256: facts.policySHA256,
                                   policyPath: facts.policyPath, command: facts.command, user: facts.user ?? event.user,
                                   exitStatus: event.action == "end" ? event.exitCode : nil)
        switch event.action {
        case "start": return .sessionStart(session)
        case "end": return .sessionStop(session)
        case "policy":
            return .policyChange(AuditPolicyChange(session: event.session, policy: facts.policy, policyPath: facts.policyPath,
                                                   oldSHA256: context?.previousSHA256, newSHA256: facts.policySHA256,
                                                   changedBy: context?.changedBy))
        default:
            // `daemon` notes (start, stop, refused connections) are not session records.
            return nil
        }
    }

    static func decision(_ event: GovernedEvent) -> AuditDecision {
        let kind: AuditObjectKind = switch event.kind {
        case .file: .file
        case .network: event.detail == "unix" ? .unix : .network
        case .tamper: .tamper
        default: .exec  // exec hooks, and execs held for their argv (`decision`)
        }
        var object = event.object
        var network: AuditNetworkTarget?
        if kind == .network && event.action == "resolve" {
            // A lookup: the name is the object, the query type its detail; no address was reached.
            network = AuditNetworkTarget(address: nil, port: 53, transport: "dns", hostname: event.host ?? event.object)
            object += "/" + event.detail
        } else if kind == .network {
            network = target(event.object, transport: event.detail)
            network?.hostname = event.host
            object += "/" + event.detail
        }
        // Files: the access bits (`read,write`); the rest: the action (`exec`, `connect`, `tamper`).
        let access = kind == .file && !event.detail.isEmpty ? event.detail : (event.kind == .decision ? "exec" : event.action)
        let verdict = AuditVerdict(rawValue: event.verdict) ?? (event.blocked ? .deny : .allow)
        return AuditDecision(session: event.session, pid: Int32(bitPattern: event.pid), comm: event.comm, kind: kind,
                             object: object, access: access, rule: rule(event), verdict: verdict, uid: event.uid,
                             exe: event.exe, argv: event.argv, network: network, askID: event.askID.map(UInt64.init))
    }

    /// An operator's answer (or a timeout) to a pending request: who, what, for how long.
    /// A network answer's `detail` is the transport of the decision it answers (`tcp`), and its
    /// object gets the same `/tcp` suffix, so that the two match on `object`.
    static func answer(_ event: GovernedEvent) -> AuditAskAnswer {
        let kind: AuditObjectKind = switch event.detail {
        case "file": .file
        case "exec": .exec
        default: .network  // tcp, udp, icmp (`network` from daemons before the transport was given)
        }
        let command = event.argv.map { $0.joined(separator: " ") }
        let object = switch kind {
        case .exec: command ?? event.object
        case .network where event.detail != "network": event.object + "/" + event.detail
        default: event.object
        }
        return AuditAskAnswer(session: event.session, askID: event.askID.map(UInt64.init), kind: kind, object: object,
                              answer: event.verdict == "allow" ? .allow : .deny,
                              scope: AuditAskAnswer.Scope(rawValue: event.scope ?? "once") ?? .once,
                              answeredBy: event.answeredBy ?? "unknown", timedOut: event.reason == "timeout",
                              pid: Int32(bitPattern: event.pid), comm: event.comm)
    }

    /// The rule that decided, as `policy show` names it; `default` when a default did; otherwise
    /// the kernel's reason (`unresolved`, `too-long`, `tamper`, ...), which says more than "default".
    static func rule(_ event: GovernedEvent) -> String {
        if let rule = event.rule { return rule }
        return ["rule", "default", "argv", "held"].contains(event.reason) ? "default" : event.reason
    }

    /// `93.184.216.34:443` or `[2001:db8::1]:443`, split.
    static func target(_ endpoint: String, transport: String) -> AuditNetworkTarget? {
        // By bytes: every denied connect comes through here, and Character search is slow.
        let bytes = endpoint.utf8
        guard let colon = bytes.lastIndex(of: UInt8(ascii: ":")),
              let port = UInt16(Substring(bytes[bytes.index(after: colon)...])) else {
            return nil
        }
        var address = bytes[..<colon]
        if address.first == UInt8(ascii: "["), address.last == UInt8(ascii: "]") { address = address.dropFirst().dropLast() }
        return AuditNetworkTarget(address: String(Substring(address)), port: port, transport: transport)
    }
}
