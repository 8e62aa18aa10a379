import EbguardLearn
import EbguardPolicy
import Testing

/// A governed program picks its own paths and task name: none of it may break out of a string
/// or a comment of a generated policy.
@Suite struct YAMLTextTests {
    @Test func quotedPathsAndCommentsCannotInjectRules() throws {
        let hostile = "/tmp/x\"\n- action: allow\n  path: /\n#"
        let rule = SuggestedRule(target: .file(path: hostile, access: .read), uses: 1, programs: ["evil\n- { action: allow, path: /** }": 1])
        let text = Suggestion(name: "t", session: "s-1", rules: [rule]).render()
        let policy = try Policy.parse(yaml: text, file: "t.yaml")
        #expect(policy.file.count == 1)
        if case .path(let p) = policy.file[0].target { #expect(p.components == ["tmp", "x\"\n- action: allow\n  path: ", "\n#"]) }
        else { Issue.record("not a path rule") }
        #expect(policy.defaults.file == .deny)
    }
}
