internal import CEbguardABI
import EbguardBPF
import EbguardPolicy
import Glibc

/// A decision the kernel reported, decoded once from the ring buffer into typed facts: every
/// output (the line `ebguard run` prints, the daemon's JSON line, audit records, overlay rules)
/// is rendered from these, and nothing downstream reads meaning back out of text.
public struct DecisionEvent: Sendable, Equatable {
    public enum Kind: String, Sendable { case exec, file, network, unix, tamper }

    /// What the operation was on.
    public enum Object: Sendable, Equatable {
        /// An exec's or a file access's path, as the kernel resolved it (`bpf_d_path`).
        case path(String)
        /// A path the kernel could not resolve (the decision failed closed).
        case unresolvedPath
        /// An IP connect or send.
        case destination(EventDestination)
        /// A `socket()` refused for want of a destination: its family, type and protocol say what.
        case socket(family: UInt8, type: UInt16, protocolNumber: UInt8)
        /// A Unix socket's name as bound, every byte of it (108 when it fills `sun_path`); an
        /// abstract name is `@name`, each NUL in it shown as `@` (see `unixName(_:length:)`).
        case unixPath(String)
        /// Self-protection: what the session reached for (`EG_TAMPER_*`), and whose process.
        case tamper(what: UInt32, targetPID: UInt32)
    }

    public typealias Destination = EventDestination

    public let kind: Kind
    public let sessionID: UInt64
    public let pid: UInt32
    public let uid: UInt32
    /// When the kernel decided, in boot-time nanoseconds.
    public let time: UInt64
    public let comm: String
    public let verdict: EventVerdict
    /// The kernel refused the operation.
    public let blocked: Bool
    /// The rule that decided, or nil when the domain's default did.
    public let rule: RuleID?
    public let object: Object
    public let reason: EventReason
    /// File events: the access mask (1 << eg_access) decided.
    public let accessMask: UInt32
    /// Path events: the object's inode and the kernel's dev_t of its filesystem (0: none yet).
    public let inode: UInt64
    public let device: UInt32
    /// Network events a host rule decided: the session resolver's id of the name.
    public let hostID: UInt32
    /// That name, once whoever holds the session's resolver looked it up (`HostAllowances`).
    public var host: String?

    /// Network events: the destination as the kernel saw it.
    public var destination: Destination? {
        if case .destination(let destination) = object { return destination }
        return nil
    }

    /// The path of an exec or file event (nil when unresolved or not a path event).
    public var path: String? {
        if case .path(let path) = object { return path }
        return nil
    }

    /// Decodes a ring-buffer record; nil for records of other types or sizes.
    public init?(record: UnsafeRawBufferPointer) {
        guard let header = EventRecord.header(of: record) else { return nil }
        time = header.time_ns
        switch UInt32(header.type) {
        case EG_EVENT_EXEC.rawValue, EG_EVENT_FILE.rawValue:
            guard let event = EventRecord.decode(eg_path_event.self, from: record) else { return nil }
            let isExec = UInt32(header.type) == EG_EVENT_EXEC.rawValue
            kind = isExec ? .exec : .file
            sessionID = event.session_id
            pid = event.task.pid
            uid = event.task.uid
            comm = string(fromCArray: event.task.comm)
            verdict = Self.verdict(event.verdict, refused: event.ret != 0, reason: event.reason)
            blocked = event.ret != 0
            rule = event.rule == UInt16(EG_RULE_DEFAULT) ? nil : RuleID(isExec ? .exec : .file, Int(event.rule))
            object = event.path_len == 0 ? .unresolvedPath : .path(string(fromCArray: event.path))
            reason = EventReason(kernelCode: event.reason)
            accessMask = event.access
            inode = event.inode
            device = event.device
            hostID = 0
        case EG_EVENT_NET.rawValue, EG_EVENT_UNIX.rawValue:
            guard let event = EventRecord.decode(eg_net_event.self, from: record) else { return nil }
            let isUnix = UInt32(header.type) == EG_EVENT_UNIX.rawValue || Int32(event.family) == AF_UNIX
            kind = isUnix ? .unix : .network
            sessionID = event.session_id
            pid = event.task.pid
            uid = event.task.uid
            comm = string(fromCArray: event.task.comm)
            verdict = Self.verdict(event.verdict, refused: event.ret != 0, reason: event.reason)
            blocked = event.ret != 0
            rule = event.rule == UInt16(EG_RULE_DEFAULT) ? nil : RuleID(.network, Int(event.rule))
            reason = EventReason(kernelCode: event.reason)
            if isUnix {
                object = .unixPath(Self.unixName(event.unix_path, length: event.unix_len))
            } else if reason == .socket {
                // The family and type (carried in port) of a socket() no address rule can judge.
                object = .socket(family: event.family, type: event.port, protocolNumber: event.protocol)
            } else {
                object = .destination(Destination(family: event.family, protocolNumber: event.protocol, port: event.port,
                                                  address: withUnsafeBytes(of: event.addr) { Array($0) }))
            }
            accessMask = 0
            inode = 0
            device = 0
            hostID = reason == .host ? event.host_id : 0
        case EG_EVENT_TAMPER.rawValue:
            guard let event = EventRecord.decode(eg_tamper_event.self, from: record) else { return nil }
            kind = .tamper
            sessionID = event.session_id
            pid = event.task.pid
            uid = event.task.uid
            comm = string(fromCArray: event.task.comm)
            verdict = .deny
            blocked = true
            rule = nil
            object = .tamper(what: event.what, targetPID: event.target_pid)
            reason = .tamper
            accessMask = 0
            inode = 0
            device = 0
            hostID = 0
        default:
            return nil
        }
    }

    /// The peer's name from an EG_EVENT_UNIX record: exactly `length` bytes of `unix_path`
    /// (the kernel copies them all, with no NUL after a name that fills `sun_path`). A path has
    /// no NUL in it; an abstract name (first byte, its NUL, sent as `@`) may, inside it or as
    /// padding up to `sizeof(struct sockaddr_un)`: each shows as `@`, as in /proc/net/unix and
    /// ss(8), so the name keeps its length and `@x` differs from `@x@@@`.
    static func unixName<Tuple>(_ field: Tuple, length: UInt32) -> String {
        withUnsafeBytes(of: field) { raw in
            let bytes = raw.prefix(Int(min(length, UInt32(raw.count))))
            return String(decoding: bytes.map { $0 == 0 ? UInt8(ascii: "@") : $0 }, as: UTF8.self)
        }
    }

    /// An exec stopped for userspace to decide from its argv.
    public var isHeld: Bool { kind == .exec && reason == .held }

    /// A shadow session's exec that argv or ask rules would have held: it runs; userspace
    /// judges its command line from the process's exec event (`UnheldExecs`).
    public var isUnheld: Bool { kind == .exec && reason == .unheld }

    /// The kernel's verdict as the event reports it. A deny or ask the kernel let through
    /// (ret 0) is a shadow session's (EG_SESSION_SHADOW) would_deny/would_ask; a held exec's
    /// verdict is its path's, decided once its argv is read, so it keeps it.
    private static func verdict(_ value: UInt8, refused: Bool, reason: UInt8) -> EventVerdict {
        let shadowed = !refused && UInt32(reason) != EG_REASON_HELD.rawValue
        switch UInt32(value) {
        case EG_VERDICT_ALLOW.rawValue: return .allow
        case EG_VERDICT_AUDIT.rawValue: return .audit
        case EG_VERDICT_ASK.rawValue: return shadowed ? .wouldAsk : .ask
        default: return shadowed ? .wouldDeny : .deny
        }
    }

    public static func accessNames(_ mask: UInt32) -> String {
        let names = ["read", "write", "create", "delete", "rename", "chmod", "exec"]
        return names.indices.filter { mask & (1 << $0) != 0 }.map { names[$0] }.joined(separator: ",")
    }

    static func tamperName(_ what: UInt32) -> String {
        switch what {
        case EG_TAMPER_BPF.rawValue: "bpf()"
        case EG_TAMPER_SIGNAL.rawValue: "signal to"
        case EG_TAMPER_PTRACE.rawValue: "ptrace of"
        case EG_TAMPER_CGROUP.rawValue: "leaving its cgroup (write to cgroup files outside the session)"
        case EG_TAMPER_BPFFS.rawValue: "removing ebguard's pins in bpffs"
        case EG_TAMPER_MOUNT.rawValue: "mount/umount"
        case EG_TAMPER_USERNS.rawValue: "creating a user namespace"
        case EG_TAMPER_SIGIO.rawValue: "owner signal (F_SETOWN/SIOCSPGRP) to"
        case EG_TAMPER_RESUMED.rawValue: "resuming a held exec without ebguard's answer (killed):"
        case EG_TAMPER_TTY.rawValue: "typing into a terminal (TIOCSTI/TIOCLINUX)"
        case EG_TAMPER_CHROOT.rawValue: "chroot/pivot_root"
        case EG_TAMPER_KERNEL.rawValue: "loading kernel code or raw kernel access (modules, kexec, lockdown, keys)"
        case EG_TAMPER_CLONE.rawValue: "clone into another cgroup or new namespaces"
        default: "tampering (\(what))"
        }
    }

}
