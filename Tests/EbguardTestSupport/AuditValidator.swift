import Foundation

/// Runs Tests/EbguardAuditTests/Fixtures/audit_validate.py: the official OCSF JSON schema, the
/// OpenTelemetry protobuf definitions and an RFC 5424 parser, all from PyPI (`make deps`).
///
/// A missing validator (no python3, or a package not installed) is a failure, never a skip:
/// the point of these checks is that they run everywhere the suite runs, CI included.
public enum AuditValidator {
    public struct Result: Sendable {
        public var status: Int32
        public var output: String
        public var ok: Bool { status == 0 }
    }

    public static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("EbguardAuditTests/Fixtures/audit_validate.py").path

    /// `mode` is `ocsf VERSION`, `otlp`, `syslog-frames` or `syslog-lines`; `file` the data.
    public static func run(_ mode: [String], file: String) throws -> Result {
        guard let python = findExecutable("python3") else {
            return Result(status: 127, output: "python3 is not installed: run `make deps`")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script] + mode + [file]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }

    /// Writes `lines` (one a line) to a scratch file and validates them.
    public static func run(_ mode: [String], lines: [String]) throws -> Result {
        let path = NSTemporaryDirectory() + "ebguard-validate-\(getpid())-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path))
        return try run(mode, file: path)
    }

    /// Writes raw bytes to a scratch file and validates them.
    public static func run(_ mode: [String], bytes: [UInt8]) throws -> Result {
        let path = NSTemporaryDirectory() + "ebguard-validate-\(getpid())-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return try run(mode, file: path)
    }
}
