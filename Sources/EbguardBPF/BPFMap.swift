import CLibBPF
import Glibc
import EbguardSystem
import SystemPackage

/// A map of a `BPFObject` as declared in the ELF, before or after load.
public struct BPFMapDefinition {
    let object: BPFObject
    let handle: OpaquePointer

    public var name: String { String(cString: bpf_map__name(handle)) }
    public var keySize: Int { Int(bpf_map__key_size(handle)) }
    public var valueSize: Int { Int(bpf_map__value_size(handle)) }
    /// The kernel's map type number (`BPF_MAP_TYPE_*`).
    public var type: UInt32 { bpf_map__type(handle).rawValue }
    public var isRingBuffer: Bool { bpf_map__type(handle) == BPF_MAP_TYPE_RINGBUF }
    /// The map's file descriptor (owned by the object), or -1 before load.
    public var fd: Int32 { bpf_map__fd(handle) }

    /// Capacity; settable only before load.
    public var maxEntries: UInt32 {
        get { bpf_map__max_entries(handle) }
        nonmutating set { _ = bpf_map__set_max_entries(handle, newValue) }
    }

    /// Throws unless the map's key and value sizes are those of the Swift types.
    func checkLayout<Key, Value>(key: Key.Type, value: Value.Type) throws {
        guard !isRingBuffer else {
            throw BPFError("typing map \(name) of \(object.name)", reason: "it is a ring buffer; read it with RingBuffer")
        }
        guard !BPFMapKind.isPerCPU(type) else {
            throw BPFError("typing map \(name) of \(object.name)", reason: "it is a per-CPU map; read it with BPFPerCPUMap")
        }
        let expected = (MemoryLayout<Key>.size, MemoryLayout<Value>.size)
        guard (keySize, valueSize) == expected else {
            throw BPFError("typing map \(name) of \(object.name)",
                           reason: "layout mismatch: the map has \(keySize)-byte keys and \(valueSize)-byte values, "
                               + "\(Key.self) is \(expected.0) bytes and \(Value.self) is \(expected.1)")
        }
    }

    /// Pins the loaded map under bpffs.
    public func pin(at path: String) throws {
        let result = bpf_map__pin(handle, path)
        guard result == 0 else { throw BPFError.libbpf("pinning map \(name) at \(path)", code: result) }
    }
}

/// How `update` treats an existing or missing key (`BPF_ANY`, `BPF_NOEXIST`, `BPF_EXIST`).
public enum BPFUpdatePolicy: UInt64, Sendable {
    case any = 0
    case createOnly = 1
    case replaceOnly = 2
}

/// A typed view of a hash or array map: keys and values are the ABI header's C structs
/// (or plain integers), checked against the map's sizes when the view is made.
public struct BPFMap<Key: BitwiseCopyable, Value: BitwiseCopyable> {
    public let fd: Int32
    public let name: String
    /// Keeps whoever owns `fd` (the object, or an `OwnedFileDescriptor`) alive.
    private let owner: AnyObject

    init(unchecked fd: Int32, name: String, owner: AnyObject) {
        self.fd = fd
        self.name = name
        self.owner = owner
    }

    /// Opens a map pinned at `path`, checking its key and value sizes against `Key` and `Value`.
    public init(pinnedAt path: String) throws {
        // A per-CPU lookup writes one value per CPU: more than `lookup` has room for.
        let descriptor = try PinnedMap.open(path, key: Key.self, value: Value.self, perCPU: false)
        self.init(unchecked: descriptor.rawValue, name: path, owner: descriptor)
    }

    /// The value at `key`, or nil when there is none.
    public func lookup(_ key: Key) throws -> Value? {
        var key = key
        let value = UnsafeMutablePointer<Value>.allocate(capacity: 1)
        defer { value.deallocate() }
        let result = bpf_map_lookup_elem(fd, &key, value)
        if result == -ENOENT { return nil }
        guard result == 0 else { throw BPFError.libbpf("looking up a key in map \(name)", code: result) }
        return value.pointee
    }

    /// Writes `value` at `key`.
    public func update(_ key: Key, _ value: Value, _ policy: BPFUpdatePolicy = .any) throws {
        var key = key
        var value = value
        let result = bpf_map_update_elem(fd, &key, &value, policy.rawValue)
        guard result == 0 else { throw BPFError.libbpf("updating map \(name)", code: result) }
    }

    /// Removes `key`; returns false when it was not there.
    @discardableResult
    public func delete(_ key: Key) throws -> Bool {
        var key = key
        let result = bpf_map_delete_elem(fd, &key)
        if result == -ENOENT { return false }
        guard result == 0 else { throw BPFError.libbpf("deleting a key from map \(name)", code: result) }
        return true
    }

    /// Every key, in the kernel's iteration order. Keys deleted concurrently may be skipped.
    public func keys() throws -> [Key] {
        var keys: [Key] = []
        let current = UnsafeMutablePointer<Key>.allocate(capacity: 1)
        let next = UnsafeMutablePointer<Key>.allocate(capacity: 1)
        defer { current.deallocate(); next.deallocate() }
        var result = bpf_map_get_next_key(fd, nil, next)
        while result == 0 {
            keys.append(next.pointee)
            current.pointee = next.pointee
            result = bpf_map_get_next_key(fd, current, next)
        }
        guard result == -ENOENT else { throw BPFError.libbpf("iterating map \(name)", code: result) }
        return keys
    }

    /// Every key with its value (a key removed between the two steps is left out).
    public func entries() throws -> [(key: Key, value: Value)] {
        try keys().compactMap { key in try lookup(key).map { (key, $0) } }
    }
}

/// Opening a pinned map for a typed reader: the kind (per-CPU or not) and the key and value
/// sizes are checked against what the reader will copy, before any lookup can overrun.
enum PinnedMap {
    static func open<Key, Value>(_ path: String, key: Key.Type, value: Value.Type, perCPU: Bool) throws -> OwnedFileDescriptor {
        let descriptor = try OwnedFileDescriptor.pinnedBPFObject(at: path)
        let info = try descriptor.bpfObjectInfo(bpf_map_info(), of: "map \(path)")
        guard BPFMapKind.isPerCPU(info.type) == perCPU else {
            throw BPFError("typing map \(path)", reason: perCPU ? "it is not a per-CPU map; read it with BPFMap"
                                                              : "it is a per-CPU map; read it with BPFPerCPUMap")
        }
        guard Int(info.key_size) == MemoryLayout<Key>.size, Int(info.value_size) == MemoryLayout<Value>.size else {
            throw BPFError("typing map \(path)",
                           reason: "layout mismatch: the map has \(info.key_size)-byte keys and \(info.value_size)-byte values, "
                               + "\(Key.self) is \(MemoryLayout<Key>.size) bytes and \(Value.self) is \(MemoryLayout<Value>.size)")
        }
        return descriptor
    }
}
