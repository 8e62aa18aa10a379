import EbguardPolicy
import Foundation

/// What a session's resolver does with each query, by the session's `host` rules
/// (`CompiledPolicy.decideHost`), and what it opens in the kernel once the upstream answered.
/// Transport-free: the resolver (EbguardDNS) calls it from its worker threads.
public final class HostGate: @unchecked Sendable {
    /// How a query is answered.
    public enum Outcome: Sendable, Equatable {
        /// Forward it upstream; `admit` opens what comes back.
        case resolve
        /// NXDOMAIN: the name does not exist for this session.
        case nxdomain
        /// REFUSED: a query type not served for this name (TXT/NULL/ANY without a host rule).
        case refused
    }

    /// What an operator said to an ask about a name.
    public struct AskAnswer: Sendable, Equatable {
        public var allow: Bool
        /// Until the session ends (or longer): later queries for the name are not asked again.
        public var remembered: Bool
        public init(allow: Bool, remembered: Bool) {
            self.allow = allow
            self.remembered = remembered
        }
    }

    /// The host rules and defaults (`CompiledPolicy.hostRulesOnly`); replaced on a hot reload.
    public var policy: CompiledPolicy { lock.withLock { current } }
    private var current: CompiledPolicy
    public let hosts: HostAllowances
    /// Raises an ask and blocks until it is answered or times out (the policy's on_timeout
    /// decides then). nil: no one can answer (standalone sessions), so an ask denies.
    private let ask: (@Sendable (_ name: String, _ type: String, _ rule: RuleID?) -> AskAnswer)?
    private let report: @Sendable (HostEvent) -> Void
    /// A shadow session's resolver (the policy's `mode`): a name its policy denies or asks is
    /// forwarded all the same and reported as would_deny/would_ask (the resolver's limits apply).
    public var shadow: Bool { policy.mode == .shadow }
    private let lock = NSLock()
    private var remembered: [String: Bool] = [:]
    /// Answers that came with no query left to take them: the next query for the name, within
    /// a minute, gets them (a client that gave up retries).
    private var late: [String: (allow: Bool, until: UInt64)] = [:]

    public init(policy: CompiledPolicy, hosts: HostAllowances,
                ask: (@Sendable (_ name: String, _ type: String, _ rule: RuleID?) -> AskAnswer)?,
                report: @escaping @Sendable (HostEvent) -> Void) {
        current = policy
        self.hosts = hosts
        self.ask = ask
        self.report = report
    }

    /// A session's policy changed: later queries are decided by `policy`.
    public func replace(policy: CompiledPolicy) {
        lock.withLock { current = policy }
    }

    /// An answer given before the query (an `always` answer from the policy's overlay).
    public func remember(name: String, allow: Bool) {
        lock.withLock { remembered[HostPattern.canonical(name)] = allow }
    }

    /// Query types that carry data rather than addresses: the usual tunnels.
    static let dataTypes: Set<String> = ["TXT", "NULL", "ANY"]

    /// Decides a query for `name` (any case, trailing dot or not) of record type `type`
    /// ("A", "AAAA", "TXT", ...). May block while an operator is asked.
    public func decide(name rawName: String, type: String) -> Outcome {
        let name = HostPattern.canonical(rawName)
        let rules = policy
        var decision = rules.decideHost(name: name)
        if rules.mode == .shadow { return shadowDecide(name: name, type: type, decision: decision) }
        if decision.verdict == .ask {
            guard let answer = answerFor(name: name, type: type, rule: decision.rule) else {
                report(event(name, type, decision, blocked: true, reason: "ask",
                             message: "denied lookup of \(name): ask, but no one can answer in this session"))
                return .nxdomain
            }
            guard answer else {
                report(event(name, type, decision, blocked: true, reason: "answered",
                             message: "denied lookup of \(name): blocked by the operator"))
                return .nxdomain
            }
            decision.verdict = .allow
        }
        switch decision.verdict {
        case .deny:
            let why = decision.rule.map { "by \($0) (host \(decision.pattern!))" } ?? "no host rule names it (network default deny)"
            report(event(name, type, decision, blocked: true, reason: decision.rule == nil ? "default" : "rule",
                         message: "denied lookup of \(name): \(why)"))
            return .nxdomain
        case .allow, .audit, .ask:
            if decision.rules.isEmpty && Self.dataTypes.contains(type) {
                report(event(name, type, decision, blocked: true, reason: "type",
                             message: "refused \(type) lookup of \(name): data records are served only for names a host rule allows"))
                return .refused
            }
            return .resolve
        }
    }

    /// A shadow session's query: always forwarded; what enforcing would have refused is reported.
    private func shadowDecide(name: String, type: String, decision: CompiledPolicy.HostDecision) -> Outcome {
        let why = decision.rule.map { "by \($0) (host \(decision.pattern!))" } ?? "no host rule names it (network default \(decision.verdict.rawValue))"
        let reason = decision.rule == nil ? "default" : "rule"
        switch decision.verdict {
        case .deny, .ask:
            let what = decision.verdict == .deny ? "would deny" : "would ask"
            report(event(name, type, decision, blocked: false, reason: reason,
                         message: "\(what) lookup of \(name) \(why) (shadow, not enforced)"))
        case .allow, .audit:
            if decision.rules.isEmpty && Self.dataTypes.contains(type) {
                var refused = decision
                refused.verdict = .deny
                report(event(name, type, refused, blocked: false, reason: "type",
                             message: "would refuse \(type) lookup of \(name): data records are served only for names a host rule allows (shadow, not enforced)"))
            }
        }
        return .resolve
    }

    /// Opens the answered addresses for the session, before the answer reaches the client.
    /// false: a limit was reached, so the client gets SERVFAIL rather than an address it
    /// could not reach.
    /// `decide` let this query through, so an ask decision here was approved.
    public func admit(name rawName: String, type: String, cnames: [String], addresses: [(bytes: [UInt8], ttl: UInt32)],
                      flags: [String] = []) -> Bool {
        let name = HostPattern.canonical(rawName)
        var decision = policy.decideHost(name: name)
        // In shadow nobody approved an ask: its rules go in as ask, so a connect reports would_ask.
        let approved = decision.verdict == .ask && !shadow
        var rules = decision.rules
        if approved {
            // The operator answered for the name: its ask rules (or the ask default) become allows.
            rules = rules.isEmpty ? [Self.defaultAllow] : rules.map { rule in
                var rule = rule
                if rule.verdict == .ask { rule.verdict = .allow }
                return rule
            }
            decision.rules = rules
            decision.verdict = .allow
        }
        let shown = addresses.map { IPAddress(bytes: $0.bytes)?.description ?? "?" }
        if !rules.isEmpty && !addresses.isEmpty {
            do {
                try hosts.grant(name: name, addresses: addresses, rules: rules)
            } catch {
                report(event(name, type, decision, blocked: true, reason: "limit",
                             message: "refused lookup of \(name): \(error)", addresses: shown, cnames: cnames))
                return false
            }
        }
        let audited = decision.verdict == .audit || approved || !flags.isEmpty
        if audited || policy.defaults.network == .audit {
            var line = "resolved \(name) (\(type))"
            if !cnames.isEmpty { line += " via " + cnames.joined(separator: " -> ") }
            line += shown.isEmpty ? ": no address" : ": " + shown.joined(separator: ", ")
            if !flags.isEmpty { line += " [suspicious: " + flags.joined(separator: ", ") + "]" }
            report(event(name, type, decision, blocked: false,
                         reason: approved ? "answered" : decision.rule == nil ? "default" : "rule",
                         message: line, addresses: shown, cnames: cnames, flags: flags))
        }
        return true
    }

    /// What the resolver's limits refused (`count` of them since the last report).
    public func reportDrop(kind: String, name: String, count: Int, why: String) {
        let decision = CompiledPolicy.HostDecision(verdict: .deny, rule: nil, rules: [], pattern: nil)
        report(event(name, "?", decision, blocked: true, reason: kind,
                     message: "refused \(count) DNS quer\(count == 1 ? "y" : "ies") (\(why)), e.g. \(name)"))
    }

    /// A rule for the names the ask default lets an operator approve: any port, any protocol.
    static let defaultAllow = CompiledNetworkRule(
        id: RuleID(.network, Int(UInt16.max)), location: SourceLocation(file: "", line: 0, column: 0), verdict: .allow,
        host: HostMatch(pattern: .any, ports: .any, protocol: .any))

    private func answerFor(name: String, type: String, rule: RuleID?) -> Bool? {
        let now = Answers.bootTime()
        let known: Bool? = lock.withLock {
            if let remembered = remembered[name] { return remembered }
            if let answer = late[name], answer.until > now {
                late[name] = nil
                return answer.allow
            }
            return nil
        }
        if let known { return known }
        guard let ask else { return nil }
        let answer = ask(name, type, rule)
        lock.withLock {
            if answer.remembered { remembered[name] = answer.allow } else {
                late[name] = (answer.allow, Answers.bootTime() + 60_000_000_000)
            }
        }
        return answer.allow
    }

    private func event(_ name: String, _ type: String, _ decision: CompiledPolicy.HostDecision, blocked: Bool,
                       reason: String, message: String, addresses: [String] = [], cnames: [String] = [],
                       flags: [String] = []) -> HostEvent {
        // Refused: ask while no one answered yet, deny once someone (or the default) refused it.
        HostEvent(name: name, queryType: type, verdict: blocked ? (reason == "ask" ? .ask : .deny) : decision.verdict,
                  blocked: blocked, rule: decision.rule, pattern: decision.pattern?.description, reason: reason,
                  addresses: addresses, cnames: cnames, flags: flags, message: message)
    }
}

/// A query the resolver decided: what `ebguard events`, the audit trail and OCSF show.
public struct HostEvent: Sendable, Equatable {
    public var name: String
    public var queryType: String
    public var verdict: Verdict
    public var blocked: Bool
    public var rule: RuleID?
    /// The host pattern that decided (nil: the default).
    public var pattern: String?
    /// rule | default | ask | answered | type | limit | rate
    public var reason: String
    public var addresses: [String]
    public var cnames: [String]
    /// DNS-tunnelling signs in the name (long or high-entropy labels).
    public var flags: [String]
    public var message: String

    /// The verdict events and audit records carry: a shadow session's deny or ask that was
    /// forwarded is `would_deny`/`would_ask`.
    public var reportedVerdict: EventVerdict {
        guard !blocked else { return EventVerdict(verdict) }
        switch verdict {
        case .deny: return .wouldDeny
        case .ask: return .wouldAsk
        case .allow, .audit: return EventVerdict(verdict)
        }
    }

    public init(name: String, queryType: String, verdict: Verdict, blocked: Bool, rule: RuleID?, pattern: String?,
                reason: String, addresses: [String], cnames: [String], flags: [String], message: String) {
        self.name = name
        self.queryType = queryType
        self.verdict = verdict
        self.blocked = blocked
        self.rule = rule
        self.pattern = pattern
        self.reason = reason
        self.addresses = addresses
        self.cnames = cnames
        self.flags = flags
        self.message = message
    }
}
