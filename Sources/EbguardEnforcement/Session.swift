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
    public let maps: PolicyMaps
    /// The session's own event channel: its decisions only, whoever else is reading theirs.
    public let events: OwnedFileDescriptor
    private let enforcer: Enforcer
    private var ended = false

    /// Creates the cgroup and installs the policy; nothing runs in it yet.
    public init(name: String, policy: CompiledPolicy, enforcer: Enforcer, auditAllows: Bool = false) throws {
        let unique = String(UInt32.random(in: 0..<UInt32.max), radix: 16)
        self.name = name
        self.enforcer = enforcer
        cgroup = try enforcer.parent.createChild("\(name)-\(unique)")
        do {
            id = try cgroup.id()
            let maps = try PolicyMaps(policy, policyID: try enforcer.freshPolicyID(), auditAllows: auditAllows)
            self.maps = maps
            events = try RingBuffer.createMap(size: 256 * 1024, name: "eg_session_rb")
            do {
                try enforcer.install(maps, sessionID: id, events: events)
            } catch {
                // A map that filled up halfway (they are shared by every session) leaves the
                // entries written so far: never enforced without the session entry, but taking room.
                enforcer.remove(maps, sessionID: id)
                throw error
            }
        } catch {
            try? cgroup.destroy()
            throw error
        }
    }

    /// Kills whatever is left in the session, removes its cgroup and its map entries.
    public func end() {
        guard !ended else { return }
        ended = true
        try? cgroup.killAll()
        try? cgroup.destroy()
        enforcer.remove(maps, sessionID: id)
    }

    deinit { end() }
}
