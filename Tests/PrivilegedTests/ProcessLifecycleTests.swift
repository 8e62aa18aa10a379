import CEbguardABI
import EbguardBPF
import EbguardDoctor
@testable import EbguardEnforcement
import EbguardPolicy
import EbguardSystem
import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// bpf/process.bpf.c through the product's own loader: a real Enforcer and Session, a real
/// shell in the session cgroup, its exec/fork/exit events read from the session's ring buffer.
/// Runs on every kernel (tracepoints, no BPF-LSM); in the VM the LSM objects load beside it.
@Suite(.enabled(if: TestEnvironment.isRoot, Comment(rawValue: TestEnvironment.rootReason)), .serialized)
struct ProcessLifecycleTests {
    @Test func execForkAndExitOfAGovernedShellAreReported() throws {
        let fixture = try EnforcerFixture("proc")
        #expect(fixture.enforcer.coverage.processEvents)
        if TestEnvironment.inVM { #expect(fixture.enforcer.coverage.execAndFile) }  // beside the LSM objects
        let session = fixture.session
        let inbox = Inbox()
        let ring = try RingBuffer(try #require(session.events), name: "session events") { inbox.take($0) }

        let shell = try session.cgroup.spawn(SpawnRequest(
            executable: "/bin/sh", arguments: ["/bin/sh", "-c", "/bin/echo hello world >/dev/null; exit 3"],
            environment: ["PATH": "/usr/bin:/bin"]))
        #expect(try reap(shell) == .exited(3))
        let shellPID = UInt32(shell)
        try inbox.poll(ring) { $0.contains { $0.kind == .exit && $0.pid == shellPID } }
        let events = inbox.events

        #expect(events.allSatisfy { $0.sessionID == session.id })
        let shellExec = try #require(events.first { $0.kind == .exec && $0.pid == shellPID })
        #expect(shellExec.filename == "/bin/sh")
        #expect(shellExec.argv == ["/bin/sh", "-c", "/bin/echo hello world >/dev/null; exit 3"])
        #expect(shellExec.ppid == UInt32(getpid()))

        let echoExec = try #require(events.first { $0.kind == .exec && $0.filename == "/bin/echo" }, "\(events)")
        #expect(echoExec.argv == ["/bin/echo", "hello", "world"])
        #expect(echoExec.argc == 3)
        #expect(!echoExec.argvTruncated)
        #expect(echoExec.comm == "echo")
        #expect(echoExec.ppid == shellPID)
        #expect(echoExec.uid == getuid())

        let fork = try #require(events.first { $0.kind == .fork && $0.pid == echoExec.pid }, "\(events)")
        #expect(fork.ppid == shellPID)
        #expect(fork.comm == "sh")

        let echoExit = try #require(events.first { $0.kind == .exit && $0.pid == echoExec.pid })
        #expect(echoExit.exitCode == 0)
        let shellExit = try #require(events.first { $0.kind == .exit && $0.pid == shellPID })
        #expect(shellExit.exitCode == 3)
        #expect(shellExit.signal == nil)
        #expect(shellExit.ppid == UInt32(getpid()))

        // In the kernel's order: fork, then the child's exec, then its exit, then the shell's.
        let order = [fork, echoExec, echoExit, shellExit].map { event in events.firstIndex(of: event)! }
        #expect(order == order.sorted())
        // Threads are not processes, and none were made: one fork, one exit per process.
        #expect(events.filter { $0.kind == .fork }.count == 1)
        #expect(events.filter { $0.kind == .exit }.count == 2)
    }

    @Test func longArgvIsCutAndFlagged() throws {
        let fixture = try EnforcerFixture("proc-argv")
        let inbox = Inbox()
        let ring = try RingBuffer(try #require(fixture.session.events), name: "session events") { inbox.take($0) }
        let long = String(repeating: "x", count: 300)
        let pid = try fixture.session.cgroup.spawn(SpawnRequest(
            executable: "/bin/true", arguments: ["/bin/true", long, long, "tail"], environment: [:]))
        _ = try reap(pid)
        try inbox.poll(ring) { $0.contains { $0.kind == .exit && $0.pid == UInt32(pid) } }
        let exec = try #require(inbox.events.first { $0.kind == .exec })
        #expect(exec.argvTruncated)
        #expect(exec.argc == 4)
        #expect(exec.argv.count == 3)
        #expect(exec.argv.prefix(2) == ["/bin/true", long])
        #expect(exec.argv.joined(separator: "\0").utf8.count == Int(EG_ARGV_MAX))
    }

    /// A standalone `ebguard run`'s session (its own channel, no daemon) reads no process life,
    /// so the kernel sends none; its decisions still come.
    @Test func aSessionWithItsOwnChannelIsSentItsDecisionsButNoProcessLife() throws {
        let fixture = try EnforcerFixture("proc-quiet")
        let policy = try Policy.parse(yaml: """
            version: 1
            name: no-network
            defaults: { exec: allow, file: allow, network: deny }
            """, file: "test.yaml").compile(in: try PolicyContext(home: "/root", workspace: "/"))
        let session = try Session(name: "standalone", policy: policy, enforcer: fixture.enforcer)
        defer { session.end() }
        var processes: [ProcessEvent] = []
        var denials: [DecisionEvent] = []
        let ring = try RingBuffer(try #require(session.events), name: "standalone events") { record in
            if let event = ProcessEvent(record: record) { processes.append(event) }
            if let event = DecisionEvent(record: record) { denials.append(event) }
        }
        // A fork, an exec and an exit, then a denied connect: events of one task, in order, so
        // once the denial is read any process event before it would have been too.
        let shell = try session.cgroup.spawn(SpawnRequest(
            executable: "/bin/bash", arguments: ["/bin/bash", "-c", "/bin/true; exec 3<>/dev/tcp/127.0.0.3/80"],
            environment: ["PATH": "/usr/bin:/bin"]))
        #expect(try reap(shell) != .exited(0))
        let deadline = ContinuousClock.now + .seconds(5)
        while denials.isEmpty && ContinuousClock.now < deadline { try ring.poll(timeoutMilliseconds: 100) }
        try ring.consume()
        #expect(denials.contains { $0.kind == .network && $0.blocked && $0.pid == UInt32(shell) }, "\(denials)")
        #expect(processes.isEmpty, "\(processes)")
    }

    @Test func aFullRingBufferCountsLostEventsAndRecovers() throws {
        let fixture = try EnforcerFixture("proc-lost")
        let session = fixture.session
        // A one-page ring: a handful of events fill it when nobody reads.
        let tiny = try RingBuffer.createMap(size: 4096, name: "eg_test_rb")
        let maps = try PolicyMaps(fixture.policy, policyID: session.installed.policyID)
        try fixture.enforcer.install(maps, sessionID: session.id, events: tiny)
        let inbox = Inbox()
        let ring = try RingBuffer(tiny, name: "tiny session events") { inbox.take($0) }
        let before = try fixture.enforcer.lostEvents()
        #expect(!before.isEmpty)  // one counter per possible CPU

        // dash's `[` and $((...)) are builtins: exactly one fork, exec and exit per /bin/true.
        let loops = 200
        let shell = try session.cgroup.spawn(SpawnRequest(
            executable: "/bin/sh",
            arguments: ["/bin/sh", "-c", "i=0; while [ $i -lt \(loops) ]; do /bin/true; i=$((i+1)); done"],
            environment: ["PATH": "/usr/bin:/bin"]))
        #expect(try reap(shell) == .exited(0))
        let lost = try fixture.enforcer.lostEvents().reduce(0, +) - before.reduce(0, +)
        #expect(lost > 0)

        try ring.consume()
        let delivered = inbox.events.count + inbox.others
        // Every event was either delivered or counted: the shell's exec and exit, 3 per loop, and
        // where exec is only observed (no BPF-LSM) observe.bpf.c's report of each of the 1 + loops execs.
        let observed = fixture.enforcer.coverage.observedExec ? 1 + loops : 0
        #expect(UInt64(delivered) + lost == UInt64(2 + 3 * loops + observed),
                "delivered \(inbox.events.count) + \(inbox.others) others, lost \(lost)")

        // Drained, the ring takes events again.
        let again = try session.cgroup.spawn(SpawnRequest(executable: "/bin/true", arguments: ["/bin/true", "again"],
                                                          environment: [:]))
        _ = try reap(again)
        try inbox.poll(ring) { $0.contains { $0.kind == .exit && $0.pid == UInt32(again) } }
        #expect(inbox.events.contains { $0.kind == .exec && $0.argv == ["/bin/true", "again"] })
    }
}

/// Collects decoded process events; reached from the ring buffer's callback on this thread.
final class Inbox {
    private(set) var events: [ProcessEvent] = []
    private(set) var others = 0

    func take(_ record: UnsafeRawBufferPointer) {
        if let event = ProcessEvent(record: record) { events.append(event) } else { others += 1 }
    }

    /// Polls `ring` until `done(events)` or `timeout`; throws (naming what arrived) on timeout.
    func poll(_ ring: RingBuffer, timeout: Duration = .seconds(5), until done: ([ProcessEvent]) -> Bool) throws {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while !done(events) {
            guard clock.now < deadline else {
                throw SystemError("waiting for process events", reason: "timed out; got \(events)")
            }
            try ring.poll(timeoutMilliseconds: 100)
        }
    }
}

/// Waits for `pid` and says how it ended.
func reap(_ pid: pid_t) throws -> EbguardSystem.ExitStatus {
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 {
        guard errno == EINTR else { throw SystemError.current("waiting for \(pid)") }
    }
    return EbguardSystem.ExitStatus(waitStatus: status)
}

/// An Enforcer with its own pin base and parent cgroup (so it shares no map with ebguard's real
/// one or another test's), all its objects loaded as the product loads them, and one session
/// with an allow-everything policy. Unpinned and removed on `deinit`.
final class EnforcerFixture {
    let enforcer: Enforcer
    let session: Session
    let policy: CompiledPolicy
    private let pinBase: String

    init(_ label: String) throws {
        let unique = "\(getpid())-\(String(UInt32.random(in: 0..<UInt32.max), radix: 16))"
        let pinBase = "/sys/fs/bpf/ebguard-test-\(label)-\(unique)"
        let parentName = "ebguard-test-\(label)-\(unique)"
        self.pinBase = pinBase
        do {
            enforcer = try Enforcer(pinBase: pinBase, parentName: parentName)
            try enforcer.ensureLoaded(lsm: (try? Probes.lsm()) != nil)
            let policy = try Policy.parse(yaml: """
                version: 1
                name: observe-processes
                defaults: { exec: allow, file: allow, network: allow }
                """, file: "test.yaml")
            let context = try PolicyContext(home: "/root", workspace: "/")
            self.policy = policy.compile(in: context)
            session = try Session(name: "proc", policy: self.policy, enforcer: enforcer, processEvents: true)
        } catch {
            Self.remove(pinBase: pinBase, parent: try? Cgroup.mountPoint() + "/" + parentName)
            throw error
        }
    }

    deinit {
        session.end()
        Self.remove(pinBase: pinBase, parent: enforcer.parent.path)
    }

    /// Unpinning the links detaches the programs; unpinning the maps lets the kernel free them.
    private static func remove(pinBase: String, parent: String?) {
        let files = FileManager.default
        for generation in (try? files.contentsOfDirectory(atPath: pinBase)) ?? [] {
            let directory = pinBase + "/" + generation
            for pin in (try? files.contentsOfDirectory(atPath: directory)) ?? [] { unlink(directory + "/" + pin) }
            rmdir(directory)
        }
        rmdir(pinBase)
        if let parent { try? Cgroup(path: parent).destroy() }
    }
}
