internal import CEbguardABI
import EbguardBPF
import EbguardSystem
import Foundation
import Glibc

/// Loads ebguard's enforcement programs once per host and keeps them attached through pins,
/// so enforcement outlives any one `ebguard run` or daemon. Sessions are map entries.
///
/// Layout: `<base>/<generation>/` holds the maps (pinned by name by libbpf) and
/// `link-<program>` for each attachment, where the generation identifies this build's
/// objects; a second session of the same build finds the pins and only adds its entries.
/// Generations of other builds are removed once no session uses them.
public final class Enforcer {
    /// What this kernel let ebguard attach.
    public struct Coverage: Sendable, Equatable {
        public var network: Bool
        public var execAndFile: Bool
        public var unixSockets: Bool
        public var observedExec: Bool
        /// The session can't leave its cgroup, use bpf(), mount, or reach outside itself.
        public var selfProtection: Bool
        /// Exec (with argv), fork and exit of governed processes are reported (tracepoints, every kernel).
        public var processEvents = false
    }

    public let pinRoot: String
    /// ebguard's own cgroup: every session is a child of it; network programs attach here.
    public let parent: Cgroup
    public private(set) var coverage = Coverage(network: false, execAndFile: false, unixSockets: false, observedExec: false,
                                                    selfProtection: false)
    private let sessionLevel: UInt32

    public let pinBase: String

    public init(pinBase: String = "/sys/fs/bpf/ebguard", parentName: String = "ebguard") throws {
        try Mounts.ensure("bpf", at: "/sys/fs/bpf")
        self.pinBase = pinBase
        self.pinRoot = pinBase + "/" + EmbeddedObjects.generation
        for directory in [pinBase, pinRoot] where mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw SystemError.current("creating \(directory)")
        }
        parent = try Cgroup.ensure(path: try Cgroup.mountPoint() + "/" + parentName)
        sessionLevel = UInt32(try parent.level() + 1)
    }

    /// Loads and attaches what is not attached yet. `lsm` false skips BPF-LSM (degraded kernels).
    public func ensureLoaded(lsm: Bool) throws {
        let lock = try HostLock.acquire()
        defer { withExtendedLifetime(lock) {} }
        removeIdleGenerations()
        let parentDirectory = try parent.open()
        coverage.network = try ensure(object: "net") { program in
            try program.attach(cgroupFD: parentDirectory.rawValue)
        }
        withExtendedLifetime(parentDirectory) {}
        if lsm {
            coverage.execAndFile = try ensure(object: "exec") { try $0.attach() } && ensure(object: "file") { try $0.attach() }
            coverage.unixSockets = try ensure(object: "unix") { try $0.attach() }
            // The file object's open hook carries the cgroup and bpffs write guard (bpf/lib/guard.h).
            coverage.selfProtection = try ensure(object: "tamper") { try $0.attach() }
                && ensure(object: "contain") { try $0.attach() } && coverage.execAndFile
        } else {
            coverage.observedExec = try ensure(object: "observe") { try $0.attach() }
        }
        coverage.processEvents = try ensure(object: "process") { try $0.attach() }
    }

    /// Loads `object` unless all its programs are already attached (pinned), and pins new links.
    /// Returns false when this binary carries no such object.
    private func ensure(object name: String, attach: (BPFProgram) throws -> BPFLink) throws -> Bool {
        guard EmbeddedObjects.names.contains(name) else { return false }
        let object = try BPFObject(embedded: name, pinRoot: pinRoot)
        let programs = object.programs
        if programs.allSatisfy({ access(linkPath($0.name), F_OK) == 0 }) { return true }
        // libbpf finds the ids of `tp/` tracepoints in tracefs, which minimal systems leave
        // unmounted; only a load needs it, so a session of an already loaded build never looks.
        try Mounts.ensureTracefs()
        try object.setConstant("eg_session_level", to: sessionLevel)
        try object.load()
        for program in programs where access(linkPath(program.name), F_OK) != 0 {
            try attach(program).pin(at: linkPath(program.name))
        }
        return true
    }

    /// Unpins (and so detaches) the programs and maps of other builds that no session uses.
    private func removeIdleGenerations() {
        let others = ((try? FileManager.default.contentsOfDirectory(atPath: pinBase)) ?? [])
            .filter { $0 != EmbeddedObjects.generation }
        for other in others {
            let directory = pinBase + "/" + other
            // Only a sessions map read empty (or never pinned) proves a build idle. One that
            // cannot be opened or read (another ABI, a descriptor limit) may have live sessions,
            // whose enforcement the unpin would detach: it is in use.
            let sessions = KernelMaps.sessions.path(in: directory)
            if access(sessions, F_OK) == 0 {
                guard (try? PinnedMapContents.isEmpty(at: sessions)) == true else { continue }
            } else if errno != ENOENT {
                continue
            }
            for pin in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
                unlink(directory + "/" + pin)
            }
            rmdir(directory)
        }
    }

    private func linkPath(_ program: String) -> String { pinRoot + "/link-" + program }

    /// Writes a session's rules, then its session entry: the session is enforced from the
    /// moment its entry exists, and never with half its rules.
    public func install(_ maps: PolicyMaps, sessionID: UInt64, events: OwnedFileDescriptor? = nil) throws {
        if let events {
            try map(KernelMaps.sessionRings).update(sessionID, UInt32(events.rawValue))
        }
        if KernelMaps.pathRules.exists(in: pinRoot) {
            let paths = try map(KernelMaps.pathRules)
            for entry in maps.paths { try paths.update(entry.key, entry.rule) }
            for marker in maps.loadedMarkers { try paths.update(marker.key, marker.lengths) }
        }
        if KernelMaps.ipv4Rules.exists(in: pinRoot) {
            let v4 = try map(KernelMaps.ipv4Rules)
            for entry in maps.ipv4 { try v4.update(entry.key, entry.rules) }
            let v6 = try map(KernelMaps.ipv6Rules)
            for entry in maps.ipv6 { try v6.update(entry.key, entry.rules) }
        }
        if KernelMaps.unixRules.exists(in: pinRoot) {
            let unix = try map(KernelMaps.unixRules)
            for entry in maps.unix { try unix.update(entry.key, entry.rule) }
        }
        try map(KernelMaps.sessions).update(sessionID, maps.session)
    }

    /// The kernel's record of answered addresses (`host` rules), nil where no network
    /// programs are loaded.
    func hostsMap() -> BPFMap<eg_host_key, eg_host_allowance>? {
        try? map(KernelMaps.hosts)
    }

    /// Tells the kernel that `port` on loopback is the resolver of `sessionID`: no other
    /// session may send to it.
    public func registerResolver(port: UInt16, sessionID: UInt64) throws {
        guard KernelMaps.resolverPorts.exists(in: pinRoot) else { return }
        try map(KernelMaps.resolverPorts).update(UInt32(port), sessionID)
    }

    /// Rewrites a live session's entry (an adopted session's new resolver port).
    func updateSessionEntry(_ entry: eg_session, sessionID: UInt64) throws {
        try map(KernelMaps.sessions).update(sessionID, entry)
    }

    /// Removes the session entry first (ending enforcement for a cgroup that is gone), then its
    /// rules and the operator's answers to its asks (a later session may reuse the cgroup id).
    public func remove(_ installed: PolicyMaps.Installed, sessionID: UInt64) {
        _ = try? map(KernelMaps.sessions).delete(sessionID)
        _ = try? map(KernelMaps.sessionRings).delete(sessionID)
        removeRules(installed)
        Answers(pinRoot: pinRoot).removeAnswers(sessionID: sessionID)
        // Files whose owner the session set (tamper.bpf.c): its tasks are gone, and so must be
        // their entries, or the kernel's record of them would only ever fill up.
        if let owners = try? map(KernelMaps.fileOwners),
           let entries = try? owners.entries() {
            for entry in entries where entry.value == sessionID { _ = try? owners.delete(entry.key) }
        }
        // Its resolver's port and answered addresses (a daemon that died left them behind).
        if let ports = try? map(KernelMaps.resolverPorts), let entries = try? ports.entries() {
            for entry in entries where entry.value == sessionID { _ = try? ports.delete(entry.key) }
        }
        if let hosts = hostsMap(), let keys = try? hosts.keys() {
            for key in keys where key.session_id == sessionID { _ = try? hosts.delete(key) }
        }
    }

    /// Removes one policy's rules (no session may point at its policy id any more).
    public func removeRules(_ installed: PolicyMaps.Installed) {
        if let paths = try? map(KernelMaps.pathRules) {
            for key in installed.paths { _ = try? paths.delete(key) }
        }
        if let v4 = try? map(KernelMaps.ipv4Rules) {
            for key in installed.ipv4 { _ = try? v4.delete(key) }
        }
        if let v6 = try? map(KernelMaps.ipv6Rules) {
            for key in installed.ipv6 { _ = try? v6.delete(key) }
        }
        if let unix = try? map(KernelMaps.unixRules) {
            for key in installed.unix { _ = try? unix.delete(key) }
        }
    }

    public func removeRules(_ maps: PolicyMaps) { removeRules(maps.installed) }

    /// The policy id the kernel applies to `sessionID` now; nil when it has no entry.
    public func installedPolicyID(sessionID: UInt64) -> UInt32? {
        (try? map(KernelMaps.sessions).lookup(sessionID))??.policy_id
    }

    /// Processes stopped at exec for a decision, with their session. Answered entries are not
    /// held: they mark running vetted gits (EG_HELD_GIT_WRITER).
    public func heldExecs() -> [(pid: pid_t, sessionID: UInt64)] {
        let held = (try? map(KernelMaps.held).entries()) ?? []
        return held.filter { $0.value & HeldExec.answered == 0 }.map { (pid_t($0.key), $0.value) }
    }

    /// How to resume or kill a held exec (through a pidfd, marking the answer for the kernel).
    public var holdAnswers: HeldExec.HoldAnswers { HeldExec.HoldAnswers(heldMap: KernelMaps.held.path(in: pinRoot)) }

    /// Forgets that `pid` is held for a decision (once ebguard has resumed or killed it).
    public func releaseHold(pid: pid_t) {
        _ = try? map(KernelMaps.held).delete(UInt32(pid))
    }

    /// A policy id no live session uses.
    public func freshPolicyID() throws -> UInt32 {
        let sessions = try map(KernelMaps.sessions)
        let used = Set(try sessions.entries().map(\.value.policy_id))
        var id: UInt32
        repeat { id = UInt32.random(in: 1..<UInt32.max) } while used.contains(id)
        return id
    }
}

/// Serializes loading between concurrent `ebguard run`s on one host.
enum HostLock {
    static func acquire() throws -> OwnedFileDescriptor {
        mkdir("/run/ebguard", 0o755)
        let lock = try OwnedFileDescriptor(opening: "/run/ebguard/load.lock", flags: O_RDWR | O_CREAT)
        guard flock(lock.rawValue, LOCK_EX) == 0 else { throw SystemError.current("locking /run/ebguard/load.lock") }
        return lock
    }
}
