/// `ebguard policy show --explain PATH`: which rule decides a path, and why.
extension CompiledPolicy {
    /// The precedence between path rules, as the kernel applies it (bpf/lib/path_match.h).
    public static let pathPrecedence = """
        precedence: the matching rule with the most literal bytes before its first wildcard wins \
        (exact path 511; /dir/** the bytes of "/dir/"; a pattern the bytes before its first '*'; \
        name: 0); on a tie deny > ask > audit > allow, then the earlier rule
        """

    /// One matching rule, with what ranks it.
    public struct PathCandidate: Sendable, Hashable {
        public var id: RuleID
        public var location: SourceLocation
        public var verdict: Verdict
        public var matcher: PathMatcher
        /// A `unless: git` deny: below a plain deny of the same rank (`decideFile`).
        public var unlessGit = false
        public var rank: Int { matcher.specificity.rank }
    }

    /// The rules of `domain` (exec or file, for file the access `kind`) that match `path`,
    /// winner first. Exec rules with `argv` are left out: they are decided once the exec is held.
    public func pathCandidates(path: String, exec: Bool, kind: FileAccess = .read) -> [PathCandidate] {
        let path = LexicalPath.normalize(path)
        let rules: [PathCandidate] = exec
            ? self.exec.filter { $0.argv == nil && $0.matcher.matches(path) }
                .map { PathCandidate(id: $0.id, location: $0.location, verdict: $0.verdict, matcher: $0.matcher) }
            : file.filter { $0.access.contains(kind) && $0.matcher.matches(path) }
                .map { PathCandidate(id: $0.id, location: $0.location, verdict: $0.verdict, matcher: $0.matcher,
                                     unlessGit: $0.unlessGit) }
        return rules.sorted {
            if $0.verdict == $1.verdict, $0.rank == $1.rank, $0.unlessGit != $1.unlessGit { return !$0.unlessGit }
            return Self.beats(($0.verdict, $0.matcher.specificity, $0.id), ($1.verdict, $1.matcher.specificity, $1.id))
        }
    }

    /// The `unix:` rules that match a socket bound at `name`, winner first.
    public func unixCandidates(name: String) -> [PathCandidate] {
        network.compactMap { rule in
            guard let matcher = rule.unix, matcher.matchesSocketName(name) else { return nil }
            return PathCandidate(id: rule.id, location: rule.location, verdict: rule.verdict, matcher: matcher)
        }.sorted {
            Self.beats(($0.verdict, $0.matcher.specificity, $0.id), ($1.verdict, $1.matcher.specificity, $1.id))
        }
    }

    /// Lines saying, for exec, for each file access kind and for a Unix socket bound there
    /// (connect or send), the rule that decides `path` and
    /// the others that match it, in precedence order; then the precedence itself.
    public func explain(path: String) -> [String] {
        let normalized = LexicalPath.normalize(path)
        var lines = [normalized]
        func describe(_ title: String, _ decision: Decision, _ candidates: [PathCandidate], _ dflt: Verdict) {
            guard let winner = candidates.first, decision.rule == winner.id else {
                lines.append("  \(title): \(decision.verdict.rawValue) by default (no rule matches)")
                return
            }
            lines.append("  \(title): \(decision.verdict.rawValue) by \(Self.line(winner))")
            for other in candidates.dropFirst() {
                let why = other.rank < winner.rank ? "less specific"
                    : other.verdict.strength < winner.verdict.strength ? "same rank, weaker verdict" : "same rank and verdict, later rule"
                lines.append("    over \(Self.line(other)): \(why)")
            }
        }
        describe("exec", decideExec(path: normalized), pathCandidates(path: normalized, exec: true), defaults.exec)
        if exec.contains(where: { $0.argv != nil && $0.matcher.matches(normalized) }) {
            lines.append("    (argv rules match this program too: the exec is held and its command line decides)")
        }
        for (name, kind) in FileAccess.named {
            let decision = decideFile(path: normalized, access: kind)
            describe("file \(name)", decision, pathCandidates(path: normalized, exec: false, kind: kind), defaults.file)
            if let rule = decision.rule, file.contains(where: { $0.id == rule && $0.unlessGit }) {
                lines.append("    (unless: git: a git ebguard vetted at exec may, audited)")
            }
        }
        describe("unix connect", decideUnix(path: normalized), unixCandidates(name: normalized), defaults.network)
        lines.append(Self.pathPrecedence)
        return lines
    }

    private static func line(_ c: PathCandidate) -> String {
        "\(c.id) \(c.verdict.rawValue) \(c.matcher.kind) \(c.matcher) (rank \(c.rank), \(c.location))"
    }
}
