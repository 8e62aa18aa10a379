import Yams

/// Parses one rule of each domain. A rule with any problem yields nil after recording them all.
struct RuleParser {
    let reader: YAMLReader

    func exec(_ node: Node, index: Int) -> ExecRule? {
        let context = "exec rule"
        guard let f = ruleFields(node, context, allowed: ["action", "path", "name", "argv"], special: [
            "access": "'access' does not apply to exec rules (use a file rule with access [exec] for code loading)",
        ]) else { return nil }
        let before = reader.diagnostics.count
        let verdict = action(f, node, context)
        let target = self.target(f, node, context)
        var argv: ArgvPattern?
        if let argvNode = f["argv"], let tokens = reader.stringList(argvNode, "argv") {
            if tokens.isEmpty {
                reader.error(argvNode, "empty 'argv' (omit it to match every invocation)")
            } else if let empty = tokens.first(where: { $0.0.isEmpty }) {
                reader.error(empty.1, "empty token in 'argv'")
            } else {
                argv = ArgvPattern(tokens.map(\.0))
            }
            if case .path(let pattern)? = target, pattern.isSubtree || pattern.isGlob {
                reader.error(argvNode, "'argv' needs one program: use an exact 'path' or a 'name', not a subtree or pattern")
            } else if case .name(let name)? = target, name.contains("*") {
                reader.error(argvNode, "'argv' needs one program: use an exact 'path' or a 'name', not a pattern")
            }
        }
        guard let verdict, let target, reader.diagnostics.count == before else { return nil }
        return ExecRule(id: RuleID(.exec, index), location: reader.location(node), verdict: verdict,
                        target: target, argv: argv)
    }

    func file(_ node: Node, index: Int) -> FileRule? {
        let context = "file rule"
        guard let f = ruleFields(node, context, allowed: ["action", "path", "name", "access", "unless"]) else { return nil }
        let before = reader.diagnostics.count
        let verdict = action(f, node, context)
        let target = self.target(f, node, context)
        var access = FileAccess.all
        if let accessNode = f["access"] {
            access = self.access(accessNode) ?? []
        }
        let unlessGit = f["unless"].map { unless($0, verdict: verdict, access: access, accessGiven: f.has("access")) } ?? false
        guard let verdict, let target, reader.diagnostics.count == before else { return nil }
        return FileRule(id: RuleID(.file, index), location: reader.location(node), verdict: verdict,
                        target: target, access: access, unlessGit: unlessGit)
    }

    /// `unless: git`: only a deny of writes can yield, and only to git (docs/policy.md, "Git
    /// metadata"). Reads and execs never do: a vetted git reads nothing a session's other
    /// programs could not, and the exception exists only for what git itself must write.
    private func unless(_ node: Node, verdict: Verdict?, access: FileAccess, accessGiven: Bool) -> Bool {
        guard reader.choice(node, "unless", ["git"]) != nil else { return false }
        if let verdict, verdict != .deny {
            reader.error(node, "'unless: git' applies only to 'action: deny' (the exception lets a vetted git write)")
        }
        let writes: FileAccess = [.write, .create, .delete, .rename, .chmod]
        if !accessGiven || !access.isSubset(of: writes) {
            reader.error(node, "'unless: git' needs 'access' listing only write kinds (write, create, delete, rename, chmod): git is let through for writes only")
        }
        return true
    }

    func network(_ node: Node, index: Int) -> NetworkRule? {
        let context = "network rule"
        guard let f = ruleFields(node, context, allowed: ["action", "cidr", "host", "ports", "protocol", "unix"]) else {
            return nil
        }
        let before = reader.diagnostics.count
        let verdict = action(f, node, context)
        var target: NetworkTarget?
        let given = ["cidr", "host", "unix"].filter { f.has($0) }
        if given.isEmpty {
            reader.error(node, "network rule needs 'cidr', 'host' or 'unix'")
        } else if given.count > 1 {
            reader.error(f.keyNode(given[1])!, "network rule takes one of 'cidr', 'host' or 'unix', not '\(given[0])' and '\(given[1])'")
        } else if let unixNode = f["unix"] {
            for key in ["ports", "protocol"] where f.has(key) {
                reader.error(f.keyNode(key)!, "'\(key)' does not apply to a 'unix' rule")
            }
            if let text = reader.string(unixNode, "unix") {
                do { target = .unix(try PathPattern(parsingUnix: text)) } catch { reader.error(unixNode, error.message) }
            }
        } else {
            let (ports, proto) = portsAndProtocol(f)
            if let cidrNode = f["cidr"], let text = reader.string(cidrNode, "cidr") {
                do { target = .cidr(try IPNetwork(parsing: text), ports: ports, protocol: proto) } catch {
                    reader.error(cidrNode, error.message)
                }
            } else if let hostNode = f["host"], let text = reader.string(hostNode, "host") {
                do { target = .host(try HostPattern(parsing: text), ports: ports, protocol: proto) } catch {
                    reader.error(hostNode, (error as? HostPattern.ParseError)?.message ?? "\(error)")
                }
            }
        }
        guard let verdict, let target, reader.diagnostics.count == before else { return nil }
        return NetworkRule(id: RuleID(.network, index), location: reader.location(node), verdict: verdict,
                           target: target)
    }

    /// The `ports` and `protocol` of an address (`cidr`) or name (`host`) rule.
    private func portsAndProtocol(_ f: YAMLReader.Fields) -> (PortSet, NetworkProtocol) {
        var ports = PortSet.any
        if let portsNode = f["ports"] { ports = self.ports(portsNode) ?? .any }
        var proto = NetworkProtocol.any
        if let protoNode = f["protocol"], let text = reader.choice(protoNode, "protocol", ["tcp", "udp", "icmp", "any"]) {
            proto = NetworkProtocol(rawValue: text)!
            // Ping sockets have an echo id, not a port: a port list could never match.
            if proto == .icmp, let portsNode = f.keyNode("ports") {
                reader.error(portsNode, "'ports' does not apply to 'protocol: icmp' (ICMP has no ports)")
            }
        }
        return (ports, proto)
    }

    // MARK: - Shared pieces

    private func ruleFields(_ node: Node, _ context: String, allowed: [String],
                            special: [String: String] = [:]) -> YAMLReader.Fields? {
        guard case .mapping(let mapping) = node else {
            reader.error(node, "\(context) must be a mapping, found \(reader.describe(node))")
            return nil
        }
        return reader.fields(of: mapping, allowed: allowed, in: context, special: special)
    }

    private func action(_ f: YAMLReader.Fields, _ node: Node, _ context: String) -> Verdict? {
        guard let actionNode = f["action"] else {
            reader.error(node, "\(context) is missing 'action' (allow, deny, audit or ask)")
            return nil
        }
        return reader.verdict(actionNode, "action")
    }

    /// `path:` or `name:`, exactly one.
    private func target(_ f: YAMLReader.Fields, _ node: Node, _ context: String) -> PathTarget? {
        switch (f["path"], f["name"]) {
        case (nil, nil):
            reader.error(node, "\(context) needs 'path' or 'name'")
            return nil
        case (.some, .some):
            reader.error(f.keyNode("name")!, "\(context) takes 'path' or 'name', not both")
            return nil
        case (let pathNode?, nil):
            guard let text = reader.string(pathNode, "path") else { return nil }
            do { return .path(try PathPattern(parsing: text)) } catch {
                reader.error(pathNode, error.message)
                return nil
            }
        case (nil, let nameNode?):
            guard let text = reader.string(nameNode, "name") else { return nil }
            do { return .name(try BasenamePattern.validate(text)) } catch {
                reader.error(nameNode, error.message)
                return nil
            }
        }
    }

    private func access(_ node: Node) -> FileAccess? {
        guard let items = reader.stringList(node, "access") else { return nil }
        if items.isEmpty {
            reader.error(node, "empty 'access' list (omit 'access' to apply to every kind)")
            return nil
        }
        var access: FileAccess = []
        let names = FileAccess.named.map(\.name)
        for (text, item) in items {
            guard let kind = FileAccess(name: text) else {
                let hint = Suggestions.closest(to: text, in: names).map { "did you mean '\($0)'?" }
                    ?? "expected " + names.dropLast().joined(separator: ", ") + " or exec"
                reader.error(item, "unknown access kind '\(text)' (\(hint))")
                continue
            }
            if access.contains(kind) {
                reader.error(item, "duplicate access kind '\(text)'")
            }
            access.insert(kind)
        }
        return access
    }

    private func ports(_ node: Node) -> PortSet? {
        guard let items = reader.list(node, "ports") else { return nil }
        if items.isEmpty {
            reader.error(node, "empty 'ports' list (omit 'ports' to match every port)")
            return nil
        }
        var ranges: [PortRange] = []
        for item in items {
            guard case .scalar(let scalar) = item else {
                reader.error(item, "items of 'ports' must be numbers or \"low-high\" ranges, found \(reader.describe(item))")
                continue
            }
            do { ranges.append(try PortRange(parsing: scalar.string)) } catch { reader.error(item, error.message) }
        }
        return PortSet(ranges: ranges)
    }
}
