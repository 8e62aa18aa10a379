import EbguardAudit
import EbguardDNS
import EbguardEnforcement
import Foundation
import Glibc
import Yams

/// The audit part of `/etc/ebguard/ebguard.yaml`: where the log goes, how it rotates, and the
/// collectors it is forwarded to. The defaults are what runs without a file.
public struct AuditSettings: Sendable, Equatable {
    public var log = AuditLogConfiguration()
    /// Records the daemon's loop may hand over before the log task takes them; past this they
    /// are dropped and counted (`lost_events`, source `audit`), so the loop never waits on disk.
    public var queueCapacity = 16_384
    public var forwarders: [ForwarderConfiguration] = []

    public init() {}
}

/// The `resolver:` part of `ebguard.yaml`: where sessions' resolvers forward the names their
/// host rules allow, and how much each session may hold.
public struct ResolverSettings: Sendable, Equatable {
    /// nil: the first nameserver of /etc/resolv.conf when the session starts.
    public var upstream: DNSUpstream?
    public var limits = HostAllowances.Limits()
    /// Queries a session's resolver answers per second (bursts of twice that); past it REFUSED.
    public var queriesPerSecond = 200

    /// The resolver's own limits, as these settings make them.
    public var dnsLimits: DNSLimits {
        var limits = DNSLimits()
        limits.queriesPerSecond = Double(queriesPerSecond)
        limits.burst = Double(2 * queriesPerSecond)
        return limits
    }

    public init() {}
}

/// Everything `ebguard.yaml` configures.
public struct DaemonConfigFile: Sendable, Equatable {
    public static let defaultPath = "/etc/ebguard/ebguard.yaml"
    public var audit = AuditSettings()
    public var resolver = ResolverSettings()

    public init() {}

    /// Reads `path`. A missing file is the defaults only when `path` is the default one: a
    /// file named on the command line must exist.
    public static func load(_ path: String, required: Bool) throws(DaemonConfigError) -> DaemonConfigFile {
        // open(2) and read(2) rather than Foundation, whose errors do not reliably carry errno.
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if !required && code == ENOENT { return DaemonConfigFile() }
            throw .unreadable(path: path, errno: code)
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(fd, &chunk, chunk.count)
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                throw .unreadable(path: path, errno: errno)
            }
            bytes += chunk[0..<count]
            // A config is a few KiB; a huge file is a mistake (or /dev/zero), not a config.
            if bytes.count > 1 << 20 { throw .unreadable(path: path, errno: EFBIG) }
        }
        let text = String(decoding: bytes, as: UTF8.self)
        return try parse(text, file: path)
    }

    /// Parses the text of a config file; every problem is reported, each with file:line:column.
    public static func parse(_ yaml: String, file: String) throws(DaemonConfigError) -> DaemonConfigFile {
        let root: Node?
        do { root = try Yams.compose(yaml: yaml) } catch { throw .invalid([ConfigDiagnostic.syntax(error, file: file)]) }
        var config = DaemonConfigFile()
        guard let root else { return config }  // an empty file (or only comments) is the defaults
        let reader = ConfigReader(file: file)
        ConfigParser(reader: reader).read(root, into: &config)
        if !reader.diagnostics.isEmpty { throw .invalid(reader.diagnostics) }
        return config
    }
}

/// One problem in the config file, located.
public struct ConfigDiagnostic: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public var message: String

    public var description: String { "\(file):\(line):\(column): \(message)" }

    static func syntax(_ error: Error, file: String) -> ConfigDiagnostic {
        switch error as? YamlError {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            ConfigDiagnostic(file: file, line: mark.line, column: mark.column, message: "YAML syntax error: \(problem)")
        default:
            ConfigDiagnostic(file: file, line: 1, column: 1, message: "YAML error: \(error)")
        }
    }
}

/// Why the config file was refused; the daemon then does not start, so nothing changes.
public enum DaemonConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreadable(path: String, errno: Int32)
    case invalid([ConfigDiagnostic])

    public var description: String {
        switch self {
        case .unreadable(let path, let code): "reading \(path): \(String(cString: strerror(code)))"
        case .invalid(let diagnostics): diagnostics.map(\.description).joined(separator: "\n")
        }
    }
}

/// Typed reads of Yams nodes that record a located diagnostic instead of stopping.
final class ConfigReader {
    let file: String
    private(set) var diagnostics: [ConfigDiagnostic] = []

    init(file: String) { self.file = file }

    func error(_ node: Node, _ message: String) {
        diagnostics.append(ConfigDiagnostic(file: file, line: node.mark?.line ?? 1, column: node.mark?.column ?? 1,
                                            message: message))
    }

    /// The mapping's values by key; unknown and repeated keys are errors.
    func fields(_ node: Node, _ context: String, allowed: [String]) -> [String: Node]? {
        guard case .mapping(let mapping) = node else {
            error(node, "\(context) must be a mapping, found \(describe(node))")
            return nil
        }
        var out: [String: Node] = [:]
        for (key, value) in mapping {
            let name = key.scalar?.string ?? ""
            if !allowed.contains(name) {
                error(key, "unknown key '\(name)' in \(context) (expected one of: \(allowed.joined(separator: ", ")))")
            } else if out[name] != nil {
                error(key, "duplicate key '\(name)' in \(context)")
            } else {
                out[name] = value
            }
        }
        return out
    }

    func describe(_ node: Node) -> String {
        switch node {
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .scalar(let s): "'\(s.string)'"
        }
    }

    func string(_ node: Node, _ what: String) -> String? {
        guard case .scalar(let s) = node, !s.string.isEmpty else {
            error(node, "'\(what)' must be a non-empty string, found \(describe(node))")
            return nil
        }
        return s.string
    }

    func integer(_ node: Node, _ what: String, in range: ClosedRange<Int>) -> Int? {
        guard case .scalar(let s) = node, let n = Int(s.string), range.contains(n) else {
            error(node, "'\(what)' must be a whole number from \(range.lowerBound) to \(range.upperBound), found \(describe(node))")
            return nil
        }
        return n
    }

    /// `67108864`, `64M`, `64MiB`, `512K`, `1G` (binary multiples either way).
    func size(_ node: Node, _ what: String) -> Int64? {
        let units: [(String, Int64)] = [("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30),
                                        ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("", 1)]
        if case .scalar(let s) = node {
            for (suffix, multiple) in units where s.string.hasSuffix(suffix) {
                if let n = Int64(s.string.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)), n > 0,
                   n <= (1 << 50) / multiple, n * multiple >= 4096 {
                    return n * multiple
                }
                break
            }
        }
        error(node, "'\(what)' must be a size of at least 4096 bytes (e.g. 67108864, 64M, 64MiB), found \(describe(node))")
        return nil
    }
}
