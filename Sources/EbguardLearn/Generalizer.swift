import EbguardPolicy
import Foundation

/// Turns a session's allowed operations into rules, generalised the way a person writes them.
///
/// - Files and programs: a directory becomes `dir/**` when at least `treeThreshold` (3)
///   distinct paths under it were used (for the same class of access: reads, execs/maps,
///   writes), taking the shallowest such directory that is deep enough: 2 components below `/`
///   (`/usr/lib/**`, never `/usr/**`; `/tmp/**` is allowed), 1 below `~` (`~/.cache/**`, never
///   `~/**`), the workspace itself (`${workspace}/**`). Process ids under `/proc` and terminal
///   numbers under `/dev/pts` become `*`. Everything else stays an exact path.
/// - Paths under the workspace and the home are written `${workspace}/...` and `~/...`.
/// - Connects: by host name when the session's resolver named the address, else by address
///   (loopback as `127.0.0.0/8`); ports and protocol as seen.
/// - What the base policy guards (see `Guards`) is written commented out, with the reason;
///   each widened rule gets the guards that fall under it as deny/ask rules.
public struct Generalizer: Sendable {
    public var treeThreshold = 3
    public var guards: Guards
    public var anchoring: Anchoring

    public init(guards: Guards, anchoring: Anchoring, treeThreshold: Int = 3) {
        self.guards = guards
        self.anchoring = anchoring
        self.treeThreshold = treeThreshold
    }

    struct PortUsage {
        var uses: UInt64 = 0
        var programs: [String: UInt64] = [:]
    }

    struct Usage {
        var uses: UInt64 = 0
        var programs: [String: UInt64] = [:]
        var access = FileAccess()
        var ports = Set<UInt16>()
        /// Per port, the addresses a widened cidr (loopback as 127.0.0.0/8) was seen at, and its
        /// use: the base decides those addresses, not the network's first one, and a port it
        /// guards is withheld on its own.
        var byPort: [UInt16: (addresses: Set<IPAddress>, usage: PortUsage)] = [:]
        var objects = 1

        mutating func add(_ o: Observation) {
            uses += o.count
            programs[o.program, default: 0] += o.count
        }

        mutating func merge(_ other: Usage) {
            uses += other.uses
            for (k, v) in other.programs { programs[k, default: 0] += v }
            access.formUnion(other.access)
            ports.formUnion(other.ports)
        }
    }

    /// The access classes files are generalised in: a tree read is not a tree written.
    static let classes: [FileAccess] = [.read, .exec, [.write, .create, .delete, .rename, .chmod]]

    public func suggest(_ trail: Trail, name: String, noNewPrivs: Bool = true) -> Suggestion {
        var files: [[String: Usage]] = Array(repeating: [:], count: Self.classes.count)
        var execs: [String: Usage] = [:]
        var unix: [String: Usage] = [:]
        var hosts: [String: Usage] = [:]  // "name\0proto"
        var addresses: [String: Usage] = [:]  // "cidr\0proto"
        var lookups: [String: Usage] = [:]
        var refused: UInt64 = 0
        for o in trail.observations {
            guard o.outcome == .allowed else { refused += o.count; continue }
            switch o.target {
            case .exec(let path, _): execs[path, default: Usage()].add(o)
            case .file(let path, let access):
                for (i, c) in Self.classes.enumerated() where !access.intersection(c).isEmpty {
                    files[i][path, default: Usage()].add(o)
                    files[i][path]!.access.formUnion(access.intersection(c))
                }
            case .unix(let path): unix[path, default: Usage()].add(o)
            case .lookup(let n): lookups[n, default: Usage()].add(o)
            case .connect(let address, let port, let transport, let host):
                let key: String
                if let host {
                    key = host + "\0" + transport.rawValue
                    hosts[key, default: Usage()].add(o)
                    hosts[key]!.ports.insert(port)
                } else {
                    key = Self.cidr(address) + "\0" + transport.rawValue
                    addresses[key, default: Usage()].add(o)
                    addresses[key]!.ports.insert(port)
                    addresses[key]!.byPort[port, default: ([], PortUsage())].addresses.insert(address)
                    addresses[key]!.byPort[port]!.usage.uses += o.count
                    addresses[key]!.byPort[port]!.usage.programs[o.program, default: 0] += o.count
                }
            }
        }
        var rules: [SuggestedRule] = []
        rules += paths(execs, domain: .exec, access: nil) { .exec(path: $0) }
        for (i, c) in Self.classes.enumerated() {
            rules += paths(files[i], domain: .file, access: c) { _ in .file(path: "", access: []) }
        }
        rules = Self.mergeFiles(rules)
        rules += guards.fences(for: rules, anchoring: anchoring)
        for (path, usage) in unix.sorted(by: { $0.key < $1.key }) {
            var rule = SuggestedRule(target: .unix(path: path), uses: usage.uses, programs: usage.programs)
            rule.withheld = guards.withheld(.unix(path: path)) ?? Self.unwritable(path)
            rules.append(rule)
        }
        for (key, usage) in hosts.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: "\0").map(String.init)
            var rule = SuggestedRule(target: .host(name: parts[0], ports: usage.ports.sorted(), protocol: parts[1]),
                                     uses: usage.uses, programs: usage.programs)
            rule.withheld = guards.withheld(.lookup(name: parts[0]))
            rules.append(rule)
        }
        let connected = Set(hosts.keys.map { String($0.split(separator: "\0")[0]) })
        for (name, usage) in lookups.sorted(by: { $0.key < $1.key }) where !connected.contains(name) {
            var rule = SuggestedRule(target: .host(name: name, ports: [], protocol: "any"), uses: usage.uses, programs: usage.programs)
            rule.withheld = guards.withheld(.lookup(name: name)) ?? "looked up but never connected to; a host rule opens its addresses"
            rules.append(rule)
        }
        for (key, usage) in addresses.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: "\0").map(String.init)
            let transport = TransportProtocol(rawValue: parts[1]) ?? .tcp
            // Per port, as the base decides each address seen there (127.0.0.1:22 may be guarded
            // where 127.0.0.0, the widened network's first address, is not): the guarded ports
            // come out as rules of their own, withheld, the rest allowed together.
            var groups: [String?: [UInt16]] = [:]
            for port in usage.ports.sorted() {
                let addresses = usage.byPort[port]?.addresses.sorted { $0.description < $1.description } ?? []
                let why = addresses.lazy.compactMap {
                    self.guards.withheld(.connect(address: $0, port: port, transport: transport, host: nil))
                }.first
                groups[why, default: []].append(port)
            }
            for (why, ports) in groups.sorted(by: { ($0.key ?? "") < ($1.key ?? "") }) {
                var uses: UInt64 = 0
                var programs: [String: UInt64] = [:]
                for port in ports {
                    guard let p = usage.byPort[port]?.usage else { continue }
                    uses += p.uses
                    for (k, v) in p.programs { programs[k, default: 0] += v }
                }
                var rule = SuggestedRule(target: .cidr(network: parts[0], ports: ports, protocol: parts[1]),
                                         uses: uses, programs: programs)
                rule.withheld = why
                rules.append(rule)
            }
        }
        var notes: [String] = []
        if refused > 0 { notes.append("\(refused) operations the session was refused are not suggested") }
        if trail.notDecidedByPolicy > 0 {
            notes.append("\(trail.notDecidedByPolicy) decisions the kernel made without a rule (unresolved paths, resolver limits) are left out")
        }
        if trail.lostEvents > 0 { notes.append("\(trail.lostEvents) events were lost: the session may have done more than this shows") }
        return Suggestion(name: name, session: trail.session, command: trail.command, noNewPrivs: noNewPrivs, rules: rules, notes: notes)
    }

    static func cidr(_ address: IPAddress) -> String {
        if address.isIPv4 { return address.bytes[0] == 127 ? "127.0.0.0/8" : "\(address)/32" }
        return "\(address)/128"
    }

    static func unwritable(_ path: String) -> String? {
        // Most paths have none of these bytes: look before splitting.
        guard path.utf8.contains(where: { "*?[{$\\\0".utf8.contains($0) }) else { return nil }
        for c in Anchoring.components(path) {
            if let bad = Anchoring.unwritable(c) {
                return "its path has '\(bad == "\0" ? "NUL" : String(bad))', which a path rule cannot name exactly"
            }
        }
        return nil
    }

    /// One tree of paths under an anchor, for widening.
    struct Item {
        var components: [String]
        var path: String
        var usage: Usage
    }

    /// Generalises `used` paths into rules of one domain (and, for files, one access class).
    func paths(_ used: [String: Usage], domain: PolicyDomain, access: FileAccess?,
               exec: (String) -> SuggestedRule.Target) -> [SuggestedRule] {
        var out: [SuggestedRule] = []
        var trees: [Anchoring.Anchor: [Item]] = [:]
        let sorted = used.sorted(by: { $0.key < $1.key })
        let reasons = withheldReasons(sorted.map { domain == .exec ? .exec(path: $0.key, argv: nil) : .file(path: $0.key, access: $0.value.access) })
        for ((path, usage), withheld) in zip(sorted, reasons) {
            if let why = withheld ?? Self.unwritable(path) {
                var rule = SuggestedRule(target: makeTarget(domain, anchoring.text(path), usage.access),
                                         uses: usage.uses, programs: usage.programs, withheld: why)
                rule.objects = 1
                out.append(rule)
                continue
            }
            let (anchor, comps) = anchoring.split(path)
            trees[anchor, default: []].append(Item(components: Self.normalized(anchor, comps), path: path, usage: usage))
        }
        for anchor in trees.keys.sorted() {
            widen(anchor, prefix: [], items: trees[anchor]!, domain: domain, into: &out)
        }
        return out
    }

    /// `guards.withheld` for each target, on every core (it is pure).
    func withheldReasons(_ targets: [Observation.Target]) -> [String?] {
        var out = [String?](repeating: nil, count: targets.count)
        let chunks = max(1, min(ProcessInfo.processInfo.activeProcessorCount, targets.count / 512 + 1))
        let guards = self.guards
        out.withUnsafeMutableBufferPointer { buffer in
            let buffer = UnsafeSendable(buffer)
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                for i in (targets.count * c / chunks)..<(targets.count * (c + 1) / chunks) {
                    buffer.value[i] = guards.withheld(targets[i])
                }
            }
        }
        return out
    }

    func makeTarget(_ domain: PolicyDomain, _ path: String, _ access: FileAccess) -> SuggestedRule.Target {
        domain == .exec ? .exec(path: path) : .file(path: path, access: access)
    }

    /// `/proc/1234/status` -> `/proc/*/status`, `/dev/pts/3` -> `/dev/pts/*`: the next run has
    /// other numbers.
    static func normalized(_ anchor: Anchoring.Anchor, _ comps: [String]) -> [String] {
        guard anchor == .root, comps.count >= 2 else { return comps }
        var c = comps
        if c[0] == "proc", c[1].allSatisfy(\.isNumber) { c[1] = "*" }
        if c[0] == "dev", c[1] == "pts", c.count >= 3, c[2].allSatisfy(\.isNumber) { c[2] = "*" }
        return c
    }

    func minimumDepth(_ anchor: Anchoring.Anchor, _ prefix: [String]) -> Int {
        switch anchor {
        case .workspace: 0
        case .home: 1
        case .root: prefix.first == "tmp" ? 1 : 2
        }
    }

    func widen(_ anchor: Anchoring.Anchor, prefix: [String], items: [Item], domain: PolicyDomain,
               into out: inout [SuggestedRule]) {
        let distinct = Set(items.map(\.components)).count
        let below = items.contains { $0.components.count > prefix.count }
        if prefix.count >= minimumDepth(anchor, prefix), distinct >= treeThreshold, below {
            var usage = Usage()
            for item in items { usage.merge(item.usage) }
            out.append(SuggestedRule(target: makeTarget(domain, anchoring.text(anchor, prefix + ["**"]), usage.access),
                                     uses: usage.uses, programs: usage.programs, objects: distinct))
            return
        }
        var children: [String: [Item]] = [:]
        var here: [[String]: Usage] = [:]
        for item in items {
            if item.components.count == prefix.count {
                here[item.components, default: Usage()].merge(item.usage)
            } else {
                children[item.components[prefix.count], default: []].append(item)
            }
        }
        for (comps, usage) in here {
            out.append(SuggestedRule(target: makeTarget(domain, anchoring.text(anchor, comps), usage.access),
                                     uses: usage.uses, programs: usage.programs))
        }
        for key in children.keys.sorted() {
            widen(anchor, prefix: prefix + [key], items: children[key]!, domain: domain, into: &out)
        }
    }

    /// File rules of one path from different access classes become one rule.
    static func mergeFiles(_ rules: [SuggestedRule]) -> [SuggestedRule] {
        var out: [SuggestedRule] = []
        var index: [String: Int] = [:]
        for rule in rules {
            guard case .file(let path, let access) = rule.target else { out.append(rule); continue }
            let key = path + "\0" + (rule.withheld ?? "")
            guard let i = index[key], case .file(_, let had) = out[i].target else {
                index[key] = out.count
                out.append(rule)
                continue
            }
            out[i].target = .file(path: path, access: had.union(access))
            // One open for read and write was counted in both classes: the larger count is
            // exact when the path was always used with the same access, and never inflated.
            out[i].uses = max(out[i].uses, rule.uses)
            for (k, v) in rule.programs { out[i].programs[k] = max(out[i].programs[k] ?? 0, v) }
            out[i].objects = max(out[i].objects, rule.objects)
        }
        return out
    }
}
