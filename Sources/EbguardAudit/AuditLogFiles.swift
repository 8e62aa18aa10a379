/// The files of one audit log: the active file, its rotated predecessors, and the head.
///
/// `audit.jsonl` is written; rotation renames it to `audit.jsonl.1`, `.1` to `.2`, and so on,
/// so the higher the number the older the file. `audit.jsonl.head` holds the sequence number
/// and hash of the last record known to be on disk (written after each fsync): it lets
/// `verify` notice a truncated log and lets forwarders send only durable records.
public struct AuditLogFiles: Sendable, Hashable {
    public var path: String

    public init(path: String) { self.path = path }

    public var headPath: String { path + ".head" }

    public func rotatedPath(_ n: Int) -> String { "\(path).\(n)" }

    /// The numbers of the rotated files that exist, oldest (highest) first.
    public func rotatedNumbers() -> [Int] {
        let dir = SystemHost.directory(of: path)
        let base = path.split(separator: "/").last.map(String.init) ?? path
        let prefix = base + "."
        return SystemHost.listDirectory(dir).compactMap { name -> Int? in
            guard name.hasPrefix(prefix) else { return nil }
            let suffix = name.dropFirst(prefix.count)
            guard !suffix.isEmpty, suffix.allSatisfy(\.isASCII), suffix.allSatisfy(\.isNumber) else { return nil }
            return Int(suffix)
        }.sorted(by: >)
    }

    /// The files that exist, in chain order: the oldest rotated file first, the active file last.
    public func existing() -> [String] {
        var files = rotatedNumbers().map(rotatedPath)
        if (try? SystemHost.fileSize(path)) != nil { files.append(path) }
        return files
    }
}

/// The head checkpoint: the last record fsync'd, by sequence number and hash.
public struct AuditHead: Sendable, Hashable {
    public var seq: UInt64
    public var sha256: String

    public init(seq: UInt64, sha256: String) {
        self.seq = seq
        self.sha256 = sha256
    }

    var bytes: [UInt8] {
        let value: JSONValue = ["seq": .int(Int64(seq)), "sha256": .string(sha256)]
        return value.canonicalBytes + [UInt8(ascii: "\n")]
    }

    /// Reads a head file; nil if it does not exist or does not parse (a crash between the
    /// temporary file and the rename can leave it empty on some filesystems).
    public static func read(_ path: String) -> AuditHead? {
        guard let bytes = try? SystemHost.readSmallFile(path),
              let value = try? JSONValue.parse(bytes.prefix { $0 != UInt8(ascii: "\n") }),
              let seq = value["seq"]?.intValue, seq >= 0, let hash = value["sha256"]?.stringValue
        else { return nil }
        return AuditHead(seq: UInt64(seq), sha256: hash)
    }

    func write(to path: String) throws(AuditIOError) {
        let tmp = path + ".tmp"
        let fd = try AuditFD(path: tmp, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o640)
        try fd.writeAll(bytes)
        try fd.sync()
        try SystemHost.rename(tmp, path)
    }
}

/// A file's bytes cut into lines.
struct AuditLines {
    /// Byte ranges of the complete lines, newline excluded.
    var lines: [Range<Int>] = []
    /// Bytes after the last newline, if any: a line still being written, or torn.
    var unterminated: Range<Int>?

    init(_ bytes: [UInt8]) {
        var start = 0
        for i in bytes.indices where bytes[i] == UInt8(ascii: "\n") {
            lines.append(start..<i)
            start = i + 1
        }
        if start < bytes.count { unterminated = start..<bytes.count }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
