import Foundation
import Yams

extension Policy {
    /// The top-level keys of a version 1 policy.
    static let topLevelKeys = [
        "version", "name", "description", "mode", "defaults", "no_new_privs", "capabilities", "ask_timeout", "on_timeout",
        "exec", "file", "network",
    ]

    /// Longest `ask_timeout` accepted: a day. Longer would hold processes indefinitely in practice.
    public static let maxAskTimeout = 86_400

    /// Parses and validates a policy. `file` names the source in diagnostics.
    ///
    /// - Throws: `PolicyError` with every problem found, in file order; no partial policy.
    public static func parse(yaml: String, file: String) throws(PolicyError) -> Policy {
        let reader = YAMLReader(file: file)
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw PolicyError([syntaxDiagnostic(error, file: file)])
        }
        guard let root else {
            throw PolicyError([PolicyDiagnostic(SourceLocation(file: file, line: 1, column: 1),
                                                "empty policy (expected a mapping with 'version' and 'name')")])
        }
        let policy = PolicyParser(reader: reader).policy(root)
        guard let policy, reader.diagnostics.isEmpty else {
            // Stable sort: problems at the same place keep the order they were found in.
            let sorted = reader.diagnostics.enumerated()
                .sorted { ($0.element.location, $0.offset) < ($1.element.location, $1.offset) }
                .map(\.element)
            throw PolicyError(sorted)
        }
        return policy
    }

    /// Reads and parses the policy at `path`; diagnostics name the file as `path` is spelled.
    public static func load(path: String) throws(PolicyError) -> Policy {
        let whole = SourceLocation(file: path, line: 0, column: 0)
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot read file" : "no such file"
            throw PolicyError([PolicyDiagnostic(whole, reason)])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw PolicyError([PolicyDiagnostic(whole, "not valid UTF-8")])
        }
        return try parse(yaml: text, file: path)
    }

    /// Turns a Yams/libyaml error into `file:line:column: YAML syntax error: ...`.
    static func syntaxDiagnostic(_ error: any Error, file: String) -> PolicyDiagnostic {
        func located(_ context: YamlError.Context?, _ problem: String, _ mark: Mark) -> PolicyDiagnostic {
            var message = "YAML syntax error: \(problem)"
            if let context {
                message += " (\(context.text) at \(context.mark.line):\(context.mark.column))"
            }
            return PolicyDiagnostic(SourceLocation(file: file, line: mark.line, column: mark.column), message)
        }
        switch error as? YamlError {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            return located(context, problem, mark)
        case .reader(let problem, _, _, _):
            return PolicyDiagnostic(SourceLocation(file: file, line: 1, column: 1), "YAML syntax error: \(problem)")
        default:
            return PolicyDiagnostic(SourceLocation(file: file, line: 1, column: 1), "YAML error: \(error)")
        }
    }
}

/// Walks the composed YAML tree of one policy.
struct PolicyParser {
    let reader: YAMLReader

    func policy(_ root: Node) -> Policy? {
        guard case .mapping(let mapping) = root else {
            reader.error(root, "a policy must be a mapping of keys, found \(reader.describe(root))")
            return nil
        }
        let f = reader.fields(of: mapping, allowed: Policy.topLevelKeys, in: "policy")
        // Every problem is recorded in `reader`; the caller discards this value if there is any.
        var policy = Policy(name: "")

        if let node = f["version"] {
            if let v = reader.integer(node, "version") {
                if v != 1 {
                    reader.error(node, "unsupported policy version \(v) (this ebguard reads version 1)")
                }
            }
        } else {
            reader.error(root, "missing required key 'version' (add 'version: 1')")
        }

        if let node = f["name"] {
            if let name = reader.string(node, "name"), let valid = validName(name, node) {
                policy.name = valid
            }
        } else {
            reader.error(root, "missing required key 'name'")
        }

        if let node = f["description"], !reader.isNull(node) {
            policy.description = reader.string(node, "description")
        }
        if let node = f["mode"], let text = reader.choice(node, "mode", PolicyMode.allCases.map(\.rawValue)) {
            policy.mode = PolicyMode(rawValue: text)!
        }
        if let node = f["defaults"] {
            policy.defaults = defaults(node)
        }
        if let node = f["no_new_privs"] {
            policy.noNewPrivs = reader.boolean(node, "no_new_privs") ?? true
        }
        if let node = f["capabilities"], let kept = capabilities(node) {
            policy.capabilities = kept
        }
        if let node = f["ask_timeout"], let seconds = reader.integer(node, "ask_timeout") {
            if (1...Policy.maxAskTimeout).contains(seconds) {
                policy.askTimeout = seconds
            } else {
                reader.error(node, "'ask_timeout' must be between 1 and \(Policy.maxAskTimeout) seconds, found \(seconds)")
            }
        }
        if let node = f["on_timeout"], let text = reader.choice(node, "on_timeout", ["deny", "allow"]) {
            policy.onTimeout = TimeoutVerdict(rawValue: text)!
        }

        let rules = RuleParser(reader: reader)
        if let node = f["exec"], let items = reader.list(node, "exec", nullIsEmpty: true) {
            policy.exec = items.enumerated().compactMap { rules.exec($1, index: $0) }
        }
        if let node = f["file"], let items = reader.list(node, "file", nullIsEmpty: true) {
            policy.file = items.enumerated().compactMap { rules.file($1, index: $0) }
        }
        if let node = f["network"], let items = reader.list(node, "network", nullIsEmpty: true) {
            policy.network = items.enumerated().compactMap { rules.network($1, index: $0) }
        }
        return policy
    }

    private func validName(_ name: String, _ node: Node) -> String? {
        if name.isEmpty {
            reader.error(node, "'name' must not be empty")
            return nil
        }
        if name.count > 64 {
            reader.error(node, "'name' is longer than 64 characters")
            return nil
        }
        if let bad = name.first(where: { !($0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0))) }) {
            reader.error(node, "invalid character '\(bad)' in name '\(name)' (use A-Z, a-z, 0-9, '.', '_' and '-')")
            return nil
        }
        return name
    }

    private func defaults(_ node: Node) -> PolicyDefaults {
        var defaults = PolicyDefaults()
        if reader.isNull(node) { return defaults }
        guard case .mapping(let mapping) = node else {
            reader.error(node, "'defaults' must be a mapping of domain to verdict, found \(reader.describe(node))")
            return defaults
        }
        let f = reader.fields(of: mapping, allowed: ["exec", "file", "network"], in: "defaults")
        if let n = f["exec"], let v = reader.verdict(n, "defaults.exec") { defaults.exec = v }
        if let n = f["file"], let v = reader.verdict(n, "defaults.file") { defaults.file = v }
        if let n = f["network"], let v = reader.verdict(n, "defaults.network") { defaults.network = v }
        return defaults
    }
}
