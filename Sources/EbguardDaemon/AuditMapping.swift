import EbguardAudit
import EbguardEnforcement

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
        switch event.subject {
        case .session(let change)?:
            return sessionRecord(event, change: change, context: context)
        case .daemon?, nil:
            // Daemon notes are written by the sink (daemon_start/stop); process life is not a decision.
            return nil
        case .some(let subject):
            guard event.kind != .process else { return nil }
            if event.kind == .decision, event.answeredBy != nil { return .askAnswer(answer(event, subject: subject)) }
            guard isRecorded(event) else { return nil }
            return .decision(decision(event, subject: subject))
        }
    }

    /// A decision is kept unless it was a plain, unblocked allow; tamper always. Execs seen by
    /// the tracepoint on a kernel without BPF-LSM (`observed`) carry `audit` as a placeholder:
    /// nothing was decided, and every exec of every session would land in the trail.
    public static func isRecorded(_ event: GovernedEvent) -> Bool {
        guard event.reason != .observed else { return false }
        return event.kind == .tamper || event.blocked || event.verdict != .allow
    }

    static func sessionRecord(_ event: GovernedEvent, change: SessionChange, context: AuditContext?) -> AuditEvent? {
        // A session event without context still says what the event knows: the policy name
        // (`object`) and its source (`detail`); the hash is then unknown, written as "".
        let facts = context?.facts ?? AuditSessionFacts(policy: event.object, policySHA256: "",
                                                        policyPath: event.detail.isEmpty ? nil : event.detail, user: event.user)
        let session = AuditSession(session: event.session, policy: facts.policy, policySHA256: facts.policySHA256,
                                   policyPath: facts.policyPath, command: facts.command, user: facts.user ?? event.user,
                                   exitStatus: change == .end ? event.exitCode : nil)
        switch change {
        case .start: return .sessionStart(session)
        case .end: return .sessionStop(session)
        case .policy:
            return .policyChange(AuditPolicyChange(session: event.session, policy: facts.policy, policyPath: facts.policyPath,
                                                   oldSHA256: context?.previousSHA256, newSHA256: facts.policySHA256,
                                                   changedBy: context?.changedBy))
        }
    }

    /// The audit kind, object text and network target of a subject: rendered from its typed
    /// parts (an address's bytes, a transport number), never from the event's text.
    static func target(of subject: EventSubject) -> (kind: AuditObjectKind, object: String, network: AuditNetworkTarget?) {
        switch subject {
        case .kernel(.unix, let object, _), .kernel(.network, let object, _):
            switch object {
            case .unixPath(let path): return (.unix, path, nil)
            case .destination(let destination): return target(of: .destination(destination))
            default: return (.network, DecisionEvent.text(of: object) + "/socket", nil)
            }
        case .kernel(.file, let object, _): return (.file, DecisionEvent.text(of: object), nil)
        case .kernel(.tamper, let object, _): return (.tamper, DecisionEvent.text(of: object), nil)
        case .kernel(_, let object, _): return (.exec, DecisionEvent.text(of: object), nil)
        case .heldExec(let path): return (.exec, path, nil)
        case .file(let path, _): return (.file, path, nil)
        case .destination(let destination):
            return (.network, destination.endpointAndTransportText,
                    AuditNetworkTarget(address: destination.addressText, port: destination.port, transport: destination.transport))
        case .lookup(let name, let queryType):
            // A lookup: the name is the object, the query type its detail; no address was reached.
            return (.network, name + "/" + queryType, AuditNetworkTarget(address: nil, port: 53, transport: "dns", hostname: name))
        case .session, .daemon: return (.exec, "", nil)
        }
    }

    static func decision(_ event: GovernedEvent, subject: EventSubject) -> AuditDecision {
        let (kind, object, target) = target(of: subject)
        var network = target
        if network != nil, network?.hostname == nil { network?.hostname = event.host }
        // Files: the access bits (`read,write`); the rest: the action (`exec`, `connect`, `tamper`).
        let access: String = switch subject {
        case .kernel(.file, _, let mask) where mask != 0: DecisionEvent.accessNames(mask)
        case .file(_, let mask) where mask != 0: DecisionEvent.accessNames(mask)
        case .heldExec: "exec"
        case .lookup: "resolve"
        default: event.action
        }
        return AuditDecision(session: event.session, pid: Int32(bitPattern: event.pid), comm: event.comm, kind: kind,
                             object: object, access: access, rule: rule(event), verdict: event.verdict, uid: event.uid,
                             exe: event.exe, argv: event.argv, network: network, askID: event.askID.map(UInt64.init))
    }

    /// An operator's answer (or a timeout) to a pending request: who, what, for how long. A
    /// network answer names the same `addr:port/tcp` as the decision it answers.
    static func answer(_ event: GovernedEvent, subject: EventSubject) -> AuditAskAnswer {
        let (kind, object): (AuditObjectKind, String) = switch subject {
        case .heldExec(let path): (.exec, event.argv.map { $0.joined(separator: " ") } ?? path)
        case .lookup(let name, _): (.network, name + "/dns")
        default: (target(of: subject).kind, target(of: subject).object)
        }
        return AuditAskAnswer(session: event.session, askID: event.askID.map(UInt64.init), kind: kind, object: object,
                              answer: event.verdict == .allow ? .allow : .deny,
                              scope: scope(event.scope),
                              answeredBy: event.answeredBy ?? "unknown", timedOut: event.reason == .timeout,
                              pid: Int32(bitPattern: event.pid), comm: event.comm)
    }

    static func scope(_ scope: AnswerScope?) -> AuditAskAnswer.Scope {
        switch scope {
        case .once?, nil: .once
        case .session?: .session
        case .always?: .always
        }
    }

    /// The rule that decided, as `policy show` names it; `default` when a default did; otherwise
    /// the kernel's reason (`unresolved`, `too-long`, `tamper`, ...), which says more than "default".
    static func rule(_ event: GovernedEvent) -> String {
        if let rule = event.rule { return rule }
        switch event.reason {
        case .rule, .default, .argv, .held: return "default"
        default: return event.reason.rawValue
        }
    }
}
