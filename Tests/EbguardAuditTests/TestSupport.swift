import Foundation
import Logging
import Testing
@testable import EbguardAudit

/// A fresh directory under /tmp, removed by `remove()`.
struct TempDir {
    let path: String

    init(_ name: String = "audit") {
        let template = NSTemporaryDirectory() + "ebguard-\(name)-XXXXXX"
        var bytes = Array(template.utf8CString)
        let made = bytes.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func file(_ name: String) -> String { path + "/" + name }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

let testHost = HostIdentity(name: "test-host", machineID: "0123456789abcdef0123456789abcdef")

let quietLogger: Logger = {
    var logger = Logger(label: "ebguard.audit.test")
    // EBGUARD_TEST_LOG=1 shows the forwarders' warnings (why a batch was sent again, ...).
    logger.logLevel = ProcessInfo.processInfo.environment["EBGUARD_TEST_LOG"] == nil ? .critical : .debug
    return logger
}()

func sampleDecision(_ n: Int, kind: AuditObjectKind = .file, verdict: AuditVerdict = .deny,
                    session: String = "s-1") -> AuditEvent {
    switch kind {
    case .exec:
        .decision(AuditDecision(session: session, pid: Int32(1000 + n), comm: "bash", kind: .exec,
                                object: "/usr/bin/curl", access: "exec", rule: "exec.deny[0]", verdict: verdict,
                                uid: 1000, exe: "/usr/bin/bash", argv: ["curl", "-s", "https://example.com"]))
    case .network:
        .decision(AuditDecision(session: session, pid: Int32(1000 + n), comm: "curl", kind: .network,
                                object: "93.184.216.34:443/tcp", access: "connect", rule: "network.default",
                                verdict: verdict, network: AuditNetworkTarget(address: "93.184.216.34", port: 443,
                                                                              transport: "tcp", hostname: "example.com")))
    default:
        .decision(AuditDecision(session: session, pid: Int32(1000 + n), comm: "cat", kind: kind,
                                object: "/home/u/.ssh/id_\(n)", access: "read", rule: "file.deny[2]", verdict: verdict))
    }
}

func openLog(_ dir: TempDir, maxFileBytes: Int64 = 64 << 20, maxRotatedFiles: Int = 8) throws -> AuditLog {
    try AuditLog(configuration: AuditLogConfiguration(path: dir.file("audit.jsonl"), maxFileBytes: maxFileBytes,
                                                      maxRotatedFiles: maxRotatedFiles),
                 host: testHost, logger: quietLogger)
}

/// Appends `count` decisions and flushes.
@discardableResult
func writeRecords(_ log: AuditLog, _ count: Int, from: Int = 0) async throws -> [UInt64] {
    var seqs: [UInt64] = []
    for n in from..<from + count { seqs.append(try await log.append(sampleDecision(n))) }
    try await log.flush()
    return seqs
}

func readLines(_ path: String) -> [String] {
    let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    var lines = text.components(separatedBy: "\n")
    if lines.last == "" { lines.removeLast() }
    return lines
}

func writeLines(_ path: String, _ lines: [String], trailingNewline: Bool = true) {
    let text = lines.joined(separator: "\n") + (trailingNewline && !lines.isEmpty ? "\n" : "")
    _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
}

func verify(_ dir: TempDir, head: Bool = true) throws -> AuditVerifyReport {
    let files = AuditLogFiles(path: dir.file("audit.jsonl"))
    return try AuditVerifier.verify(files: files.existing(), head: head ? AuditHead.read(files.headPath) : nil)
}

func record(_ line: String) throws -> AuditRecord { try AuditRecord(line: Array(line.utf8)) }
