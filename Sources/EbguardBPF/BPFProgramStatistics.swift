import CLibBPF
import EbguardSystem

extension OwnedFileDescriptor {
    /// Opens a BPF map, program or link pinned in bpffs (`bpf_obj_get`).
    public static func pinnedBPFObject(at path: String) throws -> OwnedFileDescriptor {
        let fd = bpf_obj_get(path)
        guard fd >= 0 else { throw BPFError.libbpf("opening pinned BPF object \(path)", code: fd) }
        return OwnedFileDescriptor(adopting: fd)
    }

    /// The kernel's description of the BPF map, program or link behind this descriptor
    /// (`bpf_obj_get_info_by_fd`, as `bpf_map_info`, `bpf_prog_info` or `bpf_link_info`);
    /// `what` names the object in the error.
    func bpfObjectInfo<Info>(_ empty: Info, of what: String) throws -> Info {
        var info = empty
        var length = UInt32(MemoryLayout<Info>.size)
        let result = bpf_obj_get_info_by_fd(rawValue, &info, &length)
        guard result == 0 else { throw BPFError.libbpf("reading info of \(what)", code: result) }
        return info
    }
}

/// What the kernel knows about one attached program: its name and, while run-time
/// statistics are on (`BPFStatistics.enable()`), how often it ran and for how long.
public struct BPFProgramStatistics: Sendable, Equatable {
    public let programID: UInt32
    public let name: String
    public let runCount: UInt64
    public let runTimeNanoseconds: UInt64

    /// Mean cost of one call, nil before the first counted call.
    public var nanosecondsPerCall: Double? {
        runCount == 0 ? nil : Double(runTimeNanoseconds) / Double(runCount)
    }

    /// Statistics of the program behind the link pinned at `path`.
    public static func ofLink(pinnedAt path: String) throws -> BPFProgramStatistics {
        let link = try OwnedFileDescriptor.pinnedBPFObject(at: path)
        let linkInfo = try link.bpfObjectInfo(bpf_link_info(), of: "link \(path)")
        let programFD = bpf_prog_get_fd_by_id(linkInfo.prog_id)
        guard programFD >= 0 else { throw BPFError.libbpf("opening program \(linkInfo.prog_id)", code: programFD) }
        let program = OwnedFileDescriptor(adopting: programFD)
        let info = try program.bpfObjectInfo(bpf_prog_info(), of: "the program of \(path)")
        return BPFProgramStatistics(programID: info.id, name: string(fromCArray: info.name), runCount: info.run_cnt,
                                    runTimeNanoseconds: info.run_time_ns)
    }
}

/// Run-time statistics of BPF programs cost a clock read per call, so the kernel keeps them
/// off until someone asks; they stay on while the returned descriptor is open.
public enum BPFStatistics {
    public static func enable() throws -> OwnedFileDescriptor {
        let fd = bpf_enable_stats(BPF_STATS_RUN_TIME)
        guard fd >= 0 else { throw BPFError.libbpf("enabling BPF run-time statistics", code: fd) }
        return OwnedFileDescriptor(adopting: fd)
    }
}
