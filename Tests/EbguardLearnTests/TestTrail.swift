import EbguardAudit
import EbguardLearn
import EbguardPolicy
import Foundation

/// Audit-format trails made with EbguardAudit's own record type, chained as the log chains them.
struct TestTrail {
    var lines: [String] = []
    var prev = AuditHash.genesis
    let session: String

    init(session: String = "agent-1a2b3c4d", policy: String = "learn") {
        self.session = session
        add(.sessionStart(AuditSession(session: session, policy: policy, policySHA256: String(repeating: "a", count: 64),
                                       command: ["make", "test"])))
    }

    mutating func add(_ event: AuditEvent) {
        let record = AuditRecord(seq: UInt64(lines.count + 1), time: AuditTime(nanoseconds: 1_800_000_000_000_000_000 + Int64(lines.count) * 1000),
                                 host: HostIdentity(name: "h", machineID: String(repeating: "0", count: 32)), prev: prev, event: event)
        let line = record.line
        prev = AuditHash.sha256Hex(line)
        lines.append(String(decoding: line, as: UTF8.self))
    }

    mutating func file(_ path: String, _ access: String, comm: String = "cc1", verdict: AuditVerdict = .audit,
                       rule: String = "default", repeats: UInt64? = nil) {
        var d = AuditDecision(session: session, pid: 100, comm: comm, kind: .file, object: path, access: access,
                              rule: rule, verdict: verdict, exe: "/usr/bin/" + comm)
        d.repeats = repeats
        add(.decision(d))
    }

    mutating func exec(_ path: String, argv: [String]? = nil, verdict: AuditVerdict = .audit, rule: String = "default") {
        let comm = String(path.split(separator: "/").last ?? "")
        add(.decision(AuditDecision(session: session, pid: 101, comm: comm, kind: .exec, object: path, access: "exec",
                                    rule: rule, verdict: verdict, exe: path, argv: argv)))
    }

    mutating func connect(_ address: String, _ port: UInt16, _ transport: String = "tcp", host: String? = nil,
                          verdict: AuditVerdict = .audit, rule: String = "default", comm: String = "curl") {
        let object = (address.contains(":") ? "[\(address)]" : address) + ":\(port)/\(transport)"
        add(.decision(AuditDecision(session: session, pid: 102, comm: comm, kind: .network, object: object, access: "connect",
                                    rule: rule, verdict: verdict,
                                    network: AuditNetworkTarget(address: address, port: port, transport: transport, hostname: host))))
    }

    mutating func lookup(_ name: String, verdict: AuditVerdict = .audit) {
        add(.decision(AuditDecision(session: session, pid: 0, comm: "curl", kind: .network, object: name + "/A", access: "resolve",
                                    rule: "default", verdict: verdict,
                                    network: AuditNetworkTarget(address: nil, port: 53, transport: "dns", hostname: name))))
    }

    func write(to path: String) throws {
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    }
}

struct TempDir {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "eg-learn-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func file(_ name: String) -> String { path + "/" + name }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

enum Fixture {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let context = try! PolicyContext(home: "/home/dev", workspace: "/home/dev/proj")

    static func policy(_ name: String) throws -> Policy { try Policy.load(path: root + "/policies/" + name) }

    static func guards() throws -> Guards { Guards(base: try policy("agent.yaml"), context: context) }

    static func suggest(_ trail: TestTrail, threshold: Int = 3) throws -> (Suggestion, String, Policy) {
        let dir = TempDir()
        defer { dir.remove() }
        try trail.write(to: dir.file("trail.jsonl"))
        let read = try Trail.read(files: [dir.file("trail.jsonl")], session: "agent")
        let g = Generalizer(guards: try guards(), anchoring: Anchoring(context), treeThreshold: threshold)
        let s = g.suggest(read, name: "learned")
        let text = s.render()
        return (s, text, try Policy.parse(yaml: text, file: "learned.yaml"))
    }
}
