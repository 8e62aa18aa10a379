/// A validated policy as written: nothing expanded yet, every rule with its id and location.
///
/// Obtain one with `Policy.parse(yaml:file:)` or `Policy.load(path:)`; compile it against a
/// `PolicyContext` with `compile(in:)` before deciding anything.
public struct Policy: Sendable, Hashable {
    /// Always 1 for now.
    public var version: Int
    /// `[A-Za-z0-9._-]`, 1 to 64 characters.
    public var name: String
    public var description: String?
    /// `enforce` (default) or `shadow` (report, refuse nothing but self-protection).
    public var mode: PolicyMode = .enforce
    public var defaults: PolicyDefaults
    /// Whether the session runs with `PR_SET_NO_NEW_PRIVS` (no setuid gains). Default true.
    public var noNewPrivs: Bool
    /// Capabilities the session keeps (`Capability.names`); every other one is dropped from its
    /// bounding set before the command starts. Default none.
    public var capabilities: [String] = []
    /// Seconds an `ask` waits for a human. Default 120.
    public var askTimeout: Int
    /// What an unanswered `ask` becomes. Default deny.
    public var onTimeout: TimeoutVerdict
    public var exec: [ExecRule]
    public var file: [FileRule]
    public var network: [NetworkRule]

    public init(
        version: Int = 1, name: String, description: String? = nil, defaults: PolicyDefaults = .init(),
        noNewPrivs: Bool = true, askTimeout: Int = 120, onTimeout: TimeoutVerdict = .deny,
        exec: [ExecRule] = [], file: [FileRule] = [], network: [NetworkRule] = []
    ) {
        self.version = version
        self.name = name
        self.description = description
        self.defaults = defaults
        self.noNewPrivs = noNewPrivs
        self.askTimeout = askTimeout
        self.onTimeout = onTimeout
        self.exec = exec
        self.file = file
        self.network = network
    }
}

/// The verdict per domain when no rule matches. Every domain defaults to allow.
public struct PolicyDefaults: Sendable, Hashable {
    public var exec: Verdict
    public var file: Verdict
    public var network: Verdict

    public init(exec: Verdict = .allow, file: Verdict = .allow, network: Verdict = .allow) {
        self.exec = exec
        self.file = file
        self.network = network
    }

    public subscript(domain: PolicyDomain) -> Verdict {
        switch domain {
        case .exec: exec
        case .file: file
        case .network: network
        }
    }
}

/// What a file or exec rule names: a path pattern (exact or subtree) or a basename.
public enum PathTarget: Sendable, Hashable, CustomStringConvertible {
    case path(PathPattern)
    case name(String)

    public func matcher(in context: PolicyContext) -> PathMatcher {
        switch self {
        case .path(let pattern): pattern.matcher(in: context)
        case .name(let name): BasenamePattern.matcher(name)
        }
    }

    public var description: String {
        switch self {
        case .path(let pattern): pattern.description
        case .name(let name): "name " + name
        }
    }
}

/// An `exec:` rule.
public struct ExecRule: Sendable, Hashable {
    public var id: RuleID
    public var location: SourceLocation
    public var verdict: Verdict
    public var target: PathTarget
    /// If set, the rule applies only to invocations whose arguments match (decided in userspace).
    public var argv: ArgvPattern?

    public init(id: RuleID, location: SourceLocation, verdict: Verdict, target: PathTarget, argv: ArgvPattern? = nil) {
        self.id = id
        self.location = location
        self.verdict = verdict
        self.target = target
        self.argv = argv
    }
}

/// A `file:` rule.
public struct FileRule: Sendable, Hashable {
    public var id: RuleID
    public var location: SourceLocation
    public var verdict: Verdict
    public var target: PathTarget
    /// The access kinds the rule applies to; `.all` when the rule has no `access`.
    public var access: FileAccess
    /// `unless: git`: the deny does not apply to a git ebguard vetted at exec (docs/policy.md).
    public var unlessGit: Bool

    public init(id: RuleID, location: SourceLocation, verdict: Verdict, target: PathTarget, access: FileAccess = .all,
                unlessGit: Bool = false) {
        self.id = id
        self.location = location
        self.verdict = verdict
        self.target = target
        self.access = access
        self.unlessGit = unlessGit
    }
}

/// `tcp`, `udp`, `icmp` or `any` in a network rule.
public enum NetworkProtocol: String, Sendable, Hashable, CaseIterable, Codable {
    case tcp
    case udp
    /// ICMP "ping" sockets (ICMPv6 for IPv6 rules); raw sockets are never judged by address.
    case icmp
    case any

    /// Whether a rule with this protocol applies to a connection using `transport`.
    public func matches(_ transport: TransportProtocol) -> Bool {
        self == .any || rawValue == transport.rawValue
    }
}

/// The transport of an actual connection or datagram.
public enum TransportProtocol: String, Sendable, Hashable, CaseIterable, Codable {
    case tcp
    case udp
    case icmp
}

/// What a network rule matches: an address prefix with ports and protocol, or a Unix socket path.
public enum NetworkTarget: Sendable, Hashable {
    case cidr(IPNetwork, ports: PortSet, protocol: NetworkProtocol)
    /// Addresses the session's resolver answered for a matching name, while the answer lives.
    case host(HostPattern, ports: PortSet, protocol: NetworkProtocol)
    /// A filesystem Unix socket, exact or subtree (basenames are not allowed).
    case unix(PathPattern)
}

/// A `network:` rule.
public struct NetworkRule: Sendable, Hashable {
    public var id: RuleID
    public var location: SourceLocation
    public var verdict: Verdict
    public var target: NetworkTarget

    public init(id: RuleID, location: SourceLocation, verdict: Verdict, target: NetworkTarget) {
        self.id = id
        self.location = location
        self.verdict = verdict
        self.target = target
    }
}
