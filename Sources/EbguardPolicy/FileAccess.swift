/// The kinds of file access a file rule can govern. A rule applies only to the kinds it lists.
public struct FileAccess: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8

    public init(rawValue: UInt8) {
        self.rawValue = rawValue
    }

    /// Opening for reading (and reading a directory).
    public static let read = FileAccess(rawValue: 1 << 0)
    /// Opening for writing, appending or truncating an existing file.
    public static let write = FileAccess(rawValue: 1 << 1)
    /// Creating a file, directory, node, symlink or hard link.
    public static let create = FileAccess(rawValue: 1 << 2)
    /// unlink, rmdir, and the source of a rename (the old name goes away).
    public static let delete = FileAccess(rawValue: 1 << 3)
    /// Moving a file or directory away: the source of a rename. The destination of a rename is
    /// `create`, plus `delete` and `write` when it replaces a file (see docs/policy.md).
    public static let rename = FileAccess(rawValue: 1 << 4)
    /// chmod, chown, and changing other attributes.
    public static let chmod = FileAccess(rawValue: 1 << 5)
    /// Running or mapping the file as code: execve, the ELF interpreter, executable mmap.
    public static let exec = FileAccess(rawValue: 1 << 6)

    /// Every kind, the default when a rule has no `access`.
    public static let all: FileAccess = [.read, .write, .create, .delete, .rename, .chmod, .exec]

    /// The kinds in their canonical order with their policy spelling.
    public static let named: [(name: String, access: FileAccess)] = [
        ("read", .read), ("write", .write), ("create", .create), ("delete", .delete),
        ("rename", .rename), ("chmod", .chmod), ("exec", .exec),
    ]

    /// The kind spelled `name` in a policy, if there is one.
    public init?(name: String) {
        guard let entry = Self.named.first(where: { $0.name == name }) else { return nil }
        self = entry.access
    }

    /// The single kinds in this set, in canonical order.
    public var kinds: [FileAccess] { Self.named.map(\.access).filter { contains($0) } }

    /// Policy spellings of the kinds in this set, in canonical order.
    public var names: [String] { Self.named.filter { contains($0.access) }.map(\.name) }
}
