@testable import EbguardDaemon
import EbguardPolicy
import Foundation
import Testing

struct ControlProtocolTests {
    @Test func everyRequestSurvivesEncodingAndDecoding() throws {
        let policy = PolicyText(source: "/etc/ebguard/policies/agent.yaml", yaml: "version: 1\nname: x\n")
        let requests: [ControlRequest] = [
            .status, .sessions,
            .register(SessionRequest(name: "claude", policy: policy, home: "/home/u", workspace: "/home/u/w", uid: 1000, user: "u")),
            .register(SessionRequest(name: "q", policy: policy, home: "/", workspace: "/", uid: 0, user: "root", quiet: true)),
            .register(SessionRequest(name: "c", policy: policy, home: "/", workspace: "/", uid: 0, user: "root",
                                     command: ["/usr/bin/make", "test"])),
            .register(SessionRequest(name: "l", policy: policy, home: "/", workspace: "/", uid: 0, user: "root", learn: true)),
            .attach(session: "claude-1a2b"), .end(session: "claude-1a2b"), .end(session: "claude-1a2b", exitStatus: 3),
            .apply(session: "claude", policy: policy),
            .subscribe(EventFilter(sessions: ["a"], kinds: ["file"], verdicts: ["deny"], sinceSeconds: 30, follow: false)),
            .subscribe(EventFilter(sessions: ["a"], notable: true)),
        ]
        for request in requests {
            #expect(try ControlRequest.decode(request.encoded()) == request)
        }
    }

    @Test(arguments: [
        ("", "malformed"),
        ("null", "malformed"),
        ("[1,2]", "malformed"),
        ("{\"request\":\"status\"}", "malformed"),
        ("{\"version\":2,\"request\":\"status\"}", "unsupported-version"),
        ("{\"version\":\"1\",\"request\":\"status\"}", "malformed"),
        ("{\"version\":1}", "malformed"),
        ("{\"version\":1,\"request\":\"reboot\"}", "unknown-request"),
        ("{\"version\":1,\"request\":\"apply\",\"session\":\"x\"}", "malformed"),
        ("{\"version\":1,\"request\":\"apply\",\"session\":7,\"policy\":{\"source\":\"a\",\"yaml\":\"b\"}}", "malformed"),
        ("{\"version\":1,\"request\":\"register\",\"register\":{\"name\":\"x\"}}", "malformed"),
        ("{\"version\":1,\"request\":\"subscribe\",\"filter\":{\"sessions\":[1]}}", "malformed"),
    ])
    func malformedRequestsAreNamedErrors(line: String, code: String) {
        #expect(throws: ControlError.self) { try ControlRequest.decode(Data(line.utf8)) }
        do { _ = try ControlRequest.decode(Data(line.utf8)) } catch { #expect(error.code == code, "\(line): \(error)") }
    }

    @Test func unsupportedVersionSaysWhichOneIsSpoken() {
        do {
            _ = try ControlRequest.decode(Data("{\"version\":9,\"request\":\"status\"}".utf8))
            Issue.record("version 9 accepted")
        } catch {
            #expect(error.message.contains("version 9"))
            #expect(error.message.contains("speaks version 1"))
        }
    }

    @Test func oversizedRequestsAreRefusedBeforeParsing() {
        let huge = Data(repeating: UInt8(ascii: " "), count: ControlProtocol.maximumRequestBytes + 1)
        do {
            _ = try ControlRequest.decode(huge)
            Issue.record("oversized request accepted")
        } catch {
            #expect(error.code == "too-large")
        }
    }

    /// Random bytes and mutations of valid requests: every input is either a request or a
    /// ControlError, never a crash. (The integration test sends the same to a live daemon.)
    @Test func fuzzedInputNeverEscapesAsAnythingButControlError() {
        var generator = SystemRandomNumberGenerator()
        let seeds = [ControlRequest.status.encoded(),
                     ControlRequest.apply(session: "s", policy: PolicyText(source: "p", yaml: "version: 1")).encoded(),
                     ControlRequest.subscribe(EventFilter()).encoded()]
        var accepted = 0
        for round in 0..<3000 {
            var bytes: [UInt8]
            if round % 3 == 0 {
                bytes = (0..<Int.random(in: 0..<200, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            } else {
                bytes = Array(seeds[round % seeds.count])
                for _ in 0..<Int.random(in: 1...4, using: &generator) where !bytes.isEmpty {
                    bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                }
            }
            do {
                _ = try ControlRequest.decode(bytes)
                accepted += 1
            } catch {
                #expect(!error.code.isEmpty && !error.message.isEmpty)
            }
        }
        #expect(accepted < 3000)
    }

    @Test func responsesAreOneLineEach() throws {
        let failure = ControlResponse.failure(ControlError("policy", "bad", diagnostics: ["p.yaml:3:7: unknown key"]))
        #expect(failure.filter { $0 == UInt8(ascii: "\n") }.count == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: failure) as? [String: Any])
        #expect(object["ok"] as? Bool == false)
        #expect(object["version"] as? Int == 1)
    }
}

struct PeerCheckTests {
    let check = PeerCheck(parentName: "ebguard")

    @Test func processesBelowASessionAreGoverned() {
        #expect(check.governedSession(cgroupFile: "0::/ebguard/claude-1a2b\n") == "claude-1a2b")
        #expect(check.governedSession(cgroupFile: "0::/ebguard/claude-1a2b/nested/deeper\n") == "claude-1a2b")
        #expect(check.governedSession(cgroupFile: "12:pids:/x\n0::/ebguard/s-1\n") == "s-1")
    }

    @Test func processesOutsideSessionsAreNot() {
        #expect(check.governedSession(cgroupFile: "0::/user.slice/user-1000.slice/session-2.scope\n") == nil)
        #expect(check.governedSession(cgroupFile: "0::/ebguard\n") == nil)  // the daemon's own parent
        #expect(check.governedSession(cgroupFile: "0::/ebguardx/s-1\n") == nil)
        #expect(check.governedSession(cgroupFile: "0::/\n") == nil)
    }

    @Test func aProcessThatCannotBeLookedUpIsRefused() {
        let verdict = PeerCheck(parentName: "ebguard", procRoot: "/nonexistent")
            .check(PeerCredentials(pid: 1, uid: 0, gid: 0), allowedGroup: nil)
        guard case .refused = verdict else { Issue.record("allowed without /proc"); return }
    }

    @Test func otherUsersAreRefusedWithoutTheGroup() {
        let verdict = check.check(PeerCredentials(pid: getpid(), uid: 4242, gid: 4242), allowedGroup: nil)
        guard case .refused(let why) = verdict else { Issue.record("uid 4242 allowed"); return }
        #expect(why.contains("4242"))
    }
}

struct GovernedEventTests {
    static let sample = GovernedEvent(
        seq: 7, time: "2026-11-23T16:01:02.123Z", kind: .file, action: "open", session: "claude-1a2b", sessionID: 42,
        pid: 100, ppid: 99, uid: 1000, user: "u", comm: "cat", exe: "/usr/bin/cat", argv: ["cat", "a \"quoted\"\n\u{1}"],
        verdict: .deny, blocked: true, object: "/home/u/.ssh/id_rsa", detail: "read", rule: "file[2]",
        ruleLocation: "agent.yaml:14:5", reason: .rule, exitCode: nil, message: "denied open ~/.ssh/id_rsa (read) by rule file[2]")

    @Test func theHandWrittenJSONDecodesToTheSameEvent() throws {
        let line = Self.sample.jsonLine()
        #expect(!line.contains("\n"))
        let decoded = try JSONDecoder().decode(GovernedEvent.self, from: Data(line.utf8))
        #expect(decoded == Self.sample)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["schema_version"] as? Int == 1)
        #expect(object["exit_code"] == nil)
    }

    @Test func filtersSelectBySessionKindAndVerdict() {
        let event = Self.sample
        #expect(EventFilter().admits(event))
        #expect(EventFilter(sessions: ["claude"]).admits(event))
        #expect(EventFilter(sessions: ["claude-1a2b"]).admits(event))
        #expect(EventFilter(sessions: ["42"]).admits(event))
        #expect(!EventFilter(sessions: ["codex"]).admits(event))
        #expect(!EventFilter(sessions: ["clau"]).admits(event))
        #expect(EventFilter(kinds: ["exec", "file"]).admits(event))
        #expect(!EventFilter(kinds: ["network"]).admits(event))
        #expect(EventFilter(verdicts: ["deny"]).admits(event))
        #expect(!EventFilter(verdicts: ["allow", "ask"]).admits(event))
    }

    @Test func notableEventsAreWhatARunShows() {
        let notable = EventFilter(notable: true)
        #expect(notable.admits(Self.sample), "a denial")
        var allowed = Self.sample
        allowed.blocked = false
        allowed.verdict = .allow
        #expect(!notable.admits(allowed), "an allowed open")
        #expect(EventFilter().admits(allowed))
        var audited = allowed
        audited.verdict = .audit
        #expect(notable.admits(audited))
        var approved = allowed
        approved.kind = .decision
        approved.action = "answer"
        #expect(notable.admits(approved), "an operator's approval")
        var end = allowed
        end.kind = .session
        end.action = "end"
        #expect(notable.admits(end))
        var fork = allowed
        fork.kind = .process
        #expect(!notable.admits(fork))
    }

    @Test func theClockRendersRFC3339() {
        let text = EventClock().rfc3339(bootNanoseconds: EventClock.bootNanoseconds())
        #expect(text.count == 24)
        #expect(text.hasSuffix("Z"))
        #expect(text.dropFirst(10).first == "T")
    }

    @Test func theCachedClockSaysWhatTheUncachedOneSays() {
        let clock = EventClock()
        let cache = TimeTextCache()
        let start = EventClock.bootNanoseconds()
        // Same millisecond, the next ones, a second's edge, and back in time (a late event).
        let steps: [UInt64] = [0, 1, 400_000, 1_000_000, 7_000_000, 993_000_000, 999_999_999, 1_000_000_000,
                               1_004_000_000, 61_123_000_000, 2_000_000]
        for step in steps {
            let nanoseconds = start + step
            #expect(clock.rfc3339(bootNanoseconds: nanoseconds, cache: cache) == clock.rfc3339(bootNanoseconds: nanoseconds))
        }
    }

    @Test func theHubKeepsTheNewestAndSelectsByTime() {
        let hub = EventHub(capacity: 3)
        for index in 1...5 {
            var event = Self.sample
            event.seq = UInt64(index)
            hub.record(EventHub.Entry(bootNanoseconds: UInt64(index) * 1000, event: event, line: []))
        }
        #expect(hub.total == 5)
        #expect(hub.recent(since: 0).map(\.tag.seq) == [3, 4, 5])
        #expect(hub.recent(since: 4500).map(\.tag.seq) == [5])
    }
}

struct SessionStoreTests {
    @Test func recordsSurviveAndBrokenOnesAreReportedNotDropped() throws {
        let directory = NSTemporaryDirectory() + "ebguard-store-\(getpid())-\(UInt32.random(in: 0..<UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = SessionStore(directory: directory)
        let record = SessionRecord(id: 42, name: "claude", key: "claude-1a2b", cgroup: "/sys/fs/cgroup/ebguard/claude-1a2b",
                                   policy: PolicyText(source: "a.yaml", yaml: "version: 1\n"), policyID: 7, home: "/home/u",
                                   workspace: "/home/u/w", uid: 1000, user: "u", started: 123)
        try store.save(record)
        try "{broken".write(toFile: directory + "/43.json", atomically: true, encoding: .utf8)
        let (records, problems) = store.load()
        #expect(records == [record])
        #expect(problems.count == 1 && problems[0].contains("43.json"))
        #expect(FileManager.default.fileExists(atPath: directory + "/43.json"))
        store.delete(42)
        #expect(store.load().records.isEmpty)
    }

    /// `ebguard run --learn`: kept in the record, so a restarted daemon (which compiles the
    /// record) and `policy apply` run the policy as `learning()`: shadow, allows audited.
    @Test func aLearningRecordCompilesToShadowWithAllowsAudited() throws {
        let directory = NSTemporaryDirectory() + "ebguard-store-\(getpid())-\(UInt32.random(in: 0..<UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = SessionStore(directory: directory)
        let yaml = "version: 1\nname: b\ndefaults: { file: allow, network: deny }\nfile:\n  - { action: deny, path: /etc/shadow }\n"
        var record = SessionRecord(id: 9, name: "l", key: "l-1", cgroup: "/sys/fs/cgroup/ebguard/l-1",
                                   policy: PolicyText(source: "b.yaml", yaml: yaml), policyID: 1, home: "/home/u",
                                   workspace: "/home/u/w", uid: 1000, user: "u", started: 1)
        record.learn = true
        try store.save(record)
        let loaded = try #require(store.load().records.first)
        #expect(loaded.learn == true)
        let compiled = try loaded.compile(loaded.policy)
        #expect(compiled.mode == .shadow)
        #expect(compiled.defaults.file == .audit && compiled.defaults.exec == .audit && compiled.defaults.network == .deny)
        #expect(compiled.decideFile(path: "/etc/shadow", access: .read).verdict == .deny)
        record.learn = nil
        #expect(try record.compile(record.policy).mode == .enforce)
    }
}
