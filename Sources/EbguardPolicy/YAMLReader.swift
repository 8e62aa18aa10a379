import Yams

/// Reads Yams nodes into typed values, recording a located diagnostic for every problem instead
/// of stopping at the first, so a policy author sees all of them at once.
final class YAMLReader {
    let file: String
    private(set) var diagnostics: [PolicyDiagnostic] = []

    init(file: String) {
        self.file = file
    }

    func location(_ node: Node) -> SourceLocation {
        let mark = node.mark
        return SourceLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
    }

    func error(_ node: Node, _ message: String) {
        diagnostics.append(PolicyDiagnostic(location(node), message))
    }

    func error(_ location: SourceLocation, _ message: String) {
        diagnostics.append(PolicyDiagnostic(location, message))
    }

    /// The keys of a mapping that passed every check, with their key and value nodes.
    struct Fields {
        var entries: [String: (key: Node, value: Node)] = [:]

        subscript(_ key: String) -> Node? { entries[key]?.value }
        func keyNode(_ key: String) -> Node? { entries[key]?.key }
        func has(_ key: String) -> Bool { entries[key] != nil }
    }

    /// Checks a mapping's keys: strings only, no duplicates, only `allowed` ones. `special` maps
    /// keys that deserve a specific message (reserved or misplaced) to that message.
    func fields(of mapping: Node.Mapping, allowed: [String], in context: String,
                special: [String: String] = [:]) -> Fields {
        var fields = Fields()
        var seen: [String: Node] = [:]
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key else {
                error(key, "keys must be plain strings, found \(describe(key)) in \(context)")
                continue
            }
            let name = scalar.string
            if let first = seen[name] {
                let at = location(first)
                error(key, "duplicate key '\(name)' in \(context) (first given at \(at.line):\(at.column))")
                continue
            }
            seen[name] = key
            if let message = special[name] {
                error(key, message)
            } else if !allowed.contains(name) {
                error(key, "unknown key '\(name)' in \(context)" + Suggestions.hint(for: name, in: allowed))
            } else {
                fields.entries[name] = (key, value)
            }
        }
        return fields
    }

    /// `a mapping`, `a list`, or the scalar's text in quotes, for "found ..." messages.
    func describe(_ node: Node) -> String {
        switch node {
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .scalar(let s): "'\(s.string)'"
        }
    }

    func isNull(_ node: Node) -> Bool {
        guard case .scalar(let s) = node, s.style == .plain else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(s.string)
    }

    /// A scalar's text, whatever YAML would resolve it to (`path: ~` stays `~`).
    func string(_ node: Node, _ what: String) -> String? {
        guard case .scalar(let s) = node else {
            error(node, "'\(what)' must be a string, found \(describe(node))")
            return nil
        }
        return s.string
    }

    /// A decimal integer scalar.
    func integer(_ node: Node, _ what: String) -> Int? {
        guard case .scalar(let s) = node else {
            error(node, "'\(what)' must be a number, found \(describe(node))")
            return nil
        }
        let text = s.string
        guard !text.isEmpty, text.count <= 9, text.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(text) else {
            error(node, "'\(what)' must be a whole number, found '\(text)'")
            return nil
        }
        return n
    }

    /// `true` or `false`, nothing else (YAML 1.1's yes/no/on/off are too easy to misread).
    func boolean(_ node: Node, _ what: String) -> Bool? {
        if case .scalar(let s) = node {
            switch s.string {
            case "true": return true
            case "false": return false
            default: break
            }
        }
        error(node, "'\(what)' must be true or false, found \(describe(node))")
        return nil
    }

    /// One of `choices`, with a spelling hint.
    func choice(_ node: Node, _ what: String, _ choices: [String]) -> String? {
        guard let text = string(node, what) else { return nil }
        if choices.contains(text) { return text }
        let expected = choices.count == 1 ? choices[0] : choices.dropLast().joined(separator: ", ") + " or " + choices.last!
        let hint = Suggestions.closest(to: text, in: choices).map { "; did you mean '\($0)'?" } ?? ""
        error(node, "invalid value '\(text)' for '\(what)' (expected \(expected)\(hint))")
        return nil
    }

    func verdict(_ node: Node, _ what: String) -> Verdict? {
        choice(node, what, ["allow", "deny", "audit", "ask"]).flatMap(Verdict.init(rawValue:))
    }

    /// A sequence's items; an explicit null reads as an empty list when `nullIsEmpty`.
    func list(_ node: Node, _ what: String, nullIsEmpty: Bool = false) -> [Node]? {
        if case .sequence(let seq) = node { return Array(seq) }
        if nullIsEmpty && isNull(node) { return [] }
        error(node, "'\(what)' must be a list, found \(describe(node))")
        return nil
    }

    /// A list of strings (each item a scalar).
    func stringList(_ node: Node, _ what: String) -> [(String, Node)]? {
        guard let items = list(node, what) else { return nil }
        var out: [(String, Node)] = []
        var ok = true
        for item in items {
            guard case .scalar(let s) = item else {
                error(item, "items of '\(what)' must be strings, found \(describe(item))")
                ok = false
                continue
            }
            out.append((s.string, item))
        }
        return ok ? out : nil
    }
}
