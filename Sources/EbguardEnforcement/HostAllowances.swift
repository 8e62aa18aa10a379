internal import CEbguardABI
import EbguardBPF
import EbguardPolicy
import Foundation
import Glibc

/// One session's share of the kernel's `eg_hosts`: the addresses its resolver answered for
/// names its host rules let resolve, each with the rules of those names, until the answer's
/// TTL plus a grace period ends (bpf/lib/sock_addr.h). Several names may share an address (a
/// CDN): the kernel's entry holds the rules of every live name it was answered for.
///
/// Bounded per session: a name or address past the limits is refused (the resolver answers
/// SERVFAIL), never let through unrecorded. Thread-safe: the resolver's workers grant, the
/// session's owner sweeps.
public final class HostAllowances: @unchecked Sendable {
    public struct Limits: Sendable, Equatable {
        /// Distinct names with live answers.
        public var names = 1024
        /// Distinct addresses with live answers.
        public var addresses = 4096
        /// Added to every record's TTL: a client that connects just as the TTL runs out still
        /// gets through, and a TTL of 0 still covers the connect that follows the answer.
        public var graceSeconds: UInt32 = 30
        public init() {}
    }

    public struct LimitReached: Error, CustomStringConvertible {
        public let description: String
    }

    private struct Address: Hashable {
        let family: UInt8
        let bytes: [UInt8]
    }

    private struct Grant {
        var rules: [eg_net_rule]
        var expires: UInt64
    }

    public let sessionID: UInt64
    public let limits: Limits
    private let map: BPFMap<eg_host_key, eg_host_allowance>?
    private let lock = NSLock()
    private var ids: [String: UInt32] = [:]
    private var names: [UInt32: String] = [:]
    private var grants: [Address: [UInt32: Grant]] = [:]
    private var lastSweep: UInt64 = 0
    private var nextID: UInt32 = 0
    /// Names with an answer that has not expired (as of the last sweep or grant).
    private var liveNames = Set<UInt32>()
    /// How often `grant` drops what expired (kernel entries included), so neither the limits nor
    /// the kernel's map fill up with answers nobody may use any more.
    static let sweepInterval: UInt64 = 10_000_000_000

    /// `map` nil keeps the record in memory only (unit tests, kernels without the programs).
    init(sessionID: UInt64, map: BPFMap<eg_host_key, eg_host_allowance>?, limits: Limits = Limits()) {
        self.sessionID = sessionID
        self.map = map
        self.limits = limits
    }

    /// The name behind an event's `host_id`.
    public func name(ofID id: UInt32) -> String? {
        lock.withLock { names[id] }
    }

    /// The names with live answers for `address` (4 or 16 bytes; mapped IPv6 as IPv4).
    public func liveNames(for address: [UInt8], now: UInt64 = Answers.bootTime()) -> [String] {
        let key = Self.address(address)
        return lock.withLock {
            (grants[key] ?? [:]).filter { $0.value.expires > now }.keys.sorted().compactMap { names[$0] }
        }
    }

    /// Opens `addresses` (each with its record's TTL) for `name` under `rules` (the rules of
    /// the name's pattern, an operator's approval already made allow). Written to the kernel
    /// before it returns; throws, leaving earlier grants as they were, when a limit is reached
    /// or the kernel refuses the entry.
    @discardableResult
    public func grant(name: String, addresses: [(bytes: [UInt8], ttl: UInt32)], rules: [CompiledNetworkRule],
                      now: UInt64 = Answers.bootTime()) throws -> UInt32 {
        try lock.withLock {
            if now >= lastSweep + Self.sweepInterval || liveNames.count >= limits.names || grants.count >= limits.addresses {
                sweepLocked(now: now)
            }
            let known = ids[name]
            guard known.map(liveNames.contains) == true || liveNames.count < limits.names else {
                throw LimitReached(description: "the session has answers for \(limits.names) names, its limit")
            }
            let id: UInt32
            if let known {
                id = known
            } else {
                // Never reused: an event still in flight names the name it was decided for.
                nextID += 1
                id = nextID
                ids[name] = id
                names[id] = name
            }
            for (bytes, ttl) in addresses {
                let address = Self.address(bytes)
                if grants[address] == nil && grants.count >= limits.addresses {
                    throw LimitReached(description: "the session has answers for \(limits.addresses) addresses, its limit")
                }
                let expires = now + UInt64(ttl + limits.graceSeconds) * 1_000_000_000
                var forAddress = grants[address] ?? [:]
                let previous = forAddress[id]
                forAddress[id] = Grant(rules: Self.kernelRules(rules, ipv4: address.family == UInt8(AF_INET)),
                                       expires: max(expires, previous?.expires ?? 0))
                try write(address, forAddress, newest: id)
                grants[address] = forAddress
                liveNames.insert(id)
            }
            return id
        }
    }

    /// Forgets what has expired, in memory and in the kernel (which ignores it already).
    public func sweep(now: UInt64 = Answers.bootTime()) {
        lock.withLock { sweepLocked(now: now) }
    }

    private func sweepLocked(now: UInt64) {
        lastSweep = now
        var liveIDs = Set<UInt32>()
        for (address, forAddress) in grants {
            let live = forAddress.filter { $0.value.expires > now }
            liveIDs.formUnion(live.keys)
            guard live.count != forAddress.count else { continue }
            if live.isEmpty {
                grants[address] = nil
                _ = try? map?.delete(Self.key(sessionID, address))
            } else if (try? write(address, live, newest: live.keys.max()!)) != nil {
                grants[address] = live
            }
        }
        // A name without a live answer no longer counts against the limit, nor is it kept: a
        // session resolving ever new names must not grow without bound.
        liveNames = liveIDs
        for (name, id) in ids where !liveIDs.contains(id) {
            ids[name] = nil
            names[id] = nil
        }
    }

    /// Removes every entry of the session (it ended).
    public func removeAll() {
        lock.withLock {
            for address in grants.keys { _ = try? map?.delete(Self.key(sessionID, address)) }
            grants = [:]
        }
    }

    /// The kernel's entry for an address: the union of its names' rules in the kernel's order.
    private func write(_ address: Address, _ forAddress: [UInt32: Grant], newest: UInt32) throws {
        var rules: [eg_net_rule] = []
        var seen = Set<[UInt16]>()
        for grant in forAddress.values {
            for rule in grant.rules where seen.insert([rule.port_lo, rule.port_hi, UInt16(rule.protocol), UInt16(rule.verdict), rule.rule]).inserted {
                rules.append(rule)
            }
        }
        guard rules.count <= Int(EG_NET_RULES_MAX) else {
            throw LimitReached(description: "\(rules.count) rules of the names sharing this address; the kernel holds \(EG_NET_RULES_MAX)")
        }
        // The kernel's verdict numbers run in strength order (allow 0 ... deny 3).
        rules.sort { a, b in a.verdict != b.verdict ? a.verdict > b.verdict : a.rule < b.rule }
        var value = eg_host_allowance()
        value.expires_ns = forAddress.values.map(\.expires).max() ?? 0
        value.host_id = newest
        value.rules.count = UInt32(rules.count)
        withUnsafeMutableBytes(of: &value.rules.rules) { raw in
            rules.withUnsafeBytes { raw.copyMemory(from: $0) }
        }
        try map?.update(Self.key(sessionID, address), value)
    }

    /// One slot per port range, as in the address rules' lists.
    static func kernelRules(_ rules: [CompiledNetworkRule], ipv4: Bool) -> [eg_net_rule] {
        rules.flatMap { rule -> [eg_net_rule] in
            guard let match = rule.host else { return [] }
            let ranges = match.ports.isAny ? [(UInt16(0), UInt16.max)] : match.ports.ranges.map { ($0.low, $0.high) }
            return ranges.map { low, high in
                eg_net_rule(port_lo: low, port_hi: high, protocol: match.protocol.ipProtocol(ipv4: ipv4),
                            verdict: rule.verdict.kernelValue, rule: UInt16(rule.id.index))
            }
        }
    }

    private static func address(_ bytes: [UInt8]) -> Address {
        if bytes.count == 16 && bytes.prefix(12) == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] {
            return Address(family: UInt8(AF_INET), bytes: Array(bytes.suffix(4)))
        }
        return Address(family: UInt8(bytes.count == 4 ? AF_INET : AF_INET6), bytes: bytes)
    }

    private static func key(_ sessionID: UInt64, _ address: Address) -> eg_host_key {
        var key = eg_host_key()
        key.session_id = sessionID
        key.family = address.family
        withUnsafeMutableBytes(of: &key.addr) { raw in
            address.bytes.withUnsafeBytes { raw.copyMemory(from: $0) }
        }
        return key
    }
}
