import Foundation

/// The JSON form of `ebguard policy show --json`: sorted keys, so the same policy and context
/// always give the same bytes.
extension CompiledPolicy {
    public func renderJSON() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Every field is a plain string, number, bool, array or nested struct: encoding cannot fail.
        let data = try! encoder.encode(JSONPolicy(self))
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

private struct JSONPolicy: Encodable {
    var version = 1
    var name: String
    var description: String?
    var mode: String
    var context: [String: String]
    var defaults: [String: String]
    var no_new_privs: Bool
    var ask_timeout: Int
    var on_timeout: String
    var exec: [JSONRule]
    var file: [JSONRule]
    var network: [JSONRule]

    init(_ p: CompiledPolicy) {
        name = p.name
        description = p.description
        mode = p.mode.rawValue
        context = ["home": p.context.home, "workspace": p.context.workspace]
        defaults = ["exec": p.defaults.exec.rawValue, "file": p.defaults.file.rawValue,
                    "network": p.defaults.network.rawValue]
        no_new_privs = p.noNewPrivs
        ask_timeout = p.askTimeout
        on_timeout = p.onTimeout.rawValue
        exec = p.exec.map { r in
            var j = JSONRule(r.id, r.verdict, r.location)
            j.setMatcher(r.matcher)
            j.argv = r.argv?.tokens
            return j
        }
        file = p.file.map { r in
            var j = JSONRule(r.id, r.verdict, r.location)
            j.setMatcher(r.matcher)
            j.access = r.access.names
            j.unless = r.unlessGit ? "git" : nil
            return j
        }
        network = p.network.map { r in
            var j = JSONRule(r.id, r.verdict, r.location)
            if let a = r.address {
                j.type = "cidr"
                j.cidr = a.network.description
                j.family = a.network.address.isIPv4 ? "ipv4" : "ipv6"
                j.address = a.network.address.description
                j.prefix_length = a.network.prefixLength
                j.ports = a.ports.isAny ? nil : a.ports.ranges.map { JSONPorts(low: Int($0.low), high: Int($0.high)) }
                j.protocol = a.protocol.rawValue
            } else if let h = r.host {
                j.type = "host"
                j.host = h.pattern.description
                j.ports = h.ports.isAny ? nil : h.ports.ranges.map { JSONPorts(low: Int($0.low), high: Int($0.high)) }
                j.protocol = h.protocol.rawValue
            } else if let u = r.unix {
                j.type = "unix"
                j.setMatcher(u)
            }
            return j
        }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(version, forKey: .version)
        try c.encode(name, forKey: .name)
        // An explicit null keeps the set of keys the same for every policy.
        try c.encode(description, forKey: .description)
        try c.encode(mode, forKey: .mode)
        try c.encode(context, forKey: .context)
        try c.encode(defaults, forKey: .defaults)
        try c.encode(no_new_privs, forKey: .no_new_privs)
        try c.encode(ask_timeout, forKey: .ask_timeout)
        try c.encode(on_timeout, forKey: .on_timeout)
        try c.encode(exec, forKey: .exec)
        try c.encode(file, forKey: .file)
        try c.encode(network, forKey: .network)
    }

    enum Keys: String, CodingKey {
        case version, name, description, mode, context, defaults, no_new_privs, ask_timeout, on_timeout, exec, file, network
    }
}

private struct JSONPorts: Encodable {
    var low: Int
    var high: Int
}

/// One rule; keys that do not apply to its domain are left out.
private struct JSONRule: Encodable {
    var id: String
    var verdict: String
    var source: String
    /// `cidr`, `host` or `unix` for network rules.
    var type: String?
    var match: String?
    var path: String?
    var name: String?
    var argv: [String]?
    var access: [String]?
    var unless: String?
    var cidr: String?
    var host: String?
    var family: String?
    var address: String?
    var prefix_length: Int?
    /// Absent for every port.
    var ports: [JSONPorts]?
    var `protocol`: String?

    init(_ id: RuleID, _ verdict: Verdict, _ location: SourceLocation) {
        self.id = id.description
        self.verdict = verdict.rawValue
        self.source = location.description
    }

    mutating func setMatcher(_ m: PathMatcher) {
        match = m.kind
        switch m {
        case .basename(let n): name = n
        case .exact(let p), .subtree(let p): path = p
        case .glob(let g): if g.isName { name = m.value } else { path = g.description }
        }
    }
}
