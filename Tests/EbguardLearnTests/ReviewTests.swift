import EbguardLearn
import EbguardPolicy
import Testing

/// The review's state machine, line by line, as a terminal or a pipe feeds it.
@Suite struct ReviewTests {
    static func suggestion() -> Suggestion {
        Suggestion(name: "r", session: "s", rules: [
            SuggestedRule(target: .file(path: "${workspace}/src/main.c", access: .read), uses: 2, programs: ["cc": 2]),
            SuggestedRule(target: .file(path: "/etc/hosts", access: .read), uses: 1),
            SuggestedRule(target: .host(name: "pypi.org", ports: [443], protocol: "tcp"), uses: 1),
            SuggestedRule(target: .file(path: "~/.ssh/id_rsa", access: .read), uses: 1, withheld: "agent.yaml:183 says deny"),
        ])
    }

    static func review() -> Review { Review(suggestion(), anchoring: Anchoring(Fixture.context)) }

    @Test func widenAllowDenySkip() {
        var r = Self.review()
        #expect(r.prompt().hasPrefix("[1/4] file: { action: allow, path: \"${workspace}/src/main.c\", access: [read] }"))
        #expect(r.handle("w") == nil)
        #expect(r.current?.path == "${workspace}/src/**")
        #expect(r.handle("w") == nil)
        #expect(r.current?.path == "${workspace}/**")
        #expect(r.handle("w") == "${workspace}/** cannot be widened further")
        #expect(r.handle("a") == nil)
        #expect(r.handle("d") == nil)  // /etc/hosts denied
        #expect(r.handle("w") == "only path rules can be widened")  // a host rule
        #expect(r.handle("s") == nil)
        #expect(r.state == .choosing && r.index == 3)
        #expect(r.chosen.map(\.yaml) == [#"{ action: allow, path: "${workspace}/**", access: [read] }"#,
                                         #"{ action: deny, path: "/etc/hosts", access: [read] }"#])
    }

    @Test func withheldNeedsConfirmationAndUnknownInputChangesNothing() {
        var r = Self.review()
        for _ in 0..<3 { r.handle("s") }
        #expect(r.prompt().contains("WITHHELD: agent.yaml:183 says deny"))
        #expect(r.handle("maybe") == "unknown answer 'maybe': a, d, w, p, s, f or q")
        #expect(r.index == 3 && r.state == .choosing)
        r.handle("a")
        #expect(r.state == .confirmingWithheld)
        r.handle("")  // not a yes: back to the choice
        #expect(r.state == .choosing && r.chosen.isEmpty)
        r.handle("a")
        r.handle("y")
        #expect(r.state == .finished && r.chosen.count == 1 && r.chosen[0].withheld == nil)
    }

    @Test func patternsAreValidatedAndFinishKeepsTheRestButNotWithheld() {
        var r = Self.review()
        #expect(r.handle("p ${workspace}/src/*.c") == nil)
        #expect(r.current?.path == "${workspace}/src/*.c")
        r.handle("p")
        #expect(r.state == .awaitingPattern)
        #expect(r.handle("relative/path")?.hasPrefix("not a policy path: ") == true)
        #expect(r.current?.path == "${workspace}/src/*.c" && r.state == .choosing)
        r.handle("a")
        r.handle("f")
        #expect(r.state == .finished)
        #expect(r.chosen.count == 3)  // main.c as a pattern, /etc/hosts, pypi.org; not ~/.ssh
        let text = r.result(name: "r", session: "s", guards: try! Fixture.guards()).render()
        let policy = try! Policy.parse(yaml: text, file: "r.yaml")
        #expect(policy.file.filter { $0.verdict == .allow }.count == 2 && policy.network.count == 1)
        // The pattern's tree is fenced like a widened rule: a .env beside the sources stays closed.
        let c = policy.compile(in: Fixture.context)
        #expect(c.decideFile(path: "/home/dev/proj/src/a.c", access: .read).verdict == .allow)
        #expect(c.decideFile(path: "/home/dev/proj/src/.env", access: .read).verdict == .deny)
        #expect(c.decideFile(path: "/etc/hosts", access: .read).verdict == .allow)  // kept as suggested by `f`
        #expect(c.decideFile(path: "/home/dev/.ssh/id_rsa", access: .read).verdict == .deny)  // withheld: left out
    }

    @Test func quitAbandons() {
        var r = Self.review()
        r.handle("a")
        r.handle("q")
        #expect(r.state == .abandoned && r.isDone)
        #expect(r.handle("a") == "the review is over")
    }

    @Test func parentStopsAtAnchors() {
        #expect(Review.parent(of: "/usr/lib/x/libc.so") == "/usr/lib/x/**")
        #expect(Review.parent(of: "/usr/**") == "/**")
        #expect(Review.parent(of: "/**") == nil)
        #expect(Review.parent(of: "~/.cache/pip/**") == "~/.cache/**")
        #expect(Review.parent(of: "~/.cache/**") == "~/**")
        #expect(Review.parent(of: "~/**") == nil)
    }
}
