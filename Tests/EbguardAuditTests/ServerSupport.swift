import EbguardTestSupport
import Foundation
import Testing
@testable import EbguardAudit

/// A real rsyslogd: imtcp on a loopback port (TLS with the ossl driver if `tls`), writing
/// every message it receives, raw, one per line, to `output`.
final class Rsyslog {
    let dir: TempDir
    let port = freeLoopbackPort()
    let server: TestServer
    var output: String { dir.file("received.log") }

    init(tls: TestCertificates?) throws {
        dir = TempDir("rsyslog")
        let rsyslogd = try #require(findExecutable("rsyslogd"), "rsyslogd is not installed: run `make deps`")
        var global = "workDirectory=\"\(dir.path)\" maxMessageSize=\"64k\""
        var module = "module(load=\"imtcp\")"
        if let tls {
            global += " DefaultNetstreamDriver=\"ossl\" DefaultNetstreamDriverCAFile=\"\(tls.caFile)\""
            global += " DefaultNetstreamDriverCertFile=\"\(tls.certFile)\" DefaultNetstreamDriverKeyFile=\"\(tls.keyFile)\""
            module = "module(load=\"imtcp\" StreamDriver.Name=\"ossl\" StreamDriver.Mode=\"1\" StreamDriver.AuthMode=\"anon\")"
        }
        let config = """
            global(\(global))
            \(module)
            input(type="imtcp" address="127.0.0.1" port="\(port)")
            template(name="raw" type="string" string="%rawmsg%\\n")
            *.* action(type="omfile" file="\(dir.file("received.log"))" template="raw")

            """
        try config.write(toFile: dir.file("rsyslog.conf"), atomically: true, encoding: .utf8)
        server = TestServer(name: "rsyslogd", executable: rsyslogd,
                            arguments: ["-n", "-f", dir.file("rsyslog.conf"), "-i", dir.file("rsyslogd.pid")], port: port,
                            logFile: dir.file("rsyslogd.out"))
    }

    func start() async throws { try await server.start() }
    func stop() { server.stop() }

    /// The messages received so far: (seq from the structured data, the record in MSG).
    func received() throws -> [(sdSeq: UInt64, line: String)] {
        try readLines(output).map { message in
            let sd = try #require(message.range(of: "[\(SyslogFormat.sdID) "), "no ebguard SD in \(message)")
            let seqStart = try #require(message.range(of: "seq=\"", range: sd.upperBound..<message.endIndex))
            let seqEnd = try #require(message[seqStart.upperBound...].firstIndex(of: "\""))
            // MSG is the UTF-8 BOM, then the record's line (RFC 5424 §6.4).
            let json = try #require(message.range(of: "] \u{FEFF}{\"data\""), "no BOM before the record: \(message)")
            return (UInt64(message[seqStart.upperBound..<seqEnd])!, String(message[message.index(json.lowerBound, offsetBy: 3)...]))
        }
    }

    deinit {
        server.stop()
        dir.remove()
    }
}

/// A throwaway CA and a server certificate for 127.0.0.1, made with openssl.
struct TestCertificates {
    let dir: TempDir
    var caFile: String { dir.file("ca.pem") }
    var certFile: String { dir.file("cert.pem") }
    var keyFile: String { dir.file("key.pem") }

    init() throws {
        dir = TempDir("certs")
        let openssl = try #require(findExecutable("openssl"), "openssl is not installed: run `make deps`")
        try "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
            .write(toFile: dir.file("ext.cnf"), atomically: true, encoding: .utf8)
        for args in [
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", dir.file("ca.key"), "-out", caFile,
             "-days", "2", "-subj", "/CN=ebguard test CA"],
            ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", keyFile, "-out", dir.file("req.csr"), "-subj", "/CN=127.0.0.1"],
            ["x509", "-req", "-in", dir.file("req.csr"), "-CA", caFile, "-CAkey", dir.file("ca.key"), "-CAcreateserial",
             "-out", certFile, "-days", "2", "-extfile", dir.file("ext.cnf")],
        ] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: openssl)
            p.arguments = args
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            p.waitUntilExit()
            try #require(p.terminationStatus == 0, "openssl \(args[0]) failed")
        }
    }
}

/// The OTLP receiver fixture (python3 http.server), recording each request body as a line.
final class OTLPReceiver {
    let dir = TempDir("otlp")
    let port = freeLoopbackPort()
    let server: TestServer
    var output: String { dir.file("requests.jsonl") }
    /// The User-Agent of each request.
    var agents: [String] { readLines(dir.file("requests.jsonl.agents")) }

    init(failFirst: Int = 0) throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/otlp_receiver.py").path
        let python = try #require(findExecutable("python3"), "python3 is not installed")
        server = TestServer(name: "otlp receiver", executable: python,
                            arguments: [script, "--port", String(port), "--out", dir.file("requests.jsonl"),
                                        "--fail", String(failFirst)],
                            port: port, logFile: dir.file("receiver.out"))
    }

    func start() async throws { try await server.start() }
    func stop() { server.stop() }

    func requests() throws -> [JSONValue] {
        try readLines(output).map { try JSONValue.parse(Array($0.utf8)) }
    }

    deinit {
        server.stop()
        dir.remove()
    }
}

/// Waits until `condition` holds, up to `seconds`.
func eventually(_ seconds: Double = 20, _ condition: () throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return try condition()
}

/// Received lines must be the log's exact lines, every seq from 1 to `last`, in order; a
/// record may repeat (at-least-once), but only as a resend that goes on in order.
func expectCompleteInOrder(_ lines: [String], sdSeqs: [UInt64]? = nil, last: UInt64, log: String,
                           sourceLocation: SourceLocation = #_sourceLocation) throws {
    let stored = Dictionary(uniqueKeysWithValues: try AuditLogFiles(path: log).existing().flatMap {
        try AuditReader.records(in: $0).records.map { ($0.record.seq, String(decoding: $0.bytes, as: UTF8.self)) }
    })
    var firstSeen: [UInt64] = []
    var seen = Set<UInt64>()
    for (i, line) in lines.enumerated() {
        let r = try AuditRecord(line: Array(line.utf8), requireCanonical: true)
        if let sdSeqs { #expect(sdSeqs[i] == r.seq, sourceLocation: sourceLocation) }
        #expect(stored[r.seq] == line, "seq \(r.seq) arrived changed", sourceLocation: sourceLocation)
        if seen.insert(r.seq).inserted { firstSeen.append(r.seq) }
    }
    #expect(firstSeen == Array(1...last), "gaps or disorder: \(firstSeen)", sourceLocation: sourceLocation)
}

/// `#expect` that `condition` comes true within `seconds`.
func expectEventually(_ seconds: Double = 20, _ comment: @autoclosure () -> String = "",
                      sourceLocation: SourceLocation = #_sourceLocation,
                      _ condition: () throws -> Bool) async throws {
    let ok = try await eventually(seconds, condition)
    #expect(ok, Comment(rawValue: comment()), sourceLocation: sourceLocation)
}
