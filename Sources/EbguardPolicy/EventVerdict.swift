/// What happened to an operation, as every event and audit record reports it: the one verdict
/// type of the event pipeline (kernel decisions, userspace decisions, answers, audit records).
///
/// Distinct from `Verdict`, what a rule says: an outcome can be one no rule is written as, such
/// as a shadow session's `would_deny`/`would_ask` (allowed, reported as what enforcing would
/// have done); a new outcome is a new case, and the compiler finds every renderer that must say it.
public enum EventVerdict: String, Sendable, Hashable, CaseIterable, Codable {
    case allow
    case deny
    case ask
    case audit
    case wouldDeny = "would_deny"
    case wouldAsk = "would_ask"

    /// The outcome a rule's verdict gives when it is carried out.
    public init(_ verdict: Verdict) {
        switch verdict {
        case .allow: self = .allow
        case .audit: self = .audit
        case .ask: self = .ask
        case .deny: self = .deny
        }
    }
}
