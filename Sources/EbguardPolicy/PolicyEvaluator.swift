/// The outcome of evaluating a policy for one operation: a verdict and what decided it.
public struct Decision: Sendable, Hashable, CustomStringConvertible {
    public var verdict: Verdict
    /// The deciding rule, or nil when the domain's default decided.
    public var rule: RuleID?

    public init(_ verdict: Verdict, _ rule: RuleID?) {
        self.verdict = verdict
        self.rule = rule
    }

    /// `deny by file[2]` or `allow by default`.
    public var description: String { "\(verdict.rawValue) by \(rule?.description ?? "default")" }
}

/// The reference evaluator. The kernel side must reach the same decisions; tests of the BPF
/// programs replay the same cases.
///
/// Precedence: among the rules that match, the most specific wins: for paths the one with more
/// literal bytes before its first wildcard (exact path > `/a/b/**` and `/a/b/*.x` > `/a/**` >
/// `/**/x` > `name:`; `PathMatcher.specificity`), for addresses the longer prefix. Among equally
/// specific rules the stronger verdict wins (deny > ask > audit > allow), then the earlier rule
/// (only to name one). No matching rule: the domain's default.
extension CompiledPolicy {
    /// Decides an exec of the binary at `path` (absolute, as the kernel resolved it).
    ///
    /// With `argv` nil only rules without `argv` are considered: the kernel's view before the
    /// exec is held. With `argv`, rules whose pattern matches it compete too, at the specificity
    /// of their path. Use `execNeedsArgv(path:)` to know whether holding the exec can matter.
    public func decideExec(path: String, argv: [String]? = nil) -> Decision {
        let path = LexicalPath.normalize(path)
        let candidates = exec.filter { rule in
            guard rule.matcher.matches(path) else { return false }
            guard let pattern = rule.argv else { return true }
            return argv.map(pattern.matches) ?? false
        }
        return Self.pick(candidates.map { ($0.id, $0.verdict, $0.matcher.specificity) }, default: defaults.exec)
    }

    /// Whether some `argv` rule for `path` could change `decideExec(path:)`'s answer, so the exec
    /// must be held for userspace to read the command line.
    public func execNeedsArgv(path: String) -> Bool {
        let path = LexicalPath.normalize(path)
        let withoutArgv = decideExec(path: path)
        let winner = withoutArgv.rule.flatMap { id in exec.first { $0.id == id } }
        return exec.contains { rule in
            guard rule.argv != nil, rule.matcher.matches(path) else { return false }
            guard let winner else { return rule.verdict != defaults.exec }
            return Self.beats((rule.verdict, rule.matcher.specificity, rule.id),
                              (winner.verdict, winner.matcher.specificity, winner.id))
                && rule.verdict != winner.verdict
        }
    }

    /// Decides a file operation. With several access kinds (an `O_RDWR` open is read and write),
    /// each kind is decided alone and the strongest verdict is returned.
    public func decideFile(path: String, access: FileAccess) -> Decision {
        let path = LexicalPath.normalize(path)
        var result: Decision?
        for kind in access.kinds {
            let candidates = file.filter { $0.access.contains(kind) && $0.matcher.matches(path) }
            var d = Self.pick(candidates.map { ($0.id, $0.verdict, $0.matcher.specificity) }, default: defaults.file)
            // A `unless: git` deny ranks below a plain deny of the same specificity (the kernel's
            // EG_SV_*): the plain one names the decision, as it is the one no git gets past.
            if let winner = candidates.first(where: { $0.id == d.rule }), winner.unlessGit {
                let plain = candidates.filter {
                    !$0.unlessGit && $0.verdict == .deny && $0.matcher.specificity.rank == winner.matcher.specificity.rank
                }
                if let first = plain.min(by: { $0.id < $1.id }) { d = Decision(.deny, first.id) }
            }
            if result == nil || d.verdict.strength > result!.verdict.strength { result = d }
        }
        return result ?? Decision(defaults.file, nil)
    }

    /// Decides a connect (or sendmsg) to `address`:`port` over `protocol`. IPv4-mapped IPv6
    /// addresses are already IPv4 (see `IPAddress`).
    public func decideConnect(address: IPAddress, port: UInt16, protocol transport: TransportProtocol) -> Decision {
        let candidates = network.compactMap { rule -> (RuleID, Verdict, PathSpecificity)? in
            guard let match = rule.address, match.matches(address, port: port, transport: transport) else { return nil }
            // Prefix length plays the role of subtree depth: longer is more specific.
            return (rule.id, rule.verdict, PathSpecificity(rank: match.network.prefixLength))
        }
        return Self.pick(candidates, default: defaults.network)
    }

    /// Decides a connect to the Unix socket bound at `path`, the name as the server bound it
    /// (the kernel does not normalize it: `PathMatcher.matchesSocketName`). Unmatched sockets
    /// (and abstract and relative names, which no rule names) get the network default.
    public func decideUnix(path: String) -> Decision {
        let candidates = network.compactMap { rule -> (RuleID, Verdict, PathSpecificity)? in
            guard let matcher = rule.unix, matcher.matchesSocketName(path) else { return nil }
            return (rule.id, rule.verdict, matcher.specificity)
        }
        return Self.pick(candidates, default: defaults.network)
    }

    /// Whether `a` takes precedence over `b`: more specific, then stronger, then earlier.
    static func beats(_ a: (Verdict, PathSpecificity, RuleID), _ b: (Verdict, PathSpecificity, RuleID)) -> Bool {
        if a.1 != b.1 { return a.1 > b.1 }
        if a.0 != b.0 { return a.0.strength > b.0.strength }
        return a.2 < b.2
    }

    static func pick(_ candidates: [(RuleID, Verdict, PathSpecificity)], default verdict: Verdict) -> Decision {
        var best: (RuleID, Verdict, PathSpecificity)?
        for c in candidates where best == nil || beats((c.1, c.2, c.0), (best!.1, best!.2, best!.0)) {
            best = c
        }
        guard let best else { return Decision(verdict, nil) }
        return Decision(best.1, best.0)
    }
}

extension CompiledPolicy {
    /// Whether the git directory at `directory` is guarded as `unless: git` rules guard a
    /// repository: writing or creating its `config` is decided by such a deny, so only a git
    /// ebguard vetted writes it.
    public func guardsGitMetadata(of directory: String) -> Bool {
        let config = LexicalPath.normalize(directory + "/config")
        return [FileAccess.write, .create].allSatisfy { kind in
            let decision = decideFile(path: config, access: kind)
            return decision.verdict == .deny
                && decision.rule.flatMap { id in file.first { $0.id == id } }?.unlessGit == true
        }
    }
}
