import CEbguardABI
import EbguardBPF
@testable import EbguardEnforcement
import EbguardPolicy
import EbguardSystem
import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// Patterns in `unix:` rules decided by the kernel (bpf/lib/unix_match.h, through the path
/// matcher): real sockets bound at matching and other paths, stream and datagram, deep, odd and
/// unicode names, names at sun_path's 108 bytes, and a generated table of socket names x rules
/// whose kernel verdicts and rules must equal the userspace reference's (`decideUnix`).
@Suite(.enabled(if: TestEnvironment.inVM && TestEnvironment.isRoot, Comment(rawValue: TestEnvironment.vmReason)), .serialized)
struct UnixPatternVMTests {
    /// The issue's forms, with `/run`, `/tmp` and the home under the fixture's directory.
    @Test func theIssuesFormsAreEnforced() throws {
        let unix = try UnixFixture()
        let d = unix.directory
        let s = try unix.session(policy: 11, defaults: "network: deny", rules: [
            "allow, unix: \"\(d)/run/user/*/bus\"",
            "allow, unix: \"\(d)/tmp/ssh-*/agent.*\"",
            "deny, unix: \"/**/docker.sock\"",
            "allow, unix: \"${home}/**/*.sock\"",
        ], home: d + "/home")
        let attempts: [String: String] = [
            "stream:\(d)/run/user/1000/bus": "ok", "dgram:\(d)/run/user/1001/bus": "ok",
            "stream:\(d)/run/user/1000/x/bus": "EPERM", "stream:\(d)/run/user/bus": "EPERM",
            "stream:\(d)/tmp/ssh-XXXXab12/agent.4242": "ok", "dgramc:\(d)/tmp/ssh-q/agent.1": "ok",
            "stream:\(d)/tmp/ssh/agent.1": "EPERM", "stream:\(d)/tmp/ssh-a/b/agent.1": "EPERM",
            "stream:\(d)/home/.docker/run/x.sock": "ok", "dgram:\(d)/home/a/b/c/d/e/f/g/h.sock": "ok",
            "stream:\(d)/var/lib/docker.sock": "EPERM", "stream:\(d)/home/x.socket": "EPERM",
            // Under the home the home's pattern (more literal bytes before its `*`) wins.
            "dgram:\(d)/home/x/docker.sock": "ok",
            "stream:\(d)/home/ünï cödé/ß.sock": "ok", "stream:\(d)/home/tab\there/x.sock": "ok",
        ]
        try expectUnixOutcomes(Array(attempts.keys), in: s.cgroup, attempts)
        let events = try unix.events()
        let docker = try #require(events.first { string(fromCArray: $0.unix_path) == "\(d)/var/lib/docker.sock" })
        #expect((docker.verdict, docker.rule, docker.reason) == (UInt8(EG_VERDICT_DENY.rawValue), 2, UInt8(EG_REASON_RULE.rawValue)))
        #expect(events.count == 6, "\(events.map { string(fromCArray: $0.unix_path) })")
    }

    /// Names near and at sun_path's 108 bytes, deep (one-byte components), matched by a pattern
    /// on their last byte: one byte more or less changes the verdict.
    @Test func namesAtTheSunPathLimit() throws {
        let unix = try UnixFixture()
        let d = unix.directory
        let s = try unix.session(policy: 12, defaults: "network: deny", rules: [
            "allow, unix: \"\(d)/**/*.ok\"", "audit, unix: \"\(d)/q/**/z*\"",
        ])
        var deep = d + "/q"
        while deep.utf8.count + 2 + 5 <= 108 { deep += "/d" }
        let deepName = deep + "/z" + String(repeating: "y", count: 108 - deep.utf8.count - 2)
        let full = d + "/" + String(repeating: "f", count: 108 - d.utf8.count - 4) + ".ok"
        let fullNot = String(full.dropLast()) + "x"
        let shorter = String(full.dropLast(4)) + ".ok"
        #expect(deepName.utf8.count == 108 && full.utf8.count == 108 && shorter.utf8.count == 107)
        try expectUnixOutcomes(["raw:\(deepName)", "raw:\(full)", "raw:\(fullNot)", "raw:\(shorter)"], in: s.cgroup, [
            "raw:\(deepName)": "ok", "raw:\(full)": "ok", "raw:\(fullNot)": "EPERM", "raw:\(shorter)": "ok",
        ])
        let events = try unix.events()
        #expect(events.map(\.rule).sorted() == [1, UInt16(EG_RULE_DEFAULT)], "\(events.map { string(fromCArray: $0.unix_path) })")
        for name in [deepName, full, fullNot, shorter] {
            let reference = s.compiled.decideUnix(path: name)
            #expect((reference.verdict == .deny) == (name == fullNot), "\(name): \(reference)")
        }
    }

    static let rules = [
        "allow, unix: \"D/run/user/*/bus\"",
        "deny, unix: \"D/tmp/ssh-*/agent.*\"",
        "deny, unix: \"/**/docker.sock\"",
        "audit, unix: \"${home}/**/*.sock\"",
        "allow, unix: \"D/run/**\"",
        "deny, unix: \"D/run/user/1000/bus\"",
        "ask, unix: \"D/**/ünï/*ß\"",
        "deny, unix: \"D/a/**/b/**/c.sock\"",
        "audit, unix: \"D/odd/* b\"",
        "allow, unix: \"D/home/**/private/**\"",
        "deny, unix: \"D/**/deepest/**/*.x\"",
        "allow, unix: \"D/tmp/ssh-keep/agent.1\"",
        "deny, unix: \"D/sp ace/**\"",
        "audit, unix: \"D/run/user/*/pulse/**\"",
        // A subtree and a pattern of one rank (the bytes of "D/tie/"): the stronger verdict wins.
        "allow, unix: \"D/tie/**\"",
        "deny, unix: \"D/tie/*.sock\"",
    ]

    /// Every directory x every leaf name, as PathPatternVMTests.table does for files.
    static func table(_ d: String) -> [String] {
        let dirs = ["run/user/1000", "run/user/1001", "run/user/1001/x", "run/user", "run/user/7/pulse", "tmp/ssh-abc",
                    "tmp/ssh-", "tmp/ssh", "tmp/ssh-keep", "home", "home/.gnupg", "home/private/x", "home/a/private",
                    "a/b", "a/x/b/y", "a/q/b", "ünï", "x/ünï", "odd", "sp ace/ta\tb", "deepest/z", "z", "tie"]
        let leaves = ["bus", "agent.1", "agent.", "docker.sock", "x.sock", "c.sock", "xß", "ß", "a b", "ab", "f.x",
                      "docker.socket", "native"]
        return dirs.flatMap { dir in leaves.map { "\(d)/\(dir)/\($0)" } }
    }

    @Test func kernelAgreesWithTheReferenceOnAGeneratedTable() throws {
        let unix = try UnixFixture()
        let d = unix.directory
        let s = try unix.session(policy: 13, rules: Self.rules.map { $0.replacingOccurrences(of: "\"D/", with: "\"\(d)/") },
                                 home: d + "/home", auditAllows: true)
        var names = Self.table(d)
        // The deepest names that fit sun_path: one-byte components.
        var deep = d + "/deepest"
        while deep.utf8.count + 2 + 4 <= 108 { deep += "/d" }
        names += [deep + "/y.x", deep + "/k.sock", String(deep.dropLast(2)) + "/docker.sock"]
        names = names.filter { $0.utf8.count <= 108 }
        // Stream and datagram in turn; names of 108 bytes through libc (no NUL).
        let attempts = names.enumerated().map { i, name in
            (name.utf8.count == 108 ? "raw:" : i % 2 == 0 ? "stream:" : "dgram:") + name
        }
        let outcomes = try UnixProbe.run(attempts, in: s.cgroup)
        var events: [String: eg_net_event] = [:]
        for event in try unix.events() where events[string(fromCArray: event.unix_path)] == nil {
            events[string(fromCArray: event.unix_path)] = event
        }
        var matched = Set<Int>()
        var mismatches = 0
        for (attempt, name) in zip(attempts, names) {
            let reference = s.compiled.decideUnix(path: name)
            // A 108-byte name (whether the deep names reach 108 depends on the length of this
            // run's directory) is decided and reported on all its bytes.
            let event = try #require(events[name], "no kernel event for \(name)")
            let refused = reference.verdict == .deny || reference.verdict == .ask
            if event.verdict != PathPatternVMTests.kernelVerdict(reference.verdict)
                || event.rule != UInt16(reference.rule?.index ?? Int(EG_RULE_DEFAULT)) || outcomes[attempt] != (refused ? "EPERM" : "ok") {
                mismatches += 1
            }
            #expect(event.verdict == PathPatternVMTests.kernelVerdict(reference.verdict), "\(name): kernel \(event.verdict) rule \(event.rule), reference \(reference)")
            #expect(event.rule == UInt16(reference.rule?.index ?? Int(EG_RULE_DEFAULT)), "\(name): kernel \(event.rule), reference \(reference)")
            #expect(outcomes[attempt] == (refused ? "EPERM" : "ok"), "\(attempt): \(outcomes[attempt] ?? "none"), reference \(reference)")
            if let rule = reference.rule { matched.insert(rule.index) }
        }
        #expect(names.count > 290)
        #expect(matched.count == Self.rules.count, "rules that decided some name: \(matched.sorted())")
        #expect(mismatches == 0)
        print("unix pattern table: \(names.count) socket names x \(Self.rules.count) rules, \(mismatches) differing from the reference; rules deciding: \(matched.sorted())")
    }
}
