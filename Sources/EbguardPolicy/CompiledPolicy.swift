/// A policy compiled against a `PolicyContext`: every path expanded and normalized, every rule
/// keeping its id, location and verdict. This is what the BPF maps are built from and what the
/// reference evaluator (`decideExec` and friends) reads.
public struct CompiledPolicy: Sendable, Hashable {
    public var name: String
    public var description: String?
    /// `shadow`: the kernel reports denials and asks (would_deny/would_ask) and refuses none.
    public var mode: PolicyMode = .enforce
    public var context: PolicyContext
    public var defaults: PolicyDefaults
    public var noNewPrivs: Bool
    public var askTimeout: Int
    public var onTimeout: TimeoutVerdict
    public var exec: [CompiledExecRule]
    public var file: [CompiledFileRule]
    /// Address rules and Unix socket rules together, in policy order.
    public var network: [CompiledNetworkRule]

    /// What deciding a held exec needs (`decideExec`, and for a git that `unless: git` rules
    /// hold, `guardsGitMetadata`): the policy without its network rules, and without its file
    /// rules unless some rule says `unless: git`. A standalone session need not keep the rest
    /// once they are in the kernel's maps.
    public var heldExecRules: CompiledPolicy {
        var copy = self
        if !file.contains(where: \.unlessGit) { copy.file = [] }
        copy.network = []
        return copy
    }

    /// What the session's resolver needs (`decideHost`): the host rules and the defaults.
    public var hostRulesOnly: CompiledPolicy {
        var copy = self
        copy.exec = []
        copy.file = []
        copy.network = hostRules
        return copy
    }

    /// Only the address (`cidr`) rules of `network`.
    public var addressRules: [CompiledNetworkRule] { network.filter { $0.address != nil } }
    /// Only the host-name (`host`) rules of `network`.
    public var hostRules: [CompiledNetworkRule] { network.filter { $0.host != nil } }
    /// Only the Unix socket rules of `network`.
    public var unixRules: [CompiledNetworkRule] { network.filter { $0.unix != nil } }
}

public struct CompiledExecRule: Sendable, Hashable {
    public var id: RuleID
    public var location: SourceLocation
    public var verdict: Verdict
    public var matcher: PathMatcher
    /// Set for rules decided in userspace from the command line, once the exec is held.
    public var argv: ArgvPattern?
}

public struct CompiledFileRule: Sendable, Hashable {
    public var id: RuleID
    public var location: SourceLocation
    public var verdict: Verdict
    public var matcher: PathMatcher
    public var access: FileAccess
    /// `unless: git`: the kernel lets a vetted git through, audited (EG_VERDICT_DENY_UNLESS_GIT).
    public var unlessGit: Bool = false
}

/// The address part of a compiled network rule.
public struct AddressMatch: Sendable, Hashable {
    public var network: IPNetwork
    public var ports: PortSet
    public var `protocol`: NetworkProtocol

    public func matches(_ address: IPAddress, port: UInt16, transport: TransportProtocol) -> Bool {
        network.contains(address) && ports.contains(port) && `protocol`.matches(transport)
    }
}

/// The name part of a compiled network rule: what the resolver matches, and the ports and
/// protocol the answered addresses are opened for.
public struct HostMatch: Sendable, Hashable {
    public var pattern: HostPattern
    public var ports: PortSet
    public var `protocol`: NetworkProtocol

    public init(pattern: HostPattern, ports: PortSet, protocol: NetworkProtocol) {
        self.pattern = pattern
        self.ports = ports
        self.protocol = `protocol`
    }

    public func matches(port: UInt16, transport: TransportProtocol) -> Bool {
        ports.contains(port) && `protocol`.matches(transport)
    }
}

public struct CompiledNetworkRule: Sendable, Hashable {
    public var id: RuleID
    public var location: SourceLocation
    public var verdict: Verdict
    /// Set for `cidr` rules.
    public var address: AddressMatch?
    /// Set for `host` rules.
    public var host: HostMatch?
    /// Set for `unix` rules: an exact, subtree or pattern matcher of the socket's bound name
    /// (`PathMatcher.matchesSocketName`).
    public var unix: PathMatcher?

    public init(id: RuleID, location: SourceLocation, verdict: Verdict, address: AddressMatch? = nil,
                host: HostMatch? = nil, unix: PathMatcher? = nil) {
        self.id = id
        self.location = location
        self.verdict = verdict
        self.address = address
        self.host = host
        self.unix = unix
    }
}

extension Policy {
    /// Expands `~`, `${home}` and `${workspace}` with `context`. Cannot fail: everything that
    /// could be wrong with a path was rejected when the policy was parsed, and `PolicyContext`
    /// only holds absolute, normalized paths.
    public func compile(in context: PolicyContext) -> CompiledPolicy {
        var compiled = CompiledPolicy(
            name: name, description: description, context: context, defaults: defaults,
            noNewPrivs: noNewPrivs, askTimeout: askTimeout, onTimeout: onTimeout,
            exec: exec.map {
                CompiledExecRule(id: $0.id, location: $0.location, verdict: $0.verdict,
                                 matcher: $0.target.matcher(in: context), argv: $0.argv)
            },
            file: file.map {
                CompiledFileRule(id: $0.id, location: $0.location, verdict: $0.verdict,
                                 matcher: $0.target.matcher(in: context), access: $0.access, unlessGit: $0.unlessGit)
            },
            network: network.map { rule in
                var compiled = CompiledNetworkRule(id: rule.id, location: rule.location, verdict: rule.verdict)
                switch rule.target {
                case .cidr(let network, let ports, let proto):
                    compiled.address = AddressMatch(network: network, ports: ports, protocol: proto)
                case .host(let pattern, let ports, let proto):
                    compiled.host = HostMatch(pattern: pattern, ports: ports, protocol: proto)
                case .unix(let pattern):
                    compiled.unix = pattern.matcher(in: context)
                }
                return compiled
            }
        )
        compiled.mode = mode
        return compiled
    }
}
