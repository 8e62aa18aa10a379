import EbguardPolicy
import Foundation

/// `ebguard policy review`: the suggestions one at a time, in the manner of `aa-logprof`.
///
/// A pure state machine over lines of input, so that the terminal loop is a thin shell and
/// every transition is unit-tested:
/// `a` allow, `d` deny, `w` widen to the parent directory, `p` then a pattern (or `p PATTERN`),
/// `s` skip, `f` finish (the rest as suggested: withheld ones stay out), `q` quit without
/// writing. Allowing a withheld rule (credentials, persistence) takes a second `y`.
public struct Review: Sendable {
    public enum State: Sendable, Hashable {
        case choosing
        case awaitingPattern
        case confirmingWithheld
        case finished
        case abandoned
    }

    public private(set) var items: [SuggestedRule]
    public private(set) var index = 0
    public private(set) var state: State = .choosing
    /// The rules chosen so far.
    public private(set) var chosen: [SuggestedRule] = []
    let anchoring: Anchoring

    public init(_ suggestion: Suggestion, anchoring: Anchoring) {
        items = suggestion.rules
        self.anchoring = anchoring
        if items.isEmpty { state = .finished }
    }

    public var current: SuggestedRule? { index < items.count ? items[index] : nil }
    public var isDone: Bool { state == .finished || state == .abandoned }

    /// What to show for the current item and the choices.
    public func prompt() -> String {
        switch state {
        case .finished: return "done: \(chosen.count) rules"
        case .abandoned: return "quit: nothing written"
        case .awaitingPattern: return "pattern (a path, ~/..., ${workspace}/...; '*' within a component, '**' for components): "
        case .confirmingWithheld: return "this is withheld for a reason; allow it anyway? [y/N] "
        case .choosing:
            guard let rule = current else { return "" }
            var text = "[\(index + 1)/\(items.count)] \(rule.domain.rawValue): \(rule.yaml)\n  \(rule.usage)\n"
            if let why = rule.withheld { text += "  WITHHELD: \(YAMLText.comment(why))\n" }
            let widen = rule.path != nil ? "(w)iden, (p)attern, " : ""
            return text + "(a)llow, (d)eny, \(widen)(s)kip, (f)inish, (q)uit: "
        }
    }

    /// Takes one line of input; returns a message for the user when it was not understood or
    /// not possible (the state is then unchanged).
    @discardableResult
    public mutating func handle(_ line: String) -> String? {
        let input = line.trimmingCharacters(in: CharacterSet(charactersIn: " \t\r\n"))
        switch state {
        case .finished, .abandoned:
            return "the review is over"
        case .awaitingPattern:
            state = .choosing
            return input.isEmpty ? nil : replacePath(with: input)
        case .confirmingWithheld:
            state = .choosing
            if input.lowercased() == "y" || input.lowercased() == "yes" { take(.allow) }
            return nil
        case .choosing:
            break
        }
        guard let rule = current else { state = .finished; return nil }
        let command = input.prefix { $0 != " " }.lowercased()
        let argument = input.dropFirst(command.count).trimmingCharacters(in: CharacterSet(charactersIn: " \t"))
        switch command {
        case "a", "allow":
            if rule.withheld != nil { state = .confirmingWithheld } else { take(.allow) }
        case "d", "deny": take(.deny)
        case "s", "skip": advance()
        case "w", "widen":
            guard let path = rule.path else { return "only path rules can be widened" }
            guard let parent = Self.parent(of: path) else { return "\(path) cannot be widened further" }
            items[index] = rule.with(path: parent)
        case "p", "pattern":
            guard rule.path != nil else { return "only path rules take a pattern" }
            if argument.isEmpty { state = .awaitingPattern } else { return replacePath(with: argument) }
        case "f", "finish":
            while let rest = current {
                if rest.withheld == nil { chosen.append(rest) }
                index += 1
            }
            state = .finished
        case "q", "quit": state = .abandoned
        default:
            return "unknown answer '\(YAMLText.comment(input))': a, d, w, p, s, f or q"
        }
        return nil
    }

    mutating func take(_ verdict: Verdict) {
        guard var rule = current else { return }
        rule.verdict = verdict
        rule.withheld = nil
        chosen.append(rule)
        advance()
    }

    mutating func advance() {
        index += 1
        if index >= items.count { state = .finished }
    }

    mutating func replacePath(with text: String) -> String? {
        guard let rule = current else { return nil }
        do {
            if case .unix = rule.target { _ = try PathPattern(parsingUnix: text) } else { _ = try PathPattern(parsing: text) }
        } catch {
            return "not a policy path: \(error.message)"
        }
        items[index] = rule.with(path: text)
        return nil
    }

    /// `/a/b/c` -> `/a/b/**`, `/a/b/**` -> `/a/**`; nil at an anchor (`/**`, `~/**`,
    /// `${workspace}/**`): going above it would leave the home or the workspace.
    public static func parent(of path: String) -> String? {
        var comps = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        let anchored = comps.first == "~" || comps.first == "${workspace}"
        if comps.last == "**" { comps.removeLast() }
        guard !comps.isEmpty, !(anchored && comps.count == 1) else { return nil }
        comps.removeLast()
        let text = (anchored ? "" : "/") + comps.joined(separator: "/")
        return (text == "/" ? "" : text) + "/**"
    }

    /// The reviewed policy: the chosen rules, and the guards that fall under widened ones.
    public func result(name: String, session: String, guards: Guards) -> Suggestion {
        var rules = chosen
        rules += guards.fences(for: chosen, anchoring: anchoring)
        return Suggestion(name: name, session: session, rules: rules, notes: ["reviewed with `ebguard policy review`"])
    }
}
