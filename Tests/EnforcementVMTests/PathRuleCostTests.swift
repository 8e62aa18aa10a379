import CEbguardABI
import EbguardBPF
import EbguardSystem
import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// The kernel looks a path up per component, never per rule: 10,000 rules cost what 10 do.
@Suite(.enabled(if: TestEnvironment.inVM && TestEnvironment.isRoot, Comment(rawValue: TestEnvironment.vmReason)), .serialized)
struct PathRuleCostTests {
    @Test func tenThousandRulesCostWhatTenDo() throws {
        let small = try ScratchCgroup("cost-small")
        let large = try ScratchCgroup("cost-large")
        let enforcement = try Enforcement(level: try small.cgroup.level())
        let dir = try ScratchDirectory("cost")
        let target = try dir.file("a/b/c/d/target", "x\n")

        func rules(_ count: Int) -> [PathRule] {
            (0..<count).map { index in
                let kind = [EG_PATH_EXACT, EG_PATH_SUBTREE, EG_PATH_NAME][index % 3]
                let path = kind == EG_PATH_NAME ? "name-\(index)" : dir.path + "/a/b/other-\(index)"
                return .file(kind, path, [EG_ACCESS_READ: EG_VERDICT_DENY], rule: UInt16(index % 60000))
            }
        }
        try enforcement.install(policy: 1, rules(10))
        try enforcement.install(policy: 2, rules(10_000))
        try enforcement.addSession(small.cgroup, policy: 1)
        try enforcement.addSession(large.cgroup, policy: 2)
        #expect(try enforcement.rules.keys().count >= 10_010)

        // 3,000 opens of a 6-component path on tmpfs, in one shell: process start-up is paid once.
        let loop = "i=0; while [ $i -lt 3000 ]; do : < '\(target)'; i=$((i+1)); done"
        func seconds(_ cgroup: Cgroup?) throws -> Double {
            let clock = ContinuousClock()
            let start = clock.now
            let result = try runProcess(["/bin/sh", "-c", loop], in: cgroup)
            #expect(result.status == 0, "\(result.stderr)")
            let elapsed = clock.now - start
            return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        }
        var smallTimes: [Double] = []
        var largeTimes: [Double] = []
        var outsideTimes: [Double] = []
        for _ in 0..<5 {
            smallTimes.append(try seconds(small.cgroup))
            largeTimes.append(try seconds(large.cgroup))
            outsideTimes.append(try seconds(nil))
        }
        let ratio = largeTimes.min()! / smallTimes.min()!
        print("path rule cost (3,000 opens): outside any session \(outsideTimes.min()!) s, 10 rules \(smallTimes.min()!) s, "
              + "10,000 rules \(largeTimes.min()!) s; 10,000/10 = \(ratio)")
        // A cost per rule would make 10,000 rules hundreds of times dearer; 2 leaves room for
        // this shared machine's noise and for the few more lengths the larger policy has keys at.
        #expect(ratio < 2, "10,000 rules: \(largeTimes), 10 rules: \(smallTimes)")
        #expect(try enforcement.takeEvents().isEmpty)
    }
}
