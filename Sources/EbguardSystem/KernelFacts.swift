import Foundation
import Glibc

/// Facts about the running kernel that decide what ebguard can do.
public enum KernelFacts {
    /// `uname -r`.
    public static var release: String {
        var names = utsname()
        uname(&names)
        return string(fromCArray: names.release)
    }

    /// Whether the kernel exposes its BTF (needed for CO-RE and for LSM programs).
    public static var hasBTF: Bool { access("/sys/kernel/btf/vmlinux", R_OK) == 0 }

    public static var isRoot: Bool { geteuid() == 0 }

    /// The active LSMs, in order, mounting securityfs first if needed; nil if unreadable.
    public static func activeLSMs() -> [String]? {
        try? Mounts.ensure("securityfs", at: "/sys/kernel/security")
        guard let text = try? String(contentsOfFile: "/sys/kernel/security/lsm", encoding: .utf8) else { return nil }
        return text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",").map(String.init)
    }

    /// The lockdown level ("none", "integrity", "confidentiality"), nil when the kernel has no lockdown LSM.
    public static func lockdown() -> String? {
        try? Mounts.ensure("securityfs", at: "/sys/kernel/security")
        guard let text = try? String(contentsOfFile: "/sys/kernel/security/lockdown", encoding: .utf8) else { return nil }
        return parseLockdown(text)
    }

    /// "none [integrity] confidentiality" -> "integrity".
    public static func parseLockdown(_ text: String) -> String? {
        guard let open = text.firstIndex(of: "["), let close = text[open...].firstIndex(of: "]") else { return nil }
        return String(text[text.index(after: open)..<close])
    }

    /// Reads a small text file from procfs/sysfs, trimmed.
    static func string<T>(fromCArray tuple: T) -> String {
        withUnsafeBytes(of: tuple) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}

/// Mounting the pseudo file systems ebguard needs.
public enum Mounts {
    /// Mounts `type` at `path` unless something of that type already is; returns whether it mounted.
    @discardableResult
    public static func ensure(_ type: String, at path: String) throws -> Bool {
        if let table = try? MountTable.current(), table.isMounted(type, at: path) { return false }
        guard mount(type, path, type, 0, nil) == 0 else {
            throw SystemError.current("mounting \(type) at \(path)")
        }
        return true
    }

    /// Mounts tracefs where libbpf looks for tracepoint ids, unless it is already there.
    public static func ensureTracefs() throws {
        let table = try MountTable.current()
        if table.isMounted("tracefs", at: "/sys/kernel/tracing") || table.isMounted("tracefs", at: "/sys/kernel/debug/tracing") { return }
        try ensure("tracefs", at: "/sys/kernel/tracing")
    }
}

/// Device numbers as the kernel stores them in `struct super_block.s_dev`
/// (`MAJOR << 20 | MINOR`), which differ from the encoding `stat(2)` returns.
public enum KernelDevice {
    public static func encode(statDevice: UInt64) -> UInt32 {
        let major = UInt32(((statDevice >> 32) & 0xffff_f000) | ((statDevice >> 8) & 0x0000_0fff))
        let minor = UInt32(((statDevice >> 12) & 0xffff_ff00) | (statDevice & 0x0000_00ff))
        return (major << 20) | minor
    }

    /// (kernel device, inode) of a path, following symlinks as open(2) would.
    public static func identity(of path: String) throws -> (device: UInt32, inode: UInt64) {
        var info = stat()
        guard stat(path, &info) == 0 else { throw SystemError.current("stat \(path)") }
        return (encode(statDevice: UInt64(info.st_dev)), UInt64(info.st_ino))
    }
}
