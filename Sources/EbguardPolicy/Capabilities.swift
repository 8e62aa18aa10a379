import Yams

/// The Linux capabilities a policy's `capabilities:` key may keep. A session keeps only these in
/// its bounding, inheritable and ambient sets: a root session gets no other capability from any
/// exec, an unprivileged one none from a file capability or setuid program.
public enum Capability {
    /// Names as the kernel's `CAP_*` constants spell them, lower case, without `cap_`; index = number.
    public static let names = [
        "chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid",
        "setpcap", "linux_immutable", "net_bind_service", "net_broadcast", "net_admin", "net_raw",
        "ipc_lock", "ipc_owner", "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct",
        "sys_admin", "sys_boot", "sys_nice", "sys_resource", "sys_time", "sys_tty_config", "mknod",
        "lease", "audit_write", "audit_control", "setfcap", "mac_override", "mac_admin", "syslog",
        "wake_alarm", "block_suspend", "audit_read", "perfmon", "bpf", "checkpoint_restore",
    ]

    /// The bit mask (bit N: capability N) of `kept` names.
    public static func mask(_ kept: [String]) -> UInt64 {
        kept.reduce(0) { mask, name in names.firstIndex(of: name).map { mask | (1 << UInt64($0)) } ?? mask }
    }
}

extension PolicyParser {
    /// `capabilities: [net_bind_service, ...]`: names with or without `cap_`, any case; an
    /// unknown name is an error at its place.
    func capabilities(_ node: Node) -> [String]? {
        guard let items = reader.stringList(node, "capabilities") else { return nil }
        var kept: [String] = []
        for (text, item) in items {
            var name = text.lowercased()
            if name.hasPrefix("cap_") { name.removeFirst(4) }
            guard Capability.names.contains(name) else {
                let hint = Suggestions.closest(to: name, in: Capability.names).map { "; did you mean '\($0)'?" } ?? ""
                reader.error(item, "unknown capability '\(text)' in 'capabilities'\(hint)")
                continue
            }
            if !kept.contains(name) { kept.append(name) }
        }
        return kept
    }
}
