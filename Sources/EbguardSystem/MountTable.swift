import Foundation

/// One line of `/proc/self/mountinfo`.
public struct MountEntry: Equatable, Sendable {
    public let mountPoint: String
    public let fileSystemType: String
    public let source: String
    public let options: [String]
}

/// The mounts this process sees, from `/proc/self/mountinfo` (never hard-coded paths:
/// cgroup2 sits at /sys/fs/cgroup on most hosts and at /sys/fs/cgroup/unified on hybrid ones).
public struct MountTable: Sendable {
    public let entries: [MountEntry]

    public init(entries: [MountEntry]) { self.entries = entries }

    /// Reads the current mount table.
    public static func current() throws -> MountTable {
        guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else {
            throw SystemError.current("reading /proc/self/mountinfo")
        }
        return MountTable(parsing: text)
    }

    /// Parses mountinfo text; malformed lines are skipped (the kernel writes this file).
    public init(parsing text: String) {
        entries = text.split(separator: "\n").compactMap(MountTable.parseLine)
    }

    /// The first mount point of a file system type, e.g. "cgroup2" or "bpf".
    public func mountPoint(ofType type: String) -> String? {
        entries.first { $0.fileSystemType == type }?.mountPoint
    }

    /// Whether `path` is a mount point of `type`.
    public func isMounted(_ type: String, at path: String) -> Bool {
        entries.contains { $0.fileSystemType == type && $0.mountPoint == path }
    }

    // Format: id parent major:minor root mountpoint options [optional fields...] - fstype source superoptions
    private static func parseLine(_ line: Substring) -> MountEntry? {
        let fields = line.split(separator: " ", omittingEmptySubsequences: false)
        guard fields.count >= 10, let separator = fields.firstIndex(of: "-"), separator >= 6,
              separator + 2 < fields.count else { return nil }
        return MountEntry(
            mountPoint: unescape(fields[4]),
            fileSystemType: String(fields[separator + 1]),
            source: unescape(fields[separator + 2]),
            options: fields[5].split(separator: ",").map(String.init)
        )
    }

    /// The kernel escapes space, tab, newline and backslash as \ooo octal.
    static func unescape(_ field: Substring) -> String {
        var bytes: [UInt8] = []
        var index = field.utf8.startIndex
        let utf8 = field.utf8
        while index < utf8.endIndex {
            let byte = utf8[index]
            let next = utf8.index(index, offsetBy: 4, limitedBy: utf8.endIndex)
            if byte == UInt8(ascii: "\\"), let end = next,
               let value = UInt8(String(decoding: utf8[utf8.index(after: index)..<end], as: UTF8.self), radix: 8) {
                bytes.append(value)
                index = end
            } else {
                bytes.append(byte)
                index = utf8.index(after: index)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
