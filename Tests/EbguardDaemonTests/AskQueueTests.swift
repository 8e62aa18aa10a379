@testable import EbguardDaemon
import EbguardEnforcement
import EbguardPolicy
import Foundation
import Testing

struct AskQueueTests {
    func request(session: UInt64 = 1, object: String = "/etc/x") -> PendingRequest {
        PendingRequest(id: 0, session: "s-\(session)", sessionID: session, kind: "file", pid: 10, comm: "cat", argv: nil, cwd: nil,
                       object: object, detail: "read", rule: "file[0]", ruleLocation: nil, created: "", expires: "",
                       onTimeout: "deny", hits: 1, tree: [], summary: "open \(object) (read)")
    }

    func subject(_ inode: UInt64) -> AskSubject { .file(device: 8, inode: inode, accessMask: 1, path: "/etc/x") }

    @Test func identicalRequestsFoldIntoOne() {
        let queue = AskQueue()
        guard case .added(let id) = queue.admit(request(), subject: subject(5), heldPID: nil, now: 1, timeoutSeconds: 120,
                                                onTimeoutAllows: false) else { Issue.record("not added"); return }
        for _ in 0..<99 {
            guard case .coalesced(let same) = queue.admit(request(), subject: subject(5), heldPID: nil, now: 2, timeoutSeconds: 120,
                                                          onTimeoutAllows: false) else { Issue.record("not coalesced"); return }
            #expect(same == id)
        }
        #expect(queue.pending.count == 1)
        #expect(queue.pending[0].hits == 100)
        // Another object, or another session, is another request.
        if case .added = queue.admit(request(), subject: subject(6), heldPID: nil, now: 3, timeoutSeconds: 120, onTimeoutAllows: false) {} else {
            Issue.record("other inode folded")
        }
        if case .added = queue.admit(request(session: 2), subject: subject(5), heldPID: nil, now: 3, timeoutSeconds: 120, onTimeoutAllows: false) {} else {
            Issue.record("other session folded")
        }
        #expect(queue.pending.count == 3)
    }

    @Test func heldExecsOfOneRequestAreAllKept() {
        let queue = AskQueue()
        let exec = AskSubject.exec(executable: HeldExec.FileIdentity(device: 1, inode: 2), path: "/usr/bin/git", argv: ["git", "push"])
        _ = queue.admit(request(), subject: exec, heldPID: 100, now: 1, timeoutSeconds: 120, onTimeoutAllows: false)
        _ = queue.admit(request(), subject: exec, heldPID: 101, now: 1, timeoutSeconds: 120, onTimeoutAllows: false)
        #expect(queue.entries.values.first?.heldPIDs == [100, 101])
    }

    @Test func aFloodIsRateLimitedAndAFullQueueRefusesNeverAllows() {
        let queue = AskQueue(maximumPending: 5, maximumPerSession: 100, perSessionPerMinute: 3)
        var refused: [String] = []
        for inode in 0..<10 {
            if case .refused(let why) = queue.admit(request(), subject: subject(UInt64(inode)), heldPID: nil,
                                                    now: 1_000_000_000 * UInt64(inode + 1), timeoutSeconds: 120,
                                                    onTimeoutAllows: true) { refused.append(why) }
        }
        #expect(queue.pending.count == 3)
        #expect(refused.count == 7 && refused[0].contains("a minute"))
        // A minute later the session may ask again, until the host-wide limit.
        for inode in 20..<30 {
            if case .refused(let why) = queue.admit(request(session: UInt64(inode)), subject: subject(UInt64(inode)), heldPID: nil,
                                                    now: 200_000_000_000, timeoutSeconds: 120, onTimeoutAllows: true) {
                refused.append(why)
            }
        }
        #expect(queue.pending.count == 5)
        #expect(refused.last?.contains("too many pending") == true)
    }

    @Test func requestsExpireAtTheirDeadline() {
        let queue = AskQueue()
        _ = queue.admit(request(), subject: subject(1), heldPID: nil, now: 0, timeoutSeconds: 2, onTimeoutAllows: false)
        _ = queue.admit(request(), subject: subject(2), heldPID: nil, now: 0, timeoutSeconds: 10, onTimeoutAllows: false)
        #expect(queue.expired(now: 1_000_000_000).isEmpty)
        #expect(queue.expired(now: 2_000_000_000) == [1])
        _ = queue.remove(1)
        #expect(queue.pending.map(\.id) == [2])
    }
}

struct OverlayTests {
    @Test func alwaysAnswersBecomeAPolicyThatParses() throws {
        let directory = NSTemporaryDirectory() + "ebguard-overlay-\(getpid())-\(UInt32.random(in: 0..<UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = OverlayStore(directory: directory)
        try store.append(policy: "agent", domain: "file", rule: "{ action: allow, path: \(OverlayStore.scalar("/home/u/my notes.txt")), access: [read] }",
                         comment: "#1")
        try store.append(policy: "agent", domain: "exec", rule: "{ action: allow, path: /usr/bin/git, argv: [push, \(OverlayStore.scalar("--force"))] }",
                         comment: "#2")
        try store.append(policy: "agent", domain: "network", rule: "{ action: deny, cidr: 1.2.3.4/32, ports: [443], protocol: tcp }",
                         comment: "#3")
        try store.append(policy: "agent", domain: "file", rule: "{ action: deny, path: /etc/passwd, access: [write] }", comment: "#4")
        let compiled = try #require(try store.load(policy: "agent", context: PolicyContext(home: "/home/u", workspace: "/w")))
        #expect(compiled.file.count == 2)
        #expect(compiled.exec.first?.argv?.tokens == ["push", "--force"])
        #expect(compiled.network.count == 1)
        #expect(compiled.decideFile(path: "/home/u/my notes.txt", access: .read).verdict == .allow)
        #expect(try store.load(policy: "other", context: PolicyContext(home: "/home/u", workspace: "/w")) == nil)
    }

    @Test func singleAddressRulesBecomeKernelDestinations() throws {
        let v4 = try #require(Daemon.destination(try IPNetwork(parsing: "10.1.2.3/32"), port: 443, protocol: .tcp))
        #expect(v4.family == 2 && v4.address.prefix(4) == [10, 1, 2, 3] && v4.address.count == 16 && v4.protocolNumber == 6)
        let mapped = try #require(Daemon.destination(try IPNetwork(parsing: "::ffff:10.1.2.3/128"), port: 53, protocol: .udp))
        #expect(mapped.family == 2 && mapped.address.prefix(4) == [10, 1, 2, 3] && mapped.protocolNumber == 17)
        #expect(Daemon.destination(try IPNetwork(parsing: "10.0.0.0/8"), port: 1, protocol: .tcp) == nil)
    }

    @Test func statDevicesBecomeTheKernelsEncoding() {
        // st_dev 0x803 is major 8, minor 3 (sda3); the kernel writes MKDEV(8, 3) = 8 << 20 | 3.
        #expect(KernelAnswers.kernelDevice(0x803) == 8 << 20 | 3)
        // Anonymous devices (tmpfs, overlay) have major 0 and minors above 255: 0:291 is st_dev
        // 0x23 | 0x100 << 12 in glibc's makedev, and 291 for the kernel.
        #expect(KernelAnswers.kernelDevice(0x10_0023) == 291)
    }
}
