/// Warnings about rules that are legal but probably not what the author meant.
extension CompiledPolicy {
    /// Rules that can never decide (another rule with the same matcher wins for all or some of
    /// their kinds), and basename rules that a more specific rule overrides with a weaker
    /// verdict somewhere (`deny name: .env` under `allow ${workspace}/**`). In rule order.
    public func warnings() -> [PolicyWarning] {
        var out: [PolicyWarning] = []
        for rule in exec {
            let rivals = exec.filter { $0.id != rule.id && $0.matcher == rule.matcher && $0.argv == rule.argv }
                .map { Rival(id: $0.id, verdict: $0.verdict, kinds: .all) }
            out += shadowWarnings(rule.id, rule.location, rule.verdict, rule.matcher.description, .all, rivals,
                                  what: "the same program")
            out += basenameWarnings(rule.id, rule.location, rule.verdict, rule.matcher, .all,
                                    exec.filter { $0.argv == nil }.map { ($0.id, $0.verdict, $0.matcher, FileAccess.all) })
        }
        for rule in file {
            let rivals = file.filter { $0.id != rule.id && $0.matcher == rule.matcher }
                .map { Rival(id: $0.id, verdict: $0.verdict, kinds: $0.access) }
            out += shadowWarnings(rule.id, rule.location, rule.verdict, rule.matcher.description, rule.access, rivals,
                                  what: "the same path")
            out += basenameWarnings(rule.id, rule.location, rule.verdict, rule.matcher, rule.access,
                                    file.map { ($0.id, $0.verdict, $0.matcher, $0.access) })
        }
        for rule in network {
            let rivals = network.filter {
                $0.id != rule.id && $0.address == rule.address && $0.host == rule.host && $0.unix == rule.unix
            }.map { Rival(id: $0.id, verdict: $0.verdict, kinds: .all) }
            let shown = rule.address.map { "\($0.network)" } ?? rule.host.map { "\($0.pattern)" } ?? rule.unix?.description ?? ""
            let what = rule.address != nil ? "the same addresses, ports and protocol"
                : rule.host != nil ? "the same names, ports and protocol" : "the same socket"
            out += shadowWarnings(rule.id, rule.location, rule.verdict, shown, .all, rivals, what: what)
        }
        return out
    }

    private struct Rival {
        var id: RuleID
        var verdict: Verdict
        var kinds: FileAccess
    }

    /// Same matcher, so the same specificity: the stronger verdict, then the earlier rule, wins.
    private func shadowWarnings(_ id: RuleID, _ location: SourceLocation, _ verdict: Verdict, _ shown: String,
                                _ kinds: FileAccess, _ rivals: [Rival], what: String) -> [PolicyWarning] {
        var lost: FileAccess = []
        var winner: Rival?
        for rival in rivals {
            let wins = rival.verdict.strength > verdict.strength || (rival.verdict == verdict && rival.id < id)
            let overlap = rival.kinds.intersection(kinds)
            guard wins, !overlap.isEmpty else { continue }
            lost.formUnion(overlap)
            if winner == nil || rival.verdict.strength > winner!.verdict.strength { winner = rival }
        }
        guard let winner else { return [] }
        let scope = lost == kinds ? "" : " for " + lost.names.joined(separator: ", ")
        let reason = winner.verdict == verdict
            ? "it repeats \(winner.id)"
            : "\(winner.id) has \(what) and the stronger verdict \(winner.verdict.rawValue)"
        let message = "\(id) (\(verdict.rawValue) \(shown)) never decides\(scope): \(reason)"
        return [PolicyWarning(location: location, rule: id, message: message)]
    }

    /// A basename rule loses to every path rule that covers the same file; warn where that path
    /// rule is weaker, since the author of `deny name: .env` rarely means "except in the workspace".
    private func basenameWarnings(_ id: RuleID, _ location: SourceLocation, _ verdict: Verdict, _ matcher: PathMatcher,
                                  _ kinds: FileAccess,
                                  _ others: [(RuleID, Verdict, PathMatcher, FileAccess)]) -> [PolicyWarning] {
        guard case .basename(let name) = matcher else { return [] }
        var out: [PolicyWarning] = []
        for (otherID, otherVerdict, otherMatcher, otherKinds) in others where otherVerdict.strength < verdict.strength {
            let overlap = otherKinds.intersection(kinds)
            guard !overlap.isEmpty else { continue }
            switch otherMatcher {
            case .basename:
                continue
            case .exact(let path):
                guard LexicalPath.split(path).last == name else { continue }
            case .subtree:
                break
            case .glob(let glob):
                // A pattern outranks the name only where its last component can be that name.
                guard glob.rank > 0, let last = glob.tokens.last,
                      last == .any || last.accepts(ArraySlice(name.utf8)) else { continue }
            }
            let scope = overlap == kinds ? "" : " for " + overlap.names.joined(separator: ", ")
            let message = "\(id) (\(verdict.rawValue) name \(name)) does not apply under \(otherMatcher)\(scope): "
                + "\(otherID) is more specific and says \(otherVerdict.rawValue)"
            out.append(PolicyWarning(location: location, rule: id, message: message))
        }
        return out
    }
}
