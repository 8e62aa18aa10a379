import EbguardSystem
import Foundation
import Glibc

/// A real DNS server for tests: Debian's dnsmasq in the foreground on a loopback address and port
/// of its own, answering only the records given (no /etc/resolv.conf, no /etc/hosts, no
/// forwarding), and logging every query it receives so a test can prove which names reached it.
/// Stopped, and its files removed, on `deinit`.
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
    /// Spawned and reaped here, not through Foundation's Process: with dnsmasq as a running
    /// Process, a test's `runProcess(dig ...)` was seen never to return (dig stayed a zombie,
    /// Foundation's waiter blocked in wait4 on dnsmasq) until dnsmasq exited.
    private let pid: pid_t
    private let stopped = NSLock()
    private var reaped = false

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
            let output = directory.appendingPathComponent("output.log").path
            let pid = try Self.spawn(executable, arguments, output: output)
            if Self.waitUntilAnswering(address: address, port: port, pid: pid) {
                self.address = address
                self.port = port
                self.pid = pid
                return
            }
            Self.terminate(pid)
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

    public func stop() {
        stopped.lock()
        defer { stopped.unlock() }
        guard !reaped else { return }
        Self.terminate(pid)
        reaped = true
    }

    /// Stops dnsmasq and removes its directory (log included).
    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: logFile).deletingLastPathComponent().path)
    }

    /// SIGTERM, up to 2 s, then SIGKILL; reaps the child either way.
    private static func terminate(_ pid: pid_t) {
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == 0 else { return }   // already exited and reaped
        kill(pid, SIGTERM)
        for _ in 0..<100 {
            if waitpid(pid, &status, WNOHANG) != 0 { return }
            usleep(20_000)
        }
        kill(pid, SIGKILL)
        _ = waitpid(pid, &status, 0)
    }

    private static func isRunning(_ pid: pid_t) -> Bool {
        var status: Int32 = 0
        return waitpid(pid, &status, WNOHANG) == 0
    }

    /// posix_spawn with stdin from /dev/null and stdout/stderr appended to `output`.
    private static func spawn(_ executable: String, _ arguments: [String], output: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // The spawning thread may block signals (the test runner's threads do): without a clean
        // mask and default handlers, dnsmasq would ignore SIGTERM and every stop would wait for SIGKILL.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        guard rc == 0 else { throw HarnessError("spawning \(executable): \(String(cString: strerror(rc)))") }
        return pid
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
    private static func waitUntilAnswering(address: String, port: UInt16, pid: pid_t) -> Bool {
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
        for _ in 0..<100 where isRunning(pid) {
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
