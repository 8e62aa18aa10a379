/// The reference evaluator for names (`host` rules); the resolver asks it for every query and
/// the kernel's allowance entries are built from its answers.
///
/// A name is decided by the rules of the most specific pattern that covers it (exact, then the
/// longest wildcard suffix, then `*`); no such rule: the network default. Those rules together
/// say what the name's addresses are opened for, port by port.
///
/// A connection is decided in this order: an explicit `cidr` deny (the metadata address stays
/// closed whatever name points at it); then the rules of the live names the session was given
/// this address for, the first whose ports and protocol match (deny > ask > audit > allow);
/// then the `cidr` rules and the default as without names.
extension CompiledPolicy {
    /// What the resolver does with a query for `name`.
    public struct HostDecision: Sendable, Hashable {
        /// allow or audit: resolve it; ask: hold it for a human; deny: NXDOMAIN.
        public var verdict: Verdict
        /// The rule that gave `verdict`, nil for the default.
        public var rule: RuleID?
        /// The rules the answered addresses are opened with (empty: the default decided).
        public var rules: [CompiledNetworkRule]
        /// The pattern that matched, for the event (nil: the default decided).
        public var pattern: HostPattern?

        public init(verdict: Verdict, rule: RuleID?, rules: [CompiledNetworkRule], pattern: HostPattern?) {
            self.verdict = verdict
            self.rule = rule
            self.rules = rules
            self.pattern = pattern
        }
    }

    /// The rules of the most specific pattern covering `name` (lower case, no trailing dot).
    public func hostRules(for name: String) -> [CompiledNetworkRule] {
        let matching = network.filter { $0.host?.pattern.matches(name) ?? false }
        guard let best = matching.map({ $0.host!.pattern.specificity }).max() else { return [] }
        let winners = matching.filter { $0.host!.pattern.specificity == best }
        // Two wildcards of the same depth cannot both cover a name, so the winners share a pattern.
        return winners
    }

    /// Decides a query for `name`: allowed if any rule of its pattern allows (or audits) some
    /// port, held if one asks, else denied. No host rule: the network default.
    public func decideHost(name: String) -> HostDecision {
        let name = HostPattern.canonical(name)
        let rules = hostRules(for: name)
        guard !rules.isEmpty else {
            return HostDecision(verdict: defaults.network, rule: nil, rules: [], pattern: nil)
        }
        let pattern = rules[0].host!.pattern
        for verdicts in [[Verdict.allow, .audit], [.ask], [.deny]] {
            guard let first = rules.first(where: { verdicts.contains($0.verdict) }) else { continue }
            // Auditing any port of a name makes its resolution an audited one.
            let verdict: Verdict = verdicts.count > 1 && rules.contains { $0.verdict == .audit } ? .audit : first.verdict
            return HostDecision(verdict: verdict, rule: first.id, rules: rules, pattern: pattern)
        }
        return HostDecision(verdict: defaults.network, rule: nil, rules: [], pattern: nil)
    }

    /// Decides a connect to `address`:`port` when the session holds live answers naming it:
    /// `liveRules` are the rules of those names (`decideHost(name:).rules`, an operator's
    /// approval already turned into allow).
    public func decideConnect(address: IPAddress, port: UInt16, protocol transport: TransportProtocol,
                              liveRules: [CompiledNetworkRule]) -> Decision {
        let byAddress = decideConnect(address: address, port: port, protocol: transport)
        if byAddress.rule != nil && byAddress.verdict == .deny { return byAddress }
        let matching = liveRules.filter { $0.host?.matches(port: port, transport: transport) ?? false }
        guard let best = matching.max(by: { a, b in
            a.verdict.strength != b.verdict.strength ? a.verdict.strength < b.verdict.strength : a.id > b.id
        }) else { return byAddress }
        return Decision(best.verdict, best.id)
    }
}
