/// What happens to an operation.
public enum Verdict: String, Sendable, Hashable, CaseIterable, Codable {
    /// Let it happen.
    case allow
    /// Let it happen and record it.
    case audit
    /// Hold or refuse it until a human answers (see `Policy.askTimeout`).
    case ask
    /// Refuse it.
    case deny

    /// Tie-break order between equally specific rules: deny > ask > audit > allow.
    ///
    /// The safer verdict wins a tie so that adding a rule can only make a policy stricter at
    /// the same specificity; ordering in the file never matters.
    public var strength: Int {
        switch self {
        case .allow: 0
        case .audit: 1
        case .ask: 2
        case .deny: 3
        }
    }
}

/// Whether a session carries its policy out (`enforce`, the default) or only reports what it
/// would have denied or asked (`shadow`: `would_deny`/`would_ask` events, nothing refused but
/// self-protection). Written `mode:` in a policy; `ebguard run --shadow` sets it for one session.
public enum PolicyMode: String, Sendable, Hashable, CaseIterable, Codable {
    case enforce
    case shadow
}

/// What an unanswered `ask` becomes once `Policy.askTimeout` runs out.
public enum TimeoutVerdict: String, Sendable, Hashable, CaseIterable, Codable {
    case deny
    case allow

    public var verdict: Verdict { self == .deny ? .deny : .allow }
}

/// The three kinds of rule a policy holds.
public enum PolicyDomain: String, Sendable, Hashable, CaseIterable, Codable {
    case exec
    case file
    case network
}

/// A rule's stable name, its domain and its index in that domain's list: `file[2]`.
///
/// Events and audit records carry it so a human can find the rule that decided.
public struct RuleID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var domain: PolicyDomain
    public var index: Int

    public init(_ domain: PolicyDomain, _ index: Int) {
        self.domain = domain
        self.index = index
    }

    public var description: String { "\(domain.rawValue)[\(index)]" }

    public static func < (lhs: RuleID, rhs: RuleID) -> Bool {
        let order = PolicyDomain.allCases
        let l = order.firstIndex(of: lhs.domain)!, r = order.firstIndex(of: rhs.domain)!
        return (l, lhs.index) < (r, rhs.index)
    }
}
