import EbguardAudit
import EbguardLearn
import EbguardPolicy
import Foundation
import Testing

/// Reading a session back from audit-format files, with the library's record reader.
@Suite struct TrailTests {
    @Test func decisionsOfEveryKindReadBackAsWritten() throws {
        var t = TestTrail()
        t.file("/usr/lib/libc.so.6", "read,exec")
        t.file("/home/dev/proj/out.o", "write,create", repeats: 41)
        t.exec("/usr/bin/git", argv: ["git", "status"])
        t.connect("93.184.216.34", 443, host: "Example.ORG")
        t.connect("::1", 8080, "udp")
        t.lookup("pypi.org")
        t.add(.decision(AuditDecision(session: t.session, pid: 1, comm: "x", kind: .unix, object: "/run/a.sock", access: "connect",
                                      rule: "network[2]", verdict: .deny)))
        t.add(.decision(AuditDecision(session: t.session, pid: 1, comm: "x", kind: .tamper, object: "bpf", access: "tamper",
                                      rule: "tamper", verdict: .deny)))
        t.file("/proc/self/x", "read", verdict: .deny, rule: "unresolved")
        t.add(.lostEvents(AuditLostEvents(source: "ringbuf", count: 7)))
        var other = TestTrail(session: "other-99")
        other.file("/etc/passwd", "read")
        t.lines += other.lines.dropFirst()  // another session's records in the same file
        let dir = TempDir()
        defer { dir.remove() }
        try t.write(to: dir.file("a.jsonl"))
        let trail = try Trail.read(files: [dir.file("a.jsonl")], session: "agent")
        #expect(trail.session == "agent-1a2b3c4d")
        #expect(trail.command == ["make", "test"])
        #expect(trail.tamper == 1 && trail.notDecidedByPolicy == 1 && trail.lostEvents == 7)
        let targets = trail.observations.map(\.target)
        #expect(targets == [
            .file(path: "/usr/lib/libc.so.6", access: [.read, .exec]),
            .file(path: "/home/dev/proj/out.o", access: [.write, .create]),
            .exec(path: "/usr/bin/git", argv: ["git", "status"]),
            .connect(address: IPAddress("93.184.216.34")!, port: 443, transport: .tcp, host: "example.org"),
            .connect(address: IPAddress("::1")!, port: 8080, transport: .udp, host: nil),
            .lookup(name: "pypi.org"),
            .unix(path: "/run/a.sock"),
        ])
        #expect(trail.observations[1].count == 41)  // a summary of repeats stands for `repeats` more
        #expect(trail.observations.map(\.outcome) == [.allowed, .allowed, .allowed, .allowed, .allowed, .allowed, .refused])
        #expect(trail.observations[0].source == dir.file("a.jsonl") + ":2")
    }

    @Test func aCorruptedLineIsNamedAndNothingIsRead() throws {
        var t = TestTrail()
        t.file("/a", "read")
        t.file("/b", "read")
        t.lines[1] = String(t.lines[1].dropLast(5))
        let dir = TempDir()
        defer { dir.remove() }
        try t.write(to: dir.file("a.jsonl"))
        #expect { try Trail.read(files: [dir.file("a.jsonl")], session: "agent") } throws: { error in
            "\(error)".hasPrefix(dir.file("a.jsonl") + ":2: not a JSON record")
        }
    }

    @Test func aTornLineARecoveryRecordNamesIsAccepted() throws {
        var t = TestTrail()
        t.file("/a", "read")
        t.lines.append("{\"data\":{\"torn")
        t.add(.recovery(AuditRecovery(file: "x", line: 3, tornBytes: 14, tornSHA256: String(repeating: "b", count: 64))))
        t.file("/b", "read")
        let dir = TempDir()
        defer { dir.remove() }
        try t.write(to: dir.file("a.jsonl"))
        #expect(try Trail.read(files: [dir.file("a.jsonl")], session: "agent").observations.count == 2)
    }

    @Test func badDecisionFieldsAreNamed() throws {
        for (line, message) in [
            (#"{"data":{"access":"read","comm":"c","kind":"file","object":"/a","pid":1,"rule":"default","session":"agent-1a2b3c4d","verdict":"maybe"},"host":{"machine_id":"","name":"h"},"prev":"\#(String(repeating: "0", count: 64))","seq":9,"time":"2026-01-01T00:00:00.000000Z","type":"decision","v":1}"#, "unknown verdict 'maybe'"),
            (#"{"data":{"access":"sniff","comm":"c","kind":"file","object":"/a","pid":1,"rule":"default","session":"agent-1a2b3c4d","verdict":"allow"},"host":{"machine_id":"","name":"h"},"prev":"\#(String(repeating: "0", count: 64))","seq":9,"time":"2026-01-01T00:00:00.000000Z","type":"decision","v":1}"#, "unknown access 'sniff'"),
            (#"{"data":{"access":"read","kind":"file","object":"/a","pid":1,"rule":"default","session":"agent-1a2b3c4d","verdict":"allow"},"host":{"machine_id":"","name":"h"},"prev":"\#(String(repeating: "0", count: 64))","seq":9,"time":"2026-01-01T00:00:00.000000Z","type":"decision","v":1}"#, "lacks a valid \"comm\""),
        ] {
            var t = TestTrail()
            t.lines.append(line)
            let dir = TempDir()
            defer { dir.remove() }
            try t.write(to: dir.file("a.jsonl"))
            #expect { try Trail.read(files: [dir.file("a.jsonl")], session: "agent") } throws: { error in
                "\(error)".hasPrefix(dir.file("a.jsonl") + ":2: ") && "\(error)".contains(message)
            }
        }
    }

    @Test func missingFilesAndUnknownOrAmbiguousSessionsAreErrors() throws {
        let dir = TempDir()
        defer { dir.remove() }
        #expect { try Trail.read(files: [dir.file("none.jsonl")], session: "agent") } throws: { "\($0)" == dir.file("none.jsonl") + ": no such file" }
        var t = TestTrail()
        t.lines += TestTrail(session: "agent-00ff").lines
        try t.write(to: dir.file("a.jsonl"))
        #expect { try Trail.read(files: [dir.file("a.jsonl")], session: "nobody") } throws: { error in
            "\(error)".contains("no session 'nobody'") && "\(error)".contains("agent-1a2b3c4d")
        }
        #expect { try Trail.read(files: [dir.file("a.jsonl")], session: "agent") } throws: { "\($0)".contains("ambiguous") }
        #expect(try Trail.read(files: [dir.file("a.jsonl")], session: "agent-00ff").session == "agent-00ff")
    }
}
