import CLibBPF
import EbguardSystem
import Glibc

/// A typed view of a per-CPU map (`BPF_MAP_TYPE_PERCPU_ARRAY`, `PERCPU_HASH`, ...): a lookup
/// returns one value per possible CPU.
///
/// `BPFMap` cannot read these: the kernel writes `libbpf_num_possible_cpus()` values, each
/// padded to 8 bytes, where a plain lookup has room for one, so `BPFMap(pinnedAt:)` refuses them.
public struct BPFPerCPUMap<Key: BitwiseCopyable, Value: BitwiseCopyable> {
    public let fd: Int32
    public let name: String
    /// Possible CPUs (not only online ones): the kernel fills a slot for each.
    public let cpuCount: Int
    private let descriptor: OwnedFileDescriptor

    /// Bytes between two CPUs' values in a lookup buffer (the kernel rounds each up to 8).
    static var stride: Int { (MemoryLayout<Value>.size + 7) & ~7 }

    /// Opens a per-CPU map pinned at `path`, checking its type and its key and value sizes.
    public init(pinnedAt path: String) throws {
        let descriptor = try PinnedMap.open(path, key: Key.self, value: Value.self, perCPU: true)
        let cpus = libbpf_num_possible_cpus()
        guard cpus > 0 else { throw BPFError.libbpf("counting possible CPUs for map \(path)", code: cpus) }
        self.fd = descriptor.rawValue
        self.name = path
        self.cpuCount = Int(cpus)
        self.descriptor = descriptor
    }

    /// Every CPU's value at `key` (index = CPU number), or nil when there is no such key.
    public func lookup(_ key: Key) throws -> [Value]? {
        var key = key
        let stride = Self.stride
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: stride * cpuCount, alignment: 8)
        defer { buffer.deallocate() }
        let result = bpf_map_lookup_elem(fd, &key, buffer.baseAddress)
        if result == -ENOENT { return nil }
        guard result == 0 else { throw BPFError.libbpf("looking up a key in map \(name)", code: result) }
        return (0..<cpuCount).map { buffer.loadUnaligned(fromByteOffset: $0 * stride, as: Value.self) }
    }
}

/// Map types by kernel number (`enum bpf_map_type`).
enum BPFMapKind {
    static func isPerCPU(_ type: UInt32) -> Bool {
        [BPF_MAP_TYPE_PERCPU_HASH, BPF_MAP_TYPE_PERCPU_ARRAY, BPF_MAP_TYPE_LRU_PERCPU_HASH,
         BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE].contains { $0.rawValue == type }
    }
}
