/// `ebguard run --learn`: a session that records everything it does, refusing nothing of its
/// base policy's.
extension CompiledPolicy {
    /// The policy a learning session runs: shadow mode (a deny or ask is reported as
    /// `would_deny`/`would_ask`, not carried out) with every `allow` - rules and defaults -
    /// turned into `audit`, so that each operation the base lets through is reported and
    /// recorded too (the daemon's trail drops plain allows). `policy suggest` then reads a
    /// complete record.
    ///
    /// Which rule wins is unchanged in every way that matters: precedence is specificity, then
    /// strength (deny > ask > audit > allow). Raising allow to audit, the next strength up, never
    /// lets it pass an ask or deny, so every operation the base refuses or asks about is still
    /// decided by the same rule, and every one it lets through is still let through. Only
    /// between an allow and an audit rule of equal specificity, both of which let it through,
    /// may the reported rule now be the other of the two.
    public func learning() -> CompiledPolicy {
        var copy = self
        copy.mode = .shadow
        copy.defaults = PolicyDefaults(exec: Self.audited(defaults.exec), file: Self.audited(defaults.file),
                                       network: Self.audited(defaults.network))
        for index in copy.exec.indices { copy.exec[index].verdict = Self.audited(copy.exec[index].verdict) }
        for index in copy.file.indices { copy.file[index].verdict = Self.audited(copy.file[index].verdict) }
        for index in copy.network.indices { copy.network[index].verdict = Self.audited(copy.network[index].verdict) }
        return copy
    }

    private static func audited(_ verdict: Verdict) -> Verdict { verdict == .allow ? .audit : verdict }
}
