import EbguardPolicy
import Testing

@Suite("argv patterns")
struct ArgvPatternTests {
    func pattern(_ tokens: String...) -> ArgvPattern { ArgvPattern(tokens)! }

    @Test func gitResetHard() {
        let p = pattern("reset", "--hard")
        #expect(p.matches(["git", "reset", "--hard"]))
        #expect(p.matches(["git", "reset", "--hard", "HEAD~1"]))
        #expect(p.matches(["git", "-C", "/repo", "reset", "-q", "--hard"]))
        #expect(!p.matches(["git", "status"]))
        #expect(!p.matches(["git", "reset"]))
        #expect(!p.matches(["git", "reset", "--soft"]))
        #expect(!p.matches(["git", "--hard", "reset"]))  // in order
        #expect(!p.matches(["git", "reset", "--hardly"]))  // long flags are exact
        #expect(!p.matches(["git", "reset", "--hard=yes"]))
        #expect(!p.matches(["reset", "--hard"]))  // argv[0] is never a token
    }

    @Test func shortFlagClustersInAnySpelling() {
        let rf = pattern("-rf")
        for argv in [["rm", "-rf", "/x"], ["rm", "-fr", "/x"], ["rm", "-r", "-f", "/x"], ["rm", "-f", "-r", "/x"],
                     ["rm", "-rfv", "/x"], ["rm", "-v", "-r", "-f"], ["rm", "-r", "/x", "-f"]] {
            #expect(rf.matches(argv), "\(argv)")
        }
        #expect(!rf.matches(["rm", "-r", "/x"]))
        #expect(!rf.matches(["rm", "-f", "/x"]))
        #expect(!rf.matches(["rm", "--recursive", "--force", "/x"]))
        #expect(!rf.matches(["rm", "-R", "-f", "/x"]))  // letters are case-sensitive
        #expect(!rf.matches(["rm", "--", "-rf"]))  // after --, arguments are operands
        #expect(!rf.matches(["rm", "rf"]))
    }

    @Test func splitRuleFlagsEqualAClusteredRule() {
        let split = pattern("-r", "-f")
        #expect(split.matches(["rm", "-rf"]))
        #expect(split.matches(["rm", "-fr"]))
        #expect(split.matches(["rm", "-f", "-r"]))
        #expect(!split.matches(["rm", "-r"]))
    }

    @Test func flagsAndOperandsInOrder() {
        let p = pattern("-rf", "/x")
        #expect(p.matches(["rm", "-rf", "/x"]))
        #expect(p.matches(["rm", "-r", "-f", "/x"]))
        #expect(p.matches(["rm", "-fr", "/a", "/x"]))
        #expect(!p.matches(["rm", "/x", "-rf"]))
        #expect(!p.matches(["rm", "-rf", "/y"]))
        #expect(!p.matches(["rm", "-rf", "/x/y"]))  // operands are exact
        let force = pattern("push", "-f")
        #expect(force.matches(["git", "push", "-f", "origin", "main"]))
        #expect(force.matches(["git", "push", "origin", "main", "-fq"]))
        #expect(!force.matches(["git", "-f", "push"]))
    }

    @Test func operandsAfterDoubleDash() {
        let p = pattern("--", "-rf")
        // `--` in a rule is an operand token; the `-rf` after it stays a flag set in the rule,
        // and in argv a `-rf` after `--` is an operand, so it cannot match.
        #expect(!p.matches(["rm", "--", "-rf"]))
        #expect(pattern("--").matches(["rm", "--", "x"]))
        #expect(pattern("x").matches(["rm", "--", "x"]))
    }

    @Test func singleDashIsAnOperand() {
        #expect(pattern("-").matches(["cat", "-"]))
        #expect(!pattern("-").matches(["cat", "-n"]))
    }

    @Test func invalidPatterns() {
        #expect(ArgvPattern([]) == nil)
        #expect(ArgvPattern(["reset", ""]) == nil)
        #expect(pattern("reset", "--hard").description == "reset --hard")
    }
}
