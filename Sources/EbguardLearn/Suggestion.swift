import EbguardPolicy

/// One rule of a suggested policy, with what it is based on.
public struct SuggestedRule: Sendable, Hashable {
    public enum Target: Sendable, Hashable {
        /// A program (a path as a policy writes it: `/usr/bin/cc`, `/usr/lib/gcc/**`), with argv
        /// for the guards copied from exec rules that have one.
        case exec(path: String, argv: [String]? = nil)
        case file(path: String, access: FileAccess)
        case unix(path: String)
        case host(name: String, ports: [UInt16], protocol: String)
        case cidr(network: String, ports: [UInt16], protocol: String)
    }

    public var verdict: Verdict
    public var target: Target
    /// How many operations it stands for, and by which programs (name -> count).
    public var uses: UInt64
    public var programs: [String: UInt64]
    /// Distinct objects (paths, destinations) it covers.
    public var objects: Int
    /// Set when the rule is written commented out: why it is not suggested.
    public var withheld: String?
    /// Set for the rules a suggestion adds that were not seen: where they come from.
    public var note: String?
    /// A fence copied from a `unless: git` rule of the base keeps its exception.
    public var unlessGit = false

    public init(verdict: Verdict = .allow, target: Target, uses: UInt64 = 0, programs: [String: UInt64] = [:],
                objects: Int = 1, withheld: String? = nil, note: String? = nil) {
        self.verdict = verdict
        self.target = target
        self.uses = uses
        self.programs = programs
        self.objects = objects
        self.withheld = withheld
        self.note = note
    }

    public var domain: PolicyDomain {
        switch target {
        case .exec: .exec
        case .file: .file
        case .unix, .host, .cidr: .network
        }
    }

    /// The path of a path rule (`exec`, `file`, `unix`), nil for the others.
    public var path: String? {
        switch target {
        case .exec(let p, _), .file(let p, _), .unix(let p): p
        case .host, .cidr: nil
        }
    }

    /// The same rule for another path (what `review` widens).
    public func with(path: String) -> SuggestedRule {
        var copy = self
        switch target {
        case .exec(_, let argv): copy.target = .exec(path: path, argv: argv)
        case .file(_, let access): copy.target = .file(path: path, access: access)
        case .unix: copy.target = .unix(path: path)
        case .host, .cidr: break
        }
        return copy
    }

    /// `{ action: allow, path: "/usr/lib/**", access: [read] }`: a line of a policy file.
    public var yaml: String {
        var fields = ["action: " + verdict.rawValue]
        switch target {
        case .exec(let path, let argv):
            fields.append("path: " + YAMLText.quoted(path))
            if let argv { fields.append("argv: [" + argv.map(YAMLText.quoted).joined(separator: ", ") + "]") }
        case .file(let path, let access):
            fields.append("path: " + YAMLText.quoted(path))
            if access != .all { fields.append("access: [" + access.names.joined(separator: ", ") + "]") }
            if unlessGit { fields.append("unless: git") }
        case .unix(let path):
            fields.append("unix: " + YAMLText.quoted(path))
        case .host(let name, let ports, let proto):
            fields.append("host: " + YAMLText.quoted(name))
            if !ports.isEmpty { fields.append("ports: [" + ports.map(String.init).joined(separator: ", ") + "]") }
            fields.append("protocol: " + proto)
        case .cidr(let network, let ports, let proto):
            fields.append("cidr: " + YAMLText.quoted(network))
            if !ports.isEmpty { fields.append("ports: [" + ports.map(String.init).joined(separator: ", ") + "]") }
            fields.append("protocol: " + proto)
        }
        return "{ " + fields.joined(separator: ", ") + " }"
    }

    /// `used 12 times by cc1 (9), as (3); 4 paths`: the comment every suggested rule carries.
    public var usage: String {
        let top = programs.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
        var who = top.prefix(4).map { "\($0.key) (\($0.value))" }.joined(separator: ", ")
        if top.count > 4 { who += " and \(top.count - 4) more" }
        var text = "used \(uses) time\(uses == 1 ? "" : "s")"
        if !who.isEmpty { text += " by " + who }
        if objects > 1 { text += "; \(objects) \(domain == .network ? "destinations" : "paths")" }
        return YAMLText.comment(text)
    }
}

/// A suggested policy: rules to write, and rules withheld (written commented out).
public struct Suggestion: Sendable {
    public var name: String
    public var session: String
    public var command: [String]?
    public var noNewPrivs: Bool
    public var rules: [SuggestedRule]
    /// Notes for the header (decisions left out, lost events).
    public var notes: [String]

    public init(name: String, session: String, command: [String]? = nil, noNewPrivs: Bool = true,
                rules: [SuggestedRule], notes: [String] = []) {
        self.name = name
        self.session = session
        self.command = command
        self.noNewPrivs = noNewPrivs
        self.rules = rules
        self.notes = notes
    }

    /// The policy file: defaults deny, one line per rule with its comment, withheld rules
    /// commented out with their reason. It parses with `Policy.parse` (tested).
    public func render() -> String {
        var out: [String] = []
        out.append("# Suggested by `ebguard policy suggest` from session \(YAMLText.comment(session))"
                   + (command.map { " (" + YAMLText.comment($0.joined(separator: " ")) + ")" } ?? "") + ".")
        out.append("# It allows what the session did and nothing more; everything else is denied. Read it,")
        out.append("# try it with `ebguard policy replay`, then enforce it. Lines starting with `# -` are rules")
        out.append("# that were NOT suggested (credentials, places where a write plants code): see their reason.")
        for note in notes { out.append("# Note: " + YAMLText.comment(note)) }
        out.append("version: 1")
        out.append("name: " + name)
        out.append("description: " + YAMLText.quoted("Learned from session \(YAMLText.comment(session))"))
        out.append("")
        out.append("defaults:")
        out.append("  exec: deny")
        out.append("  file: deny")
        out.append("  network: deny")
        out.append("")
        out.append("no_new_privs: \(noNewPrivs)")
        for domain in PolicyDomain.allCases {
            let active = rules.filter { $0.domain == domain && $0.withheld == nil }
            let withheld = rules.filter { $0.domain == domain && $0.withheld != nil }
            out.append("")
            out.append(active.isEmpty ? "\(domain.rawValue): []" : "\(domain.rawValue):")
            for rule in active {
                let comment = rule.note.map { YAMLText.comment($0) } ?? rule.usage
                out.append("  - \(rule.yaml)   # \(comment)")
            }
            if !withheld.isEmpty {
                out.append("  # Not suggested:")
                for rule in withheld {
                    out.append("  # - \(rule.yaml)   # \(rule.usage); \(YAMLText.comment(rule.withheld!))")
                }
            }
        }
        return out.joined(separator: "\n") + "\n"
    }
}

/// Text that goes into a generated policy. A governed program chooses its paths and task name,
/// so nothing it controls may end a comment or a string early and smuggle in a rule.
public enum YAMLText {
    /// A double-quoted YAML scalar: `\` and `"` escaped, control characters as `\xNN`.
    public static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F || (0x80...0x9F).contains(scalar.value)
                || scalar.value == 0x2028 || scalar.value == 0x2029 || scalar.value == 0x85:
                out += scalar.value <= 0xFF ? "\\x" + hex2(scalar.value) : "\\u" + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// Comment text: one line, control characters and line separators shown as `?`.
    public static func comment(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map { s in
            s.value < 0x20 || s.value == 0x7F || (0x80...0x9F).contains(s.value) || s.value == 0x2028 || s.value == 0x2029
                ? "?" : s
        }))
    }

    private static func hex2(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return s.count == 1 ? "0" + s : s
    }
}
