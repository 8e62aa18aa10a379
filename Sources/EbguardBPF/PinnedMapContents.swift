import CLibBPF
import EbguardSystem
import Glibc

/// What a pinned map holds, read without knowing its value layout: another build's maps may
/// not match this build's ABI header.
public enum PinnedMapContents {
    /// True when the map pinned at `path` has no entry. Throws when it cannot tell (the pin
    /// cannot be opened, or its keys cannot be read): a caller deciding whether a build is idle
    /// must then take it as in use.
    public static func isEmpty(at path: String) throws -> Bool {
        let descriptor = try OwnedFileDescriptor.pinnedBPFObject(at: path)
        let info = try descriptor.bpfObjectInfo(bpf_map_info(), of: "map \(path)")
        var key = [UInt8](repeating: 0, count: max(Int(info.key_size), 1))
        let next = bpf_map_get_next_key(descriptor.rawValue, nil, &key)
        if next == 0 { return false }
        if next == -ENOENT { return true }
        throw BPFError.libbpf("reading the keys of map \(path)", code: next)
    }

    /// A hash map of `UInt64` keys and `valueSize`-byte values holding one entry, pinned at
    /// `path`: a stand-in for another build's sessions map (tests of idle-build removal).
    public static func pinOneEntryMap(at path: String, valueSize: UInt32) throws {
        let fd = bpf_map_create(BPF_MAP_TYPE_HASH, "eg_sessions", 8, valueSize, 4, nil)
        guard fd >= 0 else { throw BPFError.libbpf("creating a map for \(path)", code: fd) }
        let map = OwnedFileDescriptor(adopting: fd)
        var key: UInt64 = 1
        var value = [UInt8](repeating: 0, count: Int(valueSize))
        let updated = bpf_map_update_elem(map.rawValue, &key, &value, 0)
        guard updated == 0 else { throw BPFError.libbpf("filling the map for \(path)", code: updated) }
        let pinned = bpf_obj_pin(map.rawValue, path)
        guard pinned == 0 else { throw BPFError.libbpf("pinning \(path)", code: pinned) }
    }
}
