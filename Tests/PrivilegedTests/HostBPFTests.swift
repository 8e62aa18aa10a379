import CEbguardABI
import EbguardBPF
import EbguardDoctor
import EbguardEnforcement
import EbguardSystem
import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// Real programs in this host's kernel: cgroup/connect4 enforcement, ring buffers, pinning.
@Suite(.enabled(if: TestEnvironment.isRoot, Comment(rawValue: TestEnvironment.rootReason)))
struct HostBPFTests {
    @Test func connect4DeniesInsideTheCgroupOnlyAndReportsIt() throws {
        let scratch = try ScratchCgroup("connect4")
        let listener = try TCPListener()
        let object = try BPFObject(embedded: "selftest")
        try object.program("eg_st_file_open").autoload = false  // LSM: not on every kernel
        try object.setConstant("eg_st_cgroup", to: scratch.id)
        try object.setConstant("eg_st_port", to: listener.port)
        try object.load()
        let directory = try scratch.cgroup.open()
        let link = try object.program("eg_st_connect4").attach(cgroupFD: directory.rawValue)
        var events: [eg_selftest_event] = []
        let ring = try RingBuffer(try object.map("eg_st_rb")) { record in
            if let event = EventRecord.decode(eg_selftest_event.self, from: record) { events.append(event) }
        }

        let connect = ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/\(listener.port) && echo connected"]
        let inside = try runProcess(connect, in: scratch.cgroup)
        #expect(inside.status != 0)
        #expect(inside.stderr.contains("Operation not permitted"))
        let outside = try runProcess(connect)
        #expect(outside.status == 0)
        #expect(outside.stdout == "connected\n")

        try ring.poll(timeoutMilliseconds: 1000)
        #expect(events.count == 1)
        let event = try #require(events.first)
        #expect(event.ret == -EPERM)
        #expect(event.task.cgroup_id == scratch.id)
        #expect(string(fromCArray: event.task.comm) == "bash")
        withExtendedLifetime(link) {}
    }

    @Test func mapsPinReopenTypedAndRefuseWrongTypes() throws {
        try Mounts.ensure("bpf", at: "/sys/fs/bpf")
        let object = try BPFObject(embedded: "selftest")
        try object.program("eg_st_file_open").autoload = false
        try object.load()
        let map = try object.map("eg_st_deny", key: eg_inode_key.self, value: UInt32.self)
        let keys = (1...3).map { eg_inode_key(ino: UInt64($0), dev: 7, _pad: 0) }
        for (index, key) in keys.enumerated() { try map.update(key, UInt32(index + 10)) }
        #expect(try map.lookup(keys[1]) == 11)
        #expect(try map.lookup(eg_inode_key(ino: 99, dev: 7, _pad: 0)) == nil)
        #expect(throws: BPFError.self) { try map.update(keys[0], 1, .createOnly) }

        let path = "/sys/fs/bpf/ebguard-test-\(getpid())"
        try object.map("eg_st_deny").pin(at: path)
        defer { unlink(path) }
        let reopened = try BPFMap<eg_inode_key, UInt32>(pinnedAt: path)
        #expect(try reopened.keys().map(\.ino).sorted() == [1, 2, 3])
        #expect(try reopened.delete(keys[2]))
        #expect(try !reopened.delete(keys[2]))
        #expect(try map.entries().count == 2)  // same kernel map through both descriptors
        let mismatch = #expect(throws: BPFError.self) { _ = try BPFMap<UInt64, UInt32>(pinnedAt: path) }
        #expect(mismatch?.reason?.contains("layout mismatch") == true)
        #expect(throws: BPFError.self) { _ = try BPFMap<eg_inode_key, UInt32>(pinnedAt: path + "-missing") }
    }

    @Test func pinnedLinkOutlivesItsOwner() throws {
        try Mounts.ensure("bpf", at: "/sys/fs/bpf")
        let scratch = try ScratchCgroup("pinned-link")
        let listener = try TCPListener()
        let path = "/sys/fs/bpf/ebguard-test-link-\(getpid())"
        do {
            let object = try BPFObject(embedded: "selftest")
            try object.program("eg_st_file_open").autoload = false
            try object.setConstant("eg_st_cgroup", to: scratch.id)
            try object.setConstant("eg_st_port", to: listener.port)
            try object.load()
            let directory = try scratch.cgroup.open()
            try object.program("eg_st_connect4").attach(cgroupFD: directory.rawValue).pin(at: path)
        }  // object and link owner gone: only the pin holds the attachment
        let connect = ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/\(listener.port)"]
        #expect(try runProcess(connect, in: scratch.cgroup).status != 0)
        let adopted = try BPFLink(pinnedAt: path)
        try adopted.unpin()
        try adopted.detach()
        #expect(try runProcess(connect, in: scratch.cgroup).status == 0)
    }

    @Test func doctorAgreesWithTheProbes() throws {
        let report = Doctor.run()
        let lsm = try #require(report.checks.first { $0.name == "BPF-LSM program" })
        let lsmWorks = (try? Probes.lsm()) != nil
        #expect(report.checks.first { $0.name == "tracepoint + ring buffer" }?.status == .ok)
        #expect(report.checks.first { $0.name == "cgroup/connect4 program" }?.status == .ok)
        if lsmWorks {
            #expect(report.verdict == .full)
        } else {
            #expect(report.verdict == .degraded)
            #expect(lsm.status == .degraded)
            #expect(lsm.remedy != nil)
            do { try Probes.lsm() } catch {
                if error.errno == .notPermitted { #expect(lsm.detail.contains("EPERM")) }
            }
        }
    }
}
