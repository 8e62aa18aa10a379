import EbguardLearn
import EbguardPolicy
import Testing

/// `policy replay`: the candidate against what was recorded, with the reference matcher.
@Suite struct ReplayTests {
    static func trail(_ t: TestTrail) throws -> Trail {
        let dir = TempDir()
        defer { dir.remove() }
        try t.write(to: dir.file("t.jsonl"))
        return try Trail.read(files: [dir.file("t.jsonl")], session: "agent")
    }

    @Test func diffBothWaysWithRulesAndCounts() throws {
        var t = TestTrail()
        t.file("/home/dev/.ssh/known_hosts", "read", comm: "ssh", repeats: 3)  // went through (audit)
        t.file("/home/dev/proj/a.c", "read")
        t.file("/home/dev/proj/a.o", "write,create", verdict: .deny, rule: "file[0]")  // was refused
        t.file("/etc/hosts", "read", verdict: .deny, rule: "file[9]")
        t.exec("/usr/bin/sudo")
        t.connect("10.0.0.1", 443, host: "api.anthropic.com")
        t.connect("10.0.0.2", 443, host: "unknown.example")
        let trail = try Self.trail(t)
        let agent = try Fixture.policy("agent.yaml").compile(in: Fixture.context)
        let r = Replay(trail.observations, against: agent)
        #expect(r.operations == 9)
        let deny = r.wouldDeny.map(\.object).sorted()
        #expect(deny == ["connect 10.0.0.2:443/tcp (unknown.example)", "exec /usr/bin/sudo", "file /home/dev/.ssh/known_hosts (read)"])
        #expect(r.wouldDeny.first { $0.object.contains("known_hosts") }?.count == 3)
        let ssh = try #require(r.wouldDeny.first { $0.object.contains("known_hosts") })
        #expect(ssh.candidate.verdict == .deny && ssh.candidateLocation?.line ?? 0 > 0 && ssh.recorded == "audit by default")
        #expect(r.wouldDeny.first { $0.object.contains("unknown.example") }?.candidate.verdict == .ask)  // agent.yaml's host: "*"
        #expect(r.wouldAllow.map(\.object).sorted() == ["file /etc/hosts (read)", "file /home/dev/proj/a.o (write,create)"])
        #expect(r.unchanged == 2)  // a.c read, and the connect to api.anthropic.com by name
    }

    @Test func aSuggestionReplaysCleanAgainstItsOwnSession() throws {
        var t = TestTrail()
        for f in ["a.c", "b.c", "c.c", "d/e.h"] { t.file("/home/dev/proj/" + f, "read") }
        t.file("/home/dev/.bashrc", "write,create", comm: "sh")
        t.exec("/usr/bin/make")
        t.connect("127.0.0.1", 5000)
        let trail = try Self.trail(t)
        let (_, _, policy) = try Fixture.suggest(t)
        let r = Replay(trail.observations, against: policy.compile(in: Fixture.context))
        // Everything but the withheld write to ~/.bashrc, which the suggestion keeps closed.
        #expect(r.wouldDeny.map(\.object) == ["file /home/dev/.bashrc (write,create)"])
        #expect(r.wouldAllow.isEmpty)
    }

    @Test func askAnswersDecideWhetherAHeldExecRan() throws {
        var t = TestTrail()
        t.add(.decision(.init(session: t.session, pid: 5, comm: "git", kind: .exec, object: "/usr/bin/git", access: "exec",
                              rule: "exec[9]", verdict: .ask, argv: ["git", "push", "-f"], askID: 7)))
        t.add(.askAnswer(.init(session: t.session, askID: 7, kind: .exec, object: "git push -f", answer: .allow, scope: .once,
                               answeredBy: "dev")))
        t.add(.decision(.init(session: t.session, pid: 6, comm: "git", kind: .exec, object: "/usr/bin/git", access: "exec",
                              rule: "exec[9]", verdict: .ask, argv: ["git", "reset", "--hard"], askID: 8)))
        let trail = try Self.trail(t)
        #expect(trail.observations.map(\.outcome) == [.allowed, .refused])
    }
}

/// `unless: git` rules in learning: replay lets git through them and no one else, and the
/// fences a suggestion copies from them keep the exception (else git in the workspace breaks).
@Suite struct UnlessGitLearnTests {
    @Test func replayLetsOnlyGitThroughAYieldingDeny() throws {
        var t = TestTrail()
        t.file("/home/dev/proj/sub/.git/config.lock", "write,create", comm: "git")
        t.file("/home/dev/proj/sub/.git/config", "write", comm: "python3")
        let trail = try ReplayTests.trail(t)
        let agent = try Fixture.policy("agent.yaml").compile(in: Fixture.context)
        let r = Replay(trail.observations, against: agent)
        #expect(r.wouldDeny.map(\.object) == ["file /home/dev/proj/sub/.git/config (write)"])
        #expect(r.unchanged == 1)
    }

    @Test func fencesFromAYieldingDenyKeepItsException() throws {
        var t = TestTrail()
        for f in ["a/x.c", "b/y.c", "c/z.c"] { t.file("/home/dev/proj/" + f, "write,create") }
        let (_, _, policy) = try Fixture.suggest(t)
        let fences = policy.file.filter { $0.unlessGit }
        #expect(!fences.isEmpty, "\(policy.file)")
        #expect(fences.allSatisfy { $0.verdict == .deny })
    }
}
