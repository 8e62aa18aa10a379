import EbguardBPF
import EbguardSystem
import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// Rough cost of the connect hooks, printed, never asserted (timings vary by machine).
/// Run with EBGUARD_NET_BENCH=1:
/// `EBGUARD_NET_BENCH=1 swift test --skip-build --filter NetworkCostTests`.
@Suite(.enabled(if: TestEnvironment.isRoot && ProcessInfo.processInfo.environment["EBGUARD_NET_BENCH"] == "1",
                "a benchmark: set EBGUARD_NET_BENCH=1 (and run as root) to print the cost of a connect"))
struct NetworkCostTests {
    /// Median ns per call over `reps` rounds: UDP connect() (the hook, no packets) and a
    /// full TCP connect+accept+close on loopback.
    static let script = #"""
import socket, statistics, sys, time
mode, host, n, reps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
fam = socket.AF_INET6 if ':' in host else socket.AF_INET
rounds = []
if mode == 'udp':
    s = socket.socket(fam, socket.SOCK_DGRAM)
    for _ in range(reps):
        t = time.perf_counter_ns()
        for _ in range(n):
            s.connect((host, 9))
        rounds.append((time.perf_counter_ns() - t) / n)
else:
    l = socket.socket(fam, socket.SOCK_STREAM)
    l.bind((host, 0))
    l.listen(128)
    port = l.getsockname()[1]
    for _ in range(reps):
        t = time.perf_counter_ns()
        for _ in range(n):
            c = socket.socket(fam, socket.SOCK_STREAM)
            c.connect((host, port))
            l.accept()[0].close()
            c.close()
        rounds.append((time.perf_counter_ns() - t) / n)
print(int(statistics.median(rounds)))
"""#

    func measure(_ mode: String, in cgroup: Cgroup, n: Int, reps: Int = 7) throws -> Int {
        let command = ["/usr/bin/unshare", "-n", "/bin/sh", "-c", "ip link set lo up && exec /usr/bin/python3 -c \"$0\" \"$@\"",
                       Self.script, mode, "127.0.0.1", "\(n)", "\(reps)"]
        let result = try runProcess(command, in: cgroup)
        guard let value = Int(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw SystemError("benchmark", reason: result.stderr)
        }
        return value
    }

    /// run_time_ns and run_cnt of the program pinned at `path`, from bpftool.
    static func runStats(_ path: String) throws -> (time: Int, runs: Int) {
        let result = try runProcess(["/usr/sbin/bpftool", "-j", "prog", "show", "pinned", path])
        guard let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] else {
            throw SystemError("reading program stats", reason: result.stderr)
        }
        return ((object["run_time_ns"] as? Int) ?? 0, (object["run_cnt"] as? Int) ?? 0)
    }

    @Test func connectCost() throws {
        let plain = try ScratchCgroup("net-bench-plain")  // no program on its path
        let net = try NetFixture("net-bench")
        let stranger = try net.bystander("stranger")
        let small = try net.session("small", policy: 1)
        let large = try net.session("large", policy: 2)
        // 10 prefixes; 127.0.0.1 finds a three-rule list and its last rule allows.
        for i in 0..<9 { try net.put("10.\(i).0.0/16", policy: 1, [.deny(UInt16(i))]) }
        try net.put("127.0.0.0/8", policy: 1, [.deny(20, ports: 22...22), .deny(21, ports: 25...25), .allow(22)])
        // 10,000 prefixes; 127.0.0.1 walks a full 16-rule list to its last rule.
        for i in 0..<9_999 { try net.put("10.\(i / 250).\(i % 250).0/24", policy: 2, [.deny(UInt16(i % 60_000))]) }
        var walk: [NetRule] = []
        for i in UInt16(0)..<15 { walk.append(.deny(100 + i, ports: (1000 + i)...(1000 + i))) }
        walk.append(.allow(200))
        try net.put("127.0.0.0/8", policy: 2, walk)

        // The kernel's own accounting of the program (kernel.bpf_stats_enabled): time inside
        // eg_connect4 per run, free of the noise of the rest of the connect.
        let program = net.pinRoot + "/prog-eg_connect4"
        try net.object.program("eg_connect4").pin(at: program)
        let statsSwitch = "/proc/sys/kernel/bpf_stats_enabled"
        let statsWere = (try? String(contentsOfFile: statsSwitch, encoding: .utf8)) ?? "0\n"
        try "1\n".write(toFile: statsSwitch, atomically: false, encoding: .utf8)
        defer { try? statsWere.write(toFile: statsSwitch, atomically: false, encoding: .utf8) }

        var wall: [String: [Int]] = [:]
        var inProgram: [String: (time: Int, runs: Int)] = [:]
        let cases: [(String, Cgroup)] = [("no program", plain.cgroup), ("attached, outside every session", stranger),
                                         ("session, 10 prefixes", small), ("session, 10,000 prefixes, 16-rule walk", large)]
        for _ in 0..<3 {
            for (name, cgroup) in cases {
                let before = try Self.runStats(program)
                wall["udp connect() " + name, default: []].append(try measure("udp", in: cgroup, n: 20_000))
                let after = try Self.runStats(program)
                inProgram[name, default: (0, 0)].time += after.time - before.time
                inProgram[name, default: (0, 0)].runs += after.runs - before.runs
                wall["tcp connect+accept " + name, default: []].append(try measure("tcp", in: cgroup, n: 2_000))
            }
        }
        #expect(try net.events().isEmpty)  // every benchmarked connect is allowed and unreported
        for key in wall.keys.sorted() {
            let values = wall[key]!.sorted()
            print("net-bench: \(key): median \(values[values.count / 2]) ns per call (rounds \(values))")
        }
        for (name, _) in cases {
            let stats = inProgram[name]!
            print("net-bench: time in eg_connect4, \(name): \(stats.runs == 0 ? 0 : stats.time / stats.runs) ns per run over \(stats.runs) runs")
        }
    }
}
