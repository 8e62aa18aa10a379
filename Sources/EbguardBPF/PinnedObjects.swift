import CLibBPF
import EbguardSystem

extension OwnedFileDescriptor {
    /// Opens a BPF map, program or link pinned in bpffs (`bpf_obj_get`).
    public static func pinnedBPFObject(at path: String) throws -> OwnedFileDescriptor {
        let fd = bpf_obj_get(path)
        guard fd >= 0 else { throw BPFError.libbpf("opening pinned BPF object \(path)", code: fd) }
        return OwnedFileDescriptor(adopting: fd)
    }
}
