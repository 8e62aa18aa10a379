import EbguardEnforcement

extension GovernedEvent {
    /// A kernel decision as the daemon publishes it: the typed event's own text (object, detail,
    /// action, verdict, reason, rule), what the daemon knows of the process and session, and the
    /// typed subject the audit record is made from. Pure, so every output of one decision is
    /// tested from the same value.
    public init(_ decision: DecisionEvent, time: String, session: String, ppid: UInt32?, user: String?, exe: String?,
                ruleLocation: String?, message: String, askID: Int? = nil, objectText: String? = nil,
                ruleText: String? = nil) {
        let object = objectText ?? decision.objectText
        let kind: Kind = switch decision.kind {
        case .exec: .exec
        case .file: .file
        case .network, .unix: .network
        case .tamper: .tamper
        }
        self.init(seq: 0, time: time, kind: kind, action: decision.action, session: session, sessionID: decision.sessionID,
                  pid: decision.pid, ppid: ppid, uid: decision.uid, user: user, comm: decision.comm,
                  exe: decision.kind == .exec ? object : exe, argv: nil, verdict: decision.verdict, blocked: decision.blocked,
                  object: object, detail: decision.detail, rule: ruleText ?? decision.rule?.description, ruleLocation: ruleLocation,
                  reason: decision.reason, exitCode: nil, message: message)
        self.askID = askID
        host = decision.host
        subject = decision.subject
    }
}
