import CLibBPF
import Glibc

/// Owns one attachment (`struct bpf_link`). Destroying it detaches the program unless
/// the link is pinned in bpffs, where it outlives this process.
public final class BPFLink {
    private let handle: OpaquePointer
    /// "lsm/file_open eg_file_open", or the pin path for re-opened links.
    public let label: String

    init(handle: OpaquePointer, label: String) {
        self.handle = handle
        self.label = label
    }

    /// Re-opens a link pinned at `path` (a daemon re-adopting what an earlier run attached).
    public convenience init(pinnedAt path: String) throws {
        guard let link = bpf_link__open(path) else { throw BPFError.libbpf("opening pinned link \(path)") }
        self.init(handle: link, label: path)
    }

    deinit { bpf_link__destroy(handle) }

    /// The link's file descriptor.
    public var fd: Int32 { bpf_link__fd(handle) }

    /// Pins the link so the attachment survives this process.
    public func pin(at path: String) throws {
        let result = bpf_link__pin(handle, path)
        guard result == 0 else { throw BPFError.libbpf("pinning \(label) at \(path)", code: result) }
    }

    /// Removes the pin; the attachment then ends with this object.
    public func unpin() throws {
        let result = bpf_link__unpin(handle)
        guard result == 0 else { throw BPFError.libbpf("unpinning \(label)", code: result) }
    }

    /// Detaches now, whether pinned or not.
    public func detach() throws {
        let result = bpf_link__detach(handle)
        guard result == 0 else { throw BPFError.libbpf("detaching \(label)", code: result) }
    }
}
