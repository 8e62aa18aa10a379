import EbguardSystem
import Testing

@Suite struct MountTableTests {
    static let sample = """
    22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
    31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
    41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
    50 22 0:40 / /mnt/with\\040space rw master:3 - ext4 /dev/vdb rw
    garbage line
    60 22 0:41 / /sys/fs/bpf rw,nosuid - bpf bpf rw,mode=700
    """

    @Test func findsCgroup2WhereverItIs() {
        let table = MountTable(parsing: Self.sample)
        #expect(table.mountPoint(ofType: "cgroup2") == "/sys/fs/cgroup/unified")
        #expect(table.isMounted("bpf", at: "/sys/fs/bpf"))
        #expect(!table.isMounted("bpf", at: "/sys/fs/cgroup"))
        #expect(table.entries.count == 5)
    }

    @Test func unescapesOctalAndKeepsOptionalFieldsOut() {
        let table = MountTable(parsing: Self.sample)
        let entry = table.entries.first { $0.source == "/dev/vdb" }
        #expect(entry?.mountPoint == "/mnt/with space")
        #expect(entry?.fileSystemType == "ext4")
        #expect(entry?.options == ["rw"])
    }

    @Test func readsTheRealTable() throws {
        let table = try MountTable.current()
        #expect(table.entries.contains { $0.mountPoint == "/" })
    }

    @Test func lockdownParsing() {
        #expect(KernelFacts.parseLockdown("none [integrity] confidentiality\n") == "integrity")
        #expect(KernelFacts.parseLockdown("[none] integrity confidentiality") == "none")
        #expect(KernelFacts.parseLockdown("garbage") == nil)
    }

    @Test func kernelDeviceEncoding() {
        // glibc makedev(8, 1) = 0x801; the kernel keeps 8 << 20 | 1.
        #expect(KernelDevice.encode(statDevice: 0x801) == (8 << 20 | 1))
        // makedev(259, 300): minor above 255 and major above 255 use the split encoding.
        let dev: UInt64 = (UInt64(259 & 0xfff) << 8) | UInt64(300 & 0xff) | (UInt64(300 & ~0xff) << 12)
        #expect(KernelDevice.encode(statDevice: dev) == (259 << 20 | 300))
    }
}
