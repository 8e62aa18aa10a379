internal import CEbguardABI
import EbguardBPF
import EbguardPolicy

/// A compiled policy as the kernel reads it: the entries of the path, network and Unix
/// socket maps, keyed by one policy id. Pure: built and checked without touching the kernel.
///
/// The kernel does one lookup per path component and one LPM lookup per connect, so the work
/// of precedence is done here: rules on the same key are merged per access kind (deny > ask >
/// audit > allow, the lowest rule index naming the winner), and every network prefix carries
/// the rules of every shorter prefix that covers it, most specific first.
public struct PolicyMaps {
    public let policyID: UInt32
    /// The session entry; `dns_port` is set by whoever starts the session's resolver.
    var session: eg_session
    let paths: [(key: eg_path_key, rule: eg_path_rule)]
    /// One EG_PATH_LOADED key per path domain (exec, file, unix, rename guards): written after `paths`, removed before them,
    /// so the kernel never decides with half a policy (it fails closed without them).
    let loadedMarkers: [(key: eg_path_key, lengths: eg_path_rule)]
    let ipv4: [(key: eg_net4_key, rules: eg_net_rules)]
    let ipv6: [(key: eg_net6_key, rules: eg_net_rules)]
    let unix: [(key: eg_unix_key, rule: eg_net_rule)]
    /// Rules the kernel-side encoding cannot express, named (`network[10] (agent.yaml:194:5)`)
    /// so they are said out loud, never silently dropped. Empty since Unix subtree rules are
    /// enforced; kept so a future gap has a place to be reported.
    public let unenforced: [String]

    public struct CompileError: Error, CustomStringConvertible, Equatable {
        public let rule: String
        public let message: String
        public var description: String { "\(rule): \(message)" }
    }

    /// `processEvents`: the kernel reports the session's process life (the daemon's sessions).
    public init(_ policy: CompiledPolicy, policyID: UInt32, auditAllows: Bool = false,
                processEvents: Bool = true) throws(CompileError) {
        self.policyID = policyID
        var session = eg_session()
        session.policy_id = policyID
        session.default_verdict = (policy.defaults.exec.kernelValue, policy.defaults.file.kernelValue,
                                   policy.defaults.network.kernelValue)
        session.flags = (auditAllows ? UInt8(EG_SESSION_AUDIT_ALLOWS) : 0) | (processEvents ? UInt8(EG_SESSION_PROCESS_EVENTS) : 0)
            | (Self.fileExecCanRefuse(policy) ? UInt8(EG_SESSION_FILE_EXEC) : 0)
            | (policy.mode == .shadow ? UInt8(EG_SESSION_SHADOW) : 0)
            | (policy.unixRules.contains { Self.isPattern($0.unix!) } ? UInt8(EG_SESSION_UNIX_PATTERNS) : 0)
        try Self.checkRuleIndices(policy)
        paths = try Self.pathEntries(policy, policyID: policyID)
        if paths.contains(where: { $0.key.domain == UInt8(EG_DOMAIN_RENAME.rawValue) || Self.renameOnly($0.key.kind) }) {
            session.flags |= UInt8(EG_SESSION_RENAME_GUARDS)
        }
        self.session = session
        loadedMarkers = [EG_DOMAIN_EXEC, EG_DOMAIN_FILE, EG_DOMAIN_UNIX, EG_DOMAIN_RENAME].map { [paths] domain in
            let key = Self.key(policyID: policyID, domain: UInt8(domain.rawValue), kind: UInt8(EG_PATH_LOADED.rawValue), path: "")
            // Ancestor keys and star roots are looked up by renames alone, never by the matcher:
            // leaving their lengths out keeps opens and execs from probing for them.
            return (key, Self.lengths(of: paths.map(\.key).filter {
                $0.domain == key.domain && $0.kind != UInt8(EG_PATH_ANCESTOR.rawValue) && !Self.renameOnly($0.kind)
            }))
        }
        (ipv4, ipv6) = try Self.networkEntries(policy, policyID: policyID)
        (unix, unenforced) = try Self.unixEntries(policy, policyID: policyID)
        try Self.checkHostRules(policy)
    }

    /// The rules of one host pattern become one kernel list per answered address: they must
    /// fit it (a rule takes one slot per port range).
    static func checkHostRules(_ policy: CompiledPolicy) throws(CompileError) {
        var slots: [HostPattern: (first: RuleID, count: Int)] = [:]
        for rule in policy.hostRules {
            let match = rule.host!
            let count = match.ports.isAny ? 1 : match.ports.ranges.count
            let known = slots[match.pattern]
            slots[match.pattern] = (known?.first ?? rule.id, (known?.count ?? 0) + count)
        }
        for (pattern, slot) in slots.sorted(by: { $0.value.first < $1.value.first }) where slot.count > Int(EG_NET_RULES_MAX) {
            throw CompileError(rule: "\(slot.first)",
                               message: "\(slot.count) port rules apply to host \(pattern); the kernel holds at most \(EG_NET_RULES_MAX) per name")
        }
    }

    /// Whether the file domain's `exec` kind can say anything but allow: only then does the
    /// kernel judge executable mappings (every exec maps several libraries).
    static func fileExecCanRefuse(_ policy: CompiledPolicy) -> Bool {
        policy.defaults.file != .allow || policy.file.contains { $0.access.contains(.exec) && $0.verdict != .allow }
    }

    // MARK: paths

    struct PathSlot: Hashable {
        let domain: UInt8
        let kind: UInt8
        let path: String
        /// Set for a pattern (`path` is then its spelling): PolicyMaps+Patterns.swift.
        var glob: PathGlob? = nil
    }

    private static func pathEntries(_ policy: CompiledPolicy, policyID: UInt32) throws(CompileError) -> [(key: eg_path_key, rule: eg_path_rule)] {
        var merged: [PathSlot: eg_path_rule] = [:]
        var order: [PathSlot] = []
        var creators: [RuleID] = []  // the rule that made each slot in `order`
        func merge(_ slot: PathSlot, access: [Int], verdict: UInt8?, id: RuleID, argv: Bool) {
            if merged[slot] == nil {
                merged[slot] = .empty
                order.append(slot)
                creators.append(id)
            }
            var rule = merged[slot]!
            if argv { rule.flags |= UInt32(EG_PATH_RULE_ARGV) }
            if let verdict {
                for kind in access {
                    let current = rule.verdicts[kind]
                    // Stronger verdict wins; on equal verdicts the earlier rule keeps the name.
                    if current == UInt8(EG_VERDICT_NONE) || Self.strength(verdict) > Self.strength(current) {
                        rule.verdicts[kind] = verdict
                        rule.rules[kind] = UInt16(id.index)  // below EG_RULE_DEFAULT: checkRuleIndices
                    }
                }
            }
            merged[slot] = rule
        }
        for rule in policy.exec {
            let slot = try PathSlot(domain: UInt8(EG_DOMAIN_EXEC.rawValue), matcher: rule.matcher, rule: rule.id, in: policy)
            // An argv rule only marks the binary for a hold; userspace matches the command line.
            // An ask rule keeps its verdict and is held too (EG_PATH_RULE_ARGV, "hold for
            // userspace"): the exec waits stopped while a human answers, instead of failing.
            merge(slot, access: [Int(EG_ACCESS_EXEC.rawValue)], verdict: rule.argv == nil ? rule.verdict.kernelValue : nil,
                  id: rule.id, argv: rule.argv != nil || rule.verdict == .ask)
        }
        // `unless: git` rules yield only to a git ebguard vetted while its exec was held: every
        // program named git is held, whatever else the policy says of it (its verdict stays).
        if let yielding = policy.file.first(where: \.unlessGit) {
            let slot = try PathSlot(domain: UInt8(EG_DOMAIN_EXEC.rawValue), matcher: BasenamePattern.matcher("git"),
                                    rule: yielding.id, in: policy)
            merge(slot, access: [Int(EG_ACCESS_EXEC.rawValue)], verdict: nil, id: yielding.id, argv: true)
        }
        for rule in policy.file {
            let slot = try PathSlot(domain: UInt8(EG_DOMAIN_FILE.rawValue), matcher: rule.matcher, rule: rule.id, in: policy)
            let kinds = (0..<Int(EG_ACCESS_KINDS.rawValue)).filter { rule.access.rawValue & (1 << $0) != 0 }
            let verdict = rule.unlessGit ? UInt8(EG_VERDICT_DENY_UNLESS_GIT) : rule.verdict.kernelValue
            merge(slot, access: kinds, verdict: verdict, id: rule.id, argv: false)
        }
        // `unix:` patterns are path rules of their own domain, with one access kind (connect
        // or send: EG_UNIX_ACCESS), decided by the same matcher (bpf/lib/unix_match.h); exact
        // names and subtrees stay in eg_unix_rules (`unixEntries`).
        for rule in policy.unixRules where Self.isPattern(rule.unix!) {
            let slot = try PathSlot(domain: UInt8(EG_DOMAIN_UNIX.rawValue), matcher: rule.unix!, rule: rule.id, in: policy)
            merge(slot, access: [Int(EG_UNIX_ACCESS)], verdict: rule.verdict.kernelValue, id: rule.id, argv: false)
        }
        // Every directory above an exact or subtree file rule answers, when it is renamed,
        // for the rules below it (bpf/lib/path_ancestor.h): per kind, the strongest of them.
        for rule in policy.file {
            let kinds = (0..<Int(EG_ACCESS_KINDS.rawValue)).filter { rule.access.rawValue & (1 << $0) != 0 }
            var dirs: [String]
            switch rule.matcher {
            case .exact(let p), .subtree(let p): dirs = Self.ancestors(of: p)
            case .basename: continue  // a name moves with its file: the rule still applies
            case .glob(let glob):
                // A pattern's matches lie below its head: the head moves them too.
                let head = Self.headPath(of: glob)
                dirs = head.isEmpty ? [] : [head] + Self.ancestors(of: head)
                // And directories moved below the head bring matches along (renameGuards). An
                // allow cannot strengthen anything: it needs no guard.
                guard rule.verdict != .allow else { break }
                for guardSlot in Self.renameGuards(of: glob) {
                    merge(guardSlot, access: kinds, verdict: rule.verdict.kernelValue, id: rule.id, argv: false)
                }
            }
            for ancestor in dirs {
                merge(PathSlot(domain: UInt8(EG_DOMAIN_FILE.rawValue), kind: UInt8(EG_PATH_ANCESTOR.rawValue), path: ancestor),
                      access: kinds, verdict: rule.verdict.kernelValue, id: rule.id, argv: false)
            }
        }
        // The four loaded markers share the map with the rules.
        try checkCapacity(creators, reserved: 4, limit: Int(EG_PATH_RULES_MAX), map: "eg_path_rules",
                          what: "path entries (exec, file and unix rules merged per path, rename guards, and 4 markers)")
        var entries: [(key: eg_path_key, rule: eg_path_rule)] = []
        var seen: [PathKey: Int] = [:]  // position in `queue`
        var chains: [PathSlot: Int] = [:]  // patterns so far per anchor key
        var affixLengths: [PathSlot: Set<Int>] = [:]  // per domain and GLOB_PREFIX/SUFFIX (path "")
        // Rename guards that find no room are replaced by a guard root at their head, queued
        // after the others so that every guard merges into it before it is written.
        var queue = Array(zip(order, creators))
        var next = 0
        while next < queue.count {
            let (slot, creator) = queue[next]
            next += 1
            if let glob = slot.glob {
                let named = Self.named(creator, in: policy)
                // The first anchor with room: a chain of fewer than EG_GLOB_CHAIN patterns, and for
                // a prefix or suffix, a length the domain has or one of its EG_AFFIX_LENGTHS.
                let candidates = Self.anchors(of: glob)
                let fits = candidates.first { anchor in
                    guard chains[PathSlot(domain: slot.domain, kind: UInt8(anchor.kind.rawValue), path: anchor.key), default: 0]
                            < Int(EG_GLOB_CHAIN) else { return false }
                    guard anchor.kind == EG_PATH_GLOB_PREFIX || anchor.kind == EG_PATH_GLOB_SUFFIX else { return true }
                    let lengths = affixLengths[PathSlot(domain: slot.domain, kind: UInt8(anchor.kind.rawValue), path: ""), default: []]
                    return lengths.contains(anchor.key.utf8.count) || lengths.count < Int(EG_AFFIX_LENGTHS)
                }
                if fits == nil, slot.domain == UInt8(EG_DOMAIN_RENAME.rawValue) {
                    // Out of room: a guard root at the head instead, which every path below the
                    // head matches (it refuses more renames, never fewer). One per head, so a
                    // policy is never refused for its guards.
                    let wide = PathSlot(domain: UInt8(EG_DOMAIN_FILE.rawValue), kind: UInt8(EG_PATH_GUARD_ROOT.rawValue),
                                        path: Self.headPath(of: glob))
                    if let known = merged[wide] {
                        merged[wide] = Self.stronger(known, merged[slot]!)
                    } else {
                        merged[wide] = merged[slot]!
                        queue.append((wide, creator))
                    }
                    continue
                }
                guard let anchor = fits else {
                    let tried = candidates.map { "\"\($0.key)\"" }.joined(separator: ", ")
                    throw CompileError(rule: named, message: "pattern \(glob) has no room under any key it can be looked up by (\(tried)): the kernel checks at most \(EG_GLOB_CHAIN) patterns per key and \(EG_AFFIX_LENGTHS) lengths of a final component's literal start or end: give some a longer or another literal part")
                }
                let chain = PathSlot(domain: slot.domain, kind: UInt8(anchor.kind.rawValue), path: anchor.key)
                let index = chains[chain, default: 0]
                chains[chain] = index + 1
                if anchor.kind == EG_PATH_GLOB_PREFIX || anchor.kind == EG_PATH_GLOB_SUFFIX {
                    affixLengths[PathSlot(domain: slot.domain, kind: UInt8(anchor.kind.rawValue), path: ""), default: []]
                        .insert(anchor.key.utf8.count)
                }
                let key = Self.globKey(policyID: policyID, domain: slot.domain, anchor: anchor, index: index)
                if seen[PathKey(key)] != nil {
                    throw CompileError(rule: named, message: "pattern \(glob) has the same kernel key hash as another key; rename one of them")
                }
                seen[PathKey(key)] = next - 1
                entries.append((key, try Self.globValue(glob, merged: merged[slot]!, rule: named,
                                                        rankAlike: slot.domain == UInt8(EG_DOMAIN_RENAME.rawValue))))
                continue
            }
            let key = Self.key(policyID: policyID, domain: slot.domain, kind: slot.kind, path: slot.path)
            // The kernel compares the path on a hit, so a collision could only hide a rule, never
            // match a wrong one; two keys of one policy sharing a hash would overwrite each other.
            if let other = seen[PathKey(key)] {
                throw CompileError(rule: "\(creator)",
                                   message: "path \"\(slot.path)\" has the same kernel key hash as \"\(queue[other].0.path)\"; rename one of them")
            }
            seen[PathKey(key)] = next - 1
            var rule = merged[slot]!
            withUnsafeMutableBytes(of: &rule.path) { $0.copyBytes(from: slot.path.utf8) }
            entries.append((key, rule))
        }
        return entries
    }

    /// Keys only a directory's rename looks up (bpf/lib/path_ancestor.h), never the matcher.
    static func renameOnly(_ kind: UInt8) -> Bool {
        kind == UInt8(EG_PATH_STAR_ROOT.rawValue) || kind == UInt8(EG_PATH_GUARD_ROOT.rawValue)
    }

    /// The directories strictly above `path` ("/a/b/c": "/a/b", "/a"), without the root, which
    /// cannot be renamed.
    static func ancestors(of path: String) -> [String] {
        var result: [String] = []
        var bytes = Array(path.utf8)
        while let slash = bytes.lastIndex(of: UInt8(ascii: "/")), slash > 0 {
            bytes = Array(bytes[..<slash])
            result.append(String(decoding: bytes, as: UTF8.self))
        }
        return result
    }

    /// The key of one path string: its length and `eg_path_hash` (the C definition in ebguard.h,
    /// which the kernel computes too); the path bytes go into the value.
    static func key(policyID: UInt32, domain: UInt8, kind: UInt8, path: String) -> eg_path_key {
        var key = eg_path_key()
        key.policy_id = policyID
        key.domain = domain
        key.kind = kind
        let bytes = Array(path.utf8)
        key.len = UInt16(bytes.count)
        key.hash = bytes.withUnsafeBytes { eg_path_hash($0.baseAddress, UInt32($0.count)) }
        return key
    }

    /// The identity of a key, for finding collisions (eg_path_key is a C struct, not Hashable).
    private struct PathKey: Hashable {
        let domain: UInt8, kind: UInt8, len: UInt16, hash: UInt64
        init(_ key: eg_path_key) { (domain, kind, len, hash) = (key.domain, key.kind, key.len, key.hash) }
    }

    /// The value of a loaded marker: a `struct eg_path_lengths` with bit L set for each key
    /// length L, in the `eg_path_rule` it shares the map with. The matcher skips a lookup at
    /// a length without a bit, so a length missing here would hide that key's rules.
    static func lengths(of keys: [eg_path_key]) -> eg_path_rule {
        var lengths = eg_path_lengths()
        func set(_ bits: inout (UInt64, UInt64, UInt64, UInt64), _ length: Int) {
            withUnsafeMutableBytes(of: &bits) { $0.bindMemory(to: UInt64.self)[length / 64] |= UInt64(1) << UInt64(length % 64) }
        }
        for key in keys {
            switch key.kind {
            case UInt8(EG_PATH_GLOB_DIR.rawValue): set(&lengths.glob_dir_bits, Int(key.len))
            case UInt8(EG_PATH_GLOB_NAME.rawValue): set(&lengths.glob_name_bits, Int(key.len))
            case UInt8(EG_PATH_GLOB_PREFIX.rawValue): lengths.glob_prefix_bits |= UInt64(1) << UInt64(key.len)
            case UInt8(EG_PATH_GLOB_SUFFIX.rawValue): lengths.glob_suffix_bits |= UInt64(1) << UInt64(key.len)
            default: set(&lengths.bits, Int(key.len))
            }
        }
        return unsafeBitCast(lengths, to: eg_path_rule.self)
    }

    // MARK: network

    private static func networkEntries(_ policy: CompiledPolicy, policyID: UInt32) throws(CompileError)
        -> ([(key: eg_net4_key, rules: eg_net_rules)], [(key: eg_net6_key, rules: eg_net_rules)]) {
        let rules = policy.addressRules
        var v4: [(key: eg_net4_key, rules: eg_net_rules)] = []
        var v6: [(key: eg_net6_key, rules: eg_net_rules)] = []
        // Cannot fail today (a rule has one prefix and a domain's 65,535 rules fit the 65,536
        // keys); here so that changing either limit cannot bring back a half-written policy.
        for (isIPv4, map) in [(true, "eg_net4_rules"), (false, "eg_net6_rules")] {
            var seen = Set<IPNetwork>()
            var creators: [RuleID] = []
            for rule in rules where rule.address!.network.address.isIPv4 == isIPv4 && seen.insert(rule.address!.network).inserted {
                creators.append(rule.id)
            }
            try checkCapacity(creators, limit: Int(EG_NET_MAX_PREFIXES), map: map, what: "\(isIPv4 ? "IPv4" : "IPv6") prefixes")
        }
        // One tree per family, holding positions in `rules`. Inserted in the kernel's order
        // among rules of one prefix (deny > ask > audit > allow, then rule index), so walking a
        // prefix's bits yields its whole list: longest covering prefix first, each in order.
        var trees = (v4: PrefixTree<Int>(), v6: PrefixTree<Int>())
        let byPrecedence = rules.indices.sorted { a, b in
            if rules[a].verdict.strength != rules[b].verdict.strength {
                return rules[a].verdict.strength > rules[b].verdict.strength
            }
            return rules[a].id.index < rules[b].id.index
        }
        for i in byPrecedence {
            let network = rules[i].address!.network
            if network.address.isIPv4 {
                trees.v4.insert(i, bytes: network.address.bytes, length: network.prefixLength)
            } else {
                trees.v6.insert(i, bytes: network.address.bytes, length: network.prefixLength)
            }
        }
        // A rule takes one slot per port range.
        let slots: [[eg_net_rule]] = rules.map { rule in
            let match = rule.address!
            let ranges = match.ports.isAny ? [(UInt16(0), UInt16.max)] : match.ports.ranges.map { ($0.low, $0.high) }
            return ranges.map { low, high in
                eg_net_rule(port_lo: low, port_hi: high, protocol: match.protocol.ipProtocol(ipv4: match.network.address.isIPv4),
                            verdict: rule.verdict.kernelValue, rule: UInt16(rule.id.index))  // checkRuleIndices
            }
        }
        // Sorted by text only so the entries (and the first error) come in a stable order.
        let prefixes = Set(rules.map { $0.address!.network }).map { ($0.description, $0) }.sorted { $0.0 < $1.0 }.map(\.1)
        for prefix in prefixes {
            let tree = prefix.address.isIPv4 ? trees.v4 : trees.v6
            let ordered = tree.covering(bytes: prefix.address.bytes, length: prefix.prefixLength).joined()
            let list = ordered.flatMap { slots[$0] }
            guard list.count <= Int(EG_NET_RULES_MAX) else {
                throw CompileError(rule: ordered.first.map { "\(rules[$0].id)" } ?? "network",
                                   message: "\(list.count) port rules apply to \(prefix); the kernel holds at most \(EG_NET_RULES_MAX) per network")
            }
            var value = eg_net_rules()
            value.count = UInt32(list.count)
            withUnsafeMutableBytes(of: &value.rules) { raw in
                list.withUnsafeBytes { raw.copyMemory(from: $0) }
            }
            let prefixLength = UInt32(32 + prefix.prefixLength)
            if prefix.address.isIPv4 {
                var key = eg_net4_key()
                key.prefixlen = prefixLength
                key.policy_id = policyID
                withUnsafeMutableBytes(of: &key.addr) { $0.copyBytes(from: prefix.address.bytes) }
                v4.append((key, value))
            } else {
                var key = eg_net6_key()
                key.prefixlen = prefixLength
                key.policy_id = policyID
                withUnsafeMutableBytes(of: &key.addr) { $0.copyBytes(from: prefix.address.bytes) }
                v6.append((key, value))
            }
        }
        return (v4, v6)
    }

    /// Whether a `unix:` rule is a pattern, decided by the path matcher (EG_DOMAIN_UNIX keys)
    /// rather than by eg_unix_rules' whole-name and directory lookups.
    static func isPattern(_ matcher: PathMatcher) -> Bool {
        if case .glob = matcher { return true }
        return false
    }

    private static func unixEntries(_ policy: CompiledPolicy, policyID: UInt32) throws(CompileError)
        -> ([(key: eg_unix_key, rule: eg_net_rule)], [String]) {
        var entries: [String: (key: eg_unix_key, rule: eg_net_rule)] = [:]
        var creators: [RuleID] = []  // the rule that made each entry
        for rule in policy.unixRules {
            // Exact names as bound; a subtree is its directory with EG_UNIX_LEN_SUBTREE ("" for
            // `/**`), which the kernel looks up for each '/' of the name, deepest first.
            var (path, flag): (String, UInt32)
            switch rule.unix {
            case .exact(let p)?: (path, flag) = (p, 0)
            case .subtree(let p)?: (path, flag) = (p == "/" ? "" : p, EG_UNIX_LEN_SUBTREE)
            default: continue  // patterns are path entries; `name:` is not in the unix grammar
            }
            // sun_path's 108 bytes, all of which the kernel reads: a longer name is never bound.
            guard path.utf8.count <= Int(EG_UNIX_PATH_MAX) else {
                throw CompileError(rule: named(rule.id, in: policy), message: "socket path longer than \(EG_UNIX_PATH_MAX) bytes (sun_path) names no socket")
            }
            var key = eg_unix_key()
            key.policy_id = policyID
            key.len = UInt32(path.utf8.count) | flag
            withUnsafeMutableBytes(of: &key.path) { $0.copyBytes(from: path.utf8) }
            let value = eg_net_rule(port_lo: 0, port_hi: 0, protocol: 0, verdict: rule.verdict.kernelValue,
                                    rule: UInt16(rule.id.index))  // checkRuleIndices
            let slot = (flag == 0 ? "=" : "/") + path
            if entries[slot] == nil { creators.append(rule.id) }
            if let existing = entries[slot], existing.rule.verdict >= value.verdict { continue }
            entries[slot] = (key, value)
        }
        try checkCapacity(creators, reserved: 1, limit: Int(EG_UNIX_RULES_MAX), map: "eg_unix_rules",
                          what: "unix socket paths (and 1 entry for sockets no rule can judge)")
        return (entries.keys.sorted().map { entries[$0]! } + [socketsEntry(policy, policyID: policyID)], [])
    }

    /// The verdict on sockets no address rule can judge (raw, packet, SCTP, DCCP, other
    /// families; lib/sock_match.h): the network default when it refuses; else deny when any
    /// address rule denies or asks, which such a socket could walk around (named as the
    /// deciding rule); else the default (allow or audit). An ask cannot be answered for a
    /// socket without a destination: it is a deny.
    static func socketsEntry(_ policy: CompiledPolicy, policyID: UInt32) -> (key: eg_unix_key, rule: eg_net_rule) {
        var key = eg_unix_key()
        key.policy_id = policyID
        key.len = EG_UNIX_LEN_SOCKETS
        let deny = Verdict.deny.kernelValue
        var value = eg_net_rule(port_lo: 0, port_hi: 0, protocol: 0, verdict: policy.defaults.network.kernelValue,
                                rule: UInt16(EG_RULE_DEFAULT))
        if policy.defaults.network == .deny || policy.defaults.network == .ask {
            value.verdict = deny
        } else if let fenced = policy.addressRules.first(where: { $0.verdict == .deny || $0.verdict == .ask }) {
            value.verdict = deny
            value.rule = UInt16(fenced.id.index)
        }
        return (key, value)
    }
}

extension PolicyMaps.PathSlot {
    /// Errors name `rule` with its location in `policy` (`PolicyMaps.named`).
    init(domain: UInt8, matcher: PathMatcher, rule: RuleID, in policy: CompiledPolicy) throws(PolicyMaps.CompileError) {
        let kind: eg_path_kind
        var path = matcher.value
        switch matcher {
        case .exact: kind = EG_PATH_EXACT
        case .subtree:
            kind = EG_PATH_SUBTREE
            if path == "/" { path = "" }  // the kernel names the root subtree by the empty prefix
        case .basename: kind = EG_PATH_NAME
        case .glob(let glob):
            // One slot per pattern (its anchor key is chosen when the entries are laid out).
            self.init(domain: domain, kind: UInt8(EG_PATH_GLOB_DIR.rawValue), path: (glob.isName ? "name " : "") + glob.description,
                      glob: glob)
            return
        }
        guard path.utf8.count < Int(EG_PATH_MAX) else {
            throw PolicyMaps.CompileError(rule: PolicyMaps.named(rule, in: policy), message: "path longer than \(EG_PATH_MAX - 1) bytes cannot be enforced")
        }
        self.init(domain: domain, kind: UInt8(kind.rawValue), path: path)
    }
}

extension eg_path_rule {
    /// No verdict for any access kind.
    static var empty: eg_path_rule {
        var rule = eg_path_rule()
        withUnsafeMutableBytes(of: &rule.verdict) { $0.initializeMemory(as: UInt8.self, repeating: UInt8(EG_VERDICT_NONE)) }
        return rule
    }

    /// Verdict per access kind (`enum eg_access`), EG_VERDICT_NONE where there is no rule.
    var verdicts: [UInt8] {
        get { withUnsafeBytes(of: verdict) { Array($0) } }
        set { withUnsafeMutableBytes(of: &verdict) { $0.copyBytes(from: newValue) } }
    }

    /// Rule index per access kind.
    var rules: [UInt16] {
        get { withUnsafeBytes(of: rule) { Array($0.bindMemory(to: UInt16.self)) } }
        set { withUnsafeMutableBytes(of: &rule) { raw in newValue.withUnsafeBytes { raw.copyMemory(from: $0) } } }
    }
}

extension PolicyMaps {
    /// How two verdicts of one key rank when rules merge: as the kernel ranks candidates
    /// (path_match.h's EG_SV_*), a `unless: git` deny below a plain deny, above ask.
    static func strength(_ verdict: UInt8) -> Int {
        verdict == UInt8(EG_VERDICT_DENY_UNLESS_GIT) ? 2 * Int(EG_VERDICT_DENY.rawValue) - 1 : 2 * Int(verdict)
    }
}

extension Verdict {
    /// The `enum eg_verdict` value the kernel compares.
    var kernelValue: UInt8 {
        switch self {
        case .allow: UInt8(EG_VERDICT_ALLOW.rawValue)
        case .audit: UInt8(EG_VERDICT_AUDIT.rawValue)
        case .ask: UInt8(EG_VERDICT_ASK.rawValue)
        case .deny: UInt8(EG_VERDICT_DENY.rawValue)
        }
    }
}

extension NetworkProtocol {
    /// IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP (IPPROTO_ICMPV6 for IPv6), or 0 for any: the
    /// socket's protocol as the kernel reports it.
    public func ipProtocol(ipv4: Bool) -> UInt8 {
        switch self {
        case .tcp: 6
        case .udp: 17
        case .icmp: ipv4 ? 1 : 58
        case .any: 0
        }
    }
}

extension PolicyMaps {
    /// What a session keeps of its policy's entries once they are written: the keys that
    /// remove them, not the values (a path rule's value carries its 256-byte path). A
    /// 100,000-rule policy's entries are tens of MB; its keys, about 2 MB.
    public struct Installed {
        public let policyID: UInt32
        /// The loaded markers first: removing them first makes the kernel refuse the policy's
        /// decisions before any of its rules is gone.
        let paths: [eg_path_key]
        let ipv4: [eg_net4_key]
        let ipv6: [eg_net6_key]
        let unix: [eg_unix_key]
        /// Rules this kernel encoding cannot enforce, as `unenforced` names them.
        public let unenforced: [String]
    }

    public var installed: Installed {
        Installed(policyID: policyID, paths: loadedMarkers.map(\.key) + paths.map(\.key), ipv4: ipv4.map(\.key),
                  ipv6: ipv6.map(\.key), unix: unix.map(\.key), unenforced: unenforced)
    }
}
