import EbguardDaemon
import EbguardSystem
import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// Unix socket names that fill sun_path (108 bytes, no NUL) through a real `ebguard run` under
/// the daemon: the kernel decides on every byte (an exact rule on the 108-byte name decides it,
/// one on its 107-byte prefix does not; a subtree and a pattern on the 108th byte too), and
/// the event stream, the audit log and the session's own lines name the socket whole. Abstract
/// names are as long as their address says: 108 bytes, padded with NULs, or short.
extension DaemonVMSuites {
    @Suite(.enabled(if: TestEnvironment.inVM && TestEnvironment.isRoot, "needs BPF-LSM, which this host's kernel refuses; `make test` runs it in the VM (scripts/vmtest)"), .serialized)
    struct UnixFullNameVMTests {
        /// The governed probe: for each (label, hex name) pair, binds a stream listener at the
        /// name and connects to it, both through libc with the address exactly as long as the
        /// name (Python's own bind() refuses a 108-byte path), and prints `label=OK` or the errno.
        static let probe = #"""
        import ctypes, errno, os, socket, sys
        libc = ctypes.CDLL(None, use_errno=True)
        def call(fn, sock, name):
            addr = b'\x01\x00' + name   # AF_UNIX, then sun_path with no NUL after the name
            if fn(sock.fileno(), ctypes.create_string_buffer(addr, len(addr)), len(addr)) != 0:
                e = ctypes.get_errno()
                raise OSError(e, os.strerror(e))
        servers = []
        for label, name in zip(sys.argv[1::2], sys.argv[2::2]):
            name = bytes.fromhex(name)
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            call(libc.bind, server, name)
            server.listen(4)
            servers.append(server)
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                call(libc.connect, client, name)
                print(label + "=OK", flush=True)
            except OSError as e:
                print(label + "=" + errno.errorcode.get(e.errno, str(e.errno)), flush=True)
            client.close()
        """#

        @Test func namesOf108BytesAreDecidedAndReportedWhole() throws {
            let daemon = try DaemonHarness(label: "vm-unix108")
            try daemon.start()
            // A directory whose path leaves room for a 7-byte name: `sock-a` makes 107 bytes,
            // one more byte 108, the whole of sun_path.
            let dir = daemon.scratch + "/" + String(repeating: "d", count: 100 - daemon.scratch.utf8.count - 1)
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let prefix = dir + "/sock-a"
            let exact = prefix + "1", unlisted = prefix + "2", tree = prefix + "s", patterned = prefix + "q"
            #expect(prefix.utf8.count == 107)
            for name in [exact, unlisted, tree, patterned] { #expect(name.utf8.count == 108) }
            let unique = "\(getpid())-\(UInt32.random(in: 0..<UInt32.max))"
            let abstractFull = "eg-abs-\(unique)-" + String(repeating: "a", count: 107 - "eg-abs-\(unique)-".utf8.count)
            let abstractPadded = "eg-pad-\(unique)", abstractShort = "eg-short-\(unique)"
            let file = try daemon.write("policy.yaml", """
            version: 1
            name: unix108
            defaults: { exec: allow, file: allow, network: audit }
            network:
              - { action: deny, unix: "\(prefix)" }
              - { action: deny, unix: "\(exact)" }
              - { action: deny, unix: "\(tree)/**" }
              - { action: deny, unix: "\(dir)/*q" }
            """)
            let events = try #require(try daemon.followEvents(), "ebguard events never subscribed")

            func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
            let attempts: [(label: String, name: [UInt8])] = [
                ("prefix", Array(prefix.utf8)), ("exact", Array(exact.utf8)), ("unlisted", Array(unlisted.utf8)),
                ("tree", Array(tree.utf8)), ("pattern", Array(patterned.utf8)),
                ("abstract", [0] + Array(abstractFull.utf8)),
                ("padded", [0] + Array(abstractPadded.utf8) + [UInt8](repeating: 0, count: 107 - abstractPadded.utf8.count)),
                ("short", [0] + Array(abstractShort.utf8)),
            ]
            for attempt in attempts { #expect(attempt.name.count <= 108) }
            let result = try daemon.ebguard(["run", "--policy", file, "--name", "unix108", "--", "/usr/bin/python3", "-c", Self.probe]
                                            + attempts.flatMap { [$0.label, hex($0.name)] })
            var outcome: [String: String] = [:]
            for line in result.stdout.split(separator: "\n") {
                let parts = line.split(separator: "=", maxSplits: 1)
                if parts.count == 2 { outcome[String(parts[0])] = String(parts[1]) }
            }
            #expect(outcome == ["prefix": "EPERM", "exact": "EPERM", "unlisted": "OK", "tree": "EPERM", "pattern": "EPERM",
                                "abstract": "OK", "padded": "OK", "short": "OK"], "\(result.stdout) \(result.stderr)")

            // What each connect is reported as: the whole name (abstract: each NUL shown as @),
            // the verdict, and the rule (nil: the network default).
            let paddedShown = "@" + abstractPadded + String(repeating: "@", count: 107 - abstractPadded.utf8.count)
            let expected: [(object: String, verdict: String, rule: String?)] = [
                (prefix, "deny", "network[0]"), (exact, "deny", "network[1]"), (unlisted, "audit", nil),
                (tree, "deny", "network[2]"), (patterned, "deny", "network[3]"),
                ("@" + abstractFull, "audit", nil), (paddedShown, "audit", nil), ("@" + abstractShort, "audit", nil),
            ]
            #expect(("@" + abstractFull).utf8.count == 108 && paddedShown.utf8.count == 108)

            // The session's own lines.
            for (object, verdict, rule) in expected where verdict == "deny" {
                #expect(result.stderr.contains("denied connect \(object) (unix) by rule \(rule!)"), "\(object): \(result.stderr)")
            }

            // The event stream.
            events.waitFor { jsonLines($0).contains { $0["action"] as? String == "end" && ($0["session"] as? String)?.hasPrefix("unix108-") == true } }
            let unix = jsonLines(events.stdout).filter {
                ($0["session"] as? String)?.hasPrefix("unix108-") == true && $0["detail"] as? String == "unix"
            }
            for (object, verdict, rule) in expected {
                let matching = unix.filter { $0["object"] as? String == object }
                #expect(matching.count == 1, "\(object): \(unix.map { $0["object"] ?? "" })")
                guard let event = matching.first else { continue }
                #expect(event["verdict"] as? String == verdict, "\(object): \(event)")
                #expect(event["rule"] as? String == rule, "\(object): \(event)")
                #expect(event["reason"] as? String == (rule == nil ? "default" : "rule"), "\(object): \(event)")
                #expect(event["blocked"] as? Bool == (verdict == "deny"), "\(object): \(event)")
            }
            #expect(unix.count == expected.count, "nothing else, nothing cut short: \(unix.map { $0["object"] ?? "" })")

            // The audit log.
            var records: [[String: Any]] = []
            for _ in 0..<200 {
                records = jsonLines((try? String(contentsOfFile: daemon.auditLogPath, encoding: .utf8)) ?? "")
                if records.contains(where: { $0["type"] as? String == "session_stop" }) { break }
                usleep(100_000)
            }
            let decisions = records.compactMap { $0["type"] as? String == "decision" ? $0["data"] as? [String: Any] : nil }
                .filter { $0["kind"] as? String == "unix" && ($0["session"] as? String)?.hasPrefix("unix108-") == true }
            for (object, verdict, rule) in expected {
                let record = decisions.first { $0["object"] as? String == object }
                #expect(record?["verdict"] as? String == verdict, "\(object): \(decisions)")
                #expect(record?["rule"] as? String == (rule ?? "default"), "\(object): \(decisions)")
            }
            #expect(decisions.count == expected.count, "\(decisions.map { $0["object"] ?? "" })")
        }
    }
}
