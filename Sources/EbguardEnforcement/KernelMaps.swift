internal import CEbguardABI
import EbguardBPF
import Glibc

/// A map the BPF objects pin by name, with the key and value types the kernel gives it
/// (`bpf/ebguard.h`). Call sites name one of `KernelMaps`' members, never a string, so a
/// map's name and layout are written once.
public struct KernelMap<Key: BitwiseCopyable, Value: BitwiseCopyable>: Sendable {
    public let name: String
    fileprivate init(_ name: String) { self.name = name }
}

/// A ring buffer the BPF objects pin by name.
public struct KernelRing: Sendable {
    public let name: String
    fileprivate init(_ name: String) { self.name = name }
}

/// The registry: every pinned map and ring userspace reaches. The maps stay inside this module
/// (their keys and values are the ABI's C types); other modules reach the kernel through
/// `Enforcer`, `Answers` and the rings.
public enum KernelMaps {
    static let sessions = KernelMap<UInt64, eg_session>("eg_sessions")
    static let sessionRings = KernelMap<UInt64, UInt32>("eg_session_rbs")
    static let pathRules = KernelMap<eg_path_key, eg_path_rule>("eg_path_rules")
    static let ipv4Rules = KernelMap<eg_net4_key, eg_net_rules>("eg_net4_rules")
    static let ipv6Rules = KernelMap<eg_net6_key, eg_net_rules>("eg_net6_rules")
    static let unixRules = KernelMap<eg_unix_key, eg_net_rule>("eg_unix_rules")
    static let hosts = KernelMap<eg_host_key, eg_host_allowance>("eg_hosts")
    static let resolverPorts = KernelMap<UInt32, UInt64>("eg_dns_ports")
    static let fileOwners = KernelMap<UInt64, UInt64>("eg_fowners")
    static let held = KernelMap<UInt32, UInt64>("eg_held")
    static let fileAnswers = KernelMap<eg_file_answer_key, eg_answer>("eg_file_answers")
    static let networkAnswers = KernelMap<eg_net_answer_key, eg_answer>("eg_net_answers")
    /// Per CPU: events the kernel could not queue (index 0).
    static let lost = KernelMap<UInt32, UInt64>("eg_lost")

    /// Decisions and process life of the daemon's sessions; `urgent` carries held execs.
    public static let events = KernelRing("eg_events")
    public static let urgent = KernelRing("eg_urgent")

    /// The folder this build pins its maps in, under the default base (`Enforcer.pinRoot`).
    public static var defaultPinRoot: String { "/sys/fs/bpf/ebguard/" + EmbeddedObjects.generation }
}

extension KernelMap {
    /// The map pinned under `pinRoot`.
    public func open(in pinRoot: String) throws -> BPFMap<Key, Value> { try BPFMap(pinnedAt: path(in: pinRoot)) }

    /// The per-CPU map pinned under `pinRoot`.
    public func openPerCPU(in pinRoot: String) throws -> BPFPerCPUMap<Key, Value> {
        try BPFPerCPUMap(pinnedAt: path(in: pinRoot))
    }

    /// Whether the objects that hold it are loaded (network maps are absent where only some are).
    public func exists(in pinRoot: String) -> Bool { access(path(in: pinRoot), F_OK) == 0 }

    public func path(in pinRoot: String) -> String { pinRoot + "/" + name }
}

extension KernelRing {
    public func path(in pinRoot: String) -> String { pinRoot + "/" + name }
}

extension Enforcer {
    /// One of the registry's maps, as this enforcer pinned it.
    func map<Key, Value>(_ map: KernelMap<Key, Value>) throws -> BPFMap<Key, Value> { try map.open(in: pinRoot) }

    /// Ends enforcement for a session whose owner is gone with no daemon to tell (its cgroup was
    /// destroyed): removes its entry, so the kernel stops applying a policy to a dead id. Its
    /// rules stay until a daemon sweeps them.
    public static func forgetSession(_ sessionID: UInt64, pinRoot: String = KernelMaps.defaultPinRoot) {
        _ = try? KernelMaps.sessions.open(in: pinRoot).delete(sessionID)
    }
}
