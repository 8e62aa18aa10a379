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
    private let enforcer: Enforcer
    private var ended = false

    /// Creates the cgroup and installs the policy; nothing runs in it yet. Process life (fork,
    /// exec with argv, exit) is reported only where someone reads it: by default to the daemon
    /// (`ownEventChannel` false), whose stream and enrichment use it.
    public init(name: String, policy: CompiledPolicy, enforcer: Enforcer, auditAllows: Bool = false,
                ownEventChannel: Bool = true, processEvents: Bool? = nil) throws {
        let unique = String(UInt32.random(in: 0..<UInt32.max), radix: 16)
        self.name = name
        self.enforcer = enforcer
        cgroup = try enforcer.parent.createChild("\(name)-\(unique)")
        do {
            id = try cgroup.id()
            let maps = try PolicyMaps(policy, policyID: try enforcer.freshPolicyID(), auditAllows: auditAllows,
                                      processEvents: processEvents ?? !ownEventChannel)
            installed = maps.installed
            events = ownEventChannel ? try RingBuffer.createMap(size: 256 * 1024, name: "eg_session_rb") : nil
            do {
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
    public init(adopting name: String, cgroup: Cgroup, id: UInt64, maps: PolicyMaps, enforcer: Enforcer) {
        self.name = name
        self.cgroup = cgroup
        self.id = id
        installed = maps.installed
        self.enforcer = enforcer
        events = nil
    }

    /// Swaps the policy without a gap: `replacement` (compiled under a fresh policy id) goes
    /// in first, then one map update points the session at it, then the old rules go.
    /// Throws, changing nothing the kernel applies, when the new rules cannot be written.
    public func replacePolicy(with replacement: PolicyMaps) throws {
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
