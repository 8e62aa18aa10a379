import CLibBPF
import Glibc

/// One program of a `BPFObject`, borrowed from it (it keeps the object alive).
public struct BPFProgram {
    let object: BPFObject
    let handle: OpaquePointer

    /// The C function's name, e.g. `eg_file_open`.
    public var name: String { String(cString: bpf_program__name(handle)) }
    /// The ELF section, e.g. `lsm/file_open`.
    public var section: String { String(cString: bpf_program__section_name(handle)) }
    /// "lsm/file_open eg_file_open": how errors name a program.
    public var label: String { "\(section) \(name)" }

    /// Whether `load()` loads this program. Turn it off before load for what the kernel refuses.
    public var autoload: Bool {
        get { bpf_program__autoload(handle) }
        nonmutating set { _ = bpf_program__set_autoload(handle, newValue) }
    }

    /// The loaded program's file descriptor (owned by the object), or -1 before load.
    public var fd: Int32 { bpf_program__fd(handle) }

    /// Attaches where the section says (LSM hook, tracepoint, raw tracepoint...).
    public func attach() throws -> BPFLink {
        LibBPFLog.reset()
        guard let link = bpf_program__attach(handle) else { throw BPFError.libbpf("attaching \(label)") }
        return BPFLink(handle: link, label: label)
    }

    /// Attaches a cgroup program (connect4, sendmsg6, ...) to the cgroup open at `cgroupFD`.
    /// The link applies to that cgroup and every descendant.
    public func attach(cgroupFD: Int32) throws -> BPFLink {
        LibBPFLog.reset()
        guard let link = bpf_program__attach_cgroup(handle, cgroupFD) else {
            throw BPFError.libbpf("attaching \(label) to a cgroup")
        }
        return BPFLink(handle: link, label: label)
    }

    /// Pins the program itself under bpffs.
    public func pin(at path: String) throws {
        let result = bpf_program__pin(handle, path)
        guard result == 0 else { throw BPFError.libbpf("pinning \(label) at \(path)", code: result) }
    }
}
