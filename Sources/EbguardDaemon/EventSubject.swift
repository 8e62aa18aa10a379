import EbguardEnforcement

/// What a published event is about, typed as the kernel reported it or the daemon decided it.
/// `GovernedEvent`'s `object` and `detail` are its text; the audit record is rendered from it.
public enum EventSubject: Sendable, Equatable {
    /// A kernel decision's object (exec, file, network, unix socket, tamper).
    case kernel(DecisionEvent.Kind, DecisionEvent.Object, accessMask: UInt32)
    /// An exec the daemon decided, asked or answered about after the kernel held it.
    case heldExec(path: String)
    /// A file access asked or answered about.
    case file(path: String, accessMask: UInt32)
    /// A connect asked or answered about.
    case destination(EventDestination)
    /// A name a session looked up through its resolver (`A`, `AAAA`, ...; `dns` for an answer).
    case lookup(name: String, queryType: String)
    /// A session started, ended or changed its policy.
    case session(SessionChange)
    /// A note of the daemon itself (start, stop, refusals).
    case daemon
}

/// The session events the audit trail records.
public enum SessionChange: String, Sendable, Equatable {
    case start, end, policy
}

extension DecisionEvent {
    /// This decision as a published event's subject.
    public var subject: EventSubject { .kernel(kind, object, accessMask: accessMask) }
}
