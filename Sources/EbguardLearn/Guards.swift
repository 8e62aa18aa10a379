import EbguardPolicy

/// The places a suggestion never opens: the base policy's (agent.yaml's) own `deny` and `ask`
/// rules for credentials and persistence spots, read from the policy rather than copied here.
///
/// Every deny or ask rule of the base counts, except the catch-alls that only say "the rest":
/// a path rule for `/**` (agent.yaml's "writes nowhere else"), `host: "*"`, a `0/0` cidr.
/// An access is withheld when the base decides it deny or ask by one of those rules.
public struct Guards: Sendable {
    public struct Guard: Sendable, Hashable {
        public var id: RuleID
        public var location: SourceLocation
        public var verdict: Verdict
        public var matcher: PathMatcher?
        public var access: FileAccess
        public var argv: [String]?
        /// The rule's target as its policy spells it (`~/.ssh/**`, `name .env`).
        public var text: String
        /// A `unless: git` file rule: its fences keep the exception.
        public var unlessGit = false
    }

    public let base: CompiledPolicy
    public let baseName: String
    public private(set) var guards: [RuleID: Guard] = [:]
    /// The file guards, for the quick check in `withheld`.
    private var fileGuards: [Guard] = []

    public init(base policy: Policy, context: PolicyContext) {
        base = policy.compile(in: context)
        baseName = policy.name
        for rule in policy.exec where rule.verdict == .deny || rule.verdict == .ask {
            let matcher = rule.target.matcher(in: context)
            guard !Self.isCatchAll(matcher) else { continue }
            guards[rule.id] = Guard(id: rule.id, location: rule.location, verdict: rule.verdict, matcher: matcher,
                                    access: .all, argv: rule.argv?.tokens, text: rule.target.description)
        }
        for rule in policy.file where rule.verdict == .deny || rule.verdict == .ask {
            let matcher = rule.target.matcher(in: context)
            guard !Self.isCatchAll(matcher) else { continue }
            guards[rule.id] = Guard(id: rule.id, location: rule.location, verdict: rule.verdict, matcher: matcher,
                                    access: rule.access, text: rule.target.description, unlessGit: rule.unlessGit)
        }
        fileGuards = guards.values.filter { $0.id.domain == .file }.sorted { $0.id < $1.id }
        for rule in policy.network where rule.verdict == .deny || rule.verdict == .ask {
            let text: String
            var matcher: PathMatcher?
            switch rule.target {
            case .cidr(let net, _, _):
                guard net.prefixLength > 0 else { continue }
                text = "cidr \(net)"
            case .host(let pattern, _, _):
                guard pattern != .any else { continue }
                text = "host \(pattern)"
            case .unix(let pattern):
                matcher = pattern.matcher(in: context)
                guard !Self.isCatchAll(matcher!) else { continue }
                text = "unix \(pattern)"
            }
            guards[rule.id] = Guard(id: rule.id, location: rule.location, verdict: rule.verdict, matcher: matcher,
                                    access: .all, text: text)
        }
    }

    static func isCatchAll(_ matcher: PathMatcher) -> Bool {
        if case .subtree(let dir) = matcher { return dir == "/" }
        return false
    }

    /// Why `target` (with these file access kinds) is never suggested, or nil.
    public func withheld(_ target: Observation.Target) -> String? {
        // Only a guard can withhold: a path no guard matches needs no full decision (most
        // paths of a build; the evaluator's every-rule scan is what a 100,000-event trail pays).
        if case .file(let path, let access) = target,
           !fileGuards.contains(where: { !$0.access.intersection(access).isEmpty && $0.matcher!.matches(path) }) {
            return nil
        }
        let decisions: [Decision]
        switch target {
        case .exec(let path, let argv): decisions = [base.decideExec(path: path, argv: argv)]
        case .file(let path, let access): decisions = [base.decideFile(path: path, access: access)]
        case .unix(let path): decisions = [base.decideUnix(path: path)]
        case .lookup(let name): let h = base.decideHost(name: name); decisions = [Decision(h.verdict, h.rule)]
        case .connect(let address, let port, let transport, let host):
            var list = [base.decideConnect(address: address, port: port, protocol: transport)]
            if let host { let h = base.decideHost(name: host); list.append(Decision(h.verdict, h.rule)) }
            decisions = list
        }
        for d in decisions where d.verdict == .deny || d.verdict == .ask {
            guard let id = d.rule, let g = guards[id] else { continue }
            let file = g.location.file.split(separator: "/").last.map(String.init) ?? g.location.file
            return "\(file):\(g.location.line) says \(g.verdict.rawValue) (\(g.text)): credentials or a place where a write plants code"
        }
        return nil
    }

    /// Rules that keep the guarded places closed inside the widened rules among `rules`: for a
    /// `D/**` allow, each guard that can match under D, rebased into D so that it is at least
    /// as specific (then deny or ask wins the tie, docs/policy.md).
    public func fences(for rules: [SuggestedRule], anchoring: Anchoring) -> [SuggestedRule] {
        var out: [SuggestedRule] = []
        var seen: [String: Int] = [:]
        for rule in rules where rule.verdict == .allow && rule.withheld == nil {
            guard let path = rule.path else { continue }
            let ruleAccess: FileAccess
            switch rule.target {
            case .file(_, let a): ruleAccess = a
            case .exec: ruleAccess = .all
            default: continue
            }
            let components = anchoring.absoluteComponents(path)
            let isWidened = path.contains("*")
            for g in guards.values.sorted(by: { $0.id < $1.id }) where g.id.domain == rule.domain {
                let access = g.access.intersection(ruleAccess)
                guard !access.isEmpty, let matcher = g.matcher else { continue }
                let rebased: [String]
                if g.argv != nil {
                    // An argv rule names one program (exact path or name): it is fenced at the
                    // allowed program's own path, or at DIR/NAME under a widened DIR/**.
                    if !isWidened {
                        guard matcher.matches("/" + components.joined(separator: "/")) else { continue }
                        rebased = components
                    } else {
                        guard components.last == "**", case .basename(let name) = matcher else { continue }
                        rebased = Array(components.dropLast()) + [name]
                    }
                } else {
                    // An exact allow is the path seen, already checked against the guards. A
                    // pattern is fenced as its literal head's whole tree, a superset of it.
                    let head = components.prefix { !$0.contains("*") }
                    guard isWidened, let r = Self.rebase(matcher, into: Array(head) + ["**"]) else { continue }
                    rebased = r
                }
                let text = anchoring.textOfComponents(rebased)
                let target: SuggestedRule.Target = rule.domain == .exec
                    ? .exec(path: text, argv: g.argv) : .file(path: text, access: access)
                let key = "\(g.verdict) \(g.unlessGit) \(text) \(g.argv ?? [])"
                if let i = seen[key] {
                    if case .file(let p, let a) = out[i].target { out[i].target = .file(path: p, access: a.union(access)) }
                    continue
                }
                let file = g.location.file.split(separator: "/").last.map(String.init) ?? g.location.file
                seen[key] = out.count
                var fence = SuggestedRule(verdict: g.verdict, target: target,
                                          note: "from \(file):\(g.location.line) (\(g.text)\(g.argv.map { " " + $0.joined(separator: " ") } ?? "")), so that \(path) does not open it")
                fence.unlessGit = g.unlessGit
                out.append(fence)
            }
        }
        return out
    }

    /// `matcher` restricted to what lies under `widened` (absolute components ending in `**`),
    /// as components with a literal head at least as long as the widened rule's; nil when the
    /// two cannot both match a path.
    static func rebase(_ matcher: PathMatcher, into widened: [String]) -> [String]? {
        let prefix = Array(widened.dropLast())
        let guardTokens: [String]
        switch matcher {
        case .basename(let name): return prefix + ["**", name]
        case .glob(let glob) where glob.isName: return prefix + ["**", glob.tokens.last!.description]
        case .glob(let glob): guardTokens = glob.tokens.map(\.description)
        case .exact(let p): guardTokens = Anchoring.components(p)
        case .subtree(let d): guardTokens = Anchoring.components(d) + ["**"]
        }
        var result: [String] = []
        for (i, w) in prefix.enumerated() {
            guard i < guardTokens.count else { return nil }  // the guard names an ancestor of D
            let g = guardTokens[i]
            if g == "**" { return result + Array(prefix[i...]) + ["**"] + guardTokens[(i + 1)...] }
            guard let both = Self.meet(g, w) else { return nil }
            result.append(both)
        }
        return result + guardTokens[prefix.count...]
    }

    /// The more specific of two components that can name the same one, or nil.
    static func meet(_ a: String, _ b: String) -> String? {
        let aStar = a.contains("*"), bStar = b.contains("*")
        switch (aStar, bStar) {
        case (false, false): return a == b ? a : nil
        case (true, false): return starMatches(a, b) ? b : nil
        case (false, true): return starMatches(b, a) ? a : nil
        case (true, true): return a.count >= b.count ? a : b  // both patterns: keep the guard's longer one
        }
    }

    static func starMatches(_ pattern: String, _ component: String) -> Bool {
        let parts = pattern.split(separator: "*", maxSplits: 1, omittingEmptySubsequences: false)
        let p = parts[0], s = parts.count > 1 ? parts[1] : ""
        return component.utf8.count >= p.utf8.count + s.utf8.count && component.hasPrefix(p) && component.hasSuffix(s)
    }
}

extension Anchoring {
    /// Policy text for absolute components that may hold pattern components.
    func textOfComponents(_ comps: [String]) -> String {
        for (anchor, base) in [(Anchor.workspace, context.workspace), (.home, context.home)] where base != "/" {
            let b = Self.components(base)
            if comps.count >= b.count, Array(comps.prefix(b.count)) == b { return text(anchor, Array(comps.dropFirst(b.count))) }
        }
        return text(.root, comps)
    }
}
