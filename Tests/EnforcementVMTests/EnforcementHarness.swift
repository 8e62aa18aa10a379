import CEbguardABI
import EbguardBPF
@testable import EbguardEnforcement
import EbguardSystem
import EbguardTestSupport
import Foundation
import Glibc

/// One path rule as a test writes it; `Enforcement.install` merges rules that share a key
/// the way the policy compiler does (per access kind, the strongest verdict wins).
struct PathRule {
    var domain: eg_domain
    var kind: eg_path_kind
    var path: String
    var verdicts: [eg_access: eg_verdict]
    var rule: UInt16
    var flags: UInt32 = 0

    static func file(_ kind: eg_path_kind, _ path: String, _ verdicts: [eg_access: eg_verdict], rule: UInt16) -> PathRule {
        PathRule(domain: EG_DOMAIN_FILE, kind: kind, path: path, verdicts: verdicts, rule: rule)
    }

    static func exec(_ kind: eg_path_kind, _ path: String, _ verdict: eg_verdict, rule: UInt16, flags: UInt32 = 0) -> PathRule {
        PathRule(domain: EG_DOMAIN_EXEC, kind: kind, path: path, verdicts: [EG_ACCESS_EXEC: verdict], rule: rule, flags: flags)
    }

    /// What the policy compiler writes for a program with argv rules only: the hold flag, no verdict.
    static func argvOnly(_ kind: eg_path_kind, _ path: String) -> PathRule {
        PathRule(domain: EG_DOMAIN_EXEC, kind: kind, path: path, verdicts: [:], rule: 0, flags: UInt32(EG_PATH_RULE_ARGV))
    }
}

/// A decoded `eg_path_event`, with Swift types.
struct PathEvent: CustomStringConvertible {
    let type: UInt16
    let sessionID: UInt64
    let policyID: UInt32
    let access: UInt32
    let ret: Int32
    let rule: UInt16
    let verdict: UInt8
    let reason: UInt8
    let path: String
    let pathLength: UInt32
    let comm: String
    let pid: UInt32
    /// The object's inode and device (kernel encoding), 0 when it does not exist yet.
    let inode: UInt64
    let device: UInt32
    /// Came through `eg_urgent` (held execs) rather than `eg_events`.
    let urgent: Bool

    init(_ event: eg_path_event, urgent: Bool = false) {
        self.urgent = urgent
        type = event.hdr.type
        sessionID = event.session_id
        policyID = event.policy_id
        access = event.access
        ret = event.ret
        rule = event.rule
        verdict = event.verdict
        reason = event.reason
        path = string(fromCArray: event.path)
        pathLength = event.path_len
        comm = string(fromCArray: event.task.comm)
        pid = event.task.pid
        inode = event.inode
        device = event.device
    }

    var description: String {
        "type \(type) \(comm) \(path) access 0x\(String(access, radix: 16)) ret \(ret) rule \(rule) verdict \(verdict) reason \(reason) inode \(inode) device 0x\(String(device, radix: 16))"
    }
}

func mask(_ kinds: eg_access...) -> UInt32 {
    kinds.reduce(0) { $0 | (1 << $1.rawValue) }
}

/// The exec and file objects loaded with their own pin root (so each test has its own maps),
/// every program attached; detached and unpinned on `deinit`.
final class Enforcement {
    let pinRoot: String
    let objects: [BPFObject]
    let sessions: BPFMap<UInt64, eg_session>
    let rules: BPFMap<eg_path_key, eg_path_rule>
    private var links: [BPFLink] = []
    private let ring: RingBuffer
    /// Held execs come on `eg_urgent` (lib/maps.h), the rest on `eg_events`.
    private let urgentRing: RingBuffer
    private let inbox = Inbox()

    private final class Inbox { var events: [PathEvent] = [] }

    /// - Parameter level: the cgroup level of the sessions (`Cgroup.level()`).
    init(level: Int) throws {
        pinRoot = "/sys/fs/bpf/eg-enf-\(getpid())-\(UInt32.random(in: 0..<UInt32.max))"
        guard mkdir(pinRoot, 0o700) == 0 else { throw SystemError.current("creating \(pinRoot)") }
        var loaded: [BPFObject] = []
        do {
            for name in ["exec", "file"] {
                let object = try BPFObject(embedded: name, pinRoot: pinRoot)
                try object.setConstant("eg_session_level", to: UInt32(level))
                try object.load()
                loaded.append(object)
            }
            objects = loaded
            sessions = try loaded[0].map("eg_sessions")
            rules = try loaded[0].map("eg_path_rules")
            let inbox = self.inbox
            func receive(urgent: Bool) -> (UnsafeRawBufferPointer) -> Void {
                { record in
                    if let event = EventRecord.decode(eg_path_event.self, from: record) {
                        inbox.events.append(PathEvent(event, urgent: urgent))
                    }
                }
            }
            ring = try RingBuffer(try loaded[0].map("eg_events"), handler: receive(urgent: false))
            urgentRing = try RingBuffer(try loaded[0].map("eg_urgent"), handler: receive(urgent: true))
            for object in loaded {
                for program in object.programs { links.append(try program.attach()) }
            }
        } catch {
            Enforcement.removePins(pinRoot)
            throw error
        }
    }

    deinit {
        links.removeAll()
        Enforcement.removePins(pinRoot)
    }

    private static func removePins(_ root: String) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] { unlink(root + "/" + name) }
        rmdir(root)
    }

    /// Makes `cgroup` a session of `policy`.
    func addSession(_ cgroup: Cgroup, policy: UInt32, exec: eg_verdict = EG_VERDICT_ALLOW, file: eg_verdict = EG_VERDICT_ALLOW,
                    flags: UInt8 = 0) throws {
        var session = eg_session()
        session.policy_id = policy
        session.default_verdict = (UInt8(exec.rawValue), UInt8(file.rawValue), UInt8(EG_VERDICT_ALLOW.rawValue))
        session.flags = flags
        try sessions.update(try cgroup.id(), session)
    }

    /// Writes `rules` for `policy`, then the policy's EG_PATH_LOADED markers (unless `markers` is
    /// false), each with the lengths of its domain's keys, as `PolicyMaps` writes them.
    func install(policy: UInt32, _ list: [PathRule], markers: Bool = true) throws {
        var merged: [String: (eg_path_key, eg_path_rule)] = [:]
        for rule in list {
            let key = Enforcement.key(policy: policy, domain: rule.domain, kind: rule.kind, path: rule.path)
            let id = "\(rule.domain.rawValue)/\(rule.kind.rawValue)/\(rule.path)"
            var value = merged[id]?.1 ?? Enforcement.emptyRule(path: rule.path)
            withUnsafeMutableBytes(of: &value.verdict) { verdicts in
                withUnsafeMutableBytes(of: &value.rule) { indices in
                    for (access, verdict) in rule.verdicts {
                        let slot = Int(access.rawValue)
                        let current = verdicts[slot]
                        if current == UInt8(EG_VERDICT_NONE) || UInt8(verdict.rawValue) > current {
                            verdicts[slot] = UInt8(verdict.rawValue)
                            indices.storeBytes(of: rule.rule, toByteOffset: slot * 2, as: UInt16.self)
                        }
                    }
                }
            }
            value.flags |= rule.flags
            merged[id] = (key, value)
        }
        for (key, value) in merged.values { try rules.update(key, value) }
        if markers {
            for domain in [EG_DOMAIN_EXEC, EG_DOMAIN_FILE] {
                let keys = merged.values.map(\.0).filter { $0.domain == UInt8(domain.rawValue) }
                try rules.update(Enforcement.key(policy: policy, domain: domain, kind: EG_PATH_LOADED, path: ""),
                                 PolicyMaps.lengths(of: keys))
            }
        }
    }

    /// Events that arrived so far (and drains them).
    func takeEvents() throws -> [PathEvent] {
        try ring.consume()
        try urgentRing.consume()
        defer { inbox.events.removeAll() }
        return inbox.events
    }

    static func key(policy: UInt32, domain: eg_domain, kind: eg_path_kind, path: String) -> eg_path_key {
        precondition(path.utf8.count < Int(EG_PATH_MAX), "path too long for a key: \(path)")
        return PolicyMaps.key(policyID: policy, domain: UInt8(domain.rawValue), kind: UInt8(kind.rawValue), path: path)
    }

    /// A value with no verdict, carrying `path` (the kernel compares it on every hit).
    static func emptyRule(path: String) -> eg_path_rule {
        var rule = eg_path_rule()
        withUnsafeMutableBytes(of: &rule.verdict) { $0.initializeMemory(as: UInt8.self, repeating: UInt8(EG_VERDICT_NONE)) }
        withUnsafeMutableBytes(of: &rule.path) { $0.copyBytes(from: path.utf8) }
        return rule
    }
}

/// A directory on the guest's tmpfs, removed afterwards.
final class ScratchDirectory {
    let path: String

    init(_ label: String) throws {
        path = "/tmp/eg-enf-\(label)-\(getpid())-\(UInt32.random(in: 0..<1_000_000))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `text` to `relative`, creating parent directories; returns the absolute path.
    @discardableResult
    func file(_ relative: String, _ text: String = "data\n", mode: mode_t = 0o644) throws -> String {
        let full = path + "/" + relative
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try text.write(toFile: full, atomically: false, encoding: .utf8)
        chmod(full, mode)
        return full
    }

    @discardableResult
    func directory(_ relative: String) throws -> String {
        let full = path + "/" + relative
        try FileManager.default.createDirectory(atPath: full, withIntermediateDirectories: true)
        return full
    }

    /// Copies a program (e.g. /usr/bin/true) to `relative`, executable.
    @discardableResult
    func program(_ relative: String, from source: String) throws -> String {
        let full = path + "/" + relative
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: source, toPath: full)
        chmod(full, 0o755)
        return full
    }

    @discardableResult
    func symlink(_ relative: String, to target: String) throws -> String {
        let full = path + "/" + relative
        try FileManager.default.createSymbolicLink(atPath: full, withDestinationPath: target)
        return full
    }
}

/// A session cgroup with its enforcement loaded: the usual start of a test.
struct Fixture {
    let session: ScratchCgroup
    let enforcement: Enforcement
    let dir: ScratchDirectory

    init(_ label: String, policy: UInt32 = 1, exec: eg_verdict = EG_VERDICT_ALLOW, file: eg_verdict = EG_VERDICT_ALLOW,
         flags: UInt8 = 0, rules: (ScratchDirectory) throws -> [PathRule]) throws {
        session = try ScratchCgroup(label)
        enforcement = try Enforcement(level: try session.cgroup.level())
        dir = try ScratchDirectory(label)
        try enforcement.install(policy: policy, try rules(dir))
        try enforcement.addSession(session.cgroup, policy: policy, exec: exec, file: file, flags: flags)
    }

    /// Runs a shell command line inside the session.
    func sh(_ script: String) throws -> ProcessResult {
        try runProcess(["/bin/sh", "-c", script], in: session.cgroup)
    }

    func run(_ arguments: String...) throws -> ProcessResult {
        try runProcess(arguments, in: session.cgroup)
    }
}
