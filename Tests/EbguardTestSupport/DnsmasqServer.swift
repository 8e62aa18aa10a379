import EbguardSystem
import Foundation
import Glibc

/// A real DNS server for tests: Debian's dnsmasq in the foreground on a loopback address and port
/// of its own, answering only the records given (no /etc/resolv.conf, no /etc/hosts, no
/// forwarding), and logging every query it receives so a test can prove which names reached it.
/// Stopped on `deinit`.
public final class DnsmasqServer {
    /// One record dnsmasq serves (its `--host-record`, `--cname`, `--txt-record` options).
    public enum Record: Sendable {
        /// A and/or AAAA for `name`; dnsmasq's TTL for it (its default is 0 for local records).
        case host(String, v4: String?, v6: String?, ttl: Int? = nil)
        case cname(String, target: String, ttl: Int? = nil)
        case txt(String, [String])

        var argument: String {
            switch self {
            case .host(let name, let v4, let v6, let ttl):
                "--host-record=" + ([name, v4, v6].compactMap { $0 } + (ttl.map { ["\($0)"] } ?? [])).joined(separator: ",")
            case .cname(let alias, let target, let ttl):
                "--cname=" + ([alias, target] + (ttl.map { ["\($0)"] } ?? [])).joined(separator: ",")
            case .txt(let name, let strings):
                "--txt-record=" + ([name] + strings.map { "\"\($0)\"" }).joined(separator: ",")
            }
        }
    }

    public static var executable: String? { findExecutable("dnsmasq") }
    public static let missingReason = "needs dnsmasq (Debian package dnsmasq-base; `make deps` installs it)"

    /// 127.0.0.x, different per server, so servers of parallel tests never share an address.
    public let address: String
    public let port: UInt16
    /// dnsmasq's own log (`--log-facility`): one `query[TYPE] name from ADDR` line per query.
    public let logFile: String
    private let process: Process

    /// Starts dnsmasq and waits until it answers a query (up to 10 s). `extraArguments` are passed
    /// on (e.g. `--local=/test/` to answer NXDOMAIN below test. rather than REFUSED).
    public init(records: [Record], extraArguments: [String] = []) throws {
        guard let executable = Self.executable else { throw HarnessError(Self.missingReason) }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ebguard-dnsmasq-\(getpid())-\(UInt32.random(in: 0..<1_000_000))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        logFile = directory.appendingPathComponent("queries.log").path
        var lastError = "not started"
        for _ in 0..<5 {
            let address = "127.0.0.\(Int.random(in: 2...250))"
            let port = Self.freeUDPPort(on: address)
            var arguments = ["--keep-in-foreground", "--no-resolv", "--no-hosts", "--bind-interfaces",
                             "--listen-address=\(address)", "--port=\(port)", "--pid-file=",
                             "--log-queries", "--log-facility=\(logFile)"]
            // As root dnsmasq would switch to its own user, who cannot write the log file.
            if geteuid() == 0 { arguments.append("--user=root") }
            arguments += records.map(\.argument) + extraArguments
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            process.standardInput = FileHandle.nullDevice
            let output = directory.appendingPathComponent("output.log").path
            _ = FileManager.default.createFile(atPath: output, contents: nil)
            process.standardOutput = FileHandle(forWritingAtPath: output)
            process.standardError = FileHandle(forWritingAtPath: output)
            try process.run()
            if Self.waitUntilAnswering(address: address, port: port, process: process) {
                self.address = address
                self.port = port
                self.process = process
                return
            }
            Self.terminate(process)
            lastError = (try? String(contentsOfFile: output, encoding: .utf8)) ?? "no output"
        }
        throw HarnessError("dnsmasq did not start: \(lastError)")
    }

    /// The names of every query dnsmasq received so far, lowercased, in order.
    public func queriedNames() -> [String] {
        let log = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
        return log.split(separator: "\n").compactMap { line in
            guard let range = line.range(of: "query[") else { return nil }
            let rest = line[range.upperBound...].drop { $0 != "]" }.dropFirst().drop { $0 == " " }
            return rest.split(separator: " ").first.map { $0.lowercased() }
        }
    }

    /// `@address -p port` for dig.
    public var digArguments: [String] { ["@\(address)", "-p", "\(port)"] }

    public func stop() { Self.terminate(process) }

    deinit { stop() }

    private static func terminate(_ process: Process) {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        for _ in 0..<100 where process.isRunning { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    private static func freeUDPPort(on address: String) -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_addr.s_addr = inet_addr(address)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return UInt16(bigEndian: sin.sin_port)
    }

    /// Sends a hand-made query (A for ebguard-ready-probe.) until any answer comes back.
    private static func waitUntilAnswering(address: String, port: UInt16, process: Process) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_addr.s_addr = inet_addr(address)
        sin.sin_port = port.bigEndian
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let label = Array("ebguard-ready-probe".utf8)
        let query: [UInt8] = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, UInt8(label.count)] + label + [0, 0, 1, 0, 1]
        var reply = [UInt8](repeating: 0, count: 512)
        for _ in 0..<100 where process.isRunning {
            _ = withUnsafePointer(to: &sin) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, query, query.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            if recv(fd, &reply, reply.count, 0) >= 12, reply[0] == 0x12, reply[1] == 0x34 { return true }
        }
        return false
    }
}
