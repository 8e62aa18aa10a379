internal import CEbguardABI
import EbguardBPF
import EbguardPolicy
import EbguardSystem
import Glibc

/// One governed session: a fresh cgroup below ebguard's own, and its policy's map entries.
/// The policy applies to that cgroup and every cgroup created below it.
public final class Session {
    public let name: String
    public let cgroup: Cgroup
    /// The session cgroup's id, which keys its entry in `eg_sessions`.
    public let id: UInt64
    /// The keys of its policy's entries (what `end` removes), not the entries themselves.
    public private(set) var installed: PolicyMaps.Installed
    /// The session's own event channel (standalone `ebguard run`): its decisions only, whoever
    /// else is reading theirs. nil when the daemon reads them from the shared `eg_events`.
    public let events: OwnedFileDescriptor?
    /// Where the session's resolver listens (127.0.0.1 and ::1), nil when it has none.
    public let dnsPort: UInt16?
    /// The addresses its resolver answered, open to it while they live (`host` rules).
    public let hosts: HostAllowances
    private let enforcer: Enforcer
    private var ended = false

    /// Creates the cgroup and installs the policy; nothing runs in it yet. Process life (fork,
    /// exec with argv, exit) is reported only where someone reads it: by default to the daemon
    /// (`ownEventChannel` false), whose stream and enrichment use it.
    ///
    /// `resolver` starts the session's resolver once the session's id is known and returns its
    /// port: from then on every DNS query of the session goes there (bpf/lib/sock_addr.h).
    public init(name: String, policy: CompiledPolicy, enforcer: Enforcer, auditAllows: Bool = false,
                ownEventChannel: Bool = true, processEvents: Bool? = nil, hostLimits: HostAllowances.Limits = .init(),
                resolver: ((UInt64, HostAllowances) throws -> UInt16)? = nil) throws {
        let unique = String(UInt32.random(in: 0..<UInt32.max), radix: 16)
        self.name = name
        self.enforcer = enforcer
        cgroup = try enforcer.parent.createChild("\(name)-\(unique)")
        do {
            id = try cgroup.id()
            var maps = try PolicyMaps(policy, policyID: try enforcer.freshPolicyID(), auditAllows: auditAllows,
                                      processEvents: processEvents ?? !ownEventChannel)
            hosts = HostAllowances(sessionID: id, map: enforcer.hostsMap(), limits: hostLimits)
            dnsPort = try resolver?(id, hosts)
            maps.session.dns_port = dnsPort ?? 0
            installed = maps.installed
            events = ownEventChannel ? try RingBuffer.createMap(size: 256 * 1024, name: "eg_session_rb") : nil
            do {
                if let dnsPort { try enforcer.registerResolver(port: dnsPort, sessionID: id) }
                try enforcer.install(maps, sessionID: id, events: events)
            } catch {
                // A map that filled up halfway (they are shared by every session) leaves the
                // entries written so far: never enforced without the session entry, but taking room.
                enforcer.remove(maps.installed, sessionID: id)
                throw error
            }
        } catch {
            try? cgroup.destroy()
            throw error
        }
    }

    /// Takes over a session an earlier daemon created: its entries are in the pinned maps
    /// already, and `maps` must be what that daemon installed (same policy and policy id).
    /// Its resolver went with that daemon: the session keeps the kernel's redirection (its
    /// queries fail) until `resolver` gives it a new one.
    public init(adopting name: String, cgroup: Cgroup, id: UInt64, maps: PolicyMaps, enforcer: Enforcer,
                hostLimits: HostAllowances.Limits = .init(),
                resolver: ((UInt64, HostAllowances) throws -> UInt16)? = nil) throws {
        self.name = name
        self.cgroup = cgroup
        self.id = id
        installed = maps.installed
        self.enforcer = enforcer
        events = nil
        hosts = HostAllowances(sessionID: id, map: enforcer.hostsMap(), limits: hostLimits)
        dnsPort = try resolver?(id, hosts)
        if let dnsPort {
            try enforcer.registerResolver(port: dnsPort, sessionID: id)
            var entry = maps.session
            entry.dns_port = dnsPort
            try enforcer.updateSessionEntry(entry, sessionID: id)
        }
    }

    /// Swaps the policy without a gap: `replacement` (compiled under a fresh policy id) goes
    /// in first, then one map update points the session at it, then the old rules go.
    /// Throws, changing nothing the kernel applies, when the new rules cannot be written.
    public func replacePolicy(with replacement: PolicyMaps) throws {
        var replacement = replacement
        replacement.session.dns_port = dnsPort ?? 0
        do {
            try enforcer.install(replacement, sessionID: id)
        } catch {
            enforcer.removeRules(replacement)
            throw error
        }
        let previous = installed
        installed = replacement.installed
        enforcer.removeRules(previous)
    }

    /// Kills whatever is left in the session, removes its cgroup and its map entries.
    public func end() {
        guard !ended else { return }
        ended = true
        try? cgroup.killAll()
        try? cgroup.destroy()
        enforcer.remove(installed, sessionID: id)
    }

    /// Forgets the session without touching it (the daemon shutting down leaves it enforced).
    public func release() { ended = true }

    deinit { end() }
}
