import EbguardAudit
import EbguardPolicy
import Foundation
import Glibc

/// What the daemon must remember about a session to take it over after a restart: the pinned
/// maps hold what the kernel enforces, this holds the names and the policy it came from.
public struct SessionRecord: Codable, Sendable, Equatable {
    public var id: UInt64
    public var name: String
    /// The cgroup's own name (`name-hex`), unique on the host.
    public var key: String
    public var cgroup: String
    public var policy: PolicyText
    public var policyID: UInt32
    /// Set while a policy swap is under way: the rules the session may still point at.
    public var previousPolicy: PolicyText?
    public var previousPolicyID: UInt32?
    public var home: String
    public var workspace: String
    public var uid: UInt32
    public var user: String
    /// Boot-time nanoseconds.
    public var started: UInt64
    /// The command `ebguard run` started (nil from clients that did not say).
    public var command: [String]?
    /// `ebguard run --shadow`: shadow mode whatever the policy's `mode:` says (kept across
    /// policy swaps and daemon restarts).
    public var shadow: Bool? = nil
    /// `ebguard run --learn`: the policy runs as `CompiledPolicy.learning()` (kept like `shadow`).
    public var learn: Bool? = nil

    enum CodingKeys: String, CodingKey {
        case id, name, key, cgroup, policy, home, workspace, uid, user, started, command, shadow, learn
        case policyID = "policy_id"
        case previousPolicy = "previous_policy"
        case previousPolicyID = "previous_policy_id"
    }

    public func compile(_ text: PolicyText) throws -> CompiledPolicy {
        let policy = try Policy.parse(yaml: text.yaml, file: text.source)
        var compiled = policy.compile(in: try PolicyContext(home: home, workspace: workspace))
        if shadow == true { compiled.mode = .shadow }
        if learn == true { compiled = compiled.learning() }
        return compiled
    }
}

extension PolicyText {
    public var sha256: String {
        AuditHash.sha256Hex(yaml.utf8)
    }
}

/// One JSON file per session under `/run/ebguard/sessions/` (tmpfs: a reboot ends sessions).
public struct SessionStore: Sendable {
    public let directory: String

    public init(directory: String = "/run/ebguard/sessions") {
        self.directory = directory
    }

    private func path(_ id: UInt64) -> String { "\(directory)/\(id).json" }

    /// Writes atomically (temporary file, fsync, rename), so a crash leaves the old or the new.
    public func save(_ record: SessionRecord) throws {
        mkdir((directory as NSString).deletingLastPathComponent, 0o755)
        mkdir(directory, 0o700)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(record)
        let temporary = path(record.id) + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ControlError("store", "cannot write \(temporary): \(String(cString: strerror(errno)))") }
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        fsync(fd)
        close(fd)
        guard written == data.count, rename(temporary, path(record.id)) == 0 else {
            unlink(temporary)
            throw ControlError("store", "cannot write \(path(record.id)): \(String(cString: strerror(errno)))")
        }
    }

    public func delete(_ id: UInt64) { unlink(path(id)) }

    /// Every readable record; unreadable files are returned as problems, not dropped silently.
    public func load() -> (records: [SessionRecord], problems: [String]) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var records: [SessionRecord] = []
        var problems: [String] = []
        for name in names.sorted() where name.hasSuffix(".json") {
            let file = directory + "/" + name
            do {
                records.append(try JSONDecoder().decode(SessionRecord.self, from: Data(contentsOf: URL(fileURLWithPath: file))))
            } catch {
                problems.append("\(file): unreadable session record (\(error.localizedDescription)); left in place")
            }
        }
        return (records, problems)
    }
}
