import EbguardBPF
import Glibc

/// A decision the kernel reported, decoded from the ring buffer.
public struct DecisionEvent: Sendable, Equatable {
    public enum Kind: String, Sendable { case exec, file, network, unix, tamper }
    public enum Verdict: String, Sendable { case allow, audit, ask, deny }

    public let kind: Kind
    public let sessionID: UInt64
    public let pid: UInt32
    public let uid: UInt32
    /// When the kernel decided, in boot-time nanoseconds.
    public let time: UInt64
    public let comm: String
    public let verdict: Verdict
    /// The kernel refused the operation.
    public let blocked: Bool
    /// `file[2]`, or nil when the domain's default decided.
    public let rule: String?
    /// Path, `address:port`, or socket path.
    public let object: String
    /// "read,write", "tcp", ...
    public let detail: String
    public let reason: UInt8
    /// File events: the access mask (1 << eg_access) decided.
    public let accessMask: UInt32
    /// Path events: the object's inode and the kernel's dev_t of its filesystem (0: none yet).
    public let inode: UInt64
    public let device: UInt32
    /// Network events: the destination as the kernel saw it (v4 in the first 4 bytes).
    public let destination: Destination?
    /// Network events a host rule decided: the session resolver's id of the name.
    public let hostID: UInt32
    /// That name, once whoever holds the session's resolver looked it up (`HostAllowances`).
    public var host: String?

    public struct Destination: Sendable, Equatable, Hashable {
        public let family: UInt8
        public let protocolNumber: UInt8
        public let port: UInt16
        public let address: [UInt8]

        public init(family: UInt8, protocolNumber: UInt8, port: UInt16, address: [UInt8]) {
            self.family = family
            self.protocolNumber = protocolNumber
            self.port = port
            self.address = address
        }
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
            verdict = Self.verdict(event.verdict)
            blocked = event.ret != 0
            rule = event.rule == UInt16(EG_RULE_DEFAULT) ? nil : "\(isExec ? "exec" : "file")[\(event.rule)]"
            object = event.path_len == 0 ? "(unresolved path)" : string(fromCArray: event.path)
            detail = isExec ? "exec" : Self.accessNames(event.access)
            reason = event.reason
            accessMask = event.access
            inode = event.inode
            device = event.device
            destination = nil
            hostID = 0
        case EG_EVENT_NET.rawValue, EG_EVENT_UNIX.rawValue:
            guard let event = EventRecord.decode(eg_net_event.self, from: record) else { return nil }
            let isUnix = UInt32(header.type) == EG_EVENT_UNIX.rawValue || Int32(event.family) == AF_UNIX
            kind = isUnix ? .unix : .network
            sessionID = event.session_id
            pid = event.task.pid
            uid = event.task.uid
            comm = string(fromCArray: event.task.comm)
            verdict = Self.verdict(event.verdict)
            blocked = event.ret != 0
            rule = event.rule == UInt16(EG_RULE_DEFAULT) ? nil : "network[\(event.rule)]"
            let isSocket = event.reason == UInt8(EG_REASON_SOCKET.rawValue)
            // A socket() refused for want of a destination: the family and type (in port) say what.
            object = isUnix ? string(fromCArray: event.unix_path)
                : isSocket ? "socket(family \(event.family), type \(event.port), protocol \(event.protocol))" : Self.endpoint(event)
            detail = isUnix ? "unix" : isSocket ? "socket" : Self.protocolName(event.protocol)
            reason = event.reason
            accessMask = 0
            inode = 0
            device = 0
            destination = isUnix ? nil : Destination(family: event.family, protocolNumber: event.protocol, port: event.port,
                                                     address: withUnsafeBytes(of: event.addr) { Array($0) })
            hostID = event.reason == UInt8(EG_REASON_HOST.rawValue) ? event.host_id : 0
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
            object = Self.tamperName(event.what) + (event.target_pid != 0 ? " pid \(event.target_pid)" : "")
            detail = "tamper"
            reason = UInt8(EG_REASON_TAMPER.rawValue)
            accessMask = 0
            inode = 0
            device = 0
            destination = nil
            hostID = 0
        default:
            return nil
        }
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

    /// What was attempted: exec, open, create, delete, ..., connect, tamper.
    public var action: String {
        switch kind {
        case .exec: "exec"
        case .file: detail.split(separator: ",").allSatisfy { $0 == "read" || $0 == "write" } ? "open" : String(detail.split(separator: ",").first ?? "open")
        case .network, .unix: detail == "socket" ? "create" : "connect"
        case .tamper: "tamper"
        }
    }

    /// An exec stopped for userspace to decide from its argv.
    public var isHeld: Bool { kind == .exec && reason == UInt8(EG_REASON_HELD.rawValue) }

    /// The reason code in words, as events show it.
    public var reasonName: String {
        switch UInt32(reason) {
        case EG_REASON_RULE.rawValue: "rule"
        case EG_REASON_DEFAULT.rawValue: "default"
        case EG_REASON_UNRESOLVED.rawValue: "unresolved"
        case EG_REASON_TOO_LONG.rawValue: "too-long"
        case EG_REASON_NO_POLICY.rawValue: "no-policy"
        case EG_REASON_TAMPER.rawValue: "tamper"
        case EG_REASON_HELD.rawValue: "held"
        case EG_REASON_OBSERVED.rawValue: "observed"
        case EG_REASON_ANSWERED.rawValue: "answered"
        case EG_REASON_SOCKET.rawValue: "socket"
        case EG_REASON_HOST.rawValue: "host"
        case EG_REASON_RESOLVER.rawValue: "resolver"
        default: "reason-\(reason)"
        }
    }

    /// `ebguard: denied open /home/u/.ssh/id_rsa (read) by rule file[2]`.
    public func line(home: String?) -> String { "ebguard: " + message(home: home) }

    /// `line(home:)` without the `ebguard: ` prefix: what the daemon publishes as the message.
    public func message(home: String?) -> String {
        if kind == .tamper { return "denied \(object) by self-protection" }
        var text = ""
        text.reserveCapacity(object.utf8.count + 80)
        text += blocked ? (verdict == .ask ? "denied (ask, no one to answer yet) " : "denied ") : (verdict == .audit ? "audited " : "allowed ")
        text += action
        text += " "
        if let home, !home.isEmpty, object.utf8.count > home.utf8.count, object.hasPrefix(home),
           object.utf8[object.utf8.index(object.utf8.startIndex, offsetBy: home.utf8.count)] == UInt8(ascii: "/") {
            text += "~"
            text += Substring(object.utf8.dropFirst(home.utf8.count))
        } else {
            text += object
        }
        if kind != .exec { text += " (" + detail + ")" }
        if let host { text += " [" + host + "]" }
        switch reason {
        case UInt8(EG_REASON_ANSWERED.rawValue): text += blocked ? " (blocked by the operator)" : " (approved by the operator)"
        case UInt8(EG_REASON_UNRESOLVED.rawValue): text += " (path could not be resolved: fail closed)"
        case UInt8(EG_REASON_TOO_LONG.rawValue): text += " (path too long: fail closed)"
        case UInt8(EG_REASON_NO_POLICY.rawValue): text += " (session without policy: fail closed)"
        case UInt8(EG_REASON_TAMPER.rawValue): text += " (tampering with ebguard)"
        case UInt8(EG_REASON_RESOLVER.rawValue): text += " (another session's resolver)"
        default:
            if let rule {
                text += " by rule " + rule
            } else {
                text += kind == .exec ? " by the exec default" : kind == .file ? " by the file default" : " by the network default"
            }
        }
        return text
    }

    private static func verdict(_ value: UInt8) -> Verdict {
        switch UInt32(value) {
        case EG_VERDICT_ALLOW.rawValue: .allow
        case EG_VERDICT_AUDIT.rawValue: .audit
        case EG_VERDICT_ASK.rawValue: .ask
        default: .deny
        }
    }

    public static func accessNames(_ mask: UInt32) -> String {
        let names = ["read", "write", "create", "delete", "rename", "chmod", "exec"]
        return names.indices.filter { mask & (1 << $0) != 0 }.map { names[$0] }.joined(separator: ",")
    }

    /// An IPv6 address in RFC 5952's canonical text: lowercase hex without leading zeros, the
    /// longest run of two or more zero groups (the first of equal runs) as `::`, and an
    /// IPv4-mapped address as `::ffff:1.2.3.4` (§5). One spelling per address, so that a SIEM
    /// matching `[::1]:9` finds it.
    static func appendIPv6(_ bytes: UnsafeRawBufferPointer, into text: inout [UInt8]) {
        var groups = [UInt16](repeating: 0, count: 8)
        for i in 0..<8 { groups[i] = UInt16(bytes[2 * i]) << 8 | UInt16(bytes[2 * i + 1]) }
        func hex(_ value: UInt16) {
            if value >= 16 { hex(value / 16) }
            let digit = UInt8(value % 16)
            text.append(digit < 10 ? UInt8(ascii: "0") + digit : UInt8(ascii: "a") + digit - 10)
        }
        func decimal(_ value: UInt8) {
            if value >= 10 { decimal(value / 10) }
            text.append(UInt8(ascii: "0") + value % 10)
        }
        if groups[0..<5].allSatisfy({ $0 == 0 }), groups[5] == 0xffff {
            text.append(contentsOf: "::ffff:".utf8)
            for octet in 12..<16 {
                if octet > 12 { text.append(UInt8(ascii: ".")) }
                decimal(bytes[octet])
            }
            return
        }
        var best = (start: -1, length: 0)
        var i = 0
        while i < 8 {
            guard groups[i] == 0 else { i += 1; continue }
            var j = i
            while j < 8, groups[j] == 0 { j += 1 }
            if j - i > best.length { best = (i, j - i) }
            i = j
        }
        if best.length < 2 { best = (-1, 0) }
        var group = 0
        while group < 8 {
            if group == best.start {
                text.append(contentsOf: "::".utf8)
                group += best.length
                continue
            }
            if group > 0, group != best.start + best.length || best.start < 0 { text.append(UInt8(ascii: ":")) }
            hex(groups[group])
            group += 1
        }
    }

    /// `1.2.3.4:80` or `[2001:db8::1]:443`: every denied connect is rendered, so by
    /// hand into bytes (`String(_:radix:)` per part cost more than the rest of the decoding).
    private static func protocolName(_ number: UInt8) -> String {
        switch number {
        case 17: "udp"
        case 1, 58: "icmp"
        case 6: "tcp"
        default: "protocol \(number)"
        }
    }

    private static func endpoint(_ event: eg_net_event) -> String {
        var text: [UInt8] = []
        text.reserveCapacity(48)
        func decimal(_ value: UInt32) {
            if value >= 10 { decimal(value / 10) }
            text.append(UInt8(ascii: "0") + UInt8(value % 10))
        }
        withUnsafeBytes(of: event.addr) { bytes in
            if Int32(event.family) == AF_INET6 {
                text.append(UInt8(ascii: "["))
                appendIPv6(bytes, into: &text)
                text.append(UInt8(ascii: "]"))
            } else {
                for octet in 0..<4 {
                    if octet > 0 { text.append(UInt8(ascii: ".")) }
                    decimal(UInt32(bytes[octet]))
                }
            }
        }
        text.append(UInt8(ascii: ":"))
        decimal(UInt32(event.port))
        return String(decoding: text, as: UTF8.self)
    }
}
