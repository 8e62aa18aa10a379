import EbguardAudit
import EbguardLearn
import EbguardPolicy
import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// Issue 19's loop on a real workload, in the 6.1 VM, through the daemon, in one boot: clone a C
/// project from a local git repository, build and test it, create a Python venv, under
/// `ebguard run --learn` (agent.yaml, the default base); `policy suggest` from the daemon's
/// trail; the same workload enforced under the suggestion alone passes, while the read of
/// ~/.ssh and the write to ~/.bashrc that the learned session also did stay refused. Then the
/// workload enforced under agent.yaml and strict.yaml: replaying the learned session against
/// each gives, operation for operation, the decision the kernel gave.
extension DaemonVMSuites {
    @Suite(.enabled(if: TestEnvironment.inVM && TestEnvironment.isRoot, "needs BPF-LSM, which this host's kernel refuses; `make test` runs it in the VM (scripts/vmtest)"))
    struct LearnVMTests {
        static let home = "/home/eglearn"
        static let workspace = home + "/ws"

        /// Stops at the first failing step (set -e) after the two probes.
        static let workload = """
        cd '\(workspace)'
        if cat ~/.ssh/id_ed25519 >/dev/null 2>&1; then echo SSH=read; else echo SSH=refused; fi
        if echo '# planted' >> ~/.bashrc 2>/dev/null; then echo BASHRC=written; else echo BASHRC=refused; fi
        set -e
        git clone -q '\(home)/src/cproj' proj
        cd proj
        make -s
        make -s test
        python3 -m venv --without-pip venv
        venv/bin/python -c 'import json, sys; print("venv=" + json.dumps(sys.prefix != sys.base_prefix))'
        echo WORKLOAD=OK
        """

        /// One workload run: its output in `work/NAME.out` and `.err` (never a pipe: a process that
        /// outlived the run, or a full stderr, must not hang the test), the exit status appended;
        /// then the tree the workload changed is put back.
        static func session(_ name: String, _ options: String, binary: String, work: String) -> String {
            """
            echo "== \(name) $(date +%T)"
            rc=0
            env SUDO_USER=eglearn timeout -k 10 300 '\(binary)' run \(options) --name \(name) -- /bin/bash '\(work)/workload.sh' \
                > '\(work)/\(name).out' 2> '\(work)/\(name).err' < /dev/null || rc=$?
            echo "exit=$rc" >> '\(work)/\(name).out'
            grep -q planted '\(home)/.bashrc' && echo 'bashrc=changed' >> '\(work)/\(name).out' || echo 'bashrc=intact' >> '\(work)/\(name).out'
            rm -rf '\(workspace)/proj'
            echo '# rc' > '\(home)/.bashrc'
            """
        }

        @Test func learnSuggestEnforceAndReplayMatchesTheKernel() throws {
            let daemon = try DaemonHarness(label: "learn-vm")
            try daemon.start()
            defer { daemon.stop() }
            let work = daemon.scratch
            try Self.workload.write(toFile: work + "/workload.sh", atomically: true, encoding: .utf8)
            let root = TestEnvironment.projectRoot
            let (agent, strict) = (root + "/policies/agent.yaml", root + "/policies/strict.yaml")
            let binary = daemon.binary
            let (agentAudited, strictAudited) = (work + "/agent-audited.yaml", work + "/strict-audited.yaml")
            try Self.audited(String(contentsOfFile: agent, encoding: .utf8)).write(toFile: agentAudited, atomically: true, encoding: .utf8)
            try Self.audited(String(contentsOfFile: strict, encoding: .utf8)).write(toFile: strictAudited, atomically: true, encoding: .utf8)
            let context = "--home '\(Self.home)' --workspace '\(Self.workspace)'"
            // A home of its own (tmpfs) with a user the daemon need not know; everything in a
            // private mount namespace, so later tests in this boot see the VM as it was.
            let outer = """
            set -u
            exec > '\(work)/outer.log' 2>&1
            mount -t tmpfs -o mode=0755 tmpfs /home
            cp /etc/passwd '\(work)/passwd' && echo 'eglearn:x:4243:4243:ebguard learn test:\(Self.home):/bin/bash' >> '\(work)/passwd'
            cp /etc/group '\(work)/group' && echo 'eglearn:x:4243:' >> '\(work)/group'
            mount --bind '\(work)/passwd' /etc/passwd && mount --bind '\(work)/group' /etc/group
            mkdir -p '\(Self.workspace)' '\(Self.home)/.ssh' '\(Self.home)/src/cproj'
            echo 'PRIVATE KEY' > '\(Self.home)/.ssh/id_ed25519'
            echo '# rc' > '\(Self.home)/.bashrc'
            cd '\(Self.home)/src/cproj'
            printf 'int add(int a, int b) { return a + b; }\\n' > util.c
            printf 'int add(int a, int b);\\n' > util.h
            printf '#include <stdio.h>\\n#include "util.h"\\nint main(void) { printf("sum=%%d\\\\n", add(2, 3)); return 0; }\\n' > hello.c
            printf 'hello: hello.c util.c util.h\\n\\tcc -O1 -o hello hello.c util.c\\ntest: hello\\n\\t./hello | grep -q sum=5\\n' > Makefile
            git init -q . && git add . && git -c user.email=t@t -c user.name=t commit -qm one
            chown -R 4243:4243 '\(Self.home)'
            cd '\(Self.workspace)'
            \(Self.session("learnvm", "--learn", binary: binary, work: work))
            for i in $(seq 200); do grep -q '"session_stop"' '\(daemon.auditLogPath)' && break; sleep 0.1; done
            echo "== suggest $(date +%T)"
            timeout -k 5 180 '\(binary)' policy suggest --session learnvm --log '\(daemon.auditLogPath)' \(context) \
                -o '\(work)/learned.yaml' > '\(work)/suggest.out' 2>&1; echo "suggest-exit=$?"
            echo "== replay $(date +%T)"
            timeout -k 5 180 '\(binary)' policy replay '\(agent)' --session learnvm --log '\(daemon.auditLogPath)' \(context) \
                --json > '\(work)/replay.json' 2> '\(work)/replay.err'; echo "replay-exit=$?"
            \(Self.session("learned", "--policy '\(work)/learned.yaml'", binary: binary, work: work))
            \(Self.session("agentenf", "--policy '\(agent)'", binary: binary, work: work))
            \(Self.session("strictenf", "--policy '\(strict)'", binary: binary, work: work))
            \(Self.session("agentaud", "--policy '\(agentAudited)'", binary: binary, work: work))
            \(Self.session("strictaud", "--policy '\(strictAudited)'", binary: binary, work: work))
            for i in $(seq 200); do [ "$(grep -c '"session_stop"' '\(daemon.auditLogPath)')" -ge 6 ] && break; sleep 0.1; done
            echo "== end $(date +%T)"
            """
            var environment = daemon.environment
            environment["SUDO_USER"] = nil
            let result = try runProcess(["/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", outer],
                                        environment: environment)
            func file(_ name: String) -> String { (try? String(contentsOfFile: work + "/" + name, encoding: .utf8)) ?? "" }
            let all = "\(file("outer.log"))\(result.stderr)\n--- learn:\n\(file("learnvm.out"))\(file("learnvm.err").suffix(3000))"
                + "\n--- learned:\n\(file("learned.out"))\(file("learned.err").suffix(3000))\n--- suggest: \(file("suggest.out"))"
            let learn = file("learnvm.out"), enforced = file("learned.out")
            // The learning session did everything, the secret's read and the planting included,
            // and its run printed what enforcing agent.yaml would refuse, not its audits.
            #expect(learn.contains("SSH=read") && learn.contains("BASHRC=written") && learn.contains("WORKLOAD=OK")
                    && learn.contains("exit=0"), "\(all)")
            #expect(file("learnvm.err").contains("LEARNING: session learnvm-"), "\(all)")
            #expect(file("learnvm.err").contains("would deny (shadow, not enforced) open ~/.ssh/id_ed25519 (read)"), "\(all)")
            #expect(!file("learnvm.err").contains("audited"), "\(all)")
            // Enforced under the suggestion alone: the workload passes, the two stay refused.
            #expect(enforced.contains("WORKLOAD=OK") && enforced.contains("venv=true") && enforced.contains("exit=0"), "\(all)")
            #expect(enforced.contains("SSH=refused") && enforced.contains("BASHRC=refused") && enforced.contains("bashrc=intact"), "\(all)")
            let policy = file("learned.yaml")
            #expect(policy.contains(#"# - { action: allow, path: "~/.ssh/id_ed25519", access: [read] }"#), "\(policy)")
            #expect(policy.contains(#"# - { action: allow, path: "~/.bashrc""#) && policy.contains("says deny (~/.bashrc)"), "\(policy)")
            // agent.yaml, replayed on the learned session, refuses what it guards here (exit 1).
            #expect(file("outer.log").contains("replay-exit=1"), "\(all)")
            let replay = try JSONSerialization.jsonObject(with: Data(file("replay.json").utf8)) as? [String: Any]
            let denied = Set((replay?["would_deny"] as? [[String: Any]] ?? []).compactMap { $0["object"] as? String })
            #expect(denied.contains("file \(Self.home)/.ssh/id_ed25519 (read)"), "\(denied)")

            try Self.compareReplayWithKernel(log: daemon.auditLogPath, agent: agent, strict: strict,
                                              audited: [agentAudited, strictAudited], all: all)
        }

        /// A policy with every `allow` written `audit` (rules and defaults): it decides every
        /// operation as the original does (`CompiledPolicy.learning()`'s argument; the test checks
        /// that the two compile to the same verdicts), and enforced, its trail holds every
        /// operation, the allowed ones too.
        static func audited(_ yaml: String) -> String {
            var inDefaults = false
            return yaml.split(separator: "\n", omittingEmptySubsequences: false).map { raw -> String in
                var line = String(raw)
                if line.hasPrefix("defaults:") { inDefaults = true } else if !line.hasPrefix(" ") && !line.isEmpty && !line.hasPrefix("#") {
                    inDefaults = false
                }
                line = line.replacingOccurrences(of: "action: allow", with: "action: audit")
                if inDefaults { line = line.replacingOccurrences(of: ": allow", with: ": audit") }
                return line
            }.joined(separator: "\n")
        }

        /// Replay against the kernel. The learned session ran agent.yaml in shadow with every allow
        /// audited, so its trail holds every operation of the workload once, each with what the
        /// kernel decided for agent.yaml. Each policy is enforced twice: as written (its trail
        /// holds what the kernel refused, asked or audited: plain allows are not written) and
        /// with every allow written audit (the same decisions, and a trail with every operation).
        /// Compared per distinct operation (kind, object, access: the trail's target) found in
        /// both the learned and the enforced trail: a workload that is refused something takes
        /// another path afterwards (`set -e` stops it, a tool falls back), so operations of one run
        /// may never happen in the other, and they say nothing about the matcher. Where the same
        /// operation is in both, the kernel decided it under the enforced policy and replay
        /// decides it from the learned record: they must agree, both ways (refused by one and
        /// let through by the other is a bug in the reference matcher or in the kernel).
        static func compareReplayWithKernel(log: String, agent: String, strict: String, audited: [String], all: String) throws {
            let files = AuditLogFiles(path: log).existing()
            let context = try PolicyContext(home: home, workspace: workspace)
            let learned = try Trail.read(files: files, session: "learnvm")
            let learnedTargets = Set(learned.observations.map(\.target))
            let agentPolicy = try Policy.load(path: agent).compile(in: context)
            #expect(learned.lostEvents == 0, "the learned record is incomplete: \(learned.lostEvents) events lost")
            #expect(learnedTargets.count >= 100, "\(learnedTargets.count) operations learned\n\(all)")

            // The learning session itself: each recorded verdict is agent.yaml's, as replay decides it.
            var shadowMismatches: [String] = []
            for o in learned.observations {
                let decision = Replay.decide(o.target, agentPolicy)
                let expected = switch decision.verdict {
                case .deny: "would_deny"
                case .ask: "would_ask"
                case .allow, .audit: "audit"
                }
                if o.recordedVerdict != expected {
                    shadowMismatches.append("\(o.objectText): kernel \(o.recordedVerdict) (\(o.recordedRule)), replay \(expected) (\(decision.rule?.description ?? "default"))")
                }
            }
            #expect(shadowMismatches.isEmpty, "learned session vs agent.yaml: \(Set(shadowMismatches).sorted())")

            let runs = [(agent, agent, "agentenf", false), (strict, strict, "strictenf", false),
                        (agent, audited[0], "agentaud", true), (strict, audited[1], "strictaud", true)]
            var summary: [String] = []
            for (path, enforcedPath, session, complete) in runs {
                let policy = try Policy.load(path: path).compile(in: context)
                if complete {
                    // The audited copy decides as the policy: the same verdicts as learning() gives.
                    let copy = try Policy.load(path: enforcedPath).compile(in: context)
                    let same = policy.learning()
                    #expect(copy.defaults == same.defaults && copy.exec.map(\.verdict) == same.exec.map(\.verdict)
                            && copy.file.map(\.verdict) == same.file.map(\.verdict)
                            && copy.network.map(\.verdict) == same.network.map(\.verdict), "\(enforcedPath)")
                }
                let enforced = try Trail.read(files: files, session: session)
                var kernel: [Observation.Target: Set<Observation.Outcome>] = [:]
                for o in enforced.observations { kernel[o.target, default: []].insert(o.outcome) }
                var compared = 0, refused = 0
                var mismatches: Set<String> = []
                for (target, outcomes) in kernel where learnedTargets.contains(target) {
                    compared += 1
                    if outcomes.contains(.refused) { refused += 1 }
                }
                // Per program: a `unless: git` deny lets a vetted git through and no one else (Replay.lets).
                for o in enforced.observations where learnedTargets.contains(o.target) {
                    let decision = Replay.decide(o.target, policy)
                    let replayLets = Replay.lets(decision, program: o.program, policy)
                    if o.outcome != (replayLets ? .allowed : .refused) {
                        mismatches.insert("\(o.target) by \(o.program): kernel \(o.outcome.rawValue), replay \(decision.verdict) "
                                          + "(\(decision.rule?.description ?? "default"))")
                    }
                }
                summary.append("\(session): \(kernel.count) in the trail, \(compared) compared, \(refused) refused")
                #expect(mismatches.isEmpty, "\(session): \(mismatches.sorted())")
                // Not vacuous: both refuse the secret's read; the complete trails share most of the workload.
                #expect(compared >= (complete ? 30 : 2) && refused >= 2, "\(session): \(compared) compared, \(refused) refused\n\(all)")
                #expect(kernel[.file(path: home + "/.ssh/id_ed25519", access: .read)] == [.refused], "\(session): \(kernel.keys)")
            }
            print("LearnVMTests: \(learnedTargets.count) operations learned; " + summary.joined(separator: "; "))
        }
    }
}
