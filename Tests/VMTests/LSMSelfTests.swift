import CEbguardABI
import EbguardBPF
import EbguardDoctor
import EbguardEnforcement
import EbguardSystem
import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// BPF-LSM end to end in a kernel that runs it: Swift loader -> lsm/file_open -> EACCES -> ring buffer -> Swift.
@Suite(.enabled(if: TestEnvironment.inVM && TestEnvironment.isRoot, Comment(rawValue: TestEnvironment.vmReason)))
struct LSMSelfTests {
    @Test func fileOpenIsDeniedInTheCgroupAndTheEventNamesThePath() throws {
        let scratch = try ScratchCgroup("lsm")
        let directory = "/tmp/ebguard-lsm-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let secret = directory + "/secret.txt"
        let other = directory + "/other.txt"
        try "top secret\n".write(toFile: secret, atomically: false, encoding: .utf8)
        try "fine\n".write(toFile: other, atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: directory + "/link", withDestinationPath: secret)

        let object = try BPFObject(embedded: "selftest")
        try object.program("eg_st_connect4").autoload = false
        try object.setConstant("eg_st_cgroup", to: scratch.id)
        try object.load()
        let identity = try KernelDevice.identity(of: secret)
        try object.map("eg_st_deny", key: eg_inode_key.self, value: UInt32.self)
            .update(eg_inode_key(ino: identity.inode, dev: identity.device, _pad: 0), 1)
        let link = try object.program("eg_st_file_open").attach()
        var events: [eg_selftest_event] = []
        let ring = try RingBuffer(try object.map("eg_st_rb")) { record in
            if let event = EventRecord.decode(eg_selftest_event.self, from: record) { events.append(event) }
        }

        let denied = try runProcess(["/bin/cat", secret], in: scratch.cgroup)
        #expect(denied.status != 0)
        #expect(denied.stderr.contains("Permission denied"))
        let viaSymlink = try runProcess(["/bin/cat", directory + "/link"], in: scratch.cgroup)
        #expect(viaSymlink.stderr.contains("Permission denied"))
        let allowed = try runProcess(["/bin/cat", other], in: scratch.cgroup)
        #expect(allowed.status == 0 && allowed.stdout == "fine\n")
        let outside = try runProcess(["/bin/cat", secret])
        #expect(outside.status == 0 && outside.stdout == "top secret\n")

        try ring.poll(timeoutMilliseconds: 1000)
        #expect(events.count == 2)
        for event in events {
            #expect(event.ret == -EACCES)
            #expect(string(fromCArray: event.path) == secret)  // the resolved path, not the symlink
            #expect(string(fromCArray: event.task.comm) == "cat")
            #expect(event.task.cgroup_id == scratch.id)
        }
        withExtendedLifetime(link) {}
    }

    @Test func doctorSaysFullEnforcement() throws {
        let report = Doctor.run()
        #expect(report.verdict == .full, "\(report.checks.filter { $0.status != .ok })")
    }

    @Test func doctorCommandExitsZero() throws {
        let binary = TestEnvironment.projectRoot + "/bin/ebguard"
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build bin/ebguard first (make)")
        let result = try runProcess([binary, "doctor"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("full enforcement"))
    }
}
