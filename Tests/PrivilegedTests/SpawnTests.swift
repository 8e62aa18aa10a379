import EbguardSystem
import EbguardTestSupport
import Foundation
import Glibc
import Synchronization
import Testing

/// `Cgroup.spawn` as `ebguard run` calls it: from a process with other threads, as another user.
@Suite(.enabled(if: TestEnvironment.isRoot, Comment(rawValue: TestEnvironment.rootReason)))
struct SpawnTests {
    /// The child of clone3 inherits glibc's list of the parent's threads but not the threads, so
    /// glibc's setresuid/setgroups in it waited forever for a thread that was starting when it
    /// was cloned (`ebguard run --learn` hung before its command's first instruction in CI).
    /// Here a thread keeps starting threads while commands are spawned as `nobody`; each must
    /// start as that user and end. A spawn still running after 30 s has hung: its child is
    /// killed, which ends the spawn, and the test fails.
    @Test func aCommandStartsAsItsUserWhileOtherThreadsAreStarting() throws {
        let nobody = try UserIdentity.named("nobody")
        let cgroup = try Cgroup(path: Cgroup.mountPoint()).createChild("eg-spawn-test-\(getpid())")
        defer {
            try? cgroup.killAll()
            try? cgroup.destroy()
        }
        let stop = Atomic<Bool>(false)
        let churn = Thread {
            while !stop.load(ordering: .relaxed) {
                var thread = pthread_t()
                if pthread_create(&thread, nil, { _ in nil }, nil) == 0 { pthread_join(thread, nil) }
            }
        }
        churn.start()
        defer { stop.store(true, ordering: .relaxed) }

        let expected = "\(nobody.uid):\(nobody.gid)"
        let request = SpawnRequest(executable: "/bin/sh",
                                   arguments: ["/bin/sh", "-c", "[ \"$(id -u):$(id -g)\" = \(expected) ]"],
                                   environment: ["PATH": "/usr/bin:/bin"], workingDirectory: "/", user: nobody,
                                   noNewPrivileges: true)
        for attempt in 1...200 {
            let done = DispatchSemaphore(value: 0)
            let outcome = Mutex<Result<pid_t, any Error>?>(nil)
            Thread { [request] in
                let result = Result { try cgroup.spawn(request) }
                outcome.withLock { $0 = result }
                done.signal()
            }.start()
            if done.wait(timeout: .now() + 30) == .timedOut {
                try? cgroup.killAll()
                done.wait()
                Issue.record("spawn \(attempt) hung before its command started")
                return
            }
            let pid = try #require(try outcome.withLock { $0 }?.get())
            var status: Int32 = 0
            #expect(waitpid(pid, &status, 0) == pid)
            #expect(ExitStatus(waitStatus: status) == .exited(0), "spawn \(attempt): not started as \(expected)")
        }
    }
}
